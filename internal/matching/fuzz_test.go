package matching

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// decodeErr checks an error from decoding or validating a request: nil,
// or an application error a client can read (never an internal one).
func decodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	code := freight.ErrorCode(err)
	if code != freight.EINVALID && code != freight.ETOOLARGE {
		t.Fatalf("got %v (code %s), want an invalid-input error", err, code)
	}
}

func FuzzDecodePreferences(f *testing.F) {
	f.Add(`{"lanes":[{"origin":"TX","destination":"ga"}],"no_go_states":["New York"],"max_deadhead_miles":150}`)
	f.Add(`{"home_by":"2026-03-05T18:00:00Z","no_go_areas":[{"lat":40.7,"lon":-74,"radius_miles":30}]}`)
	f.Add(`{"no_go_areas":[{"lat":1e400,"lon":0,"radius_miles":-1}]}`)
	f.Add(`{"lanes":[{}, {"origin":"\u0000"}]}`)
	f.Add(`{}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		var in PreferencesInput
		if err := httpapi.DecodeBytes([]byte(body), &in); err != nil {
			decodeErr(t, err)
			return
		}
		p, err := in.Normalize(t0)
		decodeErr(t, err)
		if err != nil {
			return
		}
		for _, s := range p.NoGoStates {
			if len(s) != 2 || strings.ToUpper(s) != s {
				t.Fatalf("state %q kept as is", s)
			}
		}
		for _, a := range p.NoGoAreas {
			if !(a.RadiusMiles > 0 && a.RadiusMiles <= maxAreaRadius) {
				t.Fatalf("area radius %g accepted", a.RadiusMiles)
			}
		}
		if p.HomeBy != nil && !p.HomeBy.After(t0) {
			t.Fatal("a past home-by time accepted")
		}
		// What was accepted screens loads without trouble.
		c := newPrefCheck(&p, 250)
		c.noGo(dallas.point(), atlanta.point(), "TX", "GA")
		c.fit("TX", "GA", atlanta.point(), dallas.point())
	})
}

func FuzzDecodeAssignInput(f *testing.F) {
	f.Add(`{"driver_ids":["a","b"],"load_ids":["x"]}`)
	f.Add(`{"driver_ids":[]}`)
	f.Add(`{"driver_ids":["a","a"]}`)
	f.Add(`{"load_ids":[""]}`)
	f.Add(`{"driver_ids":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		var in AssignInput
		if err := httpapi.DecodeBytes([]byte(body), &in); err != nil {
			decodeErr(t, err)
			return
		}
		err := in.Validate()
		decodeErr(t, err)
		if err != nil {
			return
		}
		for _, ids := range [][]string{in.DriverIDs, in.LoadIDs} {
			seen := map[string]bool{}
			for _, id := range ids {
				if id == "" || seen[id] {
					t.Fatalf("accepted list %q", ids)
				}
				seen[id] = true
			}
			if ids != nil && len(ids) == 0 {
				t.Fatal("accepted an empty list")
			}
		}
	})
}

func FuzzDecodeMatchRequest(f *testing.F) {
	f.Add(`{"driver_id":"d1","top_n":5}`)
	f.Add(`{"load_id":"l1"}`)
	f.Add(`{"driver_id":"d","load_id":"l"}`)
	f.Add(`{"top_n":-1}`)
	f.Fuzz(func(t *testing.T, body string) {
		var in MatchRequestInput
		if err := httpapi.DecodeBytes([]byte(body), &in); err != nil {
			decodeErr(t, err)
			return
		}
		err := in.Validate()
		decodeErr(t, err)
		if err == nil && (in.DriverID == "") == (in.LoadID == "") {
			t.Fatalf("accepted %+v", in)
		}
	})
}

func FuzzParseQueries(f *testing.F) {
	f.Add("limit=10")
	f.Add("legs=3&limit=2&horizon_hours=96")
	f.Add("limit=-1&legs=x")
	f.Add("horizon_hours=99999999999999999999")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := ParseRecommendQuery(q)
		decodeErr(t, err)
		if err == nil && (r.Limit < 1 || r.Limit > maxTopN) {
			t.Fatalf("accepted limit %d", r.Limit)
		}
		c, err := ParseChainQuery(q)
		decodeErr(t, err)
		if err == nil && (c.Legs < 1 || c.Legs > 3 || c.Limit < 1 || c.Limit > 5 || c.Horizon < 6*time.Hour || c.Horizon > 168*time.Hour) {
			t.Fatalf("accepted %+v", c)
		}
	})
}

package matching

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/solver/assign"
	"github.com/backhaul/backhaul/internal/store"
)

// apiWorld is a small freight network around Dallas behind the HTTP API.
type apiWorld struct {
	db  *store.DB
	b   *bus.Bus
	s   *Service
	api *api
	d   map[string]freight.Driver // by name
	l   map[string]freight.Load   // by reference
}

func newAPIWorld(t *testing.T, su setup) *apiWorld {
	t.Helper()
	db, buses := su.open(t, 1)
	pl := newPlatform(t, db)
	w := &apiWorld{db: db, b: buses[0], d: map[string]freight.Driver{}, l: map[string]freight.Load{}}
	add := func(p freight.Principal, name string, home place, eq freight.Equipment) {
		w.d[name] = pl.driver(p, name, home, eq, nil)
	}
	add(dispA, "a-dallas", dallas, freight.Van)
	add(dispA, "a-memphis", memphis, freight.Van)
	add(dispA, "a-reefer", dallas, freight.Reefer)
	add(dispA, "a-off", fortWorth, freight.Van)
	add(dispB, "b-fortworth", fortWorth, freight.Van)
	if _, err := pl.drivers.SetStatus(context.Background(), dispA, w.d["a-off"].ID, drivers.StatusInput{Status: freight.DriverOffDuty}); err != nil {
		t.Fatal(err)
	}
	post := func(p freight.Principal, s loadSpec) { w.l[s.id] = pl.post(p, s) }
	post(shipper, loadSpec{id: "atl", from: fortWorth, to: atlanta, rate: 2400})
	post(shipper, loadSpec{id: "mem", from: dallas, to: memphis, rate: 1300})
	post(shipper, loadSpec{id: "okc", from: fortWorth, to: oklahoma, rate: 700})
	post(shipper, loadSpec{id: "nash", from: memphis, to: nashville, rate: 700, pickup: [2]time.Duration{12 * time.Hour, 36 * time.Hour}})
	post(shipper, loadSpec{id: "reefer", from: dallas, to: houston, rate: 900, eq: freight.Reefer})
	post(shipper, loadSpec{id: "la-rush", from: dallas, to: losAngeles, rate: 4000, delivery: [2]time.Duration{time.Hour, 28 * time.Hour}})
	post(shipper2, loadSpec{id: "other", from: dallas, to: atlanta, rate: 2500})
	post(broker, loadSpec{id: "brokered", from: houston, to: dallas, rate: 800})
	draft := loadSpec{id: "draft", from: dallas, to: atlanta}.load()
	rate := draft.Rate
	l, err := pl.loads.Create(context.Background(), shipper, freight.LoadInput{Reference: "draft", Origin: draft.Origin,
		Destination: draft.Destination, Pickup: draft.Pickup, Delivery: draft.Delivery, Equipment: freight.Van, WeightLbs: 1000, Rate: &rate})
	if err != nil {
		t.Fatal(err)
	}
	w.l["draft"] = l
	w.s, _ = newService(t, db, w.b, Deps{}, testOptions("api"))
	w.api = newAPI(t, w.s)
	return w
}

func apiSetups(t *testing.T, f func(t *testing.T, w *apiWorld)) {
	eachSetup(t, func(t *testing.T, su setup) { f(t, newAPIWorld(t, su)) })
}

func (w *apiWorld) get(t *testing.T, path string, p freight.Principal, want int) []byte {
	t.Helper()
	code, body := w.api.do("GET", path, p, nil)
	if code != want {
		t.Fatalf("GET %s as %s: got %d %s, want %d", path, p.Subject(), code, body, want)
	}
	return body
}

func loadIDs(items []Recommendation) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Load.Reference)
	}
	return out
}

// TestLoadsForDriverAPI ranks loads for a driver over HTTP.
func TestLoadsForDriverAPI(t *testing.T) {
	apiSetups(t, func(t *testing.T, w *apiWorld) {
		id := w.d["a-dallas"].ID
		res := decode[LoadsForDriver](t, w.get(t, "/api/v1/recommendations/drivers/"+id+"/loads", dispA, http.StatusOK))
		got := strings.Join(loadIDs(res.Items), ",")
		// Van loads picking up within 250 road miles of Dallas that fit
		// every rule: not the reefer, not Memphis (420 miles off), not the
		// Los Angeles rush (excluded by the hours of service).
		for _, want := range []string{"atl", "mem", "okc", "other"} {
			if !strings.Contains(got, want) {
				t.Errorf("loads %s: %s missing", got, want)
			}
		}
		for _, not := range []string{"reefer", "nash", "la-rush", "draft", "brokered"} {
			if strings.Contains(got, not) {
				t.Errorf("loads %s: %s should not be offered", got, not)
			}
		}
		if res.Search.Excluded[whyDeliveryWindow] != 1 {
			t.Errorf("excluded: got %v, want the Los Angeles rush for its delivery window", res.Search.Excluded)
		}
		if res.Start.Source != "home_base" || res.DriverID != id {
			t.Errorf("start: got %+v", res.Start)
		}
		for i, it := range res.Items {
			if it.Rank != i+1 {
				t.Errorf("item %d has rank %d", i, it.Rank)
			}
			if i > 0 && it.Score > res.Items[i-1].Score {
				t.Errorf("rank %d scores above rank %d", i+1, i)
			}
			if i > 0 && len(it.ToRankHigher) == 0 {
				t.Errorf("rank %d says nothing about ranking higher", i+1)
			}
			for _, c := range it.ToRankHigher {
				if !strings.Contains(c.Text, fmt.Sprintf("#%d", i)) {
					t.Errorf("rank %d: %q does not name #%d", i+1, c.Text, i)
				}
			}
			if len(it.Schedule) == 0 || it.PickupAt.Before(it.Load.Pickup.Start) || it.PickupAt.After(it.Load.Pickup.End) {
				t.Errorf("%s: pickup at %s outside its window, or no schedule", it.Load.Reference, it.PickupAt)
			}
			var sum float64
			for _, c := range it.Contributions {
				sum += c.Points
			}
			if math.Abs(sum-it.Score) > 0.01 {
				t.Errorf("%s: contributions sum to %.3f, score %.3f", it.Load.Reference, sum, it.Score)
			}
		}
		// ?limit= bounds the list.
		res = decode[LoadsForDriver](t, w.get(t, "/api/v1/recommendations/drivers/"+id+"/loads?limit=2", dispA, http.StatusOK))
		if len(res.Items) != 2 || res.Search.NotRanked == 0 {
			t.Errorf("limit 2: got %d items, %d not ranked", len(res.Items), res.Search.NotRanked)
		}
		for _, bad := range []string{"0", "51", "x", "1.5"} {
			w.get(t, "/api/v1/recommendations/drivers/"+id+"/loads?limit="+bad, dispA, http.StatusUnprocessableEntity)
		}
		w.get(t, "/api/v1/recommendations/drivers/no-such-driver/loads", dispA, http.StatusNotFound)
	})
}

// TestDriversForLoadAPI ranks drivers for a load, under each tenancy rule.
func TestDriversForLoadAPI(t *testing.T) {
	apiSetups(t, func(t *testing.T, w *apiWorld) {
		path := "/api/v1/recommendations/loads/" + w.l["atl"].ID + "/drivers"
		names := func(res DriversForLoad) string {
			var out []string
			for _, it := range res.Items {
				if it.Driver == nil {
					out = append(out, "?")
					continue
				}
				out = append(out, it.Driver.Name)
			}
			return strings.Join(out, ",")
		}
		cases := []struct {
			who        freight.Principal
			scope      string
			anonymised bool
			drivers    string // "?" for an anonymous match
		}{
			// Carrier A's van in Dallas; the one in Memphis is too far,
			// the reefer does not fit, the off-duty driver is not offered.
			{dispA, "carrier", false, "a-dallas"},
			{dispB, "carrier", false, "b-fortworth"},
			{shipper, "all", true, "?,?"},
			{shipAdm, "all", true, "?,?"},
		}
		for _, c := range cases {
			res := decode[DriversForLoad](t, w.get(t, path, c.who, http.StatusOK))
			if res.Scope != c.scope || res.Anonymised != c.anonymised || names(res) != c.drivers {
				t.Errorf("as %s: got scope %s, anonymised %v, drivers %s; want %s, %v, %s",
					c.who.Subject(), res.Scope, res.Anonymised, names(res), c.scope, c.anonymised, c.drivers)
			}
			for _, it := range res.Items {
				if c.anonymised && (it.Start != nil || it.Driver != nil) {
					t.Errorf("as %s: an anonymised match shows its driver", c.who.Subject())
				}
				if it.Factors.DeadheadMiles < 0 || it.Factors.RatePerTotalMile <= 0 || it.Factors.LoadedMiles <= 0 {
					t.Errorf("as %s: factors missing: %+v", c.who.Subject(), it.Factors)
				}
			}
		}
		res := decode[DriversForLoad](t, w.get(t, path, operator, http.StatusOK))
		if res.Anonymised || len(res.Items) != 2 || res.Items[0].Driver == nil || res.Items[0].Start == nil {
			t.Errorf("operator: got %+v, want both drivers, identified", res)
		}
		if len(res.Items) == 2 && len(res.Items[1].ToRankHigher) == 0 {
			t.Error("operator: the second driver says nothing about ranking higher")
		}
		w.get(t, path, shipper2, http.StatusNotFound)
		w.get(t, path, driverOf(w.d["a-dallas"].ID), http.StatusForbidden)
		w.get(t, "/api/v1/recommendations/loads/"+w.l["draft"].ID+"/drivers", dispA, http.StatusNotFound)
		w.get(t, "/api/v1/recommendations/loads/"+w.l["draft"].ID+"/drivers", shipper, http.StatusConflict)
		w.get(t, "/api/v1/recommendations/loads/no-such-load/drivers", shipper, http.StatusNotFound)
		// A broker's own load: it sees anonymised matches as its poster.
		res = decode[DriversForLoad](t, w.get(t, "/api/v1/recommendations/loads/"+w.l["brokered"].ID+"/drivers", broker, http.StatusOK))
		if !res.Anonymised || res.Scope != "all" {
			t.Errorf("broker's own load: got scope %s, anonymised %v", res.Scope, res.Anonymised)
		}
	})
}

// TestRecommendationVisibility walks the driver endpoints with every kind
// of caller: other tenants' drivers are not found.
func TestRecommendationVisibility(t *testing.T) {
	apiSetups(t, func(t *testing.T, w *apiWorld) {
		id := w.d["a-dallas"].ID
		for _, ep := range []string{"loads", "chains", "preferences"} {
			path := "/api/v1/recommendations/drivers/" + id + "/" + ep
			for _, c := range []struct {
				who  freight.Principal
				want int
			}{
				{dispA, http.StatusOK}, {adminA, http.StatusOK}, {driverOf(id), http.StatusOK}, {operator, http.StatusOK},
				{driverOf(w.d["a-memphis"].ID), http.StatusNotFound}, {dispB, http.StatusNotFound}, {shipper, http.StatusNotFound},
				{broker, http.StatusNotFound},
			} {
				if code, body := w.api.do("GET", path, c.who, nil); code != c.want {
					t.Errorf("GET %s as %s: got %d %s, want %d", ep, c.who.Subject(), code, body, c.want)
				}
			}
		}
	})
}

// TestChainsAPI asks for reload chains over HTTP.
func TestChainsAPI(t *testing.T) {
	apiSetups(t, func(t *testing.T, w *apiWorld) {
		id := w.d["a-dallas"].ID
		res := decode[ChainsForDriver](t, w.get(t, "/api/v1/recommendations/drivers/"+id+"/chains?legs=3&limit=5&horizon_hours=96", dispA, http.StatusOK))
		if len(res.Chains) == 0 {
			t.Fatal("no chain")
		}
		for _, c := range res.Chains {
			if len(c.Legs) == 0 || len(c.Legs) > 3 || len(c.Schedule) == 0 {
				t.Errorf("chain %d: %d legs, %d steps", c.Rank, len(c.Legs), len(c.Schedule))
			}
			for i := 1; i < len(c.Legs); i++ {
				if c.Legs[i].PickupAt.Before(c.Legs[i-1].DeliveredAt) {
					t.Errorf("chain %d: leg %d picks up before leg %d is delivered", c.Rank, i+1, i)
				}
			}
			var empty float64
			for _, l := range c.Legs {
				empty += l.DeadheadMiles
			}
			if math.Abs(empty-c.EmptyMiles) > 0.5 {
				t.Errorf("chain %d: legs' deadhead %.1f, chain's empty miles %.1f", c.Rank, empty, c.EmptyMiles)
			}
		}
		// Memphis to Nashville is the natural reload after Dallas to
		// Memphis: the best chain starting with mem takes it.
		var found bool
		for _, c := range res.Chains {
			if len(c.Legs) >= 2 && c.Legs[0].Load.Reference == "mem" && c.Legs[1].Load.Reference == "nash" {
				found = true
			}
		}
		if !found {
			t.Errorf("no chain takes mem then nash: %+v", res.Chains)
		}
		for _, bad := range []string{"legs=0", "legs=4", "limit=9", "horizon_hours=1", "horizon_hours=x"} {
			w.get(t, "/api/v1/recommendations/drivers/"+id+"/chains?"+bad, dispA, http.StatusUnprocessableEntity)
		}
	})
}

// TestPreferencesAPI sets preferences and sees them applied.
func TestPreferencesAPI(t *testing.T) {
	apiSetups(t, func(t *testing.T, w *apiWorld) {
		id := w.d["a-dallas"].ID
		path := "/api/v1/recommendations/drivers/" + id + "/preferences"
		body := map[string]any{"no_go_states": []string{"Georgia", "ga"}, "lanes": []map[string]string{{"origin": "TX", "destination": "OK"}},
			"max_deadhead_miles": 100}
		code, out := w.api.do("PUT", path, dispA, body)
		if code != http.StatusOK {
			t.Fatalf("PUT: got %d %s", code, out)
		}
		p := decode[Preferences](t, out)
		if strings.Join(p.NoGoStates, ",") != "GA" || len(p.Lanes) != 1 || p.MaxDeadheadMiles == nil || *p.MaxDeadheadMiles != 100 {
			t.Errorf("saved: got %+v", p)
		}
		if got := decode[Preferences](t, w.get(t, path, driverOf(id), http.StatusOK)); strings.Join(got.NoGoStates, ",") != "GA" {
			t.Errorf("read back: got %+v", got)
		}
		res := decode[LoadsForDriver](t, w.get(t, "/api/v1/recommendations/drivers/"+id+"/loads", dispA, http.StatusOK))
		got := strings.Join(loadIDs(res.Items), ",")
		if strings.Contains(got, "atl") || strings.Contains(got, "other") || res.Search.Excluded[whyNoGo] != 2 {
			t.Errorf("with Georgia no-go: got %s, excluded %v", got, res.Search.Excluded)
		}
		if res.Items[0].Load.Reference != "okc" || res.Items[0].Factors.PreferenceFit != 1 {
			t.Errorf("preferred lane TX to OK: got %s first with fit %.2f", res.Items[0].Load.Reference, res.Items[0].Factors.PreferenceFit)
		}
		// The driver may set their own; a home-by time excludes what
		// cannot get them home.
		code, out = w.api.do("PUT", path, driverOf(id), map[string]any{"home_by": t0.Add(30 * time.Hour)})
		if code != http.StatusOK {
			t.Fatalf("PUT as the driver: got %d %s", code, out)
		}
		res = decode[LoadsForDriver](t, w.get(t, "/api/v1/recommendations/drivers/"+id+"/loads", dispA, http.StatusOK))
		if got := strings.Join(loadIDs(res.Items), ","); strings.Contains(got, "atl") || res.Search.Excluded[whyHomeBy] == 0 {
			t.Errorf("with home by day 2: got %s, excluded %v", got, res.Search.Excluded)
		}
		for _, c := range []struct {
			who  freight.Principal
			want int
		}{
			{dispB, http.StatusNotFound}, {driverOf(w.d["a-memphis"].ID), http.StatusNotFound}, {shipper, http.StatusNotFound},
			{operator, http.StatusForbidden}, {adminA, http.StatusOK},
		} {
			if code, out := w.api.do("PUT", path, c.who, map[string]any{}); code != c.want {
				t.Errorf("PUT as %s: got %d %s, want %d", c.who.Subject(), code, out, c.want)
			}
		}
		for _, bad := range []string{
			`{"no_go_states": ["Atlantis"]}`,
			`{"no_go_states": [""]}`,
			`{"lanes": [{}]}`,
			`{"lanes": [{"origin": "XX"}]}`,
			`{"no_go_areas": [{"lat": 32, "lon": -97, "radius_miles": 0}]}`,
			`{"no_go_areas": [{"lat": 132, "lon": -97, "radius_miles": 10}]}`,
			`{"no_go_areas": [{"lat": "NaN", "lon": -97, "radius_miles": 10}]}`,
			`{"home_by": "2020-01-01T00:00:00Z"}`,
			`{"home_by": "2031-01-01T00:00:00Z"}`,
			`{"max_deadhead_miles": 5}`,
			`{"max_deadhead_miles": 1e9}`,
			`{"surprise": true}`,
		} {
			if code, out := w.api.do("PUT", path, dispA, bad); code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
				t.Errorf("PUT %s: got %d %s, want 422 or 400", bad, code, out)
			}
		}
		if code, _ := w.api.do("PUT", path, dispA, "not json"); code != http.StatusBadRequest {
			t.Errorf("PUT garbage: got %d, want 400", code)
		}
	})
}

// TestAssignAPI assigns carrier A's available drivers and checks the
// result against a brute-force optimum of the same feasible pairs.
func TestAssignAPI(t *testing.T) {
	apiSetups(t, func(t *testing.T, w *apiWorld) {
		code, out := w.api.do("POST", "/api/v1/matches/assign", dispA, map[string]any{})
		if code != http.StatusOK {
			t.Fatalf("assign: got %d %s", code, out)
		}
		res := decode[AssignResult](t, out)
		prob, err := w.s.assignProblem(context.Background(), dispA, AssignInput{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		best := bruteForce(len(prob.drivers), prob.edges)
		if res.Assigned != best.n || math.Abs(res.DeadheadMiles-best.miles) > 0.1 {
			t.Errorf("got %d assigned with %.1f deadhead miles, want the optimum %d with %.1f", res.Assigned, res.DeadheadMiles, best.n, best.miles)
		}
		if res.Drivers != 3 || res.Pairs != len(prob.edges) {
			t.Errorf("got %d drivers and %d pairs, want 3 (the off-duty driver is out) and %d", res.Drivers, res.Pairs, len(prob.edges))
		}
		if res.Greedy.Assigned > res.Assigned || (res.Greedy.Assigned == res.Assigned && res.Greedy.DeadheadMiles < res.DeadheadMiles-0.1) {
			t.Errorf("greedy baseline %+v beats the optimum %d / %.1f", res.Greedy, res.Assigned, res.DeadheadMiles)
		}
		seen := map[string]bool{}
		for _, a := range res.Assignments {
			if seen[a.DriverID] || seen[a.LoadID] {
				t.Errorf("driver or load assigned twice: %+v", a)
			}
			seen[a.DriverID], seen[a.LoadID] = true, true
			if a.PickupAt.IsZero() || a.RateUSD <= 0 {
				t.Errorf("assignment without its plan: %+v", a)
			}
		}
		// Restricted lists.
		code, out = w.api.do("POST", "/api/v1/matches/assign", dispA, map[string]any{
			"driver_ids": []string{w.d["a-dallas"].ID, w.d["a-memphis"].ID}, "load_ids": []string{w.l["mem"].ID}})
		if code != http.StatusOK {
			t.Fatalf("restricted assign: got %d %s", code, out)
		}
		res = decode[AssignResult](t, out)
		if res.Assigned != 1 || res.Assignments[0].DriverID != w.d["a-dallas"].ID || res.Assignments[0].DeadheadMiles != 0 {
			t.Errorf("restricted assign: got %+v, want the Dallas driver on the Dallas load", res.Assignments)
		}
		// A load out of everyone's reach: nothing, and a note saying so.
		code, out = w.api.do("POST", "/api/v1/matches/assign", dispA, map[string]any{
			"driver_ids": []string{w.d["a-dallas"].ID}, "load_ids": []string{w.l["nash"].ID}})
		if res = decode[AssignResult](t, out); code != http.StatusOK || res.Assigned != 0 || len(res.Notes) == 0 {
			t.Errorf("unreachable load: got %d %s", code, out)
		}
		for _, c := range []struct {
			body  string
			field string
		}{
			{`{"driver_ids": []}`, "driver_ids"},
			{`{"load_ids": []}`, "load_ids"},
			{fmt.Sprintf(`{"driver_ids": [%q, %q]}`, w.d["a-dallas"].ID, w.d["a-dallas"].ID), "driver_ids[1]"},
			{`{"driver_ids": ["no-such-driver"]}`, "driver_ids[0]"},
			{fmt.Sprintf(`{"driver_ids": [%q]}`, w.d["b-fortworth"].ID), "driver_ids[0]"},
			{fmt.Sprintf(`{"driver_ids": [%q]}`, w.d["a-off"].ID), "driver_ids[0]"},
			{fmt.Sprintf(`{"load_ids": [%q]}`, w.l["draft"].ID), "load_ids[0]"},
			{`{"load_ids": [""]}`, "load_ids[0]"},
		} {
			code, out := w.api.do("POST", "/api/v1/matches/assign", dispA, c.body)
			if code != http.StatusUnprocessableEntity {
				t.Errorf("%s: got %d %s, want 422", c.body, code, out)
				continue
			}
			if p := decode[httpapi.Problem](t, out); len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Errorf("%s: got problems %+v, want one about %s", c.body, p.Errors, c.field)
			}
		}
		if code, _ := w.api.do("POST", "/api/v1/matches/assign", dispA, `{"driver_ids": "x"}`); code != http.StatusUnprocessableEntity {
			t.Errorf("wrong type: got %d, want 422", code)
		}
		for _, who := range []freight.Principal{shipper, operator, driverOf(w.d["a-dallas"].ID)} {
			if code, _ := w.api.do("POST", "/api/v1/matches/assign", who, map[string]any{}); code != http.StatusForbidden {
				t.Errorf("assign as %s: got %d, want 403", who.Subject(), code)
			}
		}
		// Carrier B sees only its driver.
		code, out = w.api.do("POST", "/api/v1/matches/assign", dispB, map[string]any{})
		if res = decode[AssignResult](t, out); code != http.StatusOK || res.Drivers != 1 {
			t.Errorf("carrier B: got %d %s", code, out)
		}
	})
}

type optimum struct {
	n     int
	miles float64
}

// bruteForce finds the best assignment of a small problem by trying
// every choice of every driver.
func bruteForce(drivers int, edges []assign.Edge) optimum {
	byDriver := make([][]assign.Edge, drivers)
	for _, e := range edges {
		byDriver[e.Driver] = append(byDriver[e.Driver], e)
	}
	used := map[int]bool{}
	var rec func(d int) optimum
	rec = func(d int) optimum {
		if d == drivers {
			return optimum{}
		}
		best := rec(d + 1)
		for _, e := range byDriver[d] {
			if used[e.Load] {
				continue
			}
			used[e.Load] = true
			o := rec(d + 1)
			used[e.Load] = false
			o.n++
			o.miles += e.Miles
			if o.n > best.n || o.n == best.n && o.miles < best.miles {
				best = o
			}
		}
		return best
	}
	return rec(0)
}

// TestMatchRequestsAPI submits, reads and lists match requests over HTTP.
func TestMatchRequestsAPI(t *testing.T) {
	apiSetups(t, func(t *testing.T, w *apiWorld) {
		run(t, w.s)
		code, out := w.api.do("POST", "/api/v1/matches/requests", dispA, map[string]any{"driver_id": w.d["a-dallas"].ID, "top_n": 3})
		if code != http.StatusAccepted {
			t.Fatalf("submit: got %d %s", code, out)
		}
		m := decode[MatchRequest](t, out)
		var done MatchRequest
		waitFor(t, "the request to be done", func() bool {
			done = decode[MatchRequest](t, w.get(t, "/api/v1/matches/requests/"+m.ID, dispA, http.StatusOK))
			return done.Status == RequestDone
		})
		if done.Result == nil || len(done.Result.Items) != 3 || done.Kind != KindDriver || done.Source != SourceDispatcher {
			t.Errorf("done: got %+v", done)
		}
		w.get(t, "/api/v1/matches/requests/"+m.ID, dispB, http.StatusNotFound)
		w.get(t, "/api/v1/matches/requests/"+m.ID, operator, http.StatusOK)
		w.get(t, "/api/v1/matches/requests/no-such-request", dispA, http.StatusNotFound)

		// A shipper asks about its own load and sees anonymous matches.
		code, out = w.api.do("POST", "/api/v1/matches/requests", shipper, map[string]any{"load_id": w.l["atl"].ID})
		if code != http.StatusAccepted {
			t.Fatalf("shipper submit: got %d %s", code, out)
		}
		sm := decode[MatchRequest](t, out)
		waitFor(t, "the shipper's request to be done", func() bool {
			sm = decode[MatchRequest](t, w.get(t, "/api/v1/matches/requests/"+sm.ID, shipper, http.StatusOK))
			return sm.Status == RequestDone
		})
		if !sm.Anonymised || sm.Result == nil || len(sm.Result.Items) != 2 {
			t.Fatalf("shipper's result: got %+v", sm)
		}
		for _, it := range sm.Result.Items {
			if it.DriverID != "" || it.CarrierID != "" {
				t.Errorf("the shipper sees whose match it is: %+v", it)
			}
		}
		op := decode[MatchRequest](t, w.get(t, "/api/v1/matches/requests/"+sm.ID, operator, http.StatusOK))
		if op.Anonymised || op.Result.Items[0].DriverID == "" {
			t.Errorf("the operator sees an anonymised result")
		}

		for _, c := range []struct {
			who  freight.Principal
			body string
			want int
		}{
			{dispA, `{}`, http.StatusUnprocessableEntity},
			{dispA, fmt.Sprintf(`{"driver_id": %q, "load_id": %q}`, w.d["a-dallas"].ID, w.l["atl"].ID), http.StatusUnprocessableEntity},
			{dispA, fmt.Sprintf(`{"driver_id": %q, "top_n": 99}`, w.d["a-dallas"].ID), http.StatusUnprocessableEntity},
			{dispA, `{"driver_id": "no-such-driver"}`, http.StatusNotFound},
			{dispB, fmt.Sprintf(`{"driver_id": %q}`, w.d["a-dallas"].ID), http.StatusNotFound},
			{shipper, fmt.Sprintf(`{"driver_id": %q}`, w.d["a-dallas"].ID), http.StatusNotFound},
			{shipper2, fmt.Sprintf(`{"load_id": %q}`, w.l["atl"].ID), http.StatusNotFound},
			{shipper, fmt.Sprintf(`{"load_id": %q}`, w.l["draft"].ID), http.StatusConflict},
			{driverOf(w.d["a-dallas"].ID), fmt.Sprintf(`{"driver_id": %q}`, w.d["a-dallas"].ID), http.StatusForbidden},
			{dispA, `{"driver_id": 7}`, http.StatusUnprocessableEntity},
			{dispA, `[`, http.StatusBadRequest},
		} {
			if code, out := w.api.do("POST", "/api/v1/matches/requests", c.who, c.body); code != c.want {
				t.Errorf("POST %s as %s: got %d %s, want %d", c.body, c.who.Subject(), code, out, c.want)
			}
		}
		page := decode[httpapi.Page[MatchRequest]](t, w.get(t, "/api/v1/matches/requests?limit=1", dispA, http.StatusOK))
		if len(page.Items) != 1 || page.NextCursor != "" {
			// Carrier A made one request here (the others failed).
			t.Errorf("list: got %d items, cursor %q, want the one request", len(page.Items), page.NextCursor)
		}
		page = decode[httpapi.Page[MatchRequest]](t, w.get(t, "/api/v1/matches/requests?limit=1", operator, http.StatusOK))
		if len(page.Items) != 1 || page.NextCursor == "" {
			t.Fatalf("operator's first page: got %d items, cursor %q", len(page.Items), page.NextCursor)
		}
		page2 := decode[httpapi.Page[MatchRequest]](t, w.get(t, "/api/v1/matches/requests?limit=5&cursor="+page.NextCursor, operator, http.StatusOK))
		for _, it := range page2.Items {
			if it.ID == page.Items[0].ID {
				t.Error("the second page repeats the first")
			}
		}
		w.get(t, "/api/v1/matches/requests?cursor=garbage", operator, http.StatusUnprocessableEntity)
	})
}

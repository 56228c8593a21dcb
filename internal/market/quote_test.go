package market

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

const (
	dallas  = `{"city":"Dallas","state":"TX"}`
	chicago = `{"zip":"60601"}`
	atlanta = `{"lat":33.749,"lon":-84.388}`
)

func TestQuoteValidation(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		field  string // the field the problem names, all of them comma-separated
	}{
		{"same point", quoteBody(atlanta, atlanta, "van", 30000, "2026-02-01"), 422, "destination"},
		{"same city spelled two ways", quoteBody(dallas, `{"city":"dallas","state":"Texas"}`, "van", 30000, ""), 422, "destination"},
		{"Toronto", quoteBody(`{"lat":43.65,"lon":-79.38}`, chicago, "van", 30000, ""), 422, "origin"},
		{"Mexico City", quoteBody(dallas, `{"lat":19.43,"lon":-99.13}`, "van", 30000, ""), 422, "destination"},
		{"London", quoteBody(`{"lat":51.5,"lon":-0.12}`, chicago, "van", 30000, ""), 422, "origin"},
		{"the Atlantic", quoteBody(dallas, `{"lat":35,"lon":-60}`, "van", 30000, ""), 422, "destination"},
		{"Guam", quoteBody(`{"zip":"96910"}`, chicago, "van", 30000, ""), 422, "origin"},
		{"unknown equipment", quoteBody(dallas, chicago, "tanker", 30000, ""), 422, "equipment"},
		{"no equipment", `{"origin":` + dallas + `,"destination":` + chicago + `,"weight_lbs":30000}`, 422, "equipment"},
		{"no origin", `{"destination":` + chicago + `,"equipment":"van","weight_lbs":30000}`, 422, "origin"},
		{"unknown ZIP", quoteBody(`{"zip":"00000"}`, chicago, "van", 30000, ""), 422, "origin.zip"},
		{"unknown city", quoteBody(`{"city":"Atlantis","state":"TX"}`, chicago, "van", 30000, ""), 422, "origin"},
		{"latitude out of range", quoteBody(`{"lat":91,"lon":-90}`, chicago, "van", 30000, ""), 422, "origin.lat"},
		{"bad date", quoteBody(dallas, chicago, "van", 30000, "next tuesday"), 422, "pickup_date"},
		{"past date", quoteBody(dallas, chicago, "van", 30000, "2025-12-01"), 422, "pickup_date"},
		{"far future", quoteBody(dallas, chicago, "van", 30000, "2028-01-01"), 422, "pickup_date"},
		{"no weight", quoteBody(dallas, chicago, "van", 0, ""), 422, "weight_lbs"},
		{"overweight", quoteBody(dallas, chicago, "van", 60000, ""), 422, "weight_lbs"},
		{"everything wrong", quoteBody(`{"lat":51.5,"lon":-0.12}`, `{"zip":"x"}`, "tanker", -1, "soon"), 422, "origin,destination.zip,equipment,weight_lbs,pickup_date"},
		{"unknown field", `{"origin":` + dallas + `,"colour":"red"}`, 422, "colour"},
		{"wrong type", `{"weight_lbs":"heavy"}`, 422, "weight_lbs"},
		{"malformed JSON", `{"origin":`, 400, ""},
		{"empty body", ``, 400, ""},
		// valid, but there is no market data yet
		{"no data", quoteBody(dallas, chicago, "van", 30000, "2026-02-01"), 503, ""},
		{"no data, ends by ZIP and point", quoteBody(`{"zip":"30303"}`, `{"lat":39.74,"lon":-104.99}`, "reefer", 44000, "2026-01-20T14:00:00Z"), 503, ""},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newAPI(t, newService(t, db, Options{}))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, prob := a.do(shipper, "POST", "/api/v1/quotes", tt.body, nil)
				if code != tt.status {
					t.Fatalf("got %d (%s: %v), want %d", code, prob.Detail, prob.Errors, tt.status)
				}
				if got := fields(prob); got != tt.field {
					t.Errorf("got fields %q (%v), want %q", got, prob.Errors, tt.field)
				}
				if code == http.StatusServiceUnavailable && !strings.Contains(prob.Detail, "backhaul market import") {
					t.Errorf("got %q, want the way to import history", prob.Detail)
				}
			})
		}
	})
}

// FuzzDecodeQuoteRequest feeds arbitrary bodies to the quote decoder and
// checker: they may refuse, never panic, and what they accept is a lane a
// rate can be quoted for.
func FuzzDecodeQuoteRequest(f *testing.F) {
	f.Add(quoteBody(dallas, chicago, "van", 30000, "2026-02-01"))
	f.Add(quoteBody(atlanta, atlanta, "reefer", 1, ""))
	f.Add(quoteBody(`{"lat":1e308,"lon":-1e308}`, `{"zip":"75201-1234"}`, "flatbed", 48000, "2026-01-16T00:00:00+14:00"))
	f.Add(`{"origin":{"city":"St. Louis","state":"missouri"},"destination":{"zip":"99950"},"equipment":"van","weight_lbs":5}`)
	f.Add(`{"origin":{"lat":18.4,"lon":-66.06},"destination":{"lat":21.3,"lon":-157.85},"equipment":"van","weight_lbs":5}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeQuoteRequest([]byte(body))
		if err != nil {
			if freight.ErrorCode(err) != freight.EINVALID {
				t.Fatalf("decode error with code %s: %v", freight.ErrorCode(err), err)
			}
			return
		}
		l, err := resolve(req, testClock, geo.DefaultCircuity)
		if err != nil {
			if freight.ErrorCode(err) != freight.EINVALID {
				t.Fatalf("check error with code %s: %v", freight.ErrorCode(err), err)
			}
			return
		}
		ld := l.load
		switch {
		case !req.Equipment.Valid():
			t.Fatalf("accepted equipment %q", req.Equipment)
		case ld.WeightLbs <= 0 || ld.WeightLbs > freight.MaxLoadLbs:
			t.Fatalf("accepted weight %g", ld.WeightLbs)
		case !(ld.Miles >= 1):
			t.Fatalf("accepted a lane of %g miles", ld.Miles)
		case !inUS(geo.Point{Lat: ld.Origin.Lat, Lon: ld.Origin.Lon}) || !inUS(geo.Point{Lat: ld.Dest.Lat, Lon: ld.Dest.Lon}):
			t.Fatalf("accepted a lane outside the US: %+v", ld)
		case ld.PickupAt.Before(testClock.Add(-24*time.Hour)) || ld.PickupAt.After(testClock.Add(366*24*time.Hour)):
			t.Fatalf("accepted pickup %v", ld.PickupAt)
		}
		// Whatever was accepted, the rate table prices without error.
		if _, err := outline.Predict(ld); err != nil {
			t.Fatalf("accepted a lane the rate model refuses: %v", err)
		}
	})
}

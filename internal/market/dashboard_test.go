package market

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

func insertOrg(t *testing.T, db *store.DB, id string, kind freight.OrgKind) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO organizations (id, name, kind, created_at) VALUES (?, ?, ?, ?)`,
		id, id, string(kind), testClock); err != nil {
		t.Fatal(err)
	}
}

func insertLoad(t *testing.T, db *store.DB, id string, status freight.LoadStatus, eq freight.Equipment, at geo.Point, pickupEnd time.Time) {
	t.Helper()
	_, err := db.Exec(context.Background(), `INSERT INTO loads (id, org_id, origin_lat, origin_lon, dest_lat, dest_lon,
		pickup_start, pickup_end, delivery_start, delivery_end, equipment, weight_lbs, rate_cents, miles, status, created_by, created_at, updated_at)
		VALUES (?, 'org-shipper', ?, ?, 40.0, -100.0, ?, ?, ?, ?, ?, 30000, 200000, 800, ?, 'test', ?, ?)`,
		id, at.Lat, at.Lon, pickupEnd.Add(-2*time.Hour), pickupEnd, pickupEnd.Add(24*time.Hour), pickupEnd.Add(30*time.Hour),
		string(eq), string(status), testClock, testClock)
	if err != nil {
		t.Fatal(err)
	}
}

func insertDriver(t *testing.T, db *store.DB, id string, status freight.DriverStatus, eq freight.Equipment, home geo.Point) {
	t.Helper()
	_, err := db.Exec(context.Background(), `INSERT INTO drivers (id, carrier_id, name, home_lat, home_lon, equipment, capacity_lbs, status,
		hos_driving_left, hos_window_left, hos_cycle_left, hos_until_break, hos_updated_at, created_at, updated_at)
		VALUES (?, 'org-carrier', ?, ?, ?, ?, 45000, ?, 660, 840, 4200, 480, ?, ?, ?)`,
		id, id, home.Lat, home.Lon, string(eq), string(status), testClock, testClock, testClock)
	if err != nil {
		t.Fatal(err)
	}
}

var (
	dallasPt  = geo.Point{Lat: 32.78, Lon: -96.80}
	friscoPt  = geo.Point{Lat: 33.15, Lon: -96.82} // a Dallas suburb
	chicagoPt = geo.Point{Lat: 41.88, Lon: -87.63}
)

func TestLoadToTruckRatio(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insertOrg(t, db, "org-shipper", freight.OrgShipper)
		insertOrg(t, db, "org-carrier", freight.OrgCarrier)
		later := testClock.Add(48 * time.Hour)
		insertLoad(t, db, "L1", freight.StatusPosted, freight.Van, dallasPt, later)
		insertLoad(t, db, "L2", freight.StatusPosted, freight.Van, friscoPt, later)
		insertLoad(t, db, "L3", freight.StatusPosted, freight.Van, dallasPt, later)
		insertLoad(t, db, "L4", freight.StatusPosted, freight.Reefer, dallasPt, later)
		insertLoad(t, db, "L5", freight.StatusPosted, freight.Van, chicagoPt, later)
		insertLoad(t, db, "L6", freight.StatusDraft, freight.Van, dallasPt, later)                      // not on the board
		insertLoad(t, db, "L7", freight.StatusBooked, freight.Van, dallasPt, later)                     // taken
		insertLoad(t, db, "L8", freight.StatusPosted, freight.Van, dallasPt, testClock.Add(-time.Hour)) // pickup past
		insertDriver(t, db, "D1", freight.DriverAvailable, freight.Van, dallasPt)
		insertDriver(t, db, "D2", freight.DriverAvailable, freight.Van, friscoPt)
		insertDriver(t, db, "D3", freight.DriverOffDuty, freight.Van, dallasPt) // not available
		insertDriver(t, db, "D4", freight.DriverAvailable, freight.Flatbed, dallasPt)
		insertDriver(t, db, "D5", freight.DriverAvailable, freight.Van, chicagoPt) // home in Chicago, now in Dallas
		insertDriver(t, db, "D6", freight.DriverAvailable, freight.Van, chicagoPt) // last seen in Dallas too long ago
		for _, p := range []struct {
			driver string
			at     time.Time
			pt     geo.Point
		}{
			{"D5", testClock.Add(-3 * time.Hour), chicagoPt},
			{"D5", testClock.Add(-time.Hour), dallasPt},
			{"D6", testClock.Add(-10 * time.Hour), dallasPt},
		} {
			if _, err := db.Exec(ctx, `INSERT INTO positions (driver_id, carrier_id, recorded_at, received_at, lat, lon) VALUES (?, 'org-carrier', ?, ?, ?, ?)`,
				p.driver, p.at, p.at, p.pt.Lat, p.pt.Lon); err != nil {
				t.Fatal(err)
			}
		}

		s := newService(t, db, Options{})
		a := newAPI(t, s)
		var area AreaMarket
		if code, prob := a.do(dispatcher, "GET", "/api/v1/market/areas/tx-dallas", "", &area); code != 200 {
			t.Fatalf("area: %d %s", code, prob.Detail)
		}
		ratio := func(v float64) *float64 { return &v }
		want := map[freight.Equipment]Live{
			freight.Van:     {OpenLoads: 3, AvailableTrucks: 3, LoadToTruck: ratio(1)}, // L1-L3; D1, D2, D5
			freight.Reefer:  {OpenLoads: 1, AvailableTrucks: 0},                        // no truck: no ratio
			freight.Flatbed: {OpenLoads: 0, AvailableTrucks: 1, LoadToTruck: ratio(0)},
		}
		if len(area.Equipment) != 3 || area.ID != "tx-dallas" || area.Name != "Dallas, TX" {
			t.Fatalf("area %s %q with %d equipment", area.ID, area.Name, len(area.Equipment))
		}
		for _, em := range area.Equipment {
			if got, w := em.Live, want[em.Equipment]; !sameLive(got, w) {
				t.Errorf("%s: got %s, want %s", em.Equipment, liveString(got), liveString(w))
			}
		}
		var list struct {
			Items []AreaSummary `json:"items"`
		}
		if code, _ := a.do(shipper, "GET", "/api/v1/market/areas", "", &list); code != 200 || len(list.Items) < 100 {
			t.Fatalf("areas: %d, %d items", code, len(list.Items))
		}
		for _, it := range list.Items {
			switch it.ID {
			case "tx-dallas":
				if it.OpenLoads != 4 || it.AvailableTrucks != 4 {
					t.Errorf("Dallas, all equipment: %s, want 4 loads, 4 trucks", liveString(it.Live))
				}
			case "il-chicago":
				if it.OpenLoads != 1 || it.AvailableTrucks != 1 { // D6, at home: its fix is too old
					t.Errorf("Chicago: %s, want 1 load, 1 truck", liveString(it.Live))
				}
			}
		}
		o, err := s.ReloadOutlook(ctx, "tx-dallas", freight.Van)
		if err != nil || o.Live.OpenLoads != 3 || o.Live.AvailableTrucks != 3 {
			t.Errorf("outlook %+v, %v", o, err)
		}
		if _, err := s.ReloadOutlook(ctx, "xx-nowhere", freight.Van); freight.ErrorCode(err) != freight.ENOTFOUND {
			t.Errorf("outlook of an unknown area: %v", err)
		}
		if _, err := s.ReloadOutlook(ctx, "tx-dallas", "tanker"); freight.ErrorCode(err) != freight.EINVALID {
			t.Errorf("outlook of unknown equipment: %v", err)
		}
		if code, _ := a.do(dispatcher, "GET", "/api/v1/market/areas/xx-nowhere", "", nil); code != 404 {
			t.Errorf("unknown area: %d, want 404", code)
		}
	})
}

func sameLive(a, b Live) bool {
	if a.OpenLoads != b.OpenLoads || a.AvailableTrucks != b.AvailableTrucks || (a.LoadToTruck == nil) != (b.LoadToTruck == nil) {
		return false
	}
	return a.LoadToTruck == nil || *a.LoadToTruck == *b.LoadToTruck
}

func liveString(l Live) string {
	r := "null"
	if l.LoadToTruck != nil {
		r = fmt.Sprint(*l.LoadToTruck)
	}
	return fmt.Sprintf("%d loads, %d trucks, ratio %s", l.OpenLoads, l.AvailableTrucks, r)
}

var marketCities = []struct {
	name, state string
	pt          geo.Point
	level       float64 // how its outbound rates stand against the country
}{
	{"Dallas", "TX", dallasPt, 1.25},
	{"Chicago", "IL", chicagoPt, 1},
	{"Atlanta", "GA", geo.Point{Lat: 33.75, Lon: -84.39}, 1},
	{"Denver", "CO", geo.Point{Lat: 39.74, Lon: -104.99}, 0.8},
	{"Los Angeles", "CA", geo.Point{Lat: 34.05, Lon: -118.24}, 1},
	{"Columbus", "OH", geo.Point{Lat: 39.96, Lon: -83.0}, 1},
}

// marketHistory writes 400 days of van bookings up to the clock: each city
// ships one load picking up every weekday, none at weekends, at rates set
// by its level. It returns the file and how many Dallas-to-Chicago
// bookings each Monday's week holds.
func marketHistory(t *testing.T) ([]byte, map[string]int) {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	rng := rand.New(rand.NewPCG(3, 3))
	lane := map[string]int{}
	day := 24 * time.Hour
	start := testClock.Truncate(day).Add(-400 * day)
	for d := 0; d < 400; d++ {
		booked := start.Add(time.Duration(d)*day + 10*time.Hour)
		pickup := booked.Add(23 * time.Hour)
		if pickup.Weekday() == time.Saturday || pickup.Weekday() == time.Sunday {
			continue
		}
		for k, o := range marketCities {
			dst := marketCities[(k+1+d%5)%len(marketCities)]
			miles := math.Round(geo.DefaultCircuity.RoadMiles(o.pt, dst.pt))
			rate := (2*miles + 150) * o.level * math.Exp(0.02*rng.NormFloat64())
			fmt.Fprintf(&b, "M%03d%d,%s,%s,%s,%s,%g,%g,%s,%s,%g,%g,van,30000,%g,%.2f\n", d, k,
				booked.Format(time.RFC3339), pickup.Format(time.RFC3339), o.name, o.state, o.pt.Lat, o.pt.Lon,
				dst.name, dst.state, dst.pt.Lat, dst.pt.Lon, miles, rate)
			if o.name == "Dallas" && dst.name == "Chicago" {
				bd := booked.Truncate(day)
				monday := bd.Add(-time.Duration((int(bd.Weekday())+6)%7) * day)
				lane[monday.Format(time.DateOnly)]++
			}
		}
	}
	return []byte(b.String()), lane
}

func TestRateIndexesForecastsAndLanes(t *testing.T) {
	file, lane := marketHistory(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mustImport(t, db, file)
		s := newService(t, db, Options{})
		a := newAPI(t, s)

		var dal, den AreaMarket
		if code, _ := a.do(shipper, "GET", "/api/v1/market/areas/tx-dallas", "", &dal); code != 200 {
			t.Fatalf("Dallas: %d", code)
		}
		if code, _ := a.do(shipper, "GET", "/api/v1/market/areas/co-denver", "", &den); code != 200 {
			t.Fatalf("Denver: %d", code)
		}
		if want := testClock.Truncate(24 * time.Hour).Add(-14 * time.Hour); !dal.AsOf.Equal(want) {
			t.Errorf("as of %v, want the last booking %v", dal.AsOf, want)
		}
		dv, nv := dal.Equipment[0], den.Equipment[0]
		if dv.Equipment != freight.Van {
			t.Fatalf("first equipment %s, want van", dv.Equipment)
		}
		for _, w := range []struct {
			name       string
			win        IndexWindow
			lo, hi     float64
			minBooking int
		}{
			{"Dallas outbound 30d", dv.Outbound.D30, 115, 130, 20},
			{"Dallas outbound 90d", dv.Outbound.D90, 118, 130, 60},
			{"Dallas outbound 7d", dv.Outbound.D7, 105, 130, 4},
			{"Denver outbound 30d", nv.Outbound.D30, 75, 88, 20},
			{"Dallas inbound 90d", dv.Inbound.D90, 85, 110, 40},
		} {
			if w.win.Index == nil || *w.win.Index < w.lo || *w.win.Index > w.hi || w.win.Bookings < w.minBooking {
				t.Errorf("%s: %s, want %g to %g from %d bookings or more", w.name, indexString(w.win), w.lo, w.hi, w.minBooking)
			}
			if w.win.Change == nil || math.Abs(*w.win.Change) > 0.06 {
				t.Errorf("%s: change %s, want about 0 for a steady market", w.name, indexString(w.win))
			}
		}
		if dv.Market != "hot" || nv.Market != "cold" || dal.Equipment[1].Outbound.D30.Index != nil {
			t.Errorf("Dallas van %s (%g), Denver van %s (%g), Dallas reefer index %v; want hot, cold and none",
				dv.Market, dv.Heat, nv.Market, nv.Heat, dal.Equipment[1].Outbound.D30.Index)
		}

		// Loads pick up on weekdays only, one a day from each city.
		if len(dv.Forecast) != 7 {
			t.Fatalf("forecast of %d days", len(dv.Forecast))
		}
		for _, f := range dv.Forecast {
			d, _ := time.Parse(time.DateOnly, f.Date)
			weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
			if weekend && f.Loads != 0 || !weekend && (f.Loads < 0.75 || f.Loads > 1.3) {
				t.Errorf("forecast for %s (%s): %g loads, want %s", f.Date, d.Weekday(), f.Loads, map[bool]string{true: "0", false: "about 1"}[weekend])
			}
		}
		if first, _ := time.Parse(time.DateOnly, dv.Forecast[0].Date); !first.Equal(dal.AsOf.Truncate(24 * time.Hour).Add(24 * time.Hour)) {
			t.Errorf("forecast starts %s, want the day after %v", dv.Forecast[0].Date, dal.AsOf)
		}

		var hot HotMarkets
		if code, _ := a.do(driver, "GET", "/api/v1/market/hot?equipment=van&limit=3", "", &hot); code != 200 {
			t.Fatalf("hot: %d", code)
		}
		if len(hot.Hot) != 1 || hot.Hot[0].Area.ID != "tx-dallas" || len(hot.Cold) != 1 || hot.Cold[0].Area.ID != "co-denver" {
			t.Errorf("hot %+v, cold %+v; want Dallas and Denver alone", hot.Hot, hot.Cold)
		}
		for _, bad := range []string{"?equipment=tanker", "?limit=0", "?limit=x"} {
			if code, _ := a.do(driver, "GET", "/api/v1/market/hot"+bad, "", nil); code != 422 {
				t.Errorf("hot%s: %d, want 422", bad, code)
			}
		}

		// The reload outlook ranks Dallas (busy, well paid) above Denver
		// (busy, poorly paid) above Billings (no freight at all).
		var scores []float64
		for _, id := range []string{"tx-dallas", "co-denver", "mt-billings"} {
			o, err := s.ReloadOutlook(ctx, id, freight.Van)
			if err != nil {
				t.Fatal(err)
			}
			scores = append(scores, o.Score)
		}
		if !(scores[0] > scores[1] && scores[1] > scores[2]) || scores[0] > 1 || scores[2] < 0 {
			t.Errorf("outlook scores Dallas, Denver, Billings = %v, want decreasing within [0, 1]", scores)
		}
		if dv.ReloadScore != scores[0] {
			t.Errorf("area report's reload score %g, outlook's %g", dv.ReloadScore, scores[0])
		}
		var o Outlook
		if code, _ := a.do(dispatcher, "GET", "/api/v1/market/areas/tx-dallas/outlook?equipment=van", "", &o); code != 200 || o.Score != scores[0] || o.Market != "hot" || o.ExpectedLoads7d < 3 {
			t.Errorf("outlook over HTTP: %d %+v", code, o)
		}
		if code, prob := a.do(dispatcher, "GET", "/api/v1/market/areas/tx-dallas/outlook", "", nil); code != 422 || fields(prob) != "equipment" {
			t.Errorf("outlook without equipment: %d %v", code, prob.Errors)
		}

		var h LaneHistory
		q := url.Values{"origin": {"Dallas, TX"}, "destination": {"60601"}, "equipment": {"van"}, "weeks": {"8"}}
		if code, prob := a.do(shipper, "GET", "/api/v1/market/lanes?"+q.Encode(), "", &h); code != 200 {
			t.Fatalf("lane: %d %s %v", code, prob.Detail, prob.Errors)
		}
		if h.Origin.ID != "tx-dallas" || h.Destination.ID != "il-chicago" || len(h.Weeks) != 8 {
			t.Fatalf("lane %v -> %v over %d weeks", h.Origin, h.Destination, len(h.Weeks))
		}
		total := 0
		for _, w := range h.Weeks {
			if w.Bookings != lane[w.Week] {
				t.Errorf("week of %s: %d bookings, want %d", w.Week, w.Bookings, lane[w.Week])
			}
			if w.Bookings > 0 && (w.Rate == nil || w.RatePerMile == nil || *w.RatePerMile < 2 || *w.Index < 115) {
				t.Errorf("week of %s: rate %v, %v per mile, index %v", w.Week, w.Rate, w.RatePerMile, w.Index)
			}
			total += w.Bookings
		}
		if total == 0 || total != h.Bookings {
			t.Errorf("lane holds %d bookings, weeks %d", h.Bookings, total)
		}
		for _, bad := range []struct{ query, field string }{
			{"destination=60601", "origin"},
			{"origin=Atlantis&destination=60601", "origin"},
			{"origin=tx-dallas&destination=51.5,-0.12", "destination"},
			{"origin=tx-dallas&destination=il-chicago&equipment=tanker", "equipment"},
			{"origin=tx-dallas&destination=il-chicago&weeks=53", "weeks"},
		} {
			code, prob := a.do(shipper, "GET", "/api/v1/market/lanes?"+bad.query, "", nil)
			if code != 422 || fields(prob) != bad.field {
				t.Errorf("lanes?%s: %d naming %q, want 422 naming %s", bad.query, code, fields(prob), bad.field)
			}
		}
	})
}

func indexString(w IndexWindow) string {
	f := func(p *float64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%.4g", *p)
	}
	return fmt.Sprintf("index %s change %s (%d bookings)", f(w.Index), f(w.Change), w.Bookings)
}

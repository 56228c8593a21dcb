package matching

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

// t0 is the instant the engine tests run at: Monday 2 March 2026, 08:00 UTC.
var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// Places of the tests.
var (
	dallas      = place{"Dallas", "TX", 32.7767, -96.7970}
	fortWorth   = place{"Fort Worth", "TX", 32.7555, -97.3308}
	houston     = place{"Houston", "TX", 29.7604, -95.3698}
	atlanta     = place{"Atlanta", "GA", 33.7490, -84.3880}
	memphis     = place{"Memphis", "TN", 35.1495, -90.0490}
	oklahoma    = place{"Oklahoma City", "OK", 35.4676, -97.5164}
	losAngeles  = place{"Los Angeles", "CA", 34.0522, -118.2437}
	shreveport  = place{"Shreveport", "LA", 32.5252, -93.7502}
	littleRock  = place{"Little Rock", "AR", 34.7465, -92.2896}
	nashville   = place{"Nashville", "TN", 36.1627, -86.7816}
	birmingham  = place{"Birmingham", "AL", 33.5186, -86.8104}
	denver      = place{"Denver", "CO", 39.7392, -104.9903}
	kansasCity  = place{"Kansas City", "MO", 39.0997, -94.5786}
	stLouis     = place{"St. Louis", "MO", 38.6270, -90.1994}
	indianapols = place{"Indianapolis", "IN", 39.7684, -86.1581}
)

type place struct {
	city, state string
	lat, lon    float64
}

func (p place) loc() freight.Location {
	return freight.Location{City: p.city, State: p.state, Lat: p.lat, Lon: p.lon}
}

func (p place) point() geo.Point { return geo.Point{Lat: p.lat, Lon: p.lon} }

// loadSpec describes a test load; zero fields take defaults.
type loadSpec struct {
	id, org        string
	eq             freight.Equipment
	weight         int
	from, to       place
	pickup         [2]time.Duration // window, from t0
	delivery       [2]time.Duration
	rate           float64
	status         freight.LoadStatus
	carrier, drvID string
}

func (s loadSpec) load() freight.Load {
	if s.org == "" {
		s.org = "org-shipper"
	}
	if s.eq == "" {
		s.eq = freight.Van
	}
	if s.weight == 0 {
		s.weight = 30000
	}
	if s.pickup == [2]time.Duration{} {
		s.pickup = [2]time.Duration{time.Hour, 6 * time.Hour}
	}
	if s.delivery == [2]time.Duration{} {
		s.delivery = [2]time.Duration{s.pickup[0], 7 * 24 * time.Hour}
	}
	if s.status == "" {
		s.status = freight.StatusPosted
	}
	miles := geo.DefaultCircuity.RoadMiles(s.from.point(), s.to.point())
	if s.rate == 0 {
		s.rate = math.Round(2.5 * miles)
	}
	return freight.Load{ID: s.id, OrgID: s.org, Origin: s.from.loc(), Destination: s.to.loc(),
		Pickup:    freight.Window{Start: t0.Add(s.pickup[0]), End: t0.Add(s.pickup[1])},
		Delivery:  freight.Window{Start: t0.Add(s.delivery[0]), End: t0.Add(s.delivery[1])},
		Equipment: s.eq, WeightLbs: s.weight, Rate: freight.FromDollars(s.rate), Miles: round1(miles), Status: s.status,
		CarrierID: s.carrier, DriverID: s.drvID, Version: 1}
}

// driverSpec describes a test driver.
type driverSpec struct {
	id, carrier string
	eq          freight.Equipment
	capacity    int
	home        place
	hos         *freight.HOSClock
	status      freight.DriverStatus
}

func (s driverSpec) driver() freight.Driver {
	if s.carrier == "" {
		s.carrier = "org-carrier-a"
	}
	if s.eq == "" {
		s.eq = freight.Van
	}
	if s.capacity == 0 {
		s.capacity = 45000
	}
	if s.status == "" {
		s.status = freight.DriverAvailable
	}
	h := freight.FreshHOS(t0)
	if s.hos != nil {
		h = *s.hos
	}
	return freight.Driver{ID: s.id, CarrierID: s.carrier, Name: "Driver " + s.id, HomeBase: s.home.loc(), Equipment: s.eq,
		CapacityLbs: s.capacity, Status: s.status, HOS: h}
}

// world is an engine over an in-memory index.
type world struct {
	idx *Index
	eng *engine
}

func newWorld(t testing.TB, drivers []driverSpec, loads []loadSpec) *world {
	t.Helper()
	idx := NewIndex()
	o := Options{}.withDefaults(nil)
	w := &world{idx: idx, eng: newEngine(idx, geo.DefaultCircuity, o, nil, nil)}
	for _, d := range drivers {
		idx.putDriver(d.driver())
	}
	for _, s := range loads {
		w.add(t, s.load())
	}
	return w
}

func (w *world) add(t testing.TB, l freight.Load) {
	t.Helper()
	w.idx.applyLoad(l, geo.DefaultCircuity)
}

func (w *world) loadsFor(t testing.TB, driverID string, limit int) ([]trip, stats, origin) {
	t.Helper()
	w.idx.mu.RLock()
	defer w.idx.mu.RUnlock()
	rec, ok := w.idx.drivers[driverID]
	if !ok {
		t.Fatalf("no driver %s", driverID)
	}
	org := w.eng.originOf(rec, t0, nil)
	trips, st := w.eng.loadsFor(context.Background(), rec, &org, limit)
	return trips, st, org
}

func hoursClock(drive, window, cycle, brk float64) *freight.HOSClock {
	m := func(h float64) freight.Minutes { return freight.Minutes(h * 60) }
	return &freight.HOSClock{DrivingLeft: m(drive), WindowLeft: m(window), CycleLeft: m(cycle), UntilBreak: m(brk), UpdatedAt: t0}
}

// TestFeasibility offers one load at a time to one driver in Dallas and
// checks it is ranked or excluded for the right reason.
func TestFeasibility(t *testing.T) {
	dal := driverSpec{id: "d1", home: dallas}
	tired := driverSpec{id: "d1", home: dallas, hos: hoursClock(0, 2, 50, 0)}
	cases := []struct {
		name   string
		driver driverSpec
		load   loadSpec
		prefs  *Preferences
		want   string // "" when offered, else the exclusion reason
	}{
		{"a good load", dal, loadSpec{id: "l", from: fortWorth, to: atlanta}, nil, ""},
		{"too heavy", dal, loadSpec{id: "l", from: fortWorth, to: atlanta, weight: 46000}, nil, whyWeight},
		{"own carrier's load", dal, loadSpec{id: "l", from: fortWorth, to: atlanta, org: "org-carrier-a"}, nil, whyOwnLoad},
		// 36 road miles take 43 minutes; the window closes in 30.
		{"window closes before the truck arrives", dal, loadSpec{id: "l", from: fortWorth, to: atlanta,
			pickup: [2]time.Duration{-3 * time.Hour, 30 * time.Minute}}, nil, whyPickupWindow},
		// Reachable in 43 minutes at full speed, but the driver must rest
		// 10 hours first and the window closes in 3.
		{"rest needed before the window closes", tired, loadSpec{id: "l", from: fortWorth, to: atlanta,
			pickup: [2]time.Duration{0, 3 * time.Hour}}, nil, whyHOS},
		// The same driver makes a pickup window that opens after the rest.
		{"rest taken before a later window", tired, loadSpec{id: "l", from: fortWorth, to: atlanta,
			pickup: [2]time.Duration{11 * time.Hour, 14 * time.Hour}}, nil, ""},
		// Dallas to Los Angeles is about 1,490 road miles, 30 hours at
		// 50 mph, with two rests: not by tomorrow noon.
		{"delivery too soon for the hours of service", dal, loadSpec{id: "l", from: dallas, to: losAngeles,
			delivery: [2]time.Duration{0, 28 * time.Hour}}, nil, whyDeliveryWindow},
		{"no-go destination state", dal, loadSpec{id: "l", from: fortWorth, to: atlanta},
			&Preferences{NoGoStates: []string{"GA"}}, whyNoGo},
		{"no-go origin state", dal, loadSpec{id: "l", from: fortWorth, to: atlanta},
			&Preferences{NoGoStates: []string{"TX"}}, whyNoGo},
		// A 60-mile circle around Shreveport lies on the way to Atlanta.
		{"no-go area on the way", dal, loadSpec{id: "l", from: fortWorth, to: atlanta},
			&Preferences{NoGoAreas: []Area{{Lat: shreveport.lat, Lon: shreveport.lon, RadiusMiles: 60}}}, whyNoGo},
		{"no-go area elsewhere", dal, loadSpec{id: "l", from: fortWorth, to: atlanta},
			&Preferences{NoGoAreas: []Area{{Lat: denver.lat, Lon: denver.lon, RadiusMiles: 100}}}, ""},
		{"deadhead beyond the driver's limit", dal, loadSpec{id: "l", from: fortWorth, to: atlanta},
			&Preferences{MaxDeadheadMiles: ptr(20.0)}, ""}, // outside the search, not excluded: see below
		// Atlanta back to Dallas is another 870 miles: not home by day 2.
		{"cannot be home in time", dal, loadSpec{id: "l", from: fortWorth, to: atlanta},
			&Preferences{HomeBy: ptr(t0.Add(40 * time.Hour))}, whyHomeBy},
		{"home in time", dal, loadSpec{id: "l", from: fortWorth, to: oklahoma, delivery: [2]time.Duration{0, 24 * time.Hour}},
			&Preferences{HomeBy: ptr(t0.Add(40 * time.Hour))}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, []driverSpec{c.driver}, []loadSpec{c.load})
			if c.prefs != nil {
				w.idx.setPrefs(c.driver.id, c.prefs)
			}
			trips, st, _ := w.loadsFor(t, c.driver.id, 10)
			if c.prefs != nil && c.prefs.MaxDeadheadMiles != nil {
				if len(trips) != 0 || st.Considered != 0 {
					t.Errorf("got %d trips, %d considered, want the load outside the driver's 20-mile reach", len(trips), st.Considered)
				}
				return
			}
			if c.want == "" {
				if len(trips) != 1 {
					t.Fatalf("got %d trips (excluded %v), want the load offered", len(trips), st.Excluded)
				}
				return
			}
			if len(trips) != 0 || st.Excluded[c.want] != 1 {
				t.Errorf("got %d trips, excluded %v; want it excluded for %s", len(trips), st.Excluded, c.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestRankingAndReasons ranks a few loads for one driver and checks the
// factors, the order, and that every suggested change would indeed lift
// the load above the one ranked before it.
func TestRankingAndReasons(t *testing.T) {
	w := newWorld(t, []driverSpec{{id: "d1", home: dallas}}, []loadSpec{
		{id: "atl", from: fortWorth, to: atlanta, rate: 2400},
		{id: "mem", from: dallas, to: memphis, rate: 1300},
		{id: "okc", from: fortWorth, to: oklahoma, rate: 700},
		{id: "hou", from: dallas, to: houston, rate: 600, eq: freight.Reefer}, // another layer
		{id: "bhm", from: shreveport, to: birmingham, rate: 1400},
	})
	trips, st, org := w.loadsFor(t, "d1", 10)
	if org.source != "home_base" || org.pos != dallas.point() {
		t.Errorf("origin: got %s at %v, want the home base in Dallas", org.source, org.pos)
	}
	if len(trips) != 4 || st.Considered != 4 {
		t.Fatalf("got %d trips of %d considered, want 4 of 4", len(trips), st.Considered)
	}
	for i := 1; i < len(trips); i++ {
		if trips[i].score > trips[i-1].score {
			t.Errorf("rank %d scores %.3f above rank %d's %.3f", i+1, trips[i].score, i, trips[i-1].score)
		}
	}
	for _, tr := range trips {
		f := tr.factors
		want := f.RateUSD.Dollars() / (f.LoadedMiles + f.DeadheadMiles)
		if math.Abs(f.RatePerTotalMile-want) > 1e-9 {
			t.Errorf("%s: rate per total mile %.4f, want %.4f", tr.load.ID, f.RatePerTotalMile, want)
		}
		if tr.load.ID == "mem" && f.DeadheadMiles != 0 {
			t.Errorf("mem: deadhead %.1f, want 0 (picks up in Dallas)", f.DeadheadMiles)
		}
		if tr.load.ID == "bhm" && math.Abs(f.DeadheadMiles-geo.DefaultCircuity.RoadMiles(dallas.point(), shreveport.point())) > 1e-6 {
			t.Errorf("bhm: deadhead %.1f, want the road miles to Shreveport", f.DeadheadMiles)
		}
		if f.PickupSlackHours <= 0 || f.PickupSlackHours > 6 {
			t.Errorf("%s: pickup slack %.2f h, want within the 6-hour window", tr.load.ID, f.PickupSlackHours)
		}
		if f.ReloadSource != "board" {
			t.Errorf("%s: reload source %q, want board", tr.load.ID, f.ReloadSource)
		}
	}
	// Every change offered for rank i+1 makes it outscore rank i.
	for i := 1; i < len(trips); i++ {
		f, target := trips[i].factors, trips[i-1].score
		changes := toRankHigher(f, target, i, true)
		if len(changes) == 0 {
			t.Errorf("rank %d: no change offered", i+1)
		}
		for _, c := range changes {
			g := f
			switch c.Factor {
			case factorRate:
				g.RateUSD += freight.FromDollars(c.By * (f.LoadedMiles + f.DeadheadMiles))
				g.rateTerms()
			case factorDeadhead:
				g.DeadheadMiles += c.By
				g.rateTerms()
			case factorSlack:
				g.PickupSlackHours += c.By
			case factorMargin:
				g.HOSMarginHours += c.By
			case factorOutlook:
				g.ReloadOutlook += c.By
			case factorPreference:
				g.PreferenceFit += c.By
			}
			if g.score() <= target {
				t.Errorf("rank %d: %q leaves the score at %.4f, not above %.4f", i+1, c.Text, g.score(), target)
			}
			if !strings.Contains(c.Text, "#"+strconv.Itoa(i)) {
				t.Errorf("rank %d: %q does not name rank #%d", i+1, c.Text, i)
			}
		}
	}
	// A match already above the target needs no change.
	if ch := toRankHigher(trips[0].factors, trips[0].score-0.01, 1, true); ch != nil {
		t.Errorf("rank 1: got changes %v, want none", ch)
	}
}

// TestPreferenceFit checks lanes and home time raise the fit.
func TestPreferenceFit(t *testing.T) {
	home := dallas.point()
	p := &Preferences{Lanes: []Lane{{Origin: "TX", Destination: "GA"}, {Destination: "TN"}}, HomeBy: ptr(t0.Add(72 * time.Hour))}
	c := newPrefCheck(p, 250)
	cases := []struct {
		so, sd string
		dest   geo.Point
		want   float64
	}{
		{"TX", "GA", atlanta.point(), 1},
		{"OK", "TN", memphis.point(), 1}, // any origin to TN
		{"TX", "OK", oklahoma.point(), math.Max(0, 1-geo.GreatCircleMiles(oklahoma.point(), home)/500)},
		{"TX", "CA", losAngeles.point(), 0},
	}
	for _, tc := range cases {
		if got, note := c.fit(tc.so, tc.sd, tc.dest, home); math.Abs(got-tc.want) > 1e-9 || (got > 0 && note == "") {
			t.Errorf("%s to %s: got %.3f (%q), want %.3f", tc.so, tc.sd, got, note, tc.want)
		}
	}
	if got, _ := newPrefCheck(nil, 250).fit("TX", "GA", atlanta.point(), home); got != 0 {
		t.Errorf("no preferences: got %.2f, want 0", got)
	}
}

// TestDriverOnALoad starts a busy driver's next trip where and when the
// load in hand is delivered.
func TestDriverOnALoad(t *testing.T) {
	w := newWorld(t, []driverSpec{{id: "d1", home: dallas, status: freight.DriverOnLoad}}, []loadSpec{
		{id: "next", from: memphis, to: nashville, pickup: [2]time.Duration{0, 3 * 24 * time.Hour}},
		{id: "near-home", from: fortWorth, to: oklahoma}, // too far from Memphis
	})
	// Booked: Dallas to Memphis, pick up at 10:00-12:00, deliver tomorrow.
	w.add(t, loadSpec{id: "inhand", from: dallas, to: memphis, status: freight.StatusDispatched, carrier: "org-carrier-a", drvID: "d1",
		pickup: [2]time.Duration{2 * time.Hour, 4 * time.Hour}, delivery: [2]time.Duration{20 * time.Hour, 30 * time.Hour}}.load())
	trips, _, org := w.loadsFor(t, "d1", 10)
	if org.source != "current_load" || org.pos != memphis.point() {
		t.Fatalf("origin: got %s at %v, want the delivery in Memphis", org.source, org.pos)
	}
	// Delivery begins when its window opens at t0+20h, and takes an hour.
	if want := t0.Add(21 * time.Hour); !org.state.At.Equal(want) {
		t.Errorf("free at %s, want %s", org.state.At, want)
	}
	if len(trips) != 1 || trips[0].load.ID != "next" {
		t.Fatalf("got %d trips, want only the load out of Memphis", len(trips))
	}
	// Delivered: the driver is where the load ended.
	w.add(t, loadSpec{id: "inhand", from: dallas, to: memphis, status: freight.StatusDelivered, carrier: "org-carrier-a", drvID: "d1"}.load())
	w.idx.mu.RLock()
	rec := w.idx.drivers["d1"]
	org = w.eng.originOf(rec, t0, nil)
	w.idx.mu.RUnlock()
	if org.source != "last_delivery" || org.pos != memphis.point() || !org.state.At.Equal(t0) {
		t.Errorf("after delivery: got %s at %v from %s, want the last delivery, now", org.source, org.pos, org.state.At)
	}
}

// TestChainsFollowTheFreight builds a world where the best three-load
// chain is known and checks the search finds it, with a legal schedule.
func TestChainsFollowTheFreight(t *testing.T) {
	day := 24 * time.Hour
	w := newWorld(t, []driverSpec{{id: "d1", home: dallas}}, []loadSpec{
		// Dallas to Memphis, Memphis to Nashville, Nashville to Atlanta:
		// almost no empty miles.
		{id: "a", from: dallas, to: memphis, rate: 1200, pickup: [2]time.Duration{time.Hour, 6 * time.Hour}},
		{id: "b", from: memphis, to: nashville, rate: 700, pickup: [2]time.Duration{10 * time.Hour, day + 10*time.Hour}},
		{id: "c", from: nashville, to: atlanta, rate: 800, pickup: [2]time.Duration{day, 2 * day}},
		// A richer first load that leads nowhere: $1,800 in 29 hours
		// earns less per day than $2,700 in 37.
		{id: "x", from: fortWorth, to: denver, rate: 1800, pickup: [2]time.Duration{time.Hour, 6 * time.Hour}},
		// A load the driver cannot reach in time after any first leg.
		{id: "y", from: stLouis, to: indianapols, rate: 900, pickup: [2]time.Duration{2 * time.Hour, 5 * time.Hour}},
	})
	w.idx.mu.RLock()
	defer w.idx.mu.RUnlock()
	rec := w.idx.drivers["d1"]
	org := w.eng.originOf(rec, t0, nil)
	nodes, _ := w.eng.chains(context.Background(), rec, &org, chainOptions{legs: 3, limit: 3, horizon: 3 * day, beam: 12, branch: 8, cost: 0.8})
	if len(nodes) == 0 {
		t.Fatal("no chain found")
	}
	best := w.eng.chain(&org, nodes[0], 0.8)
	var ids []string
	for _, l := range best.Legs {
		ids = append(ids, l.Load.ID)
	}
	if got := strings.Join(ids, ","); got != "a,b,c" {
		t.Errorf("best chain: got %s, want a,b,c", got)
	}
	if best.EmptyMiles > 1 {
		t.Errorf("empty miles: got %.1f, want none", best.EmptyMiles)
	}
	if best.RevenueUSD != freight.FromDollars(2700) {
		t.Errorf("revenue: got %s, want $2700", best.RevenueUSD)
	}
	// The schedule keeps the rules and meets every window.
	plan := hos.Plan{Steps: best.Schedule, Start: org.state.At, End: best.Schedule[len(best.Schedule)-1].End}
	for _, s := range best.Schedule {
		switch s.Kind {
		case hos.StepDrive:
			plan.Driving += s.End.Sub(s.Start)
		case hos.StepWork:
			plan.OnDuty += s.End.Sub(s.Start)
		default:
			plan.OffDuty += s.End.Sub(s.Start)
		}
	}
	if err := hos.Verify(org.state, plan, hos.Rules{}); err != nil {
		t.Errorf("chain schedule breaks the rules: %v", err)
	}
	for _, l := range best.Legs {
		if l.PickupAt.Before(l.Load.Pickup.Start) || l.PickupAt.After(l.Load.Pickup.End) {
			t.Errorf("%s picked up at %s outside %s-%s", l.Load.ID, l.PickupAt, l.Load.Pickup.Start, l.Load.Pickup.End)
		}
		if l.DeliveredAt.After(l.Load.Delivery.End.Add(w.eng.stop)) {
			t.Errorf("%s delivered at %s after its window", l.Load.ID, l.DeliveredAt)
		}
	}
	// Chains are returned with different first loads.
	seen := map[string]bool{}
	for _, n := range nodes {
		c := w.eng.chain(&org, n, 0.8)
		if seen[c.Legs[0].Load.ID] {
			t.Errorf("two chains start with %s", c.Legs[0].Load.ID)
		}
		seen[c.Legs[0].Load.ID] = true
	}
}

// TestIndexGrid checks the spatial index against a brute-force scan and
// that removals leave no trace.
func TestIndexGrid(t *testing.T) {
	w := newWorld(t, nil, nil)
	places := []place{dallas, fortWorth, houston, atlanta, memphis, oklahoma, losAngeles, shreveport, littleRock, nashville, birmingham, denver, kansasCity, stLouis, indianapols}
	n := 0
	for i, a := range places {
		for j, b := range places {
			if i != j {
				n++
				w.add(t, loadSpec{id: a.city + ">" + b.city, from: a, to: b}.load())
			}
		}
	}
	for _, center := range places {
		for _, radius := range []float64{50, 250, 600} {
			got := 0
			w.idx.lg.within(center.point(), radius, 0, func(l *openLoad, _ *hotLoad, miles float64) bool {
				if math.Abs(miles-geo.GreatCircleMiles(center.point(), l.o)) > 1e-9 {
					t.Errorf("distance to %s: got %g", l.ID, miles)
				}
				got++
				return true
			})
			want := 0
			for _, l := range w.idx.loads {
				if geo.GreatCircleMiles(center.point(), l.o) <= radius {
					want++
				}
			}
			if got != want {
				t.Errorf("within %g of %s: got %d, want %d", radius, center.city, got, want)
			}
		}
	}
	// Booking every load empties the grid and the outlook sums.
	for id, l := range w.idx.loads {
		b := l.Load
		b.ID, b.Status = id, freight.StatusBooked
		w.add(t, b)
	}
	if loads, _ := w.idx.Counts(); loads != 0 {
		t.Errorf("got %d open loads after booking all %d, want 0", loads, n)
	}
	for c, cell := range w.idx.lg.cells {
		if len(cell) != 0 || w.idx.rpmSum[c] != 0 {
			t.Fatalf("cell %d holds %d loads and a rate sum of %g after all were removed", c, len(cell), w.idx.rpmSum[c])
		}
	}
}

// TestBadPoints keeps loads and drivers with unusable coordinates out of
// the grids instead of crashing.
func TestBadPoints(t *testing.T) {
	w := newWorld(t, []driverSpec{{id: "d1", home: place{"nowhere", "", math.NaN(), 0}}}, nil)
	l := loadSpec{id: "nan", from: dallas, to: atlanta}.load()
	l.Origin.Lat = math.NaN()
	w.add(t, l)
	l2 := loadSpec{id: "inf", from: dallas, to: atlanta}.load()
	l2.Destination.Lon = math.Inf(1)
	w.add(t, l2)
	if loads, _ := w.idx.Counts(); loads != 0 {
		t.Errorf("got %d loads with bad points indexed, want 0", loads)
	}
	if w.idx.drivers["d1"].slot.cell != -1 {
		t.Error("a driver with a NaN home is in the grid")
	}
	trips, _, _ := w.loadsFor(t, "d1", 10)
	if len(trips) != 0 {
		t.Errorf("got %d trips for a driver nowhere, want 0", len(trips))
	}
}

// positions is a tracking service's answer for the tests.
type positions map[string]struct {
	p  geo.Point
	at time.Time
}

func (ps positions) Latest(_ context.Context, id string) (geo.Point, time.Time, bool) {
	f, ok := ps[id]
	return f.p, f.at, ok
}

// outlook is a market-intelligence answer for the tests.
type outlook struct {
	score, rpm float64
	err        error
	calls      int
}

func (o *outlook) ReloadOutlook(context.Context, float64, float64, freight.Equipment) (float64, float64, error) {
	o.calls++
	return o.score, o.rpm, o.err
}

// TestOptionalInputs uses live positions and market outlooks when they
// are given, and falls back when they are missing, stale or failing.
func TestOptionalInputs(t *testing.T) {
	drivers := []driverSpec{{id: "d1", home: dallas}, {id: "d2", home: memphis}}
	loads := []loadSpec{{id: "hou", from: houston, to: dallas}, {id: "mem", from: dallas, to: memphis}, {id: "atl", from: fortWorth, to: atlanta}}
	ctx := context.Background()

	t.Run("live position", func(t *testing.T) {
		w := newWorld(t, drivers, loads)
		w.eng.positions = positions{
			"d1": {houston.point(), t0.Add(-time.Hour)},
			"d2": {houston.point(), t0.Add(-7 * time.Hour)}, // older than six hours
		}
		w.idx.mu.RLock()
		o1 := w.eng.originOf(w.idx.drivers["d1"], t0, w.eng.live(ctx, "d1", t0))
		o2 := w.eng.originOf(w.idx.drivers["d2"], t0, w.eng.live(ctx, "d2", t0))
		w.idx.mu.RUnlock()
		if o1.source != "live" || o1.pos != houston.point() {
			t.Errorf("fresh fix: got %s at %v, want live in Houston", o1.source, o1.pos)
		}
		if o2.source != "home_base" || o2.pos != memphis.point() {
			t.Errorf("stale fix: got %s at %v, want the home base", o2.source, o2.pos)
		}
		// A refreshed live position moves the driver in the grid: the
		// Memphis driver, now in Houston, is found for the Houston load.
		w.idx.setLive("d2", houston.point(), t0)
		w.idx.mu.RLock()
		trips, _ := w.eng.driversFor(ctx, w.idx.loads["hou"], "", t0, 10)
		w.idx.mu.RUnlock()
		var ids []string
		for _, tr := range trips {
			ids = append(ids, tr.driver.ID)
		}
		if !slices.Contains(ids, "d2") {
			t.Errorf("drivers for the Houston load: got %v, want d2 among them", ids)
		}
	})
	t.Run("market outlook", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			src    *outlook
			source string
		}{
			{"answers", &outlook{score: 0.9, rpm: 3.1}, "market"},
			{"fails", &outlook{err: context.DeadlineExceeded}, "board"},
			{"NaN", &outlook{score: math.NaN(), rpm: 2}, "board"},
		} {
			t.Run(c.name, func(t *testing.T) {
				w := newWorld(t, drivers, loads)
				w.eng.outlook = &outlookCache{src: c.src, ttl: time.Minute, m: map[int]outlookValue{}}
				for range 2 {
					trips, _, _ := w.loadsFor(t, "d1", 10)
					if len(trips) != 2 {
						t.Fatalf("got %d trips, want 2", len(trips))
					}
					for _, tr := range trips {
						if tr.factors.ReloadSource != c.source {
							t.Errorf("%s: reload source %s, want %s", tr.load.ID, tr.factors.ReloadSource, c.source)
						}
						if c.source == "market" && (tr.factors.ReloadOutlook != 0.9 || tr.factors.ReloadRatePerMile != 3.1) {
							t.Errorf("%s: outlook %+v, want market intelligence's", tr.load.ID, tr.factors)
						}
					}
				}
				// Answers are cached per grid cell: two destinations, two
				// calls, whatever the number of requests.
				if c.source == "market" && c.src.calls != 2 {
					t.Errorf("got %d calls to market intelligence, want 2", c.src.calls)
				}
			})
		}
	})
}

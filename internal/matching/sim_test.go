package matching

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/hos"
	"github.com/backhaul/backhaul/internal/solver/assign"
)

// A simple generated freight world: drivers and loads around US freight
// markets (geocoded from internal/geocode), with lanes drawn by gravity
// (big markets send to big markets, less so far away), pickup windows over
// the coming days and rates by equipment and distance.

type market struct {
	city, state string
	weight      float64
	p           geo.Point
}

var marketList = []market{
	{city: "Los Angeles", state: "CA", weight: 10}, {city: "Chicago", state: "IL", weight: 9}, {city: "Dallas", state: "TX", weight: 8},
	{city: "Atlanta", state: "GA", weight: 7}, {city: "Houston", state: "TX", weight: 7}, {city: "Newark", state: "NJ", weight: 6},
	{city: "Memphis", state: "TN", weight: 5}, {city: "Columbus", state: "OH", weight: 5}, {city: "Indianapolis", state: "IN", weight: 4},
	{city: "Kansas City", state: "MO", weight: 4}, {city: "Phoenix", state: "AZ", weight: 4}, {city: "Seattle", state: "WA", weight: 4},
	{city: "Miami", state: "FL", weight: 4}, {city: "Charlotte", state: "NC", weight: 4}, {city: "Philadelphia", state: "PA", weight: 4},
	{city: "Laredo", state: "TX", weight: 4}, {city: "Denver", state: "CO", weight: 3}, {city: "Nashville", state: "TN", weight: 3},
	{city: "Minneapolis", state: "MN", weight: 3}, {city: "Fresno", state: "CA", weight: 3}, {city: "Savannah", state: "GA", weight: 3},
	{city: "St. Louis", state: "MO", weight: 3}, {city: "Detroit", state: "MI", weight: 3}, {city: "Salt Lake City", state: "UT", weight: 2},
	{city: "Jacksonville", state: "FL", weight: 3}, {city: "Louisville", state: "KY", weight: 2}, {city: "Oklahoma City", state: "OK", weight: 2},
	{city: "Albuquerque", state: "NM", weight: 1.5}, {city: "Portland", state: "OR", weight: 2}, {city: "Harrisburg", state: "PA", weight: 2.5},
	{city: "Buffalo", state: "NY", weight: 1.5}, {city: "Birmingham", state: "AL", weight: 2}, {city: "Omaha", state: "NE", weight: 1.5},
	{city: "El Paso", state: "TX", weight: 2}, {city: "San Antonio", state: "TX", weight: 3}, {city: "Sacramento", state: "CA", weight: 2},
	{city: "Boise", state: "ID", weight: 1}, {city: "Richmond", state: "VA", weight: 2}, {city: "Cincinnati", state: "OH", weight: 2},
	{city: "Milwaukee", state: "WI", weight: 2},
}

// generator draws drivers and loads of the world.
type generator struct {
	rng     *rand.Rand
	markets []market
	total   float64
}

func newGenerator(t testing.TB, seed uint64) *generator {
	t.Helper()
	g := &generator{rng: rand.New(rand.NewPCG(seed, seed^0x5deece66d))}
	for _, m := range marketList {
		pl, ok := geocode.Default().City(m.city, m.state)
		if !ok {
			t.Fatalf("market %s, %s not in the geocoder", m.city, m.state)
		}
		m.p = pl.Point
		g.markets = append(g.markets, m)
		g.total += m.weight
	}
	return g
}

func (g *generator) pick(w func(m market) float64) market {
	var total float64
	for _, m := range g.markets {
		total += w(m)
	}
	x := g.rng.Float64() * total
	for _, m := range g.markets {
		if x -= w(m); x <= 0 {
			return m
		}
	}
	return g.markets[len(g.markets)-1]
}

// near is a point within about r miles of p, denser towards the centre.
func (g *generator) near(p geo.Point, r float64) geo.Point {
	q := geo.Destination(p, g.rng.Float64()*360, r*math.Sqrt(g.rng.Float64()))
	return geo.Point{Lat: math.Round(q.Lat*1e5) / 1e5, Lon: math.Round(q.Lon*1e5) / 1e5}
}

func (g *generator) equipment() freight.Equipment {
	switch x := g.rng.Float64(); {
	case x < 0.6:
		return freight.Van
	case x < 0.85:
		return freight.Reefer
	}
	return freight.Flatbed
}

var baseRPM = map[freight.Equipment]float64{freight.Van: 2.35, freight.Reefer: 2.75, freight.Flatbed: 2.95}

// load draws a load posted at `at`, picking up within the next lead
// hours, in a window of 2 to 8 hours, delivered with a day of slack.
func (g *generator) load(id string, at time.Time, lead float64) freight.Load {
	o := g.pick(func(m market) float64 { return m.weight })
	var d market
	for {
		d = g.pick(func(m market) float64 {
			miles := geo.GreatCircleMiles(o.p, m.p)
			if miles < 100 {
				return 0
			}
			return m.weight / math.Pow(miles/400, 1.1)
		})
		if d.city != o.city {
			break
		}
	}
	op, dp := g.near(o.p, 40), g.near(d.p, 40)
	miles := geo.DefaultCircuity.RoadMiles(op, dp)
	eq := g.equipment()
	rpm := baseRPM[eq] * (1 + 0.1*g.rng.NormFloat64())
	if miles < 300 {
		rpm *= 1.3
	}
	start := at.Add(time.Duration(g.rng.Float64() * lead * float64(time.Hour))).Truncate(time.Hour)
	window := time.Duration(2+g.rng.IntN(7)) * time.Hour
	transit := time.Duration(miles/45*float64(time.Hour)) + time.Duration(int(miles/500))*10*time.Hour
	return freight.Load{ID: id, OrgID: "org-shipper", Reference: id,
		Origin:      freight.Location{City: o.city, State: o.state, Lat: op.Lat, Lon: op.Lon},
		Destination: freight.Location{City: d.city, State: d.state, Lat: dp.Lat, Lon: dp.Lon},
		Pickup:      freight.Window{Start: start, End: start.Add(window)},
		Delivery:    freight.Window{Start: start.Add(transit / 2), End: start.Add(window + transit + 24*time.Hour)},
		Equipment:   eq, WeightLbs: 8000 + 1000*g.rng.IntN(37), Rate: freight.FromDollars(math.Round(rpm * math.Max(miles, 100))),
		Miles: math.Round(miles*10) / 10, Status: freight.StatusPosted, Version: 1}
}

// driver draws a driver near a market, with a clock somewhere in the day.
func (g *generator) driver(id string, at time.Time) freight.Driver {
	m := g.pick(func(m market) float64 { return m.weight })
	home := g.near(m.p, 60)
	eq := g.equipment()
	drive := 3 + g.rng.IntN(9)
	clock := freight.HOSClock{DrivingLeft: freight.Minutes(drive * 60), WindowLeft: freight.Minutes((drive + 3) * 60),
		CycleLeft: freight.Minutes((20 + g.rng.IntN(51)) * 60), UntilBreak: freight.Minutes(min(drive, 8) * 60), UpdatedAt: at}
	return freight.Driver{ID: id, CarrierID: fmt.Sprintf("org-carrier-%d", g.rng.IntN(20)), Name: id,
		HomeBase: freight.Location{City: m.city, State: m.state, Lat: home.Lat, Lon: home.Lon}, Equipment: eq,
		CapacityLbs: 45000, Status: freight.DriverAvailable, HOS: clock}
}

// bigWorld is an engine over n open loads and the drivers asking.
func bigWorld(b testing.TB, loads, drivers int) (*world, []string) {
	g := newGenerator(b, 42)
	w := newWorld(b, nil, nil)
	for i := range loads {
		w.add(b, g.load(fmt.Sprintf("L%06d", i), t0, 96))
	}
	var ids []string
	for i := range drivers {
		d := g.driver(fmt.Sprintf("D%04d", i), t0)
		d.Equipment = freight.Van
		w.idx.putDriver(d)
		ids = append(ids, d.ID)
	}
	return w, ids
}

// quantile is the q-quantile of sorted durations.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(math.Ceil(q*float64(len(d))))-1)]
}

// timed runs f for each driver in turn, b.N times in all, and reports the
// p50 and p99 of each call's wall time and of the CPU time its thread used
// (on Linux; the goroutine is locked to its thread meanwhile). On a shared
// machine the wall time's tail is the scheduler's; the CPU time is the
// work's.
func timed(b *testing.B, ids []string, f func(id string)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	lat := make([]time.Duration, 0, b.N)
	cpu := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		start, c0 := time.Now(), threadCPU()
		f(ids[i%len(ids)])
		lat = append(lat, time.Since(start))
		cpu = append(cpu, threadCPU()-c0)
		i++
	}
	slices.Sort(lat)
	slices.Sort(cpu)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(quantile(lat, 0.5)), "p50-ms")
	b.ReportMetric(ms(quantile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(quantile(cpu, 0.5)), "cpu-p50-ms")
	b.ReportMetric(ms(quantile(cpu, 0.99)), "cpu-p99-ms")
}

// BenchmarkLoadsForDriver100k ranks the 10 best of 100,000 open loads for
// van drivers all over the country, one request at a time, with the
// schedules and explanations the API returns.
func BenchmarkLoadsForDriver100k(b *testing.B) {
	w, ids := bigWorld(b, 100_000, 500)
	s := &Service{idx: w.idx, eng: w.eng}
	ctx := context.Background()
	var offered, considered int
	timed(b, ids, func(id string) {
		w.idx.mu.RLock()
		rec := w.idx.drivers[id]
		org := w.eng.originOf(rec, t0, nil)
		trips, st := w.eng.loadsFor(ctx, rec, &org, 10)
		_ = s.recommendations(trips, true)
		w.idx.mu.RUnlock()
		offered += len(trips)
		considered += st.Considered
	})
	b.ReportMetric(float64(considered)/float64(b.N), "loads-in-reach/op")
	b.ReportMetric(float64(offered)/float64(b.N), "offered/op")
}

// BenchmarkChains100k finds the best chains of up to three loads among
// 100,000 open loads over the next three days.
func BenchmarkChains100k(b *testing.B) {
	w, ids := bigWorld(b, 100_000, 200)
	ctx := context.Background()
	opts := chainOptions{legs: 3, limit: 3, horizon: 72 * time.Hour, beam: 12, branch: 8, cost: 0.8}
	var legs, chains int
	timed(b, ids, func(id string) {
		w.idx.mu.RLock()
		rec := w.idx.drivers[id]
		org := w.eng.originOf(rec, t0, nil)
		nodes, _ := w.eng.chains(ctx, rec, &org, opts)
		for _, n := range nodes {
			c := w.eng.chain(&org, n, opts.cost)
			legs += len(c.Legs)
			chains++
		}
		w.idx.mu.RUnlock()
	})
	if chains > 0 {
		b.ReportMetric(float64(legs)/float64(chains), "legs/chain")
	}
}

// A simulated week: loads are posted through the week, picking up 4 to 36
// hours later; every hour a dispatcher assigns the free drivers to the
// open loads whose pickup opens within the next 12 hours, under the same
// feasibility (equipment, weight, deadhead, windows, hours of service).
// The platform solves each hour's assignment exactly (most loads covered,
// then fewest empty miles); the baseline takes loads in pickup order and
// gives each the nearest free driver. A driver's day continues from where
// and when their last delivery ended, with the clock it left them.

type simConfig struct {
	drivers, loadsPerDay, days int
	seed                       uint64
	// idleCost, when set, makes the platform's hourly assignment also
	// price the hours a driver would wait or rest before the pickup, in
	// miles per hour: among assignments covering as many loads, it then
	// prefers loads the driver can start soon.
	idleCost float64
}

// lookahead is how far ahead the dispatchers see: loads whose pickup
// opens within it.
const lookahead = 12 * time.Hour

type simResult struct {
	loads, covered       int
	emptyMiles, loaded   float64
	revenue              float64
	epochs, greedyWorse  int // epochs, and epochs where greedy covered fewer on the same pairs
	maxEpochCoverageLoss int
}

func (r simResult) emptyShare() float64 { return r.emptyMiles / (r.emptyMiles + r.loaded) }

type simDriver struct {
	d     freight.Driver
	pos   geo.Point
	state hos.State
}

func simulate(t testing.TB, cfg simConfig, optimal bool) simResult {
	g := newGenerator(t, cfg.seed)
	end := t0.Add(time.Duration(cfg.days) * 24 * time.Hour)
	var all []freight.Load
	for i := range cfg.loadsPerDay * cfg.days {
		posted := t0.Add(time.Duration(g.rng.Float64() * float64(end.Sub(t0))))
		l := g.load(fmt.Sprintf("L%05d", i), posted.Add(4*time.Hour), 32)
		l.CreatedAt = posted
		all = append(all, l)
	}
	slices.SortFunc(all, func(a, b freight.Load) int { return a.CreatedAt.Compare(b.CreatedAt) })
	drivers := make([]*simDriver, cfg.drivers)
	for i := range drivers {
		d := g.driver(fmt.Sprintf("D%04d", i), t0)
		drivers[i] = &simDriver{d: d, pos: geo.Point{Lat: d.HomeBase.Lat, Lon: d.HomeBase.Lon}, state: hos.Start(d.HOS, t0, false, hos.Rules{})}
	}
	res := simResult{loads: len(all)}
	taken := map[string]bool{}
	ctx := context.Background()
	w := newWorld(t, nil, nil)
	for now := t0; now.Before(end); now = now.Add(time.Hour) {
		res.epochs++
		// The board: posted, not taken, pickup open and starting within
		// the next 12 hours.
		w.idx.mu.Lock()
		for id, l := range w.idx.loads {
			if taken[id] || l.Pickup.End.Before(now) {
				w.idx.dropLoad(id)
			}
		}
		w.idx.mu.Unlock()
		for _, l := range all {
			if l.CreatedAt.After(now) {
				break
			}
			if _, ok := w.idx.loads[l.ID]; !ok && !taken[l.ID] && !l.Pickup.End.Before(now) && l.Pickup.Start.Before(now.Add(lookahead)) {
				w.add(t, l)
			}
		}
		var free []*simDriver
		var recs []*driverRec
		for _, sd := range drivers {
			if sd.state.At.After(now) {
				continue
			}
			d := sd.d
			d.Status = freight.DriverResting // off duty while waiting for a load
			d.HOS = sd.state.Clock()
			rec := w.idx.putDriver(d)
			p := sd.pos
			rec.live, rec.liveAt = &p, now
			free = append(free, sd)
			recs = append(recs, rec)
		}
		loads, edges, info := w.eng.feasiblePairs(ctx, recs, nil, now)
		if len(edges) == 0 {
			continue
		}
		sc := &assign.Scenario{Drivers: make([]assign.Driver, len(recs)), Loads: make([]assign.Load, len(loads))}
		for i, l := range loads {
			sc.Loads[i] = assign.Load{ID: l.ID, PickupLatest: l.Pickup.End}
		}
		greedy := assign.Greedy(sc, edges)
		byPair := make(map[[2]int]int, len(edges))
		for i, e := range edges {
			byPair[[2]int{e.Driver, e.Load}] = i
		}
		sol := greedy
		if optimal {
			var err error
			costs := edges
			if cfg.idleCost > 0 {
				costs = make([]assign.Edge, len(edges))
				for i, e := range edges {
					idle := math.Max(0, info[i].pickup.Sub(now).Hours()-e.Miles/w.eng.speed)
					e.Miles += cfg.idleCost * idle
					costs[i] = e
				}
			}
			if sol, err = assign.Solve(ctx, len(recs), len(loads), costs); err != nil {
				t.Fatal(err)
			}
			for i := range sol.Pairs {
				sol.Pairs[i].Miles = edges[byPair[[2]int{sol.Pairs[i].Driver, sol.Pairs[i].Load}]].Miles
			}
			if greedy.Assigned() < sol.Assigned() {
				res.greedyWorse++
			}
			if greedy.Assigned() > sol.Assigned() {
				res.maxEpochCoverageLoss = max(res.maxEpochCoverageLoss, greedy.Assigned()-sol.Assigned())
			}
		}
		for _, e := range sol.Pairs {
			in := info[byPair[[2]int{e.Driver, e.Load}]]
			sd, l := free[e.Driver], loads[e.Load]
			if taken[l.ID] || in.pickup.Before(sd.state.At) || in.pickup.Before(now) {
				t.Errorf("%s: load %s taken twice, or picked up at %s before the driver is free at %s", now, l.ID, in.pickup, sd.state.At)
			}
			taken[l.ID] = true
			res.covered++
			res.emptyMiles += e.Miles
			res.loaded += l.loaded
			res.revenue += l.Rate.Dollars()
			sd.pos, sd.state = l.d, in.final
		}
	}
	return res
}

// TestSimulatedDays runs two days of a small world under both
// dispatchers: on the same feasible pairs, the exact assignment never
// covers fewer loads than greedy, and every driver's trips follow each
// other.
func TestSimulatedDays(t *testing.T) {
	cfg := simConfig{drivers: 60, loadsPerDay: 60, days: 2, seed: 7}
	opt := simulate(t, cfg, true)
	gr := simulate(t, cfg, false)
	if opt.maxEpochCoverageLoss != 0 {
		t.Errorf("an hour where greedy covered %d more loads than the exact assignment on the same pairs", opt.maxEpochCoverageLoss)
	}
	if opt.covered == 0 || gr.covered == 0 {
		t.Fatalf("nothing covered: platform %d, greedy %d of %d", opt.covered, gr.covered, opt.loads)
	}
	if opt.covered > opt.loads || math.IsNaN(opt.emptyShare()) {
		t.Errorf("platform: %+v", opt)
	}
	t.Logf("platform: %d of %d covered, %.1f%% empty; greedy: %d covered, %.1f%% empty",
		opt.covered, opt.loads, 100*opt.emptyShare(), gr.covered, 100*gr.emptyShare())
}

// BenchmarkSimulatedWeek runs five generated weeks (seeds 1 to 5) of 400
// drivers and 300 loads a day under three dispatchers: the platform's
// matching with the objective of POST /api/v1/matches/assign (most loads
// covered, then fewest deadhead miles), the same also pricing idle hours
// before the pickup at 25 miles an hour, and the nearest-first greedy
// dispatcher. It reports loads covered and the empty-mile share of each,
// summed over the five weeks.
func BenchmarkSimulatedWeek(b *testing.B) {
	for b.Loop() {
		var opt, idle, gr simResult
		for seed := uint64(1); seed <= 5; seed++ {
			cfg := simConfig{drivers: 400, loadsPerDay: 300, days: 7, seed: seed}
			o, g := simulate(b, cfg, true), simulate(b, cfg, false)
			cfg.idleCost = 25
			i := simulate(b, cfg, true)
			b.Logf("seed %d: %d loads; platform %d covered, %.2f%% empty (%d hours covering more than greedy would on the same pairs); "+
				"with idle cost %d, %.2f%%; greedy %d, %.2f%%",
				seed, o.loads, o.covered, 100*o.emptyShare(), o.greedyWorse, i.covered, 100*i.emptyShare(), g.covered, 100*g.emptyShare())
			opt.add(o)
			idle.add(i)
			gr.add(g)
		}
		b.ReportMetric(float64(opt.loads), "loads")
		b.ReportMetric(float64(opt.covered), "platform-covered")
		b.ReportMetric(float64(idle.covered), "platform-idle-covered")
		b.ReportMetric(float64(gr.covered), "greedy-covered")
		b.ReportMetric(100*opt.emptyShare(), "platform-empty-%")
		b.ReportMetric(100*idle.emptyShare(), "platform-idle-empty-%")
		b.ReportMetric(100*gr.emptyShare(), "greedy-empty-%")
		b.ReportMetric(opt.emptyMiles, "platform-empty-mi")
		b.ReportMetric(idle.emptyMiles, "platform-idle-empty-mi")
		b.ReportMetric(gr.emptyMiles, "greedy-empty-mi")
	}
}

func (r *simResult) add(o simResult) {
	r.loads += o.loads
	r.covered += o.covered
	r.emptyMiles += o.emptyMiles
	r.loaded += o.loaded
	r.revenue += o.revenue
	r.epochs += o.epochs
	r.greedyWorse += o.greedyWorse
}

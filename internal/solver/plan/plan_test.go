package plan

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
)

// solve runs a deterministic search and fails the test unless the checker
// accepts the result.
func solve(t *testing.T, p *Problem, iters int, seed uint64) Solution {
	t.Helper()
	sol, err := Solve(context.Background(), p, Options{MaxIterations: iters, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, p, &sol)
	return sol
}

func mustCheck(t *testing.T, p *Problem, sol *Solution) {
	t.Helper()
	if v := Check(p, sol); len(v) > 0 {
		t.Fatalf("checker refuses the solution: %s", strings.Join(v[:min(len(v), 5)], "; "))
	}
}

var chicago = geo.Point{Lat: 41.8781, Lon: -87.6298}

// east is a point whose road distance from from is roadMiles.
func east(from geo.Point, roadMiles float64) geo.Point {
	return geo.Destination(from, 90, roadMiles/geo.DefaultCircuityFactor)
}

func window(at time.Time, h float64) (time.Time, time.Time) {
	return at, at.Add(time.Duration(h * float64(time.Hour)))
}

func oneLoad(from, to geo.Point, pe, pl, de, dl time.Time) Load {
	return Load{ID: "L1", WeightLbs: 40000, Equipment: freight.Van,
		Pickup:   Stop{Point: from, Earliest: pe, Latest: pl, Service: time.Hour},
		Delivery: Stop{Point: to, Earliest: de, Latest: dl, Service: time.Hour}}
}

func truckAt(id string, pt geo.Point, at time.Time) Truck {
	return Truck{ID: id, Start: pt, Available: at, CapacityLbs: 45000, Equipment: freight.Van}
}

// TestHOSInsertion checks where the rules put breaks and rests on long
// loaded legs, from a fresh driver and from a tired one.
func TestHOSInsertion(t *testing.T) {
	type rest struct {
		kind  RestKind
		miles float64 // into the leg
	}
	tests := []struct {
		name    string
		miles   float64
		clock   *freight.HOSClock
		rests   []rest
		transit time.Duration // pickup departure to delivery arrival
	}{
		{"300 miles: no stop", 300, nil, nil, 6 * time.Hour},
		{"450 miles: a break after 8 hours", 450, nil, []rest{{RestBreak, 400}}, 9*time.Hour + 30*time.Minute},
		{
			// 30 hours of driving: 8 h, break, 3 h (11 h), rest, 8 h, break,
			// 3 h, rest, 8 h.
			"1,500 miles: breaks and 10-hour rests", 1500, nil,
			[]rest{{RestBreak, 400}, {RestDaily, 550}, {RestBreak, 950}, {RestDaily, 1100}},
			30*time.Hour + 2*30*time.Minute + 2*10*time.Hour,
		},
		{
			// Two hours of driving and two of the window left: 1 h of
			// pickup, then one hour on the road before the rest.
			"tired driver rests early", 300,
			&freight.HOSClock{DrivingLeft: 120, WindowLeft: 120, CycleLeft: 3000, UntilBreak: 120},
			[]rest{{RestDaily, 50}}, 6*time.Hour + 10*time.Hour,
		},
	}
	start := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			to := east(chicago, tt.miles)
			pe, pl := window(start, 2)
			de, dl := window(start, 120)
			tr := truckAt("T1", chicago, start)
			if tt.clock != nil {
				c := *tt.clock
				c.UpdatedAt = start
				tr.HOS = &c
			}
			p := &Problem{Trucks: []Truck{tr}, Loads: []Load{oneLoad(chicago, to, pe, pl, de, dl)}}
			sol := solve(t, p, 10, 1)
			if sol.Served != 1 || len(sol.Plans) != 1 {
				t.Fatalf("got %d served, want 1: %+v", sol.Served, sol.Unassigned)
			}
			tp := sol.Plans[0]
			var got []rest
			for _, r := range tp.Rests {
				if r.AtStop {
					continue
				}
				if r.Stop != 1 {
					t.Errorf("rest on leg %d, want the loaded leg 1", r.Stop)
				}
				got = append(got, rest{r.Kind, math.Round(r.MilesIntoLeg)})
			}
			if !reflect.DeepEqual(got, tt.rests) {
				t.Errorf("rests: got %v, want %v", got, tt.rests)
			}
			if d := tp.Stops[1].Arrival.Sub(tp.Stops[0].Departure); d != tt.transit {
				t.Errorf("transit: got %s, want %s", d, tt.transit)
			}
			if math.Abs(sol.LoadedMiles-tt.miles) > 0.01 || sol.EmptyMiles > 0.01 {
				t.Errorf("miles: got %.2f loaded and %.2f empty, want %.0f and 0", sol.LoadedMiles, sol.EmptyMiles, tt.miles)
			}
			// Each rest on the leg lies on the way east at its miles.
			for _, r := range tp.Rests {
				if r.AtStop {
					continue
				}
				want := east(chicago, r.MilesIntoLeg)
				if d := geo.GreatCircleMiles(r.Point, want); d > 0.5 {
					t.Errorf("rest at %v, %.1f miles from where it should be", r.Point, d)
				}
			}
		})
	}
}

// TestWindows checks waits for windows that open later and appointments
// met to the minute.
func TestWindows(t *testing.T) {
	start := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	to := east(chicago, 200) // 4 h
	// The pickup opens at 10:00: the truck waits 4 hours at the dock.
	pe, pl := window(start.Add(4*time.Hour), 1)
	// The delivery opens at 20:00: after 4 h of driving from 11:00 it waits 5 h.
	de, dl := window(start.Add(14*time.Hour), 2)
	p := &Problem{Trucks: []Truck{truckAt("T1", chicago, start)}, Loads: []Load{oneLoad(chicago, to, pe, pl, de, dl)}}
	sol := solve(t, p, 10, 1)
	if sol.Served != 1 {
		t.Fatalf("not served: %+v", sol.Unassigned)
	}
	st := sol.Plans[0].Stops
	if !st[0].Arrival.Equal(start) || !st[0].Start.Equal(pe) || !st[1].Arrival.Equal(start.Add(9*time.Hour)) || !st[1].Start.Equal(de) {
		t.Errorf("times: pickup arrival %s start %s, delivery arrival %s start %s", st[0].Arrival, st[0].Start, st[1].Arrival, st[1].Start)
	}
	var waits []time.Duration
	for _, r := range sol.Plans[0].Rests {
		if !r.AtStop || r.Kind != RestWait {
			t.Errorf("unexpected rest %+v", r)
		}
		waits = append(waits, r.End.Sub(r.Start))
	}
	if !reflect.DeepEqual(waits, []time.Duration{4 * time.Hour, 5 * time.Hour}) {
		t.Errorf("waits: got %v, want 4h and 5h", waits)
	}
}

// TestUnservable checks that loads no truck can haul are reported with
// their reason, and the others still planned.
func TestUnservable(t *testing.T) {
	start := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	good := oneLoad(chicago, east(chicago, 200), start, start.Add(4*time.Hour), start, start.Add(24*time.Hour))
	far := east(chicago, 2000)
	tests := []struct {
		name   string
		change func(l *Load, tr *Truck)
		reason string
	}{
		{"equipment", func(l *Load, tr *Truck) { l.Equipment = freight.Flatbed }, ReasonEquipment},
		{"weight", func(l *Load, tr *Truck) { l.WeightLbs = 46000 }, ReasonWeight},
		{"pickup out of reach", func(l *Load, tr *Truck) {
			// 2,000 miles away with the window closing in 10 hours.
			l.Pickup.Point = far
			l.Delivery.Point = east(far, 100)
		}, ReasonPickup},
		{"delivery out of reach", func(l *Load, tr *Truck) {
			l.Delivery.Point = far
			l.Delivery.Latest = start.Add(30 * time.Hour)
		}, ReasonDelivery},
		{"window closed before the truck starts", func(l *Load, tr *Truck) { tr.Available = start.Add(5 * time.Hour) }, ReasonPickup},
		{"shift ends first", func(l *Load, tr *Truck) { tr.ShiftEnd = start.Add(4 * time.Hour) }, ReasonShift},
		{"cannot get home in time", func(l *Load, tr *Truck) {
			h := chicago
			tr.Home = &h
			tr.ShiftEnd = start.Add(8 * time.Hour)
		}, ReasonShift},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := good
			bad.ID = "BAD"
			bad.Pickup.Latest = start.Add(10 * time.Hour)
			tr := truckAt("T1", chicago, start)
			other := truckAt("T2", chicago, start)
			tt.change(&bad, &tr)
			p := &Problem{Trucks: []Truck{tr, other}, Loads: []Load{good, bad}}
			if tt.name == "window closed before the truck starts" || strings.HasPrefix(tt.name, "shift") || strings.HasPrefix(tt.name, "cannot") {
				other.Available, other.ShiftEnd, other.Home = tr.Available, tr.ShiftEnd, tr.Home
				p.Trucks[1] = other
				bad.Pickup.Latest = start.Add(4 * time.Hour)
				p.Loads[1] = bad
			}
			sol := solve(t, p, 20, 1)
			var got string
			for _, u := range sol.Unassigned {
				if u.LoadID == "BAD" {
					got = u.Reason
				}
				if u.LoadID == "L1" && !strings.HasPrefix(tt.name, "shift") && !strings.HasPrefix(tt.name, "cannot") && tt.name != "window closed before the truck starts" {
					t.Errorf("the good load is unassigned: %s", u.Reason)
				}
			}
			if got != tt.reason {
				t.Errorf("reason: got %q, want %q", got, tt.reason)
			}
		})
	}
}

// TestBusyFleet: two loads at the same time, one truck; one is left out
// because the truck is busy, not because it is out of reach.
func TestBusyFleet(t *testing.T) {
	start := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	a := oneLoad(chicago, east(chicago, 300), start, start.Add(time.Hour), start, start.Add(10*time.Hour))
	b := a
	b.ID = "L2"
	b.Delivery.Point = geo.Destination(chicago, 180, 250)
	p := &Problem{Trucks: []Truck{truckAt("T1", chicago, start)}, Loads: []Load{a, b}}
	sol := solve(t, p, 20, 1)
	if sol.Served != 1 || len(sol.Unassigned) != 1 || sol.Unassigned[0].Reason != ReasonFleet {
		t.Errorf("got %d served, unassigned %+v; want 1 and one %q", sol.Served, sol.Unassigned, ReasonFleet)
	}
}

// TestMultiDay chains three loads over three days on one truck, ending at
// home: fewest trucks wins over the second truck sitting at the middle
// stop.
func TestMultiDay(t *testing.T) {
	day := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	dallas := geo.Point{Lat: 32.7767, Lon: -96.797}
	atlanta := geo.Point{Lat: 33.749, Lon: -84.388}
	mk := func(id string, from, to geo.Point, d int) Load {
		pe := day.Add(time.Duration(d) * 24 * time.Hour)
		return Load{ID: id, WeightLbs: 30000, Equipment: freight.Reefer,
			Pickup:   Stop{Point: from, Earliest: pe, Latest: pe.Add(6 * time.Hour), Service: time.Hour},
			Delivery: Stop{Point: to, Earliest: pe.Add(12 * time.Hour), Latest: pe.Add(40 * time.Hour), Service: time.Hour}}
	}
	home := chicago
	p := &Problem{
		Trucks: []Truck{
			{ID: "T1", Start: chicago, Available: day, CapacityLbs: 45000, Equipment: freight.Reefer, Home: &home, ShiftEnd: day.Add(6 * 24 * time.Hour)},
			{ID: "T2", Start: dallas, Available: day, CapacityLbs: 45000, Equipment: freight.Reefer},
		},
		Loads: []Load{mk("CHI-DAL", chicago, dallas, 0), mk("DAL-ATL", dallas, atlanta, 2), mk("ATL-CHI", atlanta, chicago, 4)},
	}
	sol := solve(t, p, 200, 3)
	if sol.Served != 3 || sol.Trucks != 1 {
		t.Fatalf("got %d served on %d trucks, want 3 on 1: %+v", sol.Served, sol.Trucks, sol.Unassigned)
	}
	tp := sol.Plans[0]
	if tp.TruckID != "T1" || tp.Stops[len(tp.Stops)-1].Kind != Home {
		t.Errorf("got truck %s ending with %s, want T1 ending at home", tp.TruckID, tp.Stops[len(tp.Stops)-1].Kind)
	}
	if span := tp.End.Sub(tp.Start); span < 4*24*time.Hour {
		t.Errorf("plan spans %s, want more than four days", span)
	}
	rests := 0
	for _, r := range tp.Rests {
		if r.Kind == RestDaily || r.Kind == RestRestart {
			rests++
		}
	}
	if rests < 3 {
		t.Errorf("got %d rests of 10 hours or more over four days, want at least 3", rests)
	}
}

// TestTwoLoadsShareATruck: two partial loads on the same lane ride together.
func TestTwoLoadsShareATruck(t *testing.T) {
	start := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	a := oneLoad(chicago, east(chicago, 300), start, start.Add(2*time.Hour), start, start.Add(12*time.Hour))
	a.WeightLbs = 20000
	b := a
	b.ID = "L2"
	p := &Problem{Trucks: []Truck{truckAt("T1", chicago, start), truckAt("T2", chicago, start)}, Loads: []Load{a, b}}
	sol := solve(t, p, 50, 1)
	if sol.Served != 2 || sol.Trucks != 1 || math.Abs(sol.Miles-300) > 0.01 {
		t.Errorf("got %d served on %d trucks over %.1f miles, want 2 on 1 over 300", sol.Served, sol.Trucks, sol.Miles)
	}
}

// TestRandomInstancesPassTheChecker is the property test: on random fleets
// with spent clocks, homes, shifts and partial loads, every plan of the
// search and of the greedy baseline passes the checker, and the search
// never serves fewer loads than the baseline.
func TestRandomInstancesPassTheChecker(t *testing.T) {
	n := 12
	if testing.Short() {
		n = 4
	}
	for seed := range uint64(n) {
		p := scenario(t, seed, 15+int(seed)*3, 3+int(seed%5), true)
		sol := solve(t, p, 150, seed)
		g, err := Greedy(p)
		if err != nil {
			t.Fatal(err)
		}
		mustCheck(t, p, &g)
		if sol.Served < g.Served {
			t.Errorf("seed %d: search serves %d, greedy %d", seed, sol.Served, g.Served)
		}
		if sol.Served+len(sol.Unassigned) != len(p.Loads) {
			t.Errorf("seed %d: %d served and %d unassigned of %d", seed, sol.Served, len(sol.Unassigned), len(p.Loads))
		}
	}
}

// TestDeterministic: the same seed and iteration budget give the same plan.
func TestDeterministic(t *testing.T) {
	p := scenario(t, 42, 30, 6, true)
	a := solve(t, p, 100, 9)
	b := solve(t, p, 100, 9)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two runs with seed 9 differ: %d/%d trucks, %.3f/%.3f miles", a.Trucks, b.Trucks, a.Miles, b.Miles)
	}
}

// TestProgress: each reported best is better than the last under the
// hierarchy, and the last is the result.
func TestProgress(t *testing.T) {
	p := scenario(t, 5, 30, 6, false)
	var pts []Progress
	sol, err := Solve(context.Background(), p, Options{MaxIterations: 200, Seed: 1, Progress: func(pr Progress) { pts = append(pts, pr) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) == 0 {
		t.Fatal("no progress reported")
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if !(objective{b.Served, b.Trucks, b.Miles}).better(objective{a.Served, a.Trucks, a.Miles}) {
			t.Errorf("progress %d (%+v) does not improve on %+v", i, b, a)
		}
	}
	last := pts[len(pts)-1]
	if last.Served != sol.Served || last.Trucks != sol.Trucks || math.Abs(last.Miles-sol.Miles) > 1e-6 || math.Abs(last.EmptyMiles-sol.EmptyMiles) > 1e-6 {
		t.Errorf("last progress %+v, result %d served, %d trucks, %.3f miles, %.3f empty", last, sol.Served, sol.Trucks, sol.Miles, sol.EmptyMiles)
	}
}

// TestCancelled: an ended context stops the search with a checked plan.
func TestCancelled(t *testing.T) {
	p := scenario(t, 3, 20, 5, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sol, err := Solve(ctx, p, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustCheck(t, p, &sol)
	if sol.Iterations > 1 || sol.Served != 0 {
		t.Errorf("ran %d iterations and served %d after cancellation", sol.Iterations, sol.Served)
	}
	for _, u := range sol.Unassigned {
		if u.Reason != ReasonStopped {
			t.Errorf("load %s: reason %q, want %q", u.LoadID, u.Reason, ReasonStopped)
		}
	}
	if _, err := Solve(context.Background(), p, Options{}); !errors.Is(err, ErrNoStop) {
		t.Errorf("no limit: got %v, want ErrNoStop", err)
	}
}

func TestInvalidProblems(t *testing.T) {
	start := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	l := oneLoad(chicago, east(chicago, 100), start, start.Add(time.Hour), start, start.Add(9*time.Hour))
	tests := map[string]*Problem{
		"repeated truck":   {Trucks: []Truck{truckAt("T", chicago, start), truckAt("T", chicago, start)}},
		"no availability":  {Trucks: []Truck{truckAt("T", chicago, time.Time{})}},
		"reversed window":  {Loads: []Load{oneLoad(chicago, chicago, start.Add(time.Hour), start, start, start)}},
		"repeated load":    {Loads: []Load{l, l}},
		"zero capacity":    {Trucks: []Truck{{ID: "T", Start: chicago, Available: start}}},
		"bad point":        {Trucks: []Truck{truckAt("T", geo.Point{Lat: 91}, start)}},
		"negative service": {Loads: []Load{func() Load { x := l; x.Pickup.Service = -1; return x }()}},
	}
	for name, p := range tests {
		if _, err := Solve(context.Background(), p, Options{MaxIterations: 1}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	// Nothing to plan is not an error.
	sol, err := Solve(context.Background(), &Problem{}, Options{MaxIterations: 5})
	if err != nil || sol.Served != 0 || len(sol.Plans) != 0 {
		t.Errorf("empty problem: got %+v, %v", sol, err)
	}
}

// TestWithoutMatrix: problems too large for the distance matrix compute
// distances as needed, with the same result.
func TestWithoutMatrix(t *testing.T) {
	p := scenario(t, 8, 25, 5, true)
	a := solve(t, p, 60, 2)
	defer func(n int) { maxMatrix = n }(maxMatrix)
	maxMatrix = 0
	b := solve(t, p, 60, 2)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("with and without the matrix: %d/%d served, %.3f/%.3f miles", a.Served, b.Served, a.Miles, b.Miles)
	}
}

// TestIdleTruckStaysPut: a truck with nothing to haul does not drive home,
// even when home is out of reach within its shift.
func TestIdleTruckStaysPut(t *testing.T) {
	start := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	far := east(chicago, 2500)
	idle := truckAt("T2", chicago, start)
	idle.Home, idle.ShiftEnd = &far, start.Add(5*time.Hour)
	p := &Problem{Trucks: []Truck{truckAt("T1", chicago, start), idle},
		Loads: []Load{oneLoad(chicago, east(chicago, 100), start, start.Add(2*time.Hour), start, start.Add(9*time.Hour))}}
	sol := solve(t, p, 30, 1)
	if sol.Served != 1 || sol.Trucks != 1 || sol.Plans[0].TruckID != "T1" || math.Abs(sol.Miles-100) > 0.01 {
		t.Errorf("got %d served on %d trucks over %.1f miles, want 1 on T1 over 100", sol.Served, sol.Trucks, sol.Miles)
	}
}

// TestTimeLimit runs the search on a clock that advances a second at each
// reading: it stops within its limit, cutting the first plan short, and
// what it returns passes the checker.
func TestTimeLimit(t *testing.T) {
	p := scenario(t, 4, 120, 10, true)
	for _, limit := range []time.Duration{3 * time.Second, 30 * time.Second, 300 * time.Second} {
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { now = now.Add(time.Second); return now }
		sol, err := Solve(context.Background(), p, Options{TimeLimit: limit, Seed: 1, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		mustCheck(t, p, &sol)
		stopped := 0
		for _, u := range sol.Unassigned {
			if u.Reason == ReasonStopped {
				stopped++
			}
		}
		t.Logf("limit %s: %d served, %d left for lack of time, %d iterations", limit, sol.Served, stopped, sol.Iterations)
		if limit == 3*time.Second && (stopped == 0 || sol.Iterations > 1) {
			t.Errorf("limit %s: %d loads cut off, %d iterations; want the first plan cut short", limit, stopped, sol.Iterations)
		}
		if limit == 300*time.Second && (stopped != 0 || sol.Iterations < 2) {
			t.Errorf("limit %s: %d loads cut off, %d iterations; want a full first plan and a search", limit, stopped, sol.Iterations)
		}
	}
}

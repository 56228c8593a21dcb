package simulate

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

func world(t *testing.T) *Gravity {
	t.Helper()
	cities, err := Cities()
	if err != nil {
		t.Fatal(err)
	}
	return NewGravity(cities, geo.DefaultCircuity)
}

func cityIndex(t *testing.T, g *Gravity, name string) int {
	t.Helper()
	for i, c := range g.Cities {
		if c.Name == name {
			return i
		}
	}
	t.Fatalf("no city %s", name)
	return -1
}

func TestCitiesAreGeocoded(t *testing.T) {
	cities, err := Cities()
	if err != nil {
		t.Fatal(err)
	}
	if len(cities) != len(marketCities) {
		t.Fatalf("got %d cities, want %d", len(cities), len(marketCities))
	}
	for _, c := range cities {
		if c.Population < 50000 || c.Point.Validate() != nil || c.Region == "" {
			t.Errorf("%s, %s: population %d, point %v, region %q", c.Name, c.State, c.Population, c.Point, c.Region)
		}
	}
}

func TestGravityLanes(t *testing.T) {
	g := world(t)
	var total float64
	for i := range g.Cities {
		for j := range g.Cities {
			total += g.Share(i, j)
			if d := g.Miles[i][j]; (d < minLaneMiles || d > maxLaneMiles) && g.W[i][j] != 0 {
				t.Errorf("%s -> %s: %0.f miles has weight %g, want 0", g.Cities[i].Name, g.Cities[j].Name, d, g.W[i][j])
			}
		}
	}
	if math.Abs(total-1) > 1e-9 {
		t.Errorf("shares sum to %g, want 1", total)
	}
	la, mia, chi, hou := cityIndex(t, g, "Los Angeles"), cityIndex(t, g, "Miami"), cityIndex(t, g, "Chicago"), cityIndex(t, g, "Houston")
	// Headhaul and backhaul: more freight leaves the ports for Florida than
	// comes back.
	if g.W[la][mia] <= g.W[mia][la] {
		t.Errorf("LA->Miami %g <= Miami->LA %g: want the headhaul heavier", g.W[la][mia], g.W[mia][la])
	}
	// Gravity: nearer big markets draw more freight.
	if g.W[chi][hou] >= g.W[chi][cityIndex(t, g, "Indianapolis")]*3 {
		t.Logf("Chicago->Houston %g, Chicago->Indianapolis %g", g.W[chi][hou], g.W[chi][cityIndex(t, g, "Indianapolis")])
	}
	// Sampling follows the weights.
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	counts := make([]int, len(g.Cities))
	for range n {
		counts[g.Destination(r, chi)]++
	}
	var rowSum float64
	for _, w := range g.W[chi] {
		rowSum += w
	}
	for j, c := range counts {
		want := g.W[chi][j] / rowSum * n
		if math.Abs(float64(c)-want) > 5*math.Sqrt(want)+5 {
			t.Errorf("Chicago -> %s drawn %d times, want about %.0f", g.Cities[j].Name, c, want)
		}
	}
}

func TestDemandIsDeterministicAndValid(t *testing.T) {
	g := world(t)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	gen := func(seed uint64) []LoadSpec {
		d := NewDemand(g, []int{0, 5, 10, 20}, seed, 300)
		var out []LoadSpec
		for k := range 24 * 60 {
			out = append(out, d.Step(start.Add(time.Duration(k)*time.Minute), time.Minute)...)
		}
		return out
	}
	a, b, c := gen(7), gen(7), gen(8)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed made different loads")
	}
	// Started at another time of day, the same seed makes the same loads,
	// shifted.
	shift := 7*time.Hour + 13*time.Minute + 5*time.Second
	start = start.Add(shift)
	shifted := gen(7)
	if len(shifted) != len(a) {
		t.Fatalf("started later, the seed made %d loads, not %d", len(shifted), len(a))
	}
	for i := range a {
		d := shifted[i].Pickup.Start.Sub(a[i].Pickup.Start)
		if d != shift || shifted[i].RateUSD != a[i].RateUSD {
			t.Fatalf("load %d: pickup moved by %s, rate %v vs %v", i, d, shifted[i].RateUSD, a[i].RateUSD)
		}
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds made the same loads")
	}
	if len(a) < 240 || len(a) > 360 {
		t.Errorf("%d loads in a day, want about 300", len(a))
	}
	eq := map[freight.Equipment]int{}
	for _, l := range a {
		eq[l.Equipment]++
		in := freight.LoadInput{Pickup: freight.Window{Start: l.Pickup.Start, End: l.Pickup.End},
			Delivery: freight.Window{Start: l.Delivery.Start, End: l.Delivery.End}}
		switch {
		case l.Origin == l.Dest, l.Miles < minLaneMiles, l.Miles > maxLaneMiles:
			t.Errorf("load %d: lane %d -> %d of %.0f miles", l.Index, l.Origin, l.Dest, l.Miles)
		case !l.Delivery.Start.After(l.Pickup.Start), !l.Pickup.End.After(l.Pickup.Start), l.Delivery.End.Sub(l.Delivery.Start) > 14*24*time.Hour:
			t.Errorf("load %d: windows %+v", l.Index, in)
		case l.WeightLbs < 1 || l.WeightLbs > 48000, l.RateUSD < 450, l.SpeedMph < 40 || l.SpeedMph > 60:
			t.Errorf("load %d: weight %d, rate %.2f, speed %.1f", l.Index, l.WeightLbs, l.RateUSD, l.SpeedMph)
		}
		// The shipper allows time for the legal drive.
		if need := time.Duration(l.Miles / planningSpeed * float64(time.Hour)); l.Delivery.End.Sub(l.Pickup.Start) < need {
			t.Errorf("load %d: %.0f miles between %s and %s", l.Index, l.Miles, l.Pickup.Start, l.Delivery.End)
		}
	}
	if eq[freight.Van] < eq[freight.Reefer] || eq[freight.Reefer] < eq[freight.Flatbed] || eq[freight.Flatbed] == 0 {
		t.Errorf("equipment mix %v, want van > reefer > flatbed > 0", eq)
	}
}

func TestTripObeysHoursOfService(t *testing.T) {
	g := world(t)
	la, chi := cityIndex(t, g, "Los Angeles"), cityIndex(t, g, "Chicago")
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	l := &LoadSpec{Origin: la, Dest: chi, Equipment: freight.Van, WeightLbs: 40000, Miles: g.Miles[la][chi],
		Pickup: Window{start.Add(6 * time.Hour), start.Add(9 * time.Hour)}, Delivery: Window{start.Add(80 * time.Hour), start.Add(96 * time.Hour)},
		PickupDwell: 3 * time.Hour, DropDwell: time.Hour, SpeedMph: 50}
	home := geo.Destination(g.Cities[la].Point, 90, 80) // 80 miles east of LA
	tr := &Truck{Equipment: freight.Van, Capacity: 45000, Pos: home}
	if _, err := tr.Feasible(l, &g.Cities[la], start, geo.DefaultCircuity); err != nil {
		t.Fatalf("feasible: %v", err)
	}
	if err := tr.Start(l, "L1", g.Cities[la].Point, g.Cities[chi].Point, start, geo.DefaultCircuity); err != nil {
		t.Fatal(err)
	}
	plan := tr.Trip.Plan
	if err := hos.Verify(hos.Fresh(start, hos.Rules{}), plan, hos.Rules{}); err != nil {
		t.Fatalf("plan breaks the rules: %v", err)
	}
	if plan.Rests < 1 || plan.Breaks < 1 {
		t.Errorf("a %.0f-mile haul took %d rests and %d breaks, want at least one of each", l.Miles, plan.Rests, plan.Breaks)
	}
	times := tr.Trip.EventTimes()
	for i := 1; i < len(times); i++ {
		if times[i].Before(times[i-1]) {
			t.Fatalf("events out of order: %v", times)
		}
	}
	if !times[1].After(l.Pickup.Start.Add(l.PickupDwell - time.Minute)) {
		t.Errorf("loaded at %s, before the window opened and the dock worked", times[1])
	}
	// The phone's fixes never move faster than the road allows, end at the
	// drop, and stand still during rests.
	var prev geo.Point
	var prevAt time.Time
	for at := start; !at.After(times[3]); at = at.Add(time.Minute) {
		p, _, _ := tr.Trip.Where(at)
		if !prevAt.IsZero() {
			if mph := geo.GreatCircleMiles(prev, p) / at.Sub(prevAt).Hours(); mph > 60 {
				t.Fatalf("at %s the truck moved at %.0f mph", at, mph)
			}
		}
		prev, prevAt = p, at
	}
	if d := geo.GreatCircleMiles(prev, g.Cities[chi].Point); d > 1 {
		t.Errorf("ended %.1f miles from the drop", d)
	}
	if p, _, _ := tr.Trip.Where(times[0].Add(time.Minute)); geo.GreatCircleMiles(p, g.Cities[la].Point) > 1 {
		t.Errorf("not at the pickup while loading")
	}
}

func TestFeasibility(t *testing.T) {
	g := world(t)
	dal, atl, sea := cityIndex(t, g, "Dallas"), cityIndex(t, g, "Atlanta"), cityIndex(t, g, "Seattle")
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	l := &LoadSpec{Origin: dal, Dest: atl, Equipment: freight.Reefer, WeightLbs: 40000, Miles: g.Miles[dal][atl],
		Pickup: Window{now.Add(4 * time.Hour), now.Add(6 * time.Hour)}, Delivery: Window{now.Add(36 * time.Hour), now.Add(48 * time.Hour)}}
	tests := []struct {
		name  string
		truck Truck
		want  error
	}{
		{"near", Truck{Equipment: freight.Reefer, Capacity: 45000, Pos: g.Cities[dal].Point}, nil},
		{"too far for the window", Truck{Equipment: freight.Reefer, Capacity: 45000, Pos: g.Cities[sea].Point}, ErrInfeasible},
		{"wrong trailer", Truck{Equipment: freight.Van, Capacity: 45000, Pos: g.Cities[dal].Point}, ErrInfeasible},
		{"too heavy", Truck{Equipment: freight.Reefer, Capacity: 30000, Pos: g.Cities[dal].Point}, ErrInfeasible},
		{"out of hours", Truck{Equipment: freight.Reefer, Capacity: 45000, Pos: g.Cities[dal].Point,
			HOS: hos.State{At: now, DrivingLeft: 0, WindowLeft: 0, CycleLeft: 0, WindowOpen: true}}, ErrInfeasible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.truck.Feasible(l, &g.Cities[dal], now, geo.DefaultCircuity); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSteppedClock(t *testing.T) {
	real := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return real }
	c := NewSteppedClock(now, 2*time.Hour, time.Minute, 1e9, true)
	if got := c.Now(); !got.Equal(real.Add(-2 * time.Hour)) {
		t.Fatalf("start %s, want two hours before real time", got)
	}
	for range 60 {
		real = real.Add(time.Second) // the platform's clock moves on slowly
		if err := c.Advance(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := c.Elapsed(), time.Hour; got != want {
		t.Errorf("elapsed %s, want %s", got, want)
	}
	if c.Ahead() > 0 {
		t.Errorf("the clock is %s ahead of real time", c.Ahead())
	}
}

func TestDefaultLag(t *testing.T) {
	tests := []struct {
		d     time.Duration
		speed float64
		want  time.Duration
	}{
		{24 * time.Hour, 1, 0},
		{24 * time.Hour, 2, 12 * time.Hour},
		{24 * time.Hour, 1e6, 23*time.Hour + 59*time.Minute},
		{30 * 24 * time.Hour, 1000, maxLag},
		{0, 100, 0},
	}
	for _, tt := range tests {
		if got := DefaultLag(tt.d, tt.speed); got != tt.want {
			t.Errorf("DefaultLag(%s, %g) = %s, want %s", tt.d, tt.speed, got, tt.want)
		}
	}
}

func TestShapes(t *testing.T) {
	for _, s := range Scenarios {
		for p := 0.0; p <= 1; p += 0.01 {
			if v := Shape(s, p); v < 0.29 || v > 1 {
				t.Fatalf("%s at %.2f: %g outside [0.3, 1]", s, p, v)
			}
		}
	}
	if Shape(ScenarioSpike, 0.5)/Shape(ScenarioSpike, 0.1) < 3 {
		t.Error("the spike is not sudden enough")
	}
	if Shape(ScenarioDaily, 0.5) != 1 || Shape(ScenarioDaily, 0) > 0.31 {
		t.Error("the day does not peak at midday")
	}
}

package assign

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
)

var t0 = time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)

func TestFeasible(t *testing.T) {
	p := Params{SpeedMPH: 50, Circuity: 1.2, MaxDeadheadMiles: 250}
	origin := geo.Point{Lat: 40, Lon: -90}
	// 100 great-circle miles due north: 120 road miles, 2.4 hours.
	hundredNorth := geo.Destination(origin, 0, 100)
	driver := func(f func(*Driver)) Driver {
		d := Driver{ID: "D", Lat: hundredNorth.Lat, Lon: hundredNorth.Lon, Equipment: "van",
			CapacityLbs: 45000, AvailableAt: t0, HoursLeft: 10}
		if f != nil {
			f(&d)
		}
		return d
	}
	load := func(f func(*Load)) Load {
		l := Load{ID: "L", Origin: origin, Destination: geo.Point{Lat: 35, Lon: -85}, Equipment: "van",
			WeightLbs: 40000, PickupEarliest: t0.Add(4 * time.Hour), PickupLatest: t0.Add(6 * time.Hour)}
		if f != nil {
			f(&l)
		}
		return l
	}
	tests := []struct {
		name  string
		p     Params
		d     Driver
		l     Load
		want  bool
		miles float64
	}{
		{"feasible, waits for the window", p, driver(nil), load(nil), true, 120},
		{"equipment differs", p, driver(func(d *Driver) { d.Equipment = "reefer" }), load(nil), false, 0},
		{"overweight", p, driver(nil), load(func(l *Load) { l.WeightLbs = 45001 }), false, 0},
		{"weight equal to capacity", p, driver(nil), load(func(l *Load) { l.WeightLbs = 45000 }), true, 120},
		{"beyond max deadhead", Params{SpeedMPH: 50, Circuity: 1.2, MaxDeadheadMiles: 119}, driver(nil), load(nil), false, 0},
		{"circuity counts", Params{SpeedMPH: 50, Circuity: 2.6, MaxDeadheadMiles: 250}, driver(nil), load(nil), false, 0},
		{"not enough hours left", p, driver(func(d *Driver) { d.HoursLeft = 2.3 }), load(nil), false, 0},
		{"hours left just enough", p, driver(func(d *Driver) { d.HoursLeft = 2.41 }), load(nil), true, 120},
		{"arrives after the window closes", p, driver(func(d *Driver) { d.AvailableAt = t0.Add(3*time.Hour + 40*time.Minute) }), load(nil), false, 0},
		{"arrives just before it closes", p, driver(func(d *Driver) { d.AvailableAt = t0.Add(3*time.Hour + 35*time.Minute) }), load(nil), true, 120},
		{"available after the window", p, driver(func(d *Driver) { d.AvailableAt = t0.Add(7 * time.Hour) }), load(nil), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			miles, ok := Feasible(tt.p, &tt.d, &tt.l)
			if ok != tt.want {
				t.Fatalf("Feasible: got %v (%.4f miles), want %v", ok, miles, tt.want)
			}
			if ok && math.Abs(miles-tt.miles) > 1e-6 {
				t.Errorf("miles: got %v, want %v", miles, tt.miles)
			}
		})
	}
}

// TestCandidatesMatchAllPairs compares the grid with the plain all-pairs
// scan, on scenarios that reach the poles and cross the antimeridian and
// with radii from a few miles to most of the globe.
func TestCandidatesMatchAllPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	equip := []string{"van", "reefer"}
	for trial := range 40 {
		maxDeadhead := []float64{5, 60, 250, 900, 4000, 20000}[trial%6]
		s := Scenario{Now: t0, Params: Params{SpeedMPH: 55, Circuity: 1 + rng.Float64()*0.5, MaxDeadheadMiles: maxDeadhead}}
		point := func() geo.Point {
			switch rng.IntN(4) {
			case 0: // near a pole
				return geo.Point{Lat: math.Copysign(85+rng.Float64()*5, rng.Float64()-0.5), Lon: -180 + rng.Float64()*360}
			case 1: // near the antimeridian
				return geo.Point{Lat: -60 + rng.Float64()*120, Lon: math.Copysign(175+rng.Float64()*5, rng.Float64()-0.5)}
			default:
				return geo.Point{Lat: -90 + rng.Float64()*180, Lon: -180 + rng.Float64()*360}
			}
		}
		// Clusters make close pairs common whatever the radius.
		var centres []geo.Point
		for range 5 {
			centres = append(centres, point())
		}
		near := func() geo.Point {
			if rng.IntN(3) == 0 {
				return point()
			}
			p := geo.Destination(centres[rng.IntN(len(centres))], rng.Float64()*360, rng.Float64()*maxDeadhead)
			return p
		}
		for i := range 60 {
			p := near()
			s.Drivers = append(s.Drivers, Driver{ID: fmt.Sprint("D", i), Lat: p.Lat, Lon: p.Lon,
				Equipment: equip[rng.IntN(2)], CapacityLbs: 45000, AvailableAt: t0,
				HoursLeft: 1 + rng.Float64()*400})
		}
		for i := range 80 {
			o := near()
			early := t0.Add(time.Duration(rng.IntN(400)) * time.Hour)
			s.Loads = append(s.Loads, Load{ID: fmt.Sprint("L", i), Origin: o, Destination: o,
				Equipment: equip[rng.IntN(2)], WeightLbs: float64(rng.IntN(50000)),
				PickupEarliest: early, PickupLatest: early.Add(time.Duration(rng.IntN(10)) * time.Hour)})
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		var want []Edge
		for di := range s.Drivers {
			for li := range s.Loads {
				if miles, ok := Feasible(s.Params, &s.Drivers[di], &s.Loads[li]); ok {
					want = append(want, Edge{di, li, miles})
				}
			}
		}
		got, err := Candidates(context.Background(), &s)
		if err != nil {
			t.Fatal(err)
		}
		order := func(a, b Edge) int {
			if a.Driver != b.Driver {
				return a.Driver - b.Driver
			}
			return a.Load - b.Load
		}
		slices.SortFunc(got, order)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d (max deadhead %v): got %d edges, want %d\ngot  %v\nwant %v",
				trial, maxDeadhead, len(got), len(want), got, want)
		}
	}
}

func TestGreatCircleAgreesWithGeo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 10000 {
		a := geo.Point{Lat: -90 + rng.Float64()*180, Lon: -180 + rng.Float64()*360}
		b := geo.Destination(a, rng.Float64()*360, rng.Float64()*300)
		sa, sb := newSite(a), newSite(b)
		if got, want := greatCircle(&sa, &sb), geo.GreatCircleMiles(a, b); got != want {
			t.Fatalf("greatCircle(%v, %v): got %v, want %v", a, b, got, want)
		}
	}
}

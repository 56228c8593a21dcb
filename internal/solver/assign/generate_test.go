package assign

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
)

// generateScenario builds a deterministic scenario shaped like the matching
// benchmark files: drivers and load origins clustered around freight
// markets in the continental US with some spread between them, three
// equipment types in the files' proportions, pickup windows of 2 to 8 hours
// opening within a day and a half, and drivers free within 12 hours with
// 1.5 to 11 hours of driving left.
func generateScenario(seed uint64, drivers, loads int) Scenario {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	now := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	type market struct {
		p      geo.Point
		weight float64
	}
	markets := make([]market, 120)
	var total float64
	for i := range markets {
		markets[i] = market{
			p:      geo.Point{Lat: 27 + rng.Float64()*20, Lon: -122 + rng.Float64()*51},
			weight: 1 / math.Pow(float64(i+1), 0.8), // a few big markets, many small ones
		}
		total += markets[i].weight
	}
	pick := func() geo.Point {
		x := rng.Float64() * total
		for _, m := range markets {
			if x -= m.weight; x <= 0 {
				return m.p
			}
		}
		return markets[len(markets)-1].p
	}
	near := func(c geo.Point, sigmaMiles float64) geo.Point {
		p := geo.Destination(c, rng.Float64()*360, math.Abs(rng.NormFloat64())*sigmaMiles)
		p.Lat = math.Round(p.Lat*1e5) / 1e5
		p.Lon = math.Round(p.Lon*1e5) / 1e5
		return p
	}
	equipment := func() (string, float64) {
		switch x := rng.Float64(); {
		case x < 0.6:
			return "van", 45000
		case x < 0.84:
			return "reefer", 45000
		default:
			return "flatbed", 48000
		}
	}
	minutes := func(lo, hi int) time.Duration {
		return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Minute
	}
	s := Scenario{
		Now:     now,
		Params:  Params{SpeedMPH: 50, Circuity: 1.2, MaxDeadheadMiles: 250},
		Drivers: make([]Driver, drivers),
		Loads:   make([]Load, loads),
	}
	for i := range s.Drivers {
		eq, capacity := equipment()
		p := near(pick(), 45)
		s.Drivers[i] = Driver{
			ID:          fmt.Sprintf("D%05d", i+1),
			Lat:         p.Lat,
			Lon:         p.Lon,
			Equipment:   eq,
			CapacityLbs: capacity,
			AvailableAt: now.Add(minutes(0, 12*60)),
			HoursLeft:   math.Round((1.5+rng.Float64()*9.5)*100) / 100,
		}
	}
	for i := range s.Loads {
		eq, _ := equipment()
		earliest := now.Add(minutes(60, 36*60))
		s.Loads[i] = Load{
			ID:             fmt.Sprintf("L%05d", i+1),
			Origin:         near(pick(), 25),
			Destination:    near(pick(), 10),
			Equipment:      eq,
			WeightLbs:      float64(8000 + rng.IntN(39000)),
			PickupEarliest: earliest,
			PickupLatest:   earliest.Add(time.Duration(2+2*rng.IntN(4)) * time.Hour),
			RateUSD:        math.Round((800+rng.Float64()*4000)*100) / 100,
		}
	}
	return s
}

var writeGenerated = flag.String("write-generated", "",
	"write the generated 10,000 x 10,000 benchmark scenario to this file (for timing `backhaul match` on it)")

func TestWriteGenerated(t *testing.T) {
	if *writeGenerated == "" {
		t.Skip("no -write-generated file")
	}
	raw, err := json.Marshal(generateScenario(1, 10000, 10000))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*writeGenerated, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

package plan

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
)

// freightCities are freight hubs across the US; their coordinates come from
// the embedded geocoder.
var freightCities = [][2]string{
	{"Chicago", "IL"}, {"Dallas", "TX"}, {"Atlanta", "GA"}, {"Los Angeles", "CA"}, {"Houston", "TX"},
	{"Memphis", "TN"}, {"Indianapolis", "IN"}, {"Columbus", "OH"}, {"Kansas City", "MO"}, {"Denver", "CO"},
	{"Phoenix", "AZ"}, {"Nashville", "TN"}, {"Charlotte", "NC"}, {"Jacksonville", "FL"}, {"St. Louis", "MO"},
	{"Louisville", "KY"}, {"Oklahoma City", "OK"}, {"San Antonio", "TX"}, {"Salt Lake City", "UT"}, {"Seattle", "WA"},
	{"Portland", "OR"}, {"Sacramento", "CA"}, {"Las Vegas", "NV"}, {"Albuquerque", "NM"}, {"El Paso", "TX"},
	{"Omaha", "NE"}, {"Minneapolis", "MN"}, {"Milwaukee", "WI"}, {"Detroit", "MI"}, {"Cleveland", "OH"},
	{"Pittsburgh", "PA"}, {"Philadelphia", "PA"}, {"Newark", "NJ"}, {"Baltimore", "MD"}, {"Richmond", "VA"},
	{"Raleigh", "NC"}, {"Savannah", "GA"}, {"Orlando", "FL"}, {"Miami", "FL"}, {"Birmingham", "AL"},
	{"New Orleans", "LA"}, {"Little Rock", "AR"}, {"Des Moines", "IA"}, {"Cincinnati", "OH"}, {"Buffalo", "NY"},
	{"Boston", "MA"}, {"Laredo", "TX"}, {"Fresno", "CA"}, {"Boise", "ID"}, {"Spokane", "WA"},
}

// cityPoints geocodes freightCities.
func cityPoints(t testing.TB) []geo.Point {
	t.Helper()
	g := geocode.Default()
	pts := make([]geo.Point, len(freightCities))
	for i, c := range freightCities {
		pl, ok := g.City(c[0], c[1])
		if !ok {
			t.Fatalf("geocode %s, %s", c[0], c[1])
		}
		pts[i] = pl.Point
	}
	return pts
}

// monday is the start of the generated weeks.
var monday = time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)

// scenario generates a fleet problem over a few days: loads between hubs
// (three in four to a nearby hub) with pickup appointments over the first
// three and a half days and
// delivery appointments a realistic transit later, trucks at random hubs.
// With extras, some drivers have spent part of their clock, some trucks
// must end at home by a shift end, and some loads are partial.
func scenario(t testing.TB, seed uint64, nLoads, nTrucks int, extras bool) *Problem {
	return scenarioOver(t, seed, nLoads, nTrucks, extras, 84*time.Hour)
}

// scenarioOver is scenario with the pickups spread over spread.
func scenarioOver(t testing.TB, seed uint64, nLoads, nTrucks int, extras bool, spread time.Duration) *Problem {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	pts := cityPoints(t)
	p := &Problem{}
	equip := func() freight.Equipment {
		switch u := rng.Float64(); {
		case u < 0.6:
			return freight.Van
		case u < 0.85:
			return freight.Reefer
		}
		return freight.Flatbed
	}
	jitter := func(pt geo.Point) geo.Point {
		return geo.Destination(pt, rng.Float64()*360, rng.Float64()*15)
	}
	nearest := make([][]int, len(pts))
	for a := range pts {
		idx := make([]int, 0, len(pts)-1)
		for b := range pts {
			if b != a {
				idx = append(idx, b)
			}
		}
		slices.SortFunc(idx, func(x, y int) int {
			return cmp.Compare(geo.GreatCircleMiles(pts[a], pts[x]), geo.GreatCircleMiles(pts[a], pts[y]))
		})
		nearest[a] = idx[:8]
	}
	for i := range nTrucks {
		tr := Truck{ID: "T" + strconv.Itoa(i+1), Start: jitter(pts[rng.IntN(len(pts))]),
			Available: monday.Add(time.Duration(rng.IntN(12*60)) * time.Minute), CapacityLbs: 45000, Equipment: equip()}
		if extras && rng.IntN(3) == 0 {
			c := freight.HOSClock{DrivingLeft: freight.Minutes(rng.IntN(11*60 + 1)), WindowLeft: freight.Minutes(rng.IntN(14*60 + 1)),
				CycleLeft: freight.Minutes(20*60 + rng.IntN(50*60+1)), UntilBreak: freight.Minutes(rng.IntN(8*60 + 1)),
				UpdatedAt: tr.Available.Add(-time.Duration(rng.IntN(120)) * time.Minute)}
			tr.HOS = &c
		}
		if extras && rng.IntN(4) == 0 {
			h := tr.Start
			tr.Home = &h
			tr.ShiftEnd = tr.Available.Add(time.Duration(72+rng.IntN(48)) * time.Hour)
		}
		p.Trucks = append(p.Trucks, tr)
	}
	for i := range nLoads {
		// Mostly regional lanes (one of the origin's eight nearest hubs),
		// some long haul.
		a := rng.IntN(len(pts))
		b := (a + 1 + rng.IntN(len(pts)-1)) % len(pts)
		if rng.IntN(4) > 0 {
			b = nearest[a][rng.IntN(len(nearest[a]))]
		}
		from, to := jitter(pts[a]), jitter(pts[b])
		pe := monday.Add(time.Duration(rng.Int64N(int64(spread/time.Minute))) * time.Minute).Truncate(30 * time.Minute)
		transit := p.DriveTime(p.RoadMiles(from, to))
		// Rests a trip of that length needs: 10.5 h per 11 h of driving.
		transit += time.Duration(float64(transit) / float64(11*time.Hour) * float64(10*time.Hour+30*time.Minute))
		de := pe.Add(transit + time.Duration(rng.IntN(8*60))*time.Minute).Truncate(30 * time.Minute)
		weight := float64(15000 + rng.IntN(30000))
		if extras && rng.IntN(4) == 0 {
			weight = float64(2000 + rng.IntN(10000))
		}
		p.Loads = append(p.Loads, Load{ID: "L" + strconv.Itoa(i+1),
			Pickup:    Stop{Point: from, Earliest: pe, Latest: pe.Add(time.Duration(2+rng.IntN(10)) * time.Hour), Service: time.Duration(30+rng.IntN(90)) * time.Minute},
			Delivery:  Stop{Point: to, Earliest: de, Latest: de.Add(time.Duration(4+rng.IntN(20)) * time.Hour), Service: time.Duration(30+rng.IntN(90)) * time.Minute},
			WeightLbs: weight, Equipment: equip()})
	}
	return p
}

package ratemodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// synthWorld is a freight market with a known rate function, so tests can
// tell how close the model comes to the truth.
type synthWorld struct {
	cities []Place
	factor []float64 // market level of each city, applied at both ends
	noise  float64   // standard deviation of log noise
}

func newSynthWorld(seed uint64, nCities int, noise float64) *synthWorld {
	rng := rand.New(rand.NewPCG(seed, 1))
	w := &synthWorld{noise: noise}
	for i := 0; len(w.cities) < nCities; i++ {
		lat := 27 + 20*rng.Float64()
		lon := -122 + 50*rng.Float64()
		if !inUS(lat, lon) {
			continue
		}
		w.cities = append(w.cities, Place{City: fmt.Sprintf("City%d", i), State: "ST", Lat: lat, Lon: lon})
		// the west pays more to leave, a smooth geographic pattern, plus a
		// city's own quirk
		w.factor = append(w.factor, 0.12*math.Sin(lon/9)+0.08*math.Cos(lat/5)+0.05*rng.NormFloat64())
	}
	return w
}

var synthRPM = map[Equipment]float64{Van: 2.2, Reefer: 2.6, Flatbed: 2.9}

// truth is the median rate of a load in the synthetic world.
func (w *synthWorld) truth(l *Load, oi, di int) float64 {
	m := l.Miles
	base := synthRPM[l.Equipment]*m + 250 // the fixed cost makes short hauls dear per mile
	season := 0.06 * math.Sin(2*math.Pi*float64(l.PickupAt.YearDay())/365)
	hol := 0.0
	if off := holidayOffset(l.PickupAt, 14); off >= -3 && off <= 0 {
		hol = 0.08
	}
	lead := 0.10 * math.Exp(-l.PickupAt.Sub(l.BookedAt).Hours()/24)
	weight := 0.04 * (l.WeightLbs - 30000) / 15000
	fuel := 0.3 * (DefaultDiesel().At(l.BookedAt) - 3.8) / 3.8 // the series is parsed once
	// a national market cycle of about six months
	day := l.BookedAt.Sub(synthStart).Hours() / 24
	cycle := 0.06 * math.Sin(2*math.Pi*day/180)
	return base * math.Exp(w.factor[oi]-0.6*w.factor[di]+season+hol+lead+weight+fuel+cycle)
}

func greatCircleMiles(a, b Place) float64 {
	const r = 3958.8
	la1, la2 := a.Lat*math.Pi/180, b.Lat*math.Pi/180
	dla, dlo := la2-la1, (b.Lon-a.Lon)*math.Pi/180
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

// bookings draws n bookings between start and start+days, in booking order,
// and the noise-free median rate of each.
func (w *synthWorld) bookings(seed uint64, n int, start time.Time, days int) ([]Booking, []float64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]Booking, 0, n)
	truth := make([]float64, 0, n)
	for i := range n {
		oi := rng.IntN(len(w.cities))
		di := rng.IntN(len(w.cities) - 1)
		if di >= oi {
			di++
		}
		booked := start.Add(time.Duration(float64(i) / float64(n) * float64(days) * 24 * float64(time.Hour)))
		lead := time.Duration((1 + rng.ExpFloat64()*36) * float64(time.Hour)).Truncate(time.Hour)
		l := Load{
			LoadID:    fmt.Sprintf("S%06d", i),
			BookedAt:  booked,
			PickupAt:  booked.Add(lead),
			Origin:    w.cities[oi],
			Dest:      w.cities[di],
			Equipment: Equipments[rng.IntN(3)],
			WeightLbs: math.Round(5000 + 40000*rng.Float64()),
		}
		l.Miles = math.Round(max(20, 1.2*greatCircleMiles(l.Origin, l.Dest)))
		t := w.truth(&l, oi, di)
		rate := math.Round(100*t*math.Exp(w.noise*rng.NormFloat64())) / 100
		out = append(out, Booking{Load: l, RateUSD: rate})
		truth = append(truth, t)
	}
	return out, truth
}

var synthStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// monday is a Monday midnight, so weekday arithmetic in the tests is plain.
var monday = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// synthetic is a load with a known daily shape (a business-hours bump), a
// known weekly shape (quiet weekends), linear growth per day and
// multiplicative noise of the given relative size.
type synthetic struct {
	base, growth float64 // load units, and units per day
	dailyAmp     float64 // 0: flat day
	weekend      float64 // weekend level relative to weekdays; 0: no weekly season
	noise        float64
}

func (s synthetic) truth(t time.Time) float64 {
	days := float64(t.Sub(monday)) / float64(24*time.Hour)
	h := float64(t.Hour()) + float64(t.Minute())/60
	shape := 1 + s.dailyAmp*math.Sin(math.Pi*(h-6)/12) // peak at 12:00, trough at 00:00
	w := 1.0
	if wd := t.Weekday(); s.weekend > 0 && (wd == time.Saturday || wd == time.Sunday) {
		w = s.weekend
	}
	return (s.base + s.growth*days) * shape * w
}

func (s synthetic) series(from time.Time, step time.Duration, n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float64, n)
	for i := range v {
		v[i] = s.truth(from.Add(time.Duration(i)*step)) * (1 + s.noise*(2*r.Float64()-1))
	}
	return v
}

// errors returns the mean and the largest absolute percentage error of the
// model's forecast against the noiseless truth over [from, from+span).
func forecastErrors(m *Model, s synthetic, from time.Time, span, step time.Duration) (mape, worst float64) {
	n := 0
	for t := from; t.Before(from.Add(span)); t = t.Add(step) {
		want := s.truth(t)
		e := math.Abs(m.At(t)-want) / want
		mape += e
		worst = max(worst, e)
		n++
	}
	return mape / float64(n), worst
}

func TestForecastErrorBounds(t *testing.T) {
	const step = 5 * time.Minute
	tests := []struct {
		name        string
		s           synthetic
		historyDays int
		season      time.Duration
		// bounds on the mean and the worst absolute percentage error over
		// the two days after the history
		maxMAPE, maxWorst float64
	}{
		{"flat, no noise", synthetic{base: 100}, 3, day, 1e-9, 1e-9},
		{"daily season, no noise", synthetic{base: 100, dailyAmp: 0.6}, 3, day, 1e-9, 1e-9},
		{"daily season with trend", synthetic{base: 100, growth: 2, dailyAmp: 0.6, noise: 0.05}, 7, day, 0.03, 0.10},
		{"daily and weekly season", synthetic{base: 100, dailyAmp: 0.6, weekend: 0.4, noise: 0.05}, 21, week, 0.03, 0.10},
		{"weekly season with trend", synthetic{base: 100, growth: 1.5, dailyAmp: 0.5, weekend: 0.5, noise: 0.05}, 28, week, 0.03, 0.10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.historyDays * int(day/step)
			m, err := Fit(monday, step, tt.s.series(monday, step, n, 7))
			if err != nil {
				t.Fatal(err)
			}
			if m.Season() != tt.season {
				t.Errorf("season: got %s, want %s", m.Season(), tt.season)
			}
			end := monday.Add(time.Duration(n) * step)
			mape, worst := forecastErrors(m, tt.s, end, 2*day, step)
			t.Logf("mean absolute error %.2f%%, worst %.2f%%", 100*mape, 100*worst)
			if mape > tt.maxMAPE || worst > tt.maxWorst {
				t.Errorf("got mean error %.4f, worst %.4f; want at most %.4f and %.4f", mape, worst, tt.maxMAPE, tt.maxWorst)
			}
		})
	}
}

// A weekday forecast from a weekly model must not be dragged down by the
// weekend, nor a weekend forecast up by the weekdays.
func TestWeekendsStayQuiet(t *testing.T) {
	const step = 15 * time.Minute
	s := synthetic{base: 100, dailyAmp: 0.5, weekend: 0.3}
	m, err := Fit(monday, step, s.series(monday, step, 21*int(day/step), 1))
	if err != nil {
		t.Fatal(err)
	}
	saturdayNoon := monday.AddDate(0, 0, 26).Add(12 * time.Hour)
	mondayNoon := monday.AddDate(0, 0, 28).Add(12 * time.Hour)
	if got, want := m.At(saturdayNoon), s.truth(saturdayNoon); math.Abs(got-want) > 0.01*want {
		t.Errorf("Saturday noon: got %.2f, want %.2f", got, want)
	}
	if got, want := m.At(mondayNoon), s.truth(mondayNoon); math.Abs(got-want) > 0.01*want {
		t.Errorf("Monday noon: got %.2f, want %.2f", got, want)
	}
}

// The median profile ignores a one-off spike in the history: a campaign last
// Tuesday does not predict one this Tuesday.
func TestOneOffSpikeIsNotRepeated(t *testing.T) {
	const step = 5 * time.Minute
	s := synthetic{base: 100, dailyAmp: 0.5, weekend: 0.5}
	perDay := int(day / step)
	v := s.series(monday, step, 21*perDay, 3)
	spikeDay := 15 // the third Tuesday
	for i := spikeDay*perDay + 11*12; i < spikeDay*perDay+12*12; i++ {
		v[i] *= 5
	}
	m, err := Fit(monday, step, v)
	if err != nil {
		t.Fatal(err)
	}
	at := monday.AddDate(0, 0, 22).Add(11*time.Hour + 30*time.Minute) // next Tuesday 11:30
	if got, want := m.At(at), s.truth(at); math.Abs(got-want) > 0.05*want {
		t.Errorf("got %.1f the Tuesday after a spike, want %.1f within 5%%", got, want)
	}
}

func TestMaxLooksAhead(t *testing.T) {
	const step = 10 * time.Minute
	s := synthetic{base: 100, dailyAmp: 0.8}
	m, err := Fit(monday, step, s.series(monday, step, 3*int(day/step), 1))
	if err != nil {
		t.Fatal(err)
	}
	from := monday.AddDate(0, 0, 3).Add(9 * time.Hour)
	got := m.Max(from, from.Add(4*time.Hour)) // covers noon, the peak
	if want := s.truth(from.Add(3 * time.Hour)); math.Abs(got-want) > 1e-6*want {
		t.Errorf("Max over 09:00-13:00: got %.3f, want the noon peak %.3f", got, want)
	}
}

func TestFitRejects(t *testing.T) {
	ok := make([]float64, 2*24)
	tests := []struct {
		name   string
		start  time.Time
		step   time.Duration
		values []float64
	}{
		{"too short", monday, time.Hour, make([]float64, 47)},
		{"step does not divide a day", monday, 7 * time.Minute, make([]float64, 1000)},
		{"zero step", monday, 0, ok},
		{"negative load", monday, time.Hour, append([]float64{-1}, ok...)},
		{"NaN", monday, time.Hour, append([]float64{math.NaN()}, ok...)},
		{"start off the step grid", monday.Add(time.Minute), time.Hour, make([]float64, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Fit(tt.start, tt.step, tt.values); err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}

// A history that starts mid-day is aligned to the next midnight.
func TestFitAlignsToMidnight(t *testing.T) {
	const step = time.Hour
	s := synthetic{base: 50, dailyAmp: 0.5}
	from := monday.Add(-7 * time.Hour)
	m, err := Fit(from, step, s.series(from, step, 7+3*24, 1))
	if err != nil {
		t.Fatal(err)
	}
	at := monday.AddDate(0, 0, 3).Add(15 * time.Hour)
	if got, want := m.At(at), s.truth(at); math.Abs(got-want) > 1e-9*want {
		t.Errorf("got %.6f, want %.6f", got, want)
	}
}

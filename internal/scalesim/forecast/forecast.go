// Package forecast predicts a service's load from its own history, for
// scaling ahead of the peaks the history says are coming.
//
// The method is a seasonal profile on a linear trend (a multiplicative
// decomposition):
//
//  1. The trend is a least-squares line through the daily means of the last
//     four weeks (at most), each divided by its day-of-week factor so that
//     quiet weekends do not read as a decline.
//  2. The season is a week when the history holds at least two whole weeks,
//     otherwise a day. Its profile is, for every bucket of the season, the
//     median over the past cycles of the observed load divided by the trend.
//  3. The forecast is the trend at t times the profile at t's place in the
//     season.
//
// Holt-Winters was considered and not chosen: it follows one season (the
// double-seasonal variant needs four smoothing constants fitted per service),
// and a one-off spike in the history (a campaign, an outage's catch-up)
// enters its seasonal state and is forecast again a cycle later. Platform
// load is shaped by the clock (business hours, weekdays), which a median
// profile captures with nothing to tune and which a single odd day cannot
// move; the trend carries seasonal growth such as a peak season's build-up.
package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
	// trendDays bounds the trend's memory: growth changes over a season.
	trendDays = 28
)

// Model is a fitted forecast. It is immutable and safe for concurrent use.
type Model struct {
	start  time.Time     // start of the first whole day of the history
	step   time.Duration // bucket width
	season time.Duration // day or week
	// profile[k] is the load at bucket k of the season relative to the trend.
	profile []float64
	// dow[d] is the mean load of weekday d relative to the week's mean
	// (all ones with a daily season).
	dow [7]float64
	// level and slope give the deseasonalised daily mean at day index x
	// (days since start, fractional): level + slope*x.
	level, slope float64
}

// Fit fits a model to values observed every step from start. The history
// must cover at least two whole days; step must divide a day. Negative or
// non-finite values are rejected, since no load is negative.
func Fit(start time.Time, step time.Duration, values []float64) (*Model, error) {
	if step <= 0 || day%step != 0 {
		return nil, fmt.Errorf("step %s: must be positive and divide 24h", step)
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return nil, fmt.Errorf("value %d is %v: loads are finite and not negative", i, v)
		}
	}
	perDay := int(day / step)
	// Align to the first midnight so that bucket k means the same clock time
	// every day.
	offset := 0
	midnight := start.Truncate(day)
	if !midnight.Equal(start) {
		midnight = midnight.Add(day)
		offset = int(midnight.Sub(start) / step)
		if midnight.Sub(start)%step != 0 {
			return nil, errors.New("start must fall on a step boundary of the day")
		}
	}
	if offset > len(values) {
		offset = len(values)
	}
	days := (len(values) - offset) / perDay
	if days < 2 {
		return nil, fmt.Errorf("history of %d values at %s: need at least two whole days", len(values), step)
	}
	values = values[offset : offset+days*perDay]
	m := &Model{start: midnight, step: step, season: day}
	if days >= 14 {
		m.season = week
	}

	means := make([]float64, days)
	for d := range days {
		means[d] = mean(values[d*perDay : (d+1)*perDay])
	}
	for i := range m.dow {
		m.dow[i] = 1
	}
	if m.season == week {
		m.dow = weekdayFactors(midnight, means)
	}
	first := max(0, days-trendDays)
	xs := make([]float64, 0, days-first)
	ys := make([]float64, 0, days-first)
	for d := first; d < days; d++ {
		f := m.dow[weekday(midnight, d)]
		if f <= 0 {
			continue
		}
		xs = append(xs, float64(d)+0.5) // a daily mean describes the day's middle
		ys = append(ys, means[d]/f)
	}
	m.level, m.slope = line(xs, ys)

	n := int(m.season / step)
	cycles := len(values) / n
	m.profile = make([]float64, n)
	// Use the most recent whole cycles: the profile should describe the
	// current season. Bucket i of the history sits at i mod n in the season,
	// since the history starts at midnight (and a week's profile starts on
	// the history's first weekday, which At accounts for the same way).
	base := len(values) - cycles*n
	ratios := make([][]float64, n)
	for i := base; i < len(values); i++ {
		if tr := m.trend(float64(i) / float64(perDay)); tr > 0 {
			ratios[i%n] = append(ratios[i%n], values[i]/tr)
		}
	}
	for k := range n {
		m.profile[k] = median(ratios[k])
	}
	return m, nil
}

// At returns the forecast load at t; it is never negative.
func (m *Model) At(t time.Time) float64 {
	x := float64(t.Sub(m.start)) / float64(day)
	k := int(posMod(t.Sub(m.start), m.season) / m.step)
	return max(0, m.trend(x)*m.profile[k])
}

// Max returns the largest forecast over [from, to], sampled every step.
func (m *Model) Max(from, to time.Time) float64 {
	peak := m.At(from)
	for t := from.Add(m.step); !t.After(to); t = t.Add(m.step) {
		peak = max(peak, m.At(t))
	}
	return max(peak, m.At(to))
}

// Season is the cycle the profile describes: 24h, or a week when the
// history held two.
func (m *Model) Season() time.Duration { return m.season }

// trend is the load the trend line expects at day index x, before the
// profile shapes it; with a weekly season the profile carries the weekday.
func (m *Model) trend(x float64) float64 { return m.level + m.slope*x }

func weekday(start time.Time, d int) int { return int(start.AddDate(0, 0, d).Weekday()) }

// weekdayFactors is each weekday's mean relative to the whole history's,
// normalised so that a week averages to one.
func weekdayFactors(start time.Time, means []float64) [7]float64 {
	var sum [7]float64
	var count [7]int
	for d, v := range means {
		w := weekday(start, d)
		sum[w] += v
		count[w]++
	}
	var f [7]float64
	total := 0.0
	for w := range f {
		if count[w] > 0 {
			f[w] = sum[w] / float64(count[w])
		}
		total += f[w]
	}
	for w := range f {
		if total > 0 {
			f[w] = f[w] * 7 / total
		} else {
			f[w] = 1
		}
	}
	return f
}

// line fits y = a + b*x by least squares; a single point gives a flat line.
func line(xs, ys []float64) (a, b float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	mx, my := mean(xs), mean(ys)
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return my, 0
	}
	b = sxy / sxx
	return my - b*mx, b
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func posMod(d, m time.Duration) time.Duration {
	r := d % m
	if r < 0 {
		r += m
	}
	return r
}

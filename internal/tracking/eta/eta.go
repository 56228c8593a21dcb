// Package eta estimates when a truck reaches its next stop: the remaining
// road miles driven at speeds learned from the vehicle's own recent hours,
// with the US hours-of-service rules applied on the way (a 30-minute break
// after 8 hours of driving, a 10-hour rest when the 11-hour driving limit
// or the 14-hour window runs out, a 34-hour restart when the cycle does).
// It gives a median (P50) and a pessimistic (P90) arrival. Pure: no I/O.
package eta

import (
	"math"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

// Model is a vehicle's driving speed, learned from its moving hours: the
// mean of their average speeds (an hour's average is miles per hour, so the
// mean is the speed over all of them), their spread, and how many there were.
type Model struct {
	MeanMph float64 `json:"mean_mph"`
	SDMph   float64 `json:"sd_mph"`
	Hours   int     `json:"hours"`
}

// DefaultModel is a loaded truck on US highways and the roads to them,
// used until a vehicle has a history; it counts as a few hours of one.
var DefaultModel = Model{MeanMph: 50, SDMph: 8, Hours: prior}

// prior is how many hours of history weigh as much as the default: a
// vehicle with a few hours is mostly the default, one with days is itself.
const prior = 6

// minMovingMph separates driving hours from hours spent at docks.
const minMovingMph = 5

// z90 is the standard normal quantile of 0.9.
const z90 = 1.2816

// Learn fits a model to hourly average speeds (mph). Hours below walking
// pace are not driving hours and are left out.
func Learn(hourlyMph []float64) Model {
	var v []float64
	for _, s := range hourlyMph {
		if s >= minMovingMph && s < 120 && !math.IsNaN(s) {
			v = append(v, s)
		}
	}
	n := float64(len(v))
	if n == 0 {
		return DefaultModel
	}
	mean, sq := 0.0, 0.0
	for _, s := range v {
		mean += s
	}
	mean /= n
	for _, s := range v {
		sq += (s - mean) * (s - mean)
	}
	sd := math.Sqrt(sq / max(n-1, 1))
	// Shrink towards the default in proportion to the hours seen.
	w := n / (n + prior)
	return Model{
		MeanMph: w*mean + (1-w)*DefaultModel.MeanMph,
		SDMph:   w*sd + (1-w)*DefaultModel.SDMph,
		Hours:   len(v) + prior,
	}
}

// speeds returns the median and the pessimistic speed for a trip of miles.
// The average over a trip of H hours varies as the hourly spread over the
// square root of H, and the learned mean is itself uncertain by the spread
// over the square root of the hours it was learned from.
func (m Model) speeds(miles float64) (p50, p90 float64) {
	mean := max(m.MeanMph, minMovingMph)
	h := max(miles/mean, 1)
	sd := m.SDMph * math.Sqrt(1/h+1/float64(max(m.Hours, 1)))
	return mean, max(mean-z90*sd, minMovingMph)
}

// Input is one estimate's question.
type Input struct {
	Now   time.Time
	Miles float64 // road miles left to the stop
	Model Model
	HOS   freight.HOSClock // what the driver has left now
}

// Estimate is the answer.
type Estimate struct {
	P50 time.Time `json:"p50"`
	P90 time.Time `json:"p90"`
	// The stops the rules impose on the way, at the median speed.
	Breaks int `json:"breaks"`
	Rests  int `json:"rests"`
}

// Compute estimates the arrival at both speeds.
func Compute(in Input) Estimate {
	p50, p90 := in.Model.speeds(in.Miles)
	d50, breaks, rests := drive(in.Miles, p50, in.HOS)
	d90, _, _ := drive(in.Miles, p90, in.HOS)
	return Estimate{P50: in.Now.Add(d50), P90: in.Now.Add(d90), Breaks: breaks, Rests: rests}
}

// drive is the time to cover miles at mph under the rules, starting from
// the clock c.
func drive(miles, mph float64, c freight.HOSClock) (total time.Duration, breaks, rests int) {
	if miles <= 0 {
		return 0, 0, 0
	}
	if mph < minMovingMph {
		mph = minMovingMph
	}
	left := time.Duration(miles / mph * float64(time.Hour))
	untilBreak, driving, window, cycle := c.UntilBreak.Duration(), c.DrivingLeft.Duration(), c.WindowLeft.Duration(), c.CycleLeft.Duration()
	for left > 0 {
		can := min(untilBreak, driving, window, cycle)
		if can <= 0 {
			switch {
			case cycle <= 0:
				total += freight.CycleRestartOff
				cycle, driving, window, untilBreak = freight.MaxCycle70, freight.MaxDriving, freight.MaxWindow, freight.BreakAfter
				rests++
			case driving <= 0 || window <= 0:
				total += freight.RestLength
				driving, window, untilBreak = freight.MaxDriving, freight.MaxWindow, freight.BreakAfter
				rests++
			default:
				total += freight.BreakLength
				window -= freight.BreakLength
				untilBreak = freight.BreakAfter
				breaks++
			}
			continue
		}
		d := min(left, can)
		total += d
		left -= d
		untilBreak, driving, window, cycle = untilBreak-d, driving-d, window-d, cycle-d
	}
	return total, breaks, rests
}

package eta

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

var t0 = time.Date(2030, 3, 12, 8, 0, 0, 0, time.UTC)

func TestComputeAppliesTheRules(t *testing.T) {
	fresh := freight.FreshHOS(t0)
	m := Model{MeanMph: 50, SDMph: 5, Hours: 100}
	tests := []struct {
		name          string
		miles         float64
		hos           freight.HOSClock
		p50           time.Duration
		breaks, rests int
	}{
		{"short hop", 100, fresh, 2 * time.Hour, 0, 0},
		{"past the 8-hour break", 450, fresh, 9*time.Hour + 30*time.Minute, 1, 0},
		// 11 hours drive 550 miles with one break; the last 50 after a rest.
		{"past the 11-hour limit", 600, fresh, 11*time.Hour + 30*time.Minute + 10*time.Hour + time.Hour, 1, 1},
		{"little driving left", 100, freight.HOSClock{DrivingLeft: 30, WindowLeft: 60, CycleLeft: 600, UntilBreak: 30}, 30*time.Minute + 10*time.Hour + 90*time.Minute, 0, 1},
		{"break due now", 50, freight.HOSClock{DrivingLeft: 300, WindowLeft: 300, CycleLeft: 600, UntilBreak: 0}, 30*time.Minute + time.Hour, 1, 0},
		{"cycle spent", 50, freight.HOSClock{DrivingLeft: 300, WindowLeft: 300, CycleLeft: 0, UntilBreak: 300}, 34*time.Hour + time.Hour, 0, 1},
		{"arrived", 0, fresh, 0, 0, 0},
	}
	for _, tt := range tests {
		e := Compute(Input{Now: t0, Miles: tt.miles, Model: m, HOS: tt.hos})
		if got := e.P50.Sub(t0); got != tt.p50 || e.Breaks != tt.breaks || e.Rests != tt.rests {
			t.Errorf("%s: got %v with %d breaks and %d rests, want %v, %d, %d", tt.name, got, e.Breaks, e.Rests, tt.p50, tt.breaks, tt.rests)
		}
		if e.P90.Before(e.P50) {
			t.Errorf("%s: got P90 %v before P50 %v", tt.name, e.P90, e.P50)
		}
	}
}

func TestLearn(t *testing.T) {
	if got := Learn(nil); got != DefaultModel {
		t.Errorf("no history: got %+v, want the default", got)
	}
	var fast []float64
	for range 200 {
		fast = append(fast, 64)
	}
	fast = append(fast, 0, 2, 1) // hours at a dock
	got := Learn(fast)
	if math.Abs(got.MeanMph-64) > 0.5 || got.SDMph > 1 {
		t.Errorf("a long history at 64 mph: got %+v, want about 64 with little spread", got)
	}
	few := Learn([]float64{64, 64})
	if few.MeanMph >= 60 || few.MeanMph <= DefaultModel.MeanMph {
		t.Errorf("two hours at 64 mph: got %+v, want between the default and 64", few)
	}
}

// trip simulates a driver: a cruising speed of its own, each hour's average
// varying around it, fuel and traffic stops, and the hours-of-service rules
// obeyed as the estimate assumes. It returns hourly speeds of its history
// and a function giving, for a trip of miles starting at the given clock,
// the hours actually taken from each point of the trip.
type driver struct {
	rng    *rand.Rand
	cruise float64
}

func (d *driver) hour() float64 {
	s := d.cruise * (1 + 0.12*d.rng.NormFloat64())
	if d.rng.Float64() < 0.08 { // a fuel stop or a jam
		s *= 0.5
	}
	return max(s, 10)
}

// run drives miles from clock c and records, at each checkpoint fraction,
// the miles left, the clock, and the elapsed time; it returns the total.
func (d *driver) run(miles float64, c freight.HOSClock, checkpoints []float64) (total time.Duration, at []time.Duration, clocks []freight.HOSClock) {
	done := 0.0
	next := 0
	untilBreak, driving, window := c.UntilBreak.Duration(), c.DrivingLeft.Duration(), c.WindowLeft.Duration()
	speed := d.hour()
	inHour := time.Duration(0)
	const step = time.Minute
	for done < miles {
		for next < len(checkpoints) && done >= checkpoints[next]*miles {
			at = append(at, total)
			clocks = append(clocks, freight.HOSClock{DrivingLeft: freight.Minutes(driving / time.Minute), WindowLeft: freight.Minutes(window / time.Minute),
				CycleLeft: 4000, UntilBreak: freight.Minutes(untilBreak / time.Minute)})
			next++
		}
		switch {
		case driving <= 0 || window <= 0:
			total += freight.RestLength
			driving, window, untilBreak = freight.MaxDriving, freight.MaxWindow, freight.BreakAfter
			continue
		case untilBreak <= 0:
			total += freight.BreakLength
			window -= freight.BreakLength
			untilBreak = freight.BreakAfter
			continue
		}
		done += speed * step.Hours()
		total += step
		driving, window, untilBreak, inHour = driving-step, window-step, untilBreak-step, inHour+step
		if inHour >= time.Hour {
			speed, inHour = d.hour(), 0
		}
	}
	return total, at, clocks
}

// TestErrorOnSimulatedTrips measures the estimate against simulated trips
// and records the figures quoted in docs/benchmarks.md (tracking). The seed
// is fixed, so the figures are too.
func TestErrorOnSimulatedTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	checkpoints := []float64{0, 0.25, 0.5, 0.75}
	var absErr []float64
	var within90, within50, n int
	for range 300 {
		d := &driver{rng: rng, cruise: 45 + 15*rng.Float64()}
		var history []float64
		for range 30 {
			history = append(history, d.hour())
		}
		m := Learn(history)
		miles := 150 + 1350*rng.Float64()
		start := freight.FreshHOS(t0)
		start.DrivingLeft = freight.Minutes(rng.IntN(11*60) + 1)
		start.UntilBreak = min(start.UntilBreak, start.DrivingLeft)
		total, at, clocks := d.run(miles, start, checkpoints)
		for i, cp := range checkpoints {
			if i >= len(at) {
				break
			}
			e := Compute(Input{Now: t0, Miles: miles * (1 - cp), Model: m, HOS: clocks[i]})
			actual := total - at[i]
			err := e.P50.Sub(t0) - actual
			absErr = append(absErr, math.Abs(err.Hours()))
			if actual <= e.P90.Sub(t0) {
				within90++
			}
			if actual <= e.P50.Sub(t0) {
				within50++
			}
			n++
		}
	}
	slices.Sort(absErr)
	mean := 0.0
	for _, e := range absErr {
		mean += e
	}
	mean /= float64(len(absErr))
	p90 := absErr[int(0.9*float64(len(absErr)))]
	t.Logf("ETA on %d estimates from 300 simulated trips of 150-1500 miles: mean absolute error %.2f h, 90th percentile %.2f h; "+
		"arrivals by P50 %.0f%%, by P90 %.0f%%", n, mean, p90, 100*float64(within50)/float64(n), 100*float64(within90)/float64(n))
	if cover := float64(within90) / float64(n); cover < 0.8 {
		t.Errorf("got %.0f%% of arrivals by P90, want at least 80%%", 100*cover)
	}
	if cover := float64(within50) / float64(n); cover < 0.3 || cover > 0.7 {
		t.Errorf("got %.0f%% of arrivals by P50, want about half", 100*cover)
	}
}

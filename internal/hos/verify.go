package hos

import (
	"fmt"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

// Verify checks a recorded plan against the rules, independently of how
// Schedule builds one: the steps follow each other without gaps from
// start.At; no driving beyond 11 hours since 10 consecutive hours off duty,
// nor after the 14th hour since coming on duty, nor past 8 hours without a
// 30-minute interruption (off duty or on duty not driving, consecutive), nor
// beyond the cycle since 34 consecutive hours off duty; and the plan's
// totals agree with its steps.
func Verify(start State, plan Plan, r Rules) error {
	driven := freight.MaxDriving - start.DrivingLeft
	sinceBreak := freight.BreakAfter - start.UntilBreak
	onDuty := r.Cycle() - start.CycleLeft
	var windowStart time.Time
	if start.WindowOpen {
		windowStart = start.At.Add(start.WindowLeft - freight.MaxWindow)
	}
	var offRun, pause time.Duration // consecutive off duty; consecutive not driving
	var driving, work, off time.Duration
	at := start.At
	for i, st := range plan.Steps {
		if !st.Start.Equal(at) {
			return fmt.Errorf("step %d starts at %s, want %s (steps must follow each other)", i, st.Start.Format(time.RFC3339), at.Format(time.RFC3339))
		}
		d := st.End.Sub(st.Start)
		if d < 0 {
			return fmt.Errorf("step %d ends before it starts", i)
		}
		at = st.End
		switch st.Kind {
		case StepWait, StepBreak, StepRest, StepRestart:
			off += d
			offRun += d
			pause += d
			if offRun >= freight.CycleRestartOff {
				onDuty = 0
			}
			if offRun >= freight.RestLength {
				driven, windowStart = 0, time.Time{}
			}
			if pause >= freight.BreakLength {
				sinceBreak = 0
			}
			if st.Kind == StepRest && d < freight.RestLength || st.Kind == StepRestart && d < freight.CycleRestartOff ||
				st.Kind == StepBreak && d < freight.BreakLength {
				return fmt.Errorf("step %d: a %s of %s is too short", i, st.Kind, d)
			}
		case StepWork:
			work += d
			offRun = 0
			pause += d
			onDuty += d
			if pause >= freight.BreakLength {
				sinceBreak = 0
			}
			if windowStart.IsZero() {
				windowStart = st.Start
			}
		case StepDrive:
			driving += d
			offRun, pause = 0, 0
			if windowStart.IsZero() {
				windowStart = st.Start
			}
			driven += d
			sinceBreak += d
			onDuty += d
			switch {
			case driven > freight.MaxDriving:
				return fmt.Errorf("step %d drives %s after 11 hours of driving since the last 10-hour rest", i, driven-freight.MaxDriving)
			case sinceBreak > freight.BreakAfter:
				return fmt.Errorf("step %d drives %s past 8 hours without a 30-minute break", i, sinceBreak-freight.BreakAfter)
			case st.End.Sub(windowStart) > freight.MaxWindow:
				return fmt.Errorf("step %d drives until %s after the 14-hour window", i, st.End.Sub(windowStart)-freight.MaxWindow)
			case onDuty > r.Cycle():
				return fmt.Errorf("step %d drives %s beyond the %s cycle", i, onDuty-r.Cycle(), r.Cycle())
			}
		default:
			return fmt.Errorf("step %d: unknown kind %q", i, st.Kind)
		}
	}
	switch {
	case len(plan.Steps) > 0 && !at.Equal(plan.End):
		return fmt.Errorf("the steps end at %s, the plan at %s", at.Format(time.RFC3339), plan.End.Format(time.RFC3339))
	case driving != plan.Driving || work != plan.OnDuty || off != plan.OffDuty:
		return fmt.Errorf("totals: steps drive %s, work %s, rest %s; the plan says %s, %s, %s",
			driving, work, off, plan.Driving, plan.OnDuty, plan.OffDuty)
	}
	return nil
}

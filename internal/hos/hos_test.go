package hos

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

// base is Monday 2 March 2026, 06:00 UTC; the worked examples count from it.
var base = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

// at is base plus a clock time "hh:mm" on day d (0 is base's day).
func at(d int, hhmm string) time.Time {
	var h, m int
	if _, err := fmt.Sscanf(hhmm, "%d:%d", &h, &m); err != nil {
		panic(err)
	}
	return time.Date(2026, 3, 2+d, h, m, 0, 0, time.UTC)
}

const hr = time.Hour

// st is a compact expected step: kind, start and end.
type st struct {
	kind       StepKind
	start, end time.Time
}

func drive(d time.Duration, label string) Segment {
	return Segment{Kind: Drive, Duration: d, Label: label}
}

func work(d time.Duration, label string, earliest, latest time.Time) Segment {
	return Segment{Kind: Work, Duration: d, Label: label, Earliest: earliest, Latest: latest}
}

// TestScheduleWorkedExamples checks schedules worked out by hand from the
// rules in internal/freight/hos.go; each case says how.
func TestScheduleWorkedExamples(t *testing.T) {
	fresh := Fresh(base, Rules{})
	cases := []struct {
		name                    string
		start                   State
		rules                   Rules
		segs                    []Segment
		steps                   []st
		final                   State // At is checked against the last step's end
		breaks, rests, restarts int
		begin                   []time.Time // when each segment begins, when checked
	}{
		{
			// 5 hours of driving fit every limit: 11-5 = 6 h of driving,
			// 14-5 = 9 h of window, 8-5 = 3 h before the break.
			name: "short drive", start: fresh, segs: []Segment{drive(5*hr, "loaded")},
			steps: []st{{StepDrive, at(0, "06:00"), at(0, "11:00")}},
			final: State{DrivingLeft: 6 * hr, WindowLeft: 9 * hr, CycleLeft: 65 * hr, UntilBreak: 3 * hr, WindowOpen: true},
		},
		{
			// 8 hours, the 30-minute break, then the other 2: the break
			// costs window (14 - 10.5 = 3.5 h) but no driving (11 - 10 = 1 h).
			name: "break after 8 hours", start: fresh, segs: []Segment{drive(10*hr, "loaded")},
			steps: []st{
				{StepDrive, at(0, "06:00"), at(0, "14:00")},
				{StepBreak, at(0, "14:00"), at(0, "14:30")},
				{StepDrive, at(0, "14:30"), at(0, "16:30")},
			},
			final:  State{DrivingLeft: 1 * hr, WindowLeft: 3*hr + 30*time.Minute, CycleLeft: 60 * hr, UntilBreak: 6 * hr, WindowOpen: true},
			breaks: 1,
		},
		{
			// 8 h, break, 3 h reaches the 11-hour limit at 17:30; the 10-hour
			// rest ends at 03:30 the next day and the last 4 h follow.
			name: "rest after 11 hours", start: fresh, segs: []Segment{drive(15*hr, "loaded")},
			steps: []st{
				{StepDrive, at(0, "06:00"), at(0, "14:00")},
				{StepBreak, at(0, "14:00"), at(0, "14:30")},
				{StepDrive, at(0, "14:30"), at(0, "17:30")},
				{StepRest, at(0, "17:30"), at(1, "03:30")},
				{StepDrive, at(1, "03:30"), at(1, "07:30")},
			},
			final:  State{DrivingLeft: 7 * hr, WindowLeft: 10 * hr, CycleLeft: 55 * hr, UntilBreak: 4 * hr, WindowOpen: true},
			breaks: 1, rests: 1,
		},
		{
			// 8 h of driving left but only 3 h of window: the window, not
			// the driving limit, forces the rest.
			name:  "14-hour window",
			start: State{At: base, DrivingLeft: 8 * hr, WindowLeft: 3 * hr, CycleLeft: 40 * hr, UntilBreak: 8 * hr, WindowOpen: true},
			segs:  []Segment{drive(5*hr, "loaded")},
			steps: []st{
				{StepDrive, at(0, "06:00"), at(0, "09:00")},
				{StepRest, at(0, "09:00"), at(0, "19:00")},
				{StepDrive, at(0, "19:00"), at(0, "21:00")},
			},
			final: State{DrivingLeft: 9 * hr, WindowLeft: 12 * hr, CycleLeft: 35 * hr, UntilBreak: 6 * hr, WindowOpen: true},
			rests: 1,
		},
		{
			// The break is due but 20 minutes of window remain: a break
			// would leave nothing to drive in, so the driver rests.
			name:  "rest instead of a useless break",
			start: State{At: base, DrivingLeft: 5 * hr, WindowLeft: 20 * time.Minute, CycleLeft: 30 * hr, UntilBreak: 0, WindowOpen: true},
			segs:  []Segment{drive(1*hr, "deadhead")},
			steps: []st{
				{StepRest, at(0, "06:00"), at(0, "16:00")},
				{StepDrive, at(0, "16:00"), at(0, "17:00")},
			},
			final: State{DrivingLeft: 10 * hr, WindowLeft: 13 * hr, CycleLeft: 29 * hr, UntilBreak: 7 * hr, WindowOpen: true},
			rests: 1,
		},
		{
			// 3 hours of cycle left: drive 3 h, take the 34-hour restart
			// (09:00 + 34 h = 19:00 the next day), then the last 2 h.
			name:  "70-hour cycle restart",
			start: State{At: base, DrivingLeft: 11 * hr, WindowLeft: 14 * hr, CycleLeft: 3 * hr, UntilBreak: 8 * hr},
			segs:  []Segment{drive(5*hr, "loaded")},
			steps: []st{
				{StepDrive, at(0, "06:00"), at(0, "09:00")},
				{StepRestart, at(0, "09:00"), at(1, "19:00")},
				{StepDrive, at(1, "19:00"), at(1, "21:00")},
			},
			final:    State{DrivingLeft: 9 * hr, WindowLeft: 12 * hr, CycleLeft: 68 * hr, UntilBreak: 6 * hr, WindowOpen: true},
			restarts: 1,
		},
		{
			// The same under the 60-hour rule: the restart gives 60 hours.
			name:  "60-hour cycle restart",
			start: State{At: base, DrivingLeft: 11 * hr, WindowLeft: 14 * hr, CycleLeft: 3 * hr, UntilBreak: 8 * hr},
			rules: Rules{Cycle60: true},
			segs:  []Segment{drive(5*hr, "loaded")},
			steps: []st{
				{StepDrive, at(0, "06:00"), at(0, "09:00")},
				{StepRestart, at(0, "09:00"), at(1, "19:00")},
				{StepDrive, at(1, "19:00"), at(1, "21:00")},
			},
			final:    State{DrivingLeft: 9 * hr, WindowLeft: 12 * hr, CycleLeft: 58 * hr, UntilBreak: 6 * hr, WindowOpen: true},
			restarts: 1,
		},
		{
			// Arriving at 08:00 for a pickup window opening at 10:00: wait,
			// load for an hour (which counts as the break), drive 3 h. The
			// window has run since 06:00: 14 - 8 = 6 h; driving 11 - 5 = 6 h.
			name:  "wait for the pickup window",
			start: fresh,
			segs:  []Segment{drive(2*hr, "deadhead"), work(hr, "pickup", at(0, "10:00"), at(0, "12:00")), drive(3*hr, "loaded")},
			steps: []st{
				{StepDrive, at(0, "06:00"), at(0, "08:00")},
				{StepWait, at(0, "08:00"), at(0, "10:00")},
				{StepWork, at(0, "10:00"), at(0, "11:00")},
				{StepDrive, at(0, "11:00"), at(0, "14:00")},
			},
			final: State{DrivingLeft: 6 * hr, WindowLeft: 6 * hr, CycleLeft: 64 * hr, UntilBreak: 5 * hr, WindowOpen: true},
			begin: []time.Time{at(0, "06:00"), at(0, "10:00"), at(0, "11:00")},
		},
		{
			// With 2 h of driving and 4 h of window left, waiting 07:00-12:00
			// and resting on the road after loading (13:00-23:00) delivers
			// at 06:00 the next day; resting 07:00-17:00 during the wait
			// instead loads at 17:00 and delivers at 01:00.
			name:  "rest moved into the wait",
			start: State{At: base, DrivingLeft: 2 * hr, WindowLeft: 4 * hr, CycleLeft: 50 * hr, UntilBreak: 8 * hr, WindowOpen: true},
			segs: []Segment{drive(hr, "deadhead"), work(hr, "pickup", at(0, "12:00"), at(0, "20:00")),
				drive(6*hr, "loaded"), work(hr, "delivery", time.Time{}, time.Time{})},
			steps: []st{
				{StepDrive, at(0, "06:00"), at(0, "07:00")},
				{StepRest, at(0, "07:00"), at(0, "17:00")},
				{StepWork, at(0, "17:00"), at(0, "18:00")},
				{StepDrive, at(0, "18:00"), at(1, "00:00")},
				{StepWork, at(1, "00:00"), at(1, "01:00")},
			},
			final: State{DrivingLeft: 5 * hr, WindowLeft: 6 * hr, CycleLeft: 41 * hr, UntilBreak: 8 * hr, WindowOpen: true},
			rests: 1,
			begin: []time.Time{at(0, "06:00"), at(0, "17:00"), at(0, "18:00"), at(1, "00:00")},
		},
		{
			// A wait of 12 hours is itself a 10-hour rest.
			name:  "long wait is a rest",
			start: State{At: base, DrivingLeft: 3 * hr, WindowLeft: 5 * hr, CycleLeft: 50 * hr, UntilBreak: 2 * hr, WindowOpen: true},
			segs:  []Segment{work(hr, "pickup", at(0, "18:00"), at(0, "20:00"))},
			steps: []st{
				{StepRest, at(0, "06:00"), at(0, "18:00")},
				{StepWork, at(0, "18:00"), at(0, "19:00")},
			},
			final: State{DrivingLeft: 11 * hr, WindowLeft: 13 * hr, CycleLeft: 49 * hr, UntilBreak: 8 * hr, WindowOpen: true},
			rests: 1,
		},
		{
			// On-duty work is legal past every limit; only driving is not.
			name:  "loading after the window closed",
			start: State{At: base, DrivingLeft: 0, WindowLeft: 0, CycleLeft: 0, UntilBreak: 0, WindowOpen: true},
			segs:  []Segment{work(2*hr, "unload", time.Time{}, at(0, "07:00"))},
			steps: []st{{StepWork, at(0, "06:00"), at(0, "08:00")}},
			final: State{DrivingLeft: 0, WindowLeft: 0, CycleLeft: 0, UntilBreak: 8 * hr, WindowOpen: true},
		},
		{
			name: "nothing to do", start: fresh, segs: nil,
			final: fresh,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, err := Schedule(c.start, c.segs, c.rules)
			if err != nil {
				t.Fatalf("schedule: %v", err)
			}
			if len(plan.Steps) != len(c.steps) {
				t.Fatalf("got %d steps, want %d:\n%s", len(plan.Steps), len(c.steps), describe(plan))
			}
			for i, want := range c.steps {
				got := plan.Steps[i]
				if got.Kind != want.kind || !got.Start.Equal(want.start) || !got.End.Equal(want.end) {
					t.Errorf("step %d: got %s %s-%s, want %s %s-%s", i, got.Kind, hm(got.Start), hm(got.End), want.kind, hm(want.start), hm(want.end))
				}
			}
			want := c.final
			want.At = c.start.At
			if n := len(c.steps); n > 0 {
				want.At = c.steps[n-1].end
			}
			if plan.Final != want {
				t.Errorf("final state: got %+v, want %+v", plan.Final, want)
			}
			if !plan.End.Equal(want.At) {
				t.Errorf("end: got %s, want %s", hm(plan.End), hm(want.At))
			}
			if plan.Margin != want.Drivable() {
				t.Errorf("margin: got %s, want %s", plan.Margin, want.Drivable())
			}
			if plan.Breaks != c.breaks || plan.Rests != c.rests || plan.Restarts != c.restarts {
				t.Errorf("breaks, rests, restarts: got %d, %d, %d, want %d, %d, %d", plan.Breaks, plan.Rests, plan.Restarts, c.breaks, c.rests, c.restarts)
			}
			for i, b := range c.begin {
				if !plan.Begin[i].Equal(b) {
					t.Errorf("segment %d begins at %s, want %s", i, hm(plan.Begin[i]), hm(b))
				}
			}
			if len(plan.Begin) != len(c.segs) || len(plan.Finish) != len(c.segs) {
				t.Errorf("got %d begin and %d finish times, want %d", len(plan.Begin), len(plan.Finish), len(c.segs))
			}
			if err := Verify(c.start, plan, c.rules); err != nil {
				t.Errorf("verify: %v\n%s", err, describe(plan))
			}
		})
	}
}

// TestScheduleWithoutRecording gives the same times with and without steps.
func TestScheduleWithoutRecording(t *testing.T) {
	start := State{At: base, DrivingLeft: 2 * hr, WindowLeft: 4 * hr, CycleLeft: 50 * hr, UntilBreak: 8 * hr, WindowOpen: true}
	segs := []Segment{drive(hr, "deadhead"), work(hr, "pickup", at(0, "12:00"), at(0, "20:00")), drive(16*hr, "loaded"), work(hr, "delivery", time.Time{}, time.Time{})}
	rec, err := Schedule(start, segs, Rules{})
	if err != nil {
		t.Fatal(err)
	}
	var p Planner
	for range 3 { // reusing the buffers changes nothing
		got, err := p.Schedule(start, segs)
		if err != nil {
			t.Fatal(err)
		}
		if got.Steps != nil {
			t.Errorf("got %d steps without recording, want none", len(got.Steps))
		}
		if !got.End.Equal(rec.End) || got.Final != rec.Final || got.Rests != rec.Rests || got.Breaks != rec.Breaks {
			t.Errorf("got end %s, final %+v; recorded plan has %s, %+v", hm(got.End), got.Final, hm(rec.End), rec.Final)
		}
		for i := range segs {
			if !got.Begin[i].Equal(rec.Begin[i]) || !got.Finish[i].Equal(rec.Finish[i]) {
				t.Errorf("segment %d: got %s-%s, want %s-%s", i, hm(got.Begin[i]), hm(got.Finish[i]), hm(rec.Begin[i]), hm(rec.Finish[i]))
			}
		}
	}
}

func TestScheduleLate(t *testing.T) {
	fresh := Fresh(base, Rules{})
	cases := []struct {
		name  string
		segs  []Segment
		seg   int
		begin time.Time
		late  time.Duration
	}{
		// 6 hours of driving reach the stop at 12:00, an hour late.
		{"pickup after its window", []Segment{drive(6*hr, "deadhead"), work(hr, "pickup", at(0, "08:00"), at(0, "11:00"))}, 1, at(0, "12:00"), hr},
		// 12 hours of driving need a break and a rest: 06:00-14:00, break,
		// 14:30-17:30, rest to 03:30, one more hour: 04:30.
		{"rest makes the delivery late", []Segment{drive(12*hr, "loaded"), work(hr, "delivery", time.Time{}, at(1, "02:00"))}, 1, at(1, "04:30"), 2*hr + 30*time.Minute},
		// A driving segment with a latest start.
		{"drive cannot start in time", []Segment{work(3*hr, "load", time.Time{}, time.Time{}), {Kind: Drive, Duration: hr, Latest: at(0, "08:00"), Label: "depart"}}, 1, at(0, "09:00"), hr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Schedule(fresh, c.segs, Rules{})
			var le *LateError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LateError", err)
			}
			if le.Segment != c.seg || !le.Begin.Equal(c.begin) || le.Late() != c.late {
				t.Errorf("got segment %d beginning %s, %s late; want %d, %s, %s", le.Segment, hm(le.Begin), le.Late(), c.seg, hm(c.begin), c.late)
			}
			if !strings.Contains(le.Error(), c.segs[c.seg].Label) {
				t.Errorf("error %q does not name the segment %q", le.Error(), c.segs[c.seg].Label)
			}
		})
	}
}

func TestScheduleInvalid(t *testing.T) {
	fresh := Fresh(base, Rules{})
	cases := []struct {
		name  string
		start State
		segs  []Segment
	}{
		{"no start time", State{}, nil},
		{"negative duration", fresh, []Segment{drive(-hr, "x")}},
		{"unknown kind", fresh, []Segment{{Kind: 9, Duration: hr}}},
		{"zero kind", fresh, []Segment{{Duration: hr}}},
		{"NaN miles", fresh, []Segment{{Kind: Drive, Duration: hr, Miles: math.NaN()}}},
		{"infinite miles", fresh, []Segment{{Kind: Drive, Duration: hr, Miles: math.Inf(1)}}},
		{"window closes before it opens", fresh, []Segment{work(hr, "pickup", at(0, "12:00"), at(0, "10:00"))}},
		{"absurd duration", fresh, []Segment{drive(40*24*hr, "x")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Schedule(c.start, c.segs, Rules{}); !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
}

func TestStartAgesTheClock(t *testing.T) {
	clock := func(drive, window, cycle, brk int, updated time.Time) freight.HOSClock {
		return freight.HOSClock{DrivingLeft: freight.Minutes(drive * 60), WindowLeft: freight.Minutes(window * 60),
			CycleLeft: freight.Minutes(cycle * 60), UntilBreak: freight.Minutes(brk * 60), UpdatedAt: updated}
	}
	cases := []struct {
		name    string
		clock   freight.HOSClock
		offDuty bool
		rules   Rules
		want    State
	}{
		{"fresh clock does not start its window", clock(11, 14, 70, 8, base.Add(-5*hr)), false, Rules{},
			State{DrivingLeft: 11 * hr, WindowLeft: 14 * hr, CycleLeft: 70 * hr, UntilBreak: 8 * hr}},
		{"open window keeps running", clock(6, 10, 50, 3, base.Add(-3*hr)), false, Rules{},
			State{DrivingLeft: 6 * hr, WindowLeft: 7 * hr, CycleLeft: 50 * hr, UntilBreak: 3 * hr, WindowOpen: true}},
		{"open window runs out", clock(6, 2, 50, 3, base.Add(-3*hr)), false, Rules{},
			State{DrivingLeft: 6 * hr, WindowLeft: 0, CycleLeft: 50 * hr, UntilBreak: 3 * hr, WindowOpen: true}},
		{"11 hours off duty are a rest", clock(0, 0, 20, 0, base.Add(-11*hr)), true, Rules{},
			State{DrivingLeft: 11 * hr, WindowLeft: 14 * hr, CycleLeft: 20 * hr, UntilBreak: 8 * hr}},
		{"35 hours off duty are a restart", clock(0, 0, 2, 0, base.Add(-35*hr)), true, Rules{},
			State{DrivingLeft: 11 * hr, WindowLeft: 14 * hr, CycleLeft: 70 * hr, UntilBreak: 8 * hr}},
		{"40 minutes off duty are the break", clock(5, 6, 40, 0, base.Add(-40*time.Minute)), true, Rules{},
			State{DrivingLeft: 5 * hr, WindowLeft: 5*hr + 20*time.Minute, CycleLeft: 40 * hr, UntilBreak: 8 * hr, WindowOpen: true}},
		{"out of range values are clamped", freight.HOSClock{DrivingLeft: 900, WindowLeft: -5, CycleLeft: 80 * 60, UntilBreak: 600}, false, Rules{Cycle60: true},
			State{DrivingLeft: 11 * hr, WindowLeft: 0, CycleLeft: 60 * hr, UntilBreak: 8 * hr, WindowOpen: true}},
		{"a clock from the future is taken as is", clock(4, 5, 30, 2, base.Add(hr)), true, Rules{},
			State{DrivingLeft: 4 * hr, WindowLeft: 5 * hr, CycleLeft: 30 * hr, UntilBreak: 2 * hr, WindowOpen: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Start(c.clock, base, c.offDuty, c.rules)
			c.want.At = base
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	// The clock round-trips in whole minutes.
	s := State{At: base, DrivingLeft: 90 * time.Minute, WindowLeft: 3 * hr, CycleLeft: 20 * hr, UntilBreak: 30 * time.Minute, WindowOpen: true}
	if got := Start(s.Clock(), base, false, Rules{}); got != s {
		t.Errorf("round trip: got %+v, want %+v", got, s)
	}
}

// TestVerifyCatchesViolations hands Verify schedules that break each rule.
func TestVerifyCatchesViolations(t *testing.T) {
	fresh := Fresh(base, Rules{})
	step := func(k StepKind, from, to string, d0, d1 int) Step {
		return Step{Kind: k, Start: at(d0, from), End: at(d1, to)}
	}
	plan := func(steps ...Step) Plan {
		p := Plan{Steps: steps, Start: steps[0].Start, End: steps[len(steps)-1].End}
		for _, s := range steps {
			switch s.Kind {
			case StepDrive:
				p.Driving += s.End.Sub(s.Start)
			case StepWork:
				p.OnDuty += s.End.Sub(s.Start)
			default:
				p.OffDuty += s.End.Sub(s.Start)
			}
		}
		return p
	}
	cases := []struct {
		name  string
		start State
		plan  Plan
		want  string
	}{
		{"9 hours without a break", fresh, plan(step(StepDrive, "06:00", "15:00", 0, 0)), "30-minute break"},
		{"12 hours of driving", fresh, plan(step(StepDrive, "06:00", "14:00", 0, 0), step(StepBreak, "14:00", "14:30", 0, 0),
			step(StepDrive, "14:30", "18:30", 0, 0)), "11 hours"},
		{"driving after the 14th hour", fresh, plan(step(StepWork, "06:00", "12:00", 0, 0), step(StepDrive, "12:00", "19:00", 0, 0),
			step(StepBreak, "19:00", "19:30", 0, 0), step(StepDrive, "19:30", "20:30", 0, 0)), "14-hour window"},
		{"beyond the cycle", State{At: base, DrivingLeft: 11 * hr, WindowLeft: 14 * hr, CycleLeft: 2 * hr, UntilBreak: 8 * hr},
			plan(step(StepDrive, "06:00", "09:00", 0, 0)), "cycle"},
		{"a rest too short", fresh, plan(step(StepDrive, "06:00", "07:00", 0, 0), step(StepRest, "07:00", "09:00", 0, 0)), "too short"},
		{"a gap between steps", fresh, plan(step(StepDrive, "06:00", "07:00", 0, 0), step(StepDrive, "08:00", "09:00", 0, 0)), "follow each other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Verify(c.start, c.plan, Rules{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error about %q", err, c.want)
			}
		})
	}
	// Rests earned by consecutive off-duty steps count.
	ok := plan(step(StepDrive, "06:00", "14:00", 0, 0), step(StepWait, "14:00", "20:00", 0, 0), step(StepWait, "20:00", "00:00", 0, 1),
		step(StepDrive, "00:00", "08:00", 1, 1))
	if err := Verify(fresh, ok, Rules{}); err != nil {
		t.Errorf("two waits making a rest: %v", err)
	}
}

// FuzzSchedule checks that every schedule Schedule returns keeps the rules
// (by Verify), begins each segment inside its window, and keeps the
// segments in order.
func FuzzSchedule(f *testing.F) {
	f.Add([]byte{0, 5, 1, 60, 2, 3, 40, 7})
	f.Add([]byte{200, 100, 50, 25, 1, 1, 1, 1, 255, 255, 0, 128})
	f.Add([]byte{3, 9, 1, 0, 0, 20, 1, 4, 12, 10, 200, 5, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() int {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return int(b)
		}
		start := State{At: base, DrivingLeft: time.Duration(next()%12) * hr, WindowLeft: time.Duration(next()%15) * hr,
			CycleLeft: time.Duration(next()%71) * hr, UntilBreak: time.Duration(next()%9) * hr}
		start.WindowOpen = start.WindowLeft < freight.MaxWindow
		rules := Rules{Cycle60: next()%2 == 1}
		start.CycleLeft = min(start.CycleLeft, rules.Cycle())
		var segs []Segment
		t0 := base
		for len(data) > 0 && len(segs) < 12 {
			kind := Drive
			if next()%2 == 1 {
				kind = Work
			}
			sg := Segment{Kind: kind, Duration: time.Duration(next()) * 5 * time.Minute}
			if w := next(); w%3 == 0 {
				t0 = t0.Add(time.Duration(next()) * 10 * time.Minute)
				sg.Earliest, sg.Latest = t0, t0.Add(time.Duration(next())*10*time.Minute)
			}
			segs = append(segs, sg)
		}
		plan, err := Schedule(start, segs, rules)
		var le *LateError
		if errors.As(err, &le) {
			return
		}
		if err != nil {
			t.Fatalf("schedule: %v", err)
		}
		if err := Verify(start, plan, rules); err != nil {
			t.Fatalf("verify: %v\n%s", err, describe(plan))
		}
		prev := start.At
		for i, sg := range segs {
			b, e := plan.Begin[i], plan.Finish[i]
			if b.Before(prev) || e.Before(b) {
				t.Fatalf("segment %d runs %s-%s after %s", i, hm(b), hm(e), hm(prev))
			}
			if !sg.Earliest.IsZero() && b.Before(sg.Earliest) || !sg.Latest.IsZero() && b.After(sg.Latest) {
				t.Fatalf("segment %d begins at %s outside its window %s-%s", i, hm(b), hm(sg.Earliest), hm(sg.Latest))
			}
			prev = e
		}
	})
}

func hm(t time.Time) string { return t.Format("Mon 15:04") }

func describe(p Plan) string {
	var b strings.Builder
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "  %-8s %s - %s %s\n", s.Kind, hm(s.Start), hm(s.End), s.Label)
	}
	return b.String()
}

// BenchmarkPlanner plans a typical load (deadhead, pickup with a window,
// loaded run with a rest, delivery) without recording steps, as the
// matching service does for every candidate.
func BenchmarkPlanner(b *testing.B) {
	start := State{At: base, DrivingLeft: 6 * hr, WindowLeft: 8 * hr, CycleLeft: 40 * hr, UntilBreak: 3 * hr, WindowOpen: true}
	segs := []Segment{drive(2*hr, "deadhead"), work(hr, "pickup", at(0, "09:00"), at(0, "13:00")),
		drive(14*hr, "loaded"), work(hr, "delivery", at(1, "06:00"), at(1, "18:00"))}
	var p Planner
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Schedule(start, segs); err != nil {
			b.Fatal(err)
		}
	}
}

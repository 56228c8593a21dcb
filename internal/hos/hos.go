// Package hos plans truck trips under the US FMCSA hours-of-service rules for
// property-carrying drivers (49 CFR 395.3): at most 11 hours of driving after
// 10 consecutive hours off duty, no driving after the 14th hour since coming
// on duty, a 30-minute interruption of driving after 8 hours of it, and no
// driving once 60 hours in 7 days (or 70 in 8) have been spent on duty, until
// a 34-hour restart.
//
// Given a driver's clock and a sequence of driving and on-duty segments, some
// with time windows, Schedule returns a legal schedule with the waits,
// breaks, rests and restarts it needs, and the margin the driver has left.
// Verify checks any schedule against the rules independently. The package is
// pure: no I/O, and time comes from its callers.
//
// Simplifications: on-duty hours are never recovered by days dropping out of
// the 7- or 8-day look-back, only by a 34-hour restart, and the sleeper-berth
// split is not used (both on the safe side); waiting for a window counts as
// off duty, as a driver relieved of duty at a dock logs it.
package hos

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

// Rules chooses the cycle. The zero value is the 70-hour/8-day rule.
type Rules struct {
	// Cycle60 applies the 60-hour/7-day rule instead.
	Cycle60 bool
}

// Cycle is the on-duty limit of the rules' cycle.
func (r Rules) Cycle() time.Duration {
	if r.Cycle60 {
		return freight.MaxCycle60
	}
	return freight.MaxCycle70
}

// State is a driver's position under the rules at an instant.
type State struct {
	At          time.Time
	DrivingLeft time.Duration // before the 11-hour limit
	WindowLeft  time.Duration // before the 14-hour limit
	CycleLeft   time.Duration // before the 60/70-hour limit
	UntilBreak  time.Duration // driving before the 30-minute break
	// WindowOpen reports whether the 14-hour window has begun. A driver fresh
	// from a rest opens it by coming on duty; until then waiting costs none.
	WindowOpen bool
}

// Drivable is how long the driver may drive before a rest or restart,
// ignoring the 30-minute break (which delays a trip but never stops it).
func (s State) Drivable() time.Duration {
	return max(0, min(s.DrivingLeft, s.WindowLeft, s.CycleLeft))
}

// Clock converts s back to the clock format drivers' devices report.
func (s State) Clock() freight.HOSClock {
	return freight.HOSClock{
		DrivingLeft: freight.Minutes(s.DrivingLeft / time.Minute),
		WindowLeft:  freight.Minutes(s.WindowLeft / time.Minute),
		CycleLeft:   freight.Minutes(s.CycleLeft / time.Minute),
		UntilBreak:  freight.Minutes(s.UntilBreak / time.Minute),
		UpdatedAt:   s.At,
	}
}

// Fresh is the state of a driver after a 34-hour restart.
func Fresh(at time.Time, r Rules) State {
	return State{At: at, DrivingLeft: freight.MaxDriving, WindowLeft: freight.MaxWindow, CycleLeft: r.Cycle(),
		UntilBreak: freight.BreakAfter}
}

// Start turns a reported clock into the state at `at`. A clock reported
// before `at` is aged: an off-duty driver earns the break, rest or restart
// the elapsed time amounts to; anyone else only loses the window that kept
// running. A window left below 14 hours means the window is open. Values
// outside the rules' ranges are clamped.
func Start(c freight.HOSClock, at time.Time, offDuty bool, r Rules) State {
	s := State{
		At:          at,
		DrivingLeft: clamp(c.DrivingLeft.Duration(), freight.MaxDriving),
		WindowLeft:  clamp(c.WindowLeft.Duration(), freight.MaxWindow),
		CycleLeft:   clamp(c.CycleLeft.Duration(), r.Cycle()),
		UntilBreak:  clamp(c.UntilBreak.Duration(), freight.BreakAfter),
	}
	s.WindowOpen = s.WindowLeft < freight.MaxWindow
	if c.UpdatedAt.IsZero() || !at.After(c.UpdatedAt) {
		return s
	}
	elapsed := at.Sub(c.UpdatedAt)
	if offDuty {
		s.offDuty(elapsed, r)
	} else if s.WindowOpen {
		s.WindowLeft = max(0, s.WindowLeft-elapsed)
	}
	return s
}

func clamp(d, hi time.Duration) time.Duration { return min(max(d, 0), hi) }

// offDuty applies an off-duty period of length d (the time itself is
// advanced by the caller): 34 hours restart the cycle, 10 hours reset the
// daily limits, 30 minutes are the break; the open window keeps running.
func (s *State) offDuty(d time.Duration, r Rules) {
	switch {
	case d >= freight.CycleRestartOff:
		at := s.At
		*s = Fresh(at, r)
	case d >= freight.RestLength:
		s.DrivingLeft, s.WindowLeft, s.UntilBreak, s.WindowOpen = freight.MaxDriving, freight.MaxWindow, freight.BreakAfter, false
	default:
		if d >= freight.BreakLength {
			s.UntilBreak = freight.BreakAfter
		}
		if s.WindowOpen {
			s.WindowLeft = max(0, s.WindowLeft-d)
		}
	}
}

// Kind says what the driver does in a segment.
type Kind uint8

const (
	Drive Kind = iota + 1 // driving
	Work                  // on duty, not driving: loading, unloading, fuelling, inspecting
)

func (k Kind) String() string {
	switch k {
	case Drive:
		return "drive"
	case Work:
		return "on_duty"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Segment is one part of a trip.
type Segment struct {
	Kind     Kind
	Duration time.Duration
	Miles    float64 // driving segments: carried into the steps, pro rata
	Label    string  // "deadhead", "pickup", ...: carried into the steps
	// Earliest and Latest bound when the segment may begin: the driver waits
	// off duty until Earliest, and the trip is infeasible if the segment
	// cannot begin by Latest. Zero means unbounded.
	Earliest time.Time
	Latest   time.Time
}

// StepKind says what a step of a schedule is.
type StepKind string

const (
	StepDrive   StepKind = "drive"
	StepWork    StepKind = "on_duty"
	StepWait    StepKind = "wait"    // off duty until a window opens, shorter than a rest
	StepBreak   StepKind = "break"   // the 30-minute break
	StepRest    StepKind = "rest"    // 10 hours or more off duty
	StepRestart StepKind = "restart" // 34 hours or more off duty
)

// Step is one interval of a schedule.
type Step struct {
	Kind    StepKind  `json:"kind"`
	Label   string    `json:"label,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Miles   float64   `json:"miles,omitempty"`
	Segment int       `json:"segment"` // the segment it belongs to, or precedes
}

// Plan is a legal schedule of a trip.
type Plan struct {
	Steps []Step // nil unless recorded
	// Begin and Finish are when each segment began and finished.
	Begin, Finish []time.Time
	Start, End    time.Time
	Driving       time.Duration
	OnDuty        time.Duration // on duty, not driving
	OffDuty       time.Duration // waits, breaks, rests and restarts
	Breaks        int
	Rests         int
	Restarts      int
	Final         State // the driver's state at End
	// Margin is how long the driver may still drive at End before a rest:
	// the HOS margin the trip leaves.
	Margin time.Duration
}

// ErrInvalid is wrapped by the errors of segments that make no sense.
var ErrInvalid = errors.New("invalid trip")

// LateError says that a segment cannot begin inside its window.
type LateError struct {
	Segment int
	Label   string
	Latest  time.Time // when the window closes
	Begin   time.Time // the earliest legal beginning
}

func (e *LateError) Error() string {
	what := e.Label
	if what == "" {
		what = fmt.Sprintf("segment %d", e.Segment)
	}
	return fmt.Sprintf("%s: can begin at %s at the earliest, %s after its window closes at %s",
		what, e.Begin.UTC().Format(time.RFC3339), e.Begin.Sub(e.Latest).Round(time.Minute), e.Latest.UTC().Format(time.RFC3339))
}

// Late is how late the segment would be.
func (e *LateError) Late() time.Duration { return e.Begin.Sub(e.Latest) }

// Schedule plans segs from start. It drives as far as the rules allow before
// each break or rest, so that each segment begins as early as is legal; where
// it has to wait for a window anyway, it also tries taking a rest during the
// wait instead of on the road, and keeps the variant that finishes earlier
// (then the one that leaves the larger margin). The error is a *LateError when a window cannot
// be met, and wraps ErrInvalid for malformed segments.
func Schedule(start State, segs []Segment, r Rules) (Plan, error) {
	p := Planner{Rules: r, Record: true}
	plan, err := p.Schedule(start, segs)
	if err != nil {
		return plan, err
	}
	plan.Steps = append([]Step(nil), plan.Steps...)
	plan.Begin = append([]time.Time(nil), plan.Begin...)
	plan.Finish = append([]time.Time(nil), plan.Finish...)
	return plan, nil
}

// Planner schedules trips reusing its buffers, for callers that plan many
// trips in a row. The slices of a returned Plan belong to the Planner and are
// overwritten by its next call. A Planner is not safe for concurrent use.
type Planner struct {
	Rules  Rules
	Record bool // record Steps; Begin and Finish are always set

	steps         []Step
	begin, finish []time.Time
}

// maxExtend bounds the segments whose waits may become rests (a bit mask).
const maxExtend = 64

// Schedule is the package's Schedule with the Planner's buffers.
func (p *Planner) Schedule(start State, segs []Segment) (Plan, error) {
	if err := validate(start, segs); err != nil {
		return Plan{}, err
	}
	record := p.Record
	p.Record = false
	best, waited, bestErr := p.run(start, segs, 0)
	bestMask, tried := uint64(0), uint64(0)
	// Each wait that a rest could replace is tried in turn, keeping the
	// changes that help; waits are few, and so are the runs.
	for waited&^tried != 0 {
		cand := waited &^ tried
		bit := cand & -cand
		tried |= bit
		plan, w, err := p.run(start, segs, bestMask|bit)
		if better(plan, err, best, bestErr) {
			best, waited, bestErr, bestMask = plan, w, err, bestMask|bit
		}
	}
	p.Record = record
	if record || bestMask != 0 {
		// The buffers hold the last variant tried: plan the best again.
		best, _, bestErr = p.run(start, segs, bestMask)
	}
	return best, bestErr
}

func better(a Plan, aErr error, b Plan, bErr error) bool {
	switch {
	case aErr != nil:
		return false
	case bErr != nil:
		return true
	case !a.End.Equal(b.End):
		return a.End.Before(b.End)
	}
	return a.Margin > b.Margin
}

func validate(start State, segs []Segment) error {
	if start.At.IsZero() {
		return fmt.Errorf("%w: no start time", ErrInvalid)
	}
	for i, sg := range segs {
		switch {
		case sg.Kind != Drive && sg.Kind != Work:
			return fmt.Errorf("%w: segment %d: unknown kind %d", ErrInvalid, i, sg.Kind)
		case sg.Duration < 0:
			return fmt.Errorf("%w: segment %d: negative duration %s", ErrInvalid, i, sg.Duration)
		case sg.Duration > 30*24*time.Hour:
			return fmt.Errorf("%w: segment %d: duration %s longer than 30 days", ErrInvalid, i, sg.Duration)
		case math.IsNaN(sg.Miles) || math.IsInf(sg.Miles, 0) || sg.Miles < 0:
			return fmt.Errorf("%w: segment %d: miles must be a finite non-negative number", ErrInvalid, i)
		case !sg.Earliest.IsZero() && !sg.Latest.IsZero() && sg.Latest.Before(sg.Earliest):
			return fmt.Errorf("%w: segment %d: window closes before it opens", ErrInvalid, i)
		}
	}
	return nil
}

// run plans the trip, turning the waits before the segments in extend (a bit
// mask) into rests. It also returns the mask of the segments preceded by a
// wait shorter than a rest that a rest could replace. Time runs as an offset
// from start.At, which keeps the arithmetic cheap.
func (p *Planner) run(start State, segs []Segment, extend uint64) (plan Plan, waited uint64, err error) {
	r := p.Rules
	s := start
	origin := start.At
	var now time.Duration
	p.steps, p.begin, p.finish = p.steps[:0], p.begin[:0], p.finish[:0]
	plan.Start = origin
	off := func(kind StepKind, d time.Duration, label string, seg int) {
		if d <= 0 {
			return
		}
		p.step(kind, label, origin, now, now+d, 0, seg)
		s.offDuty(d, r)
		now += d
		plan.OffDuty += d
		switch {
		case d >= freight.CycleRestartOff:
			plan.Restarts++
		case d >= freight.RestLength:
			plan.Rests++
		case d >= freight.BreakLength && kind == StepBreak:
			plan.Breaks++
		}
	}
	offset := func(t time.Time) (time.Duration, bool) {
		if t.IsZero() {
			return 0, false
		}
		return t.Sub(origin), true
	}
	late := func(i int, sg Segment) error {
		return &LateError{Segment: i, Label: sg.Label, Latest: sg.Latest, Begin: origin.Add(now)}
	}
	for i, sg := range segs {
		earliest, hasEarliest := offset(sg.Earliest)
		latest, hasLatest := offset(sg.Latest)
		if hasEarliest && now < earliest {
			w := earliest - now
			canRest := w < freight.RestLength && i < maxExtend && (!hasLatest || now+freight.RestLength <= latest)
			if canRest {
				waited |= 1 << i
			}
			switch {
			case canRest && extend&(1<<i) != 0:
				off(StepRest, max(freight.RestLength, w), "rest while waiting for the window", i)
			case w >= freight.CycleRestartOff:
				off(StepRestart, w, "off duty until the window opens", i)
			case w >= freight.RestLength:
				off(StepRest, w, "off duty until the window opens", i)
			default:
				off(StepWait, w, "waiting for the window", i)
			}
		}
		switch sg.Kind {
		case Work:
			if hasLatest && now > latest {
				return plan, waited, late(i, sg)
			}
			p.begin = append(p.begin, origin.Add(now))
			if sg.Duration > 0 {
				p.step(StepWork, sg.Label, origin, now, now+sg.Duration, 0, i)
				now += sg.Duration
				s.WindowOpen = true
				s.WindowLeft = max(0, s.WindowLeft-sg.Duration)
				s.CycleLeft = max(0, s.CycleLeft-sg.Duration)
				if sg.Duration >= freight.BreakLength {
					s.UntilBreak = freight.BreakAfter
				}
				plan.OnDuty += sg.Duration
			}
		case Drive:
			left := sg.Duration
			begun := false
			for left > 0 {
				avail := min(s.DrivingLeft, s.WindowLeft, s.CycleLeft, s.UntilBreak)
				if avail <= 0 {
					switch {
					case s.CycleLeft <= 0:
						off(StepRestart, freight.CycleRestartOff, "34-hour restart", i)
					case s.DrivingLeft <= 0 || s.WindowLeft <= freight.BreakLength:
						// A break would leave no window to drive in.
						off(StepRest, freight.RestLength, "10-hour rest", i)
					default:
						off(StepBreak, freight.BreakLength, "30-minute break", i)
					}
					continue
				}
				if !begun {
					if hasLatest && now > latest {
						return plan, waited, late(i, sg)
					}
					p.begin = append(p.begin, origin.Add(now))
					begun = true
				}
				d := min(left, avail)
				if p.Record {
					p.step(StepDrive, sg.Label, origin, now, now+d, sg.Miles*float64(d)/float64(sg.Duration), i)
				}
				now += d
				s.WindowOpen = true
				s.DrivingLeft -= d
				s.WindowLeft -= d
				s.CycleLeft -= d
				s.UntilBreak -= d
				plan.Driving += d
				left -= d
			}
			if !begun {
				if hasLatest && now > latest {
					return plan, waited, late(i, sg)
				}
				p.begin = append(p.begin, origin.Add(now))
			}
		}
		p.finish = append(p.finish, origin.Add(now))
	}
	s.At = origin.Add(now)
	plan.End, plan.Final, plan.Margin = s.At, s, s.Drivable()
	plan.Begin, plan.Finish = p.begin, p.finish
	if p.Record {
		plan.Steps = p.steps
	}
	return plan, waited, nil
}

func (p *Planner) step(kind StepKind, label string, origin time.Time, fromOff, toOff time.Duration, miles float64, seg int) {
	if !p.Record {
		return
	}
	from, to := origin.Add(fromOff), origin.Add(toOff)
	// Consecutive driving of one segment between breaks is one step.
	if n := len(p.steps); n > 0 && kind == StepDrive {
		last := &p.steps[n-1]
		if last.Kind == StepDrive && last.Segment == seg && last.End.Equal(from) {
			last.End, last.Miles = to, last.Miles+miles
			return
		}
	}
	p.steps = append(p.steps, Step{Kind: kind, Label: label, Start: from, End: to, Miles: miles, Segment: seg})
}

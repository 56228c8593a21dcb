package simulate

import (
	"context"
	"time"
)

// Clock is the simulated clock. The world reads it to decide; the run loop
// advances it one step at a time, so a run's decisions depend on the step
// count and the platform's answers, never on how fast the machine is.
type Clock interface {
	Now() time.Time
}

// RealClock is the platform's clock (real time); tests replace it.
type RealClock func() time.Time

// SteppedClock runs simulated time in fixed steps at a multiple of real
// time. Step k is simulated time Start + k*Step and is due at real time
// Origin + k*Step/Speed; a step whose work takes longer than that makes the
// simulated clock slow down rather than skip, so a slow platform stretches
// the run instead of changing it.
//
// With FollowRealTime the simulated clock never runs ahead of real time:
// once it catches up (it starts Lag behind), it keeps pace with real time.
type SteppedClock struct {
	Start          time.Time     // simulated time of step 0
	Step           time.Duration // simulated time per step
	Speed          float64       // simulated seconds per real second
	FollowRealTime bool
	Real           RealClock

	origin time.Time // real time of step 0
	k      int64
}

// NewSteppedClock starts a clock lag behind real now.
func NewSteppedClock(real RealClock, lag, step time.Duration, speed float64, follow bool) *SteppedClock {
	now := real()
	return &SteppedClock{Start: now.Add(-lag).Truncate(time.Second), Step: step, Speed: speed,
		FollowRealTime: follow, Real: real, origin: now}
}

// Now is the simulated time of the current step.
func (c *SteppedClock) Now() time.Time { return c.Start.Add(time.Duration(c.k) * c.Step) }

// Steps is how many steps have passed.
func (c *SteppedClock) Steps() int64 { return c.k }

// Elapsed is the simulated time since the start.
func (c *SteppedClock) Elapsed() time.Duration { return time.Duration(c.k) * c.Step }

// Ahead is how far the simulated clock is ahead of real time (negative
// when behind).
func (c *SteppedClock) Ahead() time.Duration { return c.Now().Sub(c.Real()) }

// Advance moves to the next step, waiting until it is due in real time.
func (c *SteppedClock) Advance(ctx context.Context) error {
	c.k++
	due := c.origin.Add(time.Duration(float64(time.Duration(c.k)*c.Step) / c.Speed))
	if c.FollowRealTime {
		if sim := c.Now(); sim.After(due) {
			due = sim
		}
	}
	d := due.Sub(c.Real())
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

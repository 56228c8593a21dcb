// Package ratelimit limits how often each key (an API key, a tenant, a
// device) may act, with the generic cell rate algorithm (GCRA): a key holds
// one time, its theoretical arrival time (TAT), the moment its budget will be
// whole again. A request is allowed when the TAT lies no more than Burst
// emission intervals ahead of now, and moves the TAT one interval further.
// This is a token bucket kept in one number, with no refill bookkeeping.
//
// Local keeps the TATs in the process; Redis keeps them in Redis, so that
// every replica of a service draws on one budget per key.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidLimit is returned for a Limit that allows nothing or cannot be
// represented.
var ErrInvalidLimit = errors.New("invalid rate limit")

// Limit is a sustained rate with room for bursts.
type Limit struct {
	Rate  float64 // requests per second, sustained
	Burst int     // requests allowed at once after a quiet period; at least 1
}

// Decision is the outcome of one request.
type Decision struct {
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is how long to wait before a request can be allowed; zero
	// when this one was.
	RetryAfter time.Duration
	// ResetAfter is how long until the key's whole burst is available again.
	ResetAfter time.Duration
}

// maxWindow bounds Burst/Rate so that every time computed fits a
// time.Duration with room to spare.
const maxWindow = 100 * 365 * 24 * time.Hour

// interval returns the emission interval 1/Rate, at least one unit, and
// checks the limit.
func (l Limit) interval(unit time.Duration) (time.Duration, error) {
	switch {
	case math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate <= 0:
		return 0, fmt.Errorf("%w: rate %v per second, want a positive finite number", ErrInvalidLimit, l.Rate)
	case l.Burst < 1:
		return 0, fmt.Errorf("%w: burst %d, want at least 1", ErrInvalidLimit, l.Burst)
	case float64(l.Burst)/l.Rate > maxWindow.Seconds():
		return 0, fmt.Errorf("%w: burst %d at %v per second spans more than %v", ErrInvalidLimit, l.Burst, l.Rate, maxWindow)
	}
	iv := time.Duration(math.Round(float64(time.Second)/l.Rate/float64(unit))) * unit
	return max(iv, unit), nil
}

// gcra decides one request for a key whose TAT lies ahead of now by ahead
// (zero or less: the key is idle). It returns the decision and, when
// allowed, the new distance of the TAT from now.
func gcra(ahead, interval time.Duration, burst int) (Decision, time.Duration) {
	ahead = max(ahead, 0)
	next := ahead + interval
	// How far next stays within the burst window: negative means the
	// request comes too early, by that much.
	slack := time.Duration(burst)*interval - next
	if slack < 0 {
		return Decision{RetryAfter: -slack, ResetAfter: ahead}, 0
	}
	return Decision{Allowed: true, Remaining: int(slack / interval), ResetAfter: next}, next
}

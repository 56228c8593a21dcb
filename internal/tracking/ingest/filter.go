package ingest

import (
	"fmt"
	"math"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
)

// Limits are the filter's thresholds.
type Limits struct {
	MaxFuture    time.Duration // clock skew allowed ahead of the server
	MaxAge       time.Duration // oldest fix accepted
	MaxSpeedMph  float64       // faster movement between fixes is a jump
	MaxAccuracyM float64       // a worse reported accuracy is refused; 0 disables
}

// DefaultLimits suit trucks on US roads.
var DefaultLimits = Limits{MaxFuture: 5 * time.Minute, MaxAge: 7 * 24 * time.Hour, MaxSpeedMph: 110, MaxAccuracyM: 200}

// Check runs the checks that need no history: coordinates, time, accuracy
// and readings. It returns "" when p passes.
func (l Limits) Check(p Point, now time.Time) (Reason, string) {
	switch {
	case geo.Point{Lat: p.Lat, Lon: p.Lon}.Validate() != nil:
		return InvalidCoordinates, fmt.Sprintf("lat %v, lon %v is not a position on the globe", p.Lat, p.Lon)
	case p.Lat == 0 && p.Lon == 0:
		return InvalidCoordinates, "0,0 is what a receiver without a fix reports"
	case p.Time.IsZero():
		return Malformed, "time: required (RFC 3339)"
	case p.Time.After(now.Add(l.MaxFuture)):
		return Future, fmt.Sprintf("recorded %s ahead of the server's clock", p.Time.Sub(now).Round(time.Second))
	case p.Time.Before(now.Add(-l.MaxAge)):
		return TooOld, fmt.Sprintf("recorded more than %s ago", l.MaxAge)
	}
	if a := p.AccuracyM; a != nil {
		if *a < 0 {
			return InvalidReading, "accuracy_m: must not be negative"
		}
		if l.MaxAccuracyM > 0 && *a > l.MaxAccuracyM {
			return PoorAccuracy, fmt.Sprintf("accuracy %.0f m is worse than %.0f m", *a, l.MaxAccuracyM)
		}
	}
	if s := p.SpeedMph; s != nil && (*s < 0 || *s > 250) {
		return InvalidReading, "speed_mph: must be between 0 and 250"
	}
	if h := p.HeadingDeg; h != nil && (*h < 0 || *h >= 360) {
		return InvalidReading, "heading_deg: must be in [0, 360)"
	}
	return "", ""
}

// Fix is an accepted position: when and where.
type Fix struct {
	Time     time.Time
	Lat, Lon float64
}

func (f Fix) point() geo.Point { return geo.Point{Lat: f.Lat, Lon: f.Lon} }

// recent is how many accepted fixes a Track remembers to recognise resent
// ones: a device that retries a batch it never saw acknowledged resends
// its last few fixes (older ones are refused as out of order, and the
// store's key would not take them twice anyway). It is small because a
// replica keeps a Track for every driver it hears from.
const recent = 16

// jumpConfirm is how many consecutive rejected jumps that agree with each
// other make the filter believe them: after a tunnel, a ferry or a bad fix
// that was accepted, the truck really is somewhere else.
const jumpConfirm = 3

// Track is one driver's filter state: the last accepted fix and the recent
// ones. Its zero value knows nothing (every fix passes the history checks).
// A Track is not safe for concurrent use.
type Track struct {
	last   Fix
	ring   [recent]Fix
	n      int // fixes in ring
	head   int // next slot
	jumps  int // consecutive rejected jumps that agree
	jumped Fix // the last of them
}

// NewTrack starts a track from the driver's last stored fix.
func NewTrack(last Fix) *Track {
	t := &Track{}
	if !last.Time.IsZero() {
		t.remember(last)
	}
	return t
}

// Last returns the last accepted fix (zero when none).
func (t *Track) Last() Fix { return t.last }

func (t *Track) remember(f Fix) {
	t.last = f
	t.ring[t.head] = f
	t.head = (t.head + 1) % recent
	t.n = min(t.n+1, recent)
	t.jumps = 0
}

func (t *Track) seen(f Fix) bool {
	for i := 0; i < t.n; i++ {
		if r := t.ring[i]; r.Time.Equal(f.Time) && r.Lat == f.Lat && r.Lon == f.Lon {
			return true
		}
	}
	return false
}

// Accept runs the history checks on a point that passed Limits.Check and,
// when it passes, makes it the last fix. It returns "" when accepted.
func (t *Track) Accept(p Point, maxSpeedMph float64) (Reason, string) {
	f := Fix{Time: p.Time, Lat: p.Lat, Lon: p.Lon}
	if t.last.Time.IsZero() {
		t.remember(f)
		return "", ""
	}
	if t.seen(f) {
		return Duplicate, "this fix was already accepted"
	}
	if !f.Time.After(t.last.Time) {
		if f.Time.Equal(t.last.Time) {
			return Duplicate, "another fix was already accepted for this instant"
		}
		return OutOfOrder, fmt.Sprintf("recorded %s before the last accepted fix", t.last.Time.Sub(f.Time).Round(time.Millisecond))
	}
	if mph := speed(t.last, f); maxSpeedMph > 0 && mph > maxSpeedMph {
		// Believe a run of jumps that agree with each other.
		if t.jumps > 0 && speed(t.jumped, f) <= maxSpeedMph && f.Time.After(t.jumped.Time) {
			t.jumps++
		} else {
			t.jumps = 1
		}
		t.jumped = f
		if t.jumps >= jumpConfirm {
			t.remember(f)
			return "", ""
		}
		return ImpossibleJump, fmt.Sprintf("%.0f mph from the last fix, above %.0f mph", mph, maxSpeedMph)
	}
	t.remember(f)
	return "", ""
}

// speed is the great-circle speed in mph needed to go from a to b.
func speed(a, b Fix) float64 {
	h := b.Time.Sub(a.Time).Hours()
	miles := geo.GreatCircleMiles(a.point(), b.point())
	if h <= 0 {
		if miles == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return miles / h
}

package simulate

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Dispatch modes: how carriers choose loads.
const (
	DispatchPlatform = "platform" // the platform's recommendations for each driver
	DispatchGreedy   = "greedy"   // the nearest pickup on the load board
	DispatchBoth     = "both"     // the same world twice, once each way
)

// Config is one simulated world. Durations marked simulated are in the
// world's time; the others are real time.
type Config struct {
	Target       string   // the platform's base URL
	AllowTargets []string // non-loopback hosts (host or host:port) the run may talk to
	Seed         uint64
	Speed        float64       // simulated seconds per real second
	Duration     time.Duration // simulated; 0 runs until stopped
	Step         time.Duration // simulated time per step; default 1m
	Lag          time.Duration // how far behind real time the simulated clock starts; <0 chooses (see DefaultLag)
	// FollowRealTime keeps the simulated clock from running ahead of real
	// time: once caught up it runs at real speed (the demo does this).
	FollowRealTime bool
	Markets        int // use only the largest markets (0: all 60)
	Shippers       int
	Carriers       int
	Trucks         int
	LoadsPerDay    float64 // 0: 0.7 per truck
	Dispatch       string
	DispatchEvery  time.Duration // simulated: how often an idle truck looks for a load; default 30m
	PositionEvery  time.Duration // simulated: a phone's fix interval; default 60s
	UploadEvery    time.Duration // simulated: how often a phone uploads its fixes; default 10m
	MaxRequests    int64         // 0: unbounded
	MaxOutage      time.Duration // real: give up when every call failed this long; default 2m
	// Reposition sends trucks idle for 12 simulated hours empty to a bigger
	// market. The platform learns where trucks are only from live positions
	// (fixes within six hours of its clock), so in compressed time it does
	// not see the move and recommends from the last delivery: leave it off
	// when comparing dispatchers faster than real time.
	Reposition bool
	Tag        string // makes account e-mails unique; default random
}

// maxLag keeps every position the world reports younger than the
// platform's oldest accepted fix (seven days).
const maxLag = 6*24*time.Hour + 12*time.Hour

// Defaults fills unset values.
func (c *Config) Defaults() {
	if c.Step == 0 {
		c.Step = time.Minute
	}
	if c.Dispatch == "" {
		c.Dispatch = DispatchPlatform
	}
	if c.DispatchEvery == 0 {
		c.DispatchEvery = 30 * time.Minute
	}
	if c.PositionEvery == 0 {
		c.PositionEvery = time.Minute
	}
	if c.UploadEvery == 0 {
		c.UploadEvery = 10 * time.Minute
	}
	if c.MaxOutage == 0 {
		c.MaxOutage = 2 * time.Minute
	}
	if c.LoadsPerDay == 0 {
		c.LoadsPerDay = 0.7 * float64(c.Trucks)
	}
	if c.Lag < 0 {
		c.Lag = DefaultLag(c.Duration, c.Speed)
	}
}

// DefaultLag starts the simulated clock so that it reaches real time when
// the run ends: every position it reports is then in the platform's past
// (the platform refuses fixes from the future), capped so none is older
// than the platform accepts.
func DefaultLag(d time.Duration, speed float64) time.Duration {
	if d <= 0 || speed <= 1 {
		return 0
	}
	lag := time.Duration(float64(d) * (1 - 1/speed))
	return min(lag, maxLag).Truncate(time.Minute)
}

// FieldError names the setting that is wrong.
type FieldError struct {
	Field, Problem string
}

func (e *FieldError) Error() string { return "--" + e.Field + ": " + e.Problem }

// Validate reports every problem at once, each naming its flag.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if err := CheckTarget(c.Target, c.AllowTargets); err != nil {
		bad("target", "%v", err)
	}
	if !(c.Speed >= 1 && c.Speed <= 1e6) {
		bad("speed", "must be between 1 and 1000000 (simulated seconds per real second), got %g", c.Speed)
	}
	if c.Duration < 0 {
		bad("duration", "must not be negative")
	}
	if c.Step < time.Second || c.Step > time.Hour {
		bad("step", "must be between 1s and 1h, got %s", c.Step)
	}
	if c.Lag > maxLag {
		bad("lag", "at most %s: the platform refuses positions older than seven days", maxLag)
	}
	if c.Markets < 0 || c.Markets == 1 {
		bad("markets", "must be 0 (all) or at least 2, got %d", c.Markets)
	}
	if c.Shippers < 1 || c.Shippers > 500 {
		bad("shippers", "must be between 1 and 500, got %d", c.Shippers)
	}
	if c.Carriers < 1 || c.Carriers > 500 {
		bad("carriers", "must be between 1 and 500, got %d", c.Carriers)
	}
	if c.Trucks < c.Carriers || c.Trucks > 5000 {
		bad("trucks", "must be between --carriers (%d) and 5000, got %d", c.Carriers, c.Trucks)
	}
	if c.LoadsPerDay < 0 || c.LoadsPerDay > 100000 {
		bad("loads-per-day", "must be between 0 and 100000, got %g", c.LoadsPerDay)
	}
	switch c.Dispatch {
	case DispatchPlatform, DispatchGreedy, DispatchBoth:
	default:
		bad("dispatch", "must be platform, greedy or both, got %q", c.Dispatch)
	}
	if c.DispatchEvery < c.Step {
		bad("dispatch-every", "must be at least --step (%s)", c.Step)
	}
	if c.PositionEvery < time.Second {
		bad("position-every", "must be at least 1s, got %s", c.PositionEvery)
	}
	if c.UploadEvery < c.PositionEvery {
		bad("upload-every", "must be at least --position-every (%s)", c.PositionEvery)
	}
	if c.MaxRequests < 0 {
		bad("max-requests", "must not be negative")
	}
	if c.Duration == 0 && c.MaxRequests == 0 && !c.FollowRealTime {
		bad("duration", "give --duration or --max-requests so that the run ends by itself")
	}
	return errors.Join(errs...)
}

// CheckTarget allows only http(s) URLs of loopback hosts or of hosts
// explicitly allowed: the simulator generates real load and must never be
// pointed at someone else's platform by mistake.
func CheckTarget(target string, allow []string) error {
	if target == "" {
		return errors.New("required (e.g. http://127.0.0.1:8080)")
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("has no host")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return errors.New("must be a base URL with no path, query or credentials")
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	for _, a := range allow {
		if strings.EqualFold(a, host) || strings.EqualFold(a, u.Host) {
			return nil
		}
	}
	return fmt.Errorf("%s is not a loopback address; add --allow-target %s to load it on purpose", u.Host, host)
}

package autoscale

import (
	"fmt"
	"math"
	"time"
)

// Autoscaler is one HorizontalPodAutoscaler: a Spec plus the recommendation
// and scale-event history that stabilization and rate policies look back on.
// It is not safe for concurrent use.
type Autoscaler struct {
	spec     Spec
	up, down rules

	recommendations []recommendation
	upEvents        []scaleEvent
	downEvents      []scaleEvent
}

type recommendation struct {
	at       time.Time
	replicas int
}

type scaleEvent struct {
	at     time.Time
	change int // always positive; the direction is the slice it is in
}

// New returns an Autoscaler for a valid spec, with the Kubernetes defaults
// filled in wherever the behavior leaves a field unset.
func New(spec Spec) (*Autoscaler, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid autoscaler spec: %w", err)
	}
	var up, down *ScalingRules
	if spec.Behavior != nil {
		up, down = spec.Behavior.ScaleUp, spec.Behavior.ScaleDown
	}
	return &Autoscaler{
		spec: spec,
		up:   fillRules(up, DefaultScaleUp()),
		down: fillRules(down, DefaultScaleDown()),
	}, nil
}

// Spec returns the spec the autoscaler was built from.
func (a *Autoscaler) Spec() Spec { return a.spec }

// Step runs one reconciliation at now for a target with current replicas and
// returns the replica count the controller would set, with the reasons that
// decided it. now must not go backwards between calls. The caller is expected
// to apply the returned count: it is recorded as a scale event.
func (a *Autoscaler) Step(now time.Time, current int, readings []MetricReading) (desired int, reasons []string) {
	minR, maxR := a.spec.MinReplicas, a.spec.MaxReplicas
	switch {
	case current <= 0:
		// A target scaled to zero by hand switches the autoscaler off.
		return current, []string{"ScalingDisabled: scaling is disabled since the replica count of the target is zero"}
	case current > maxR:
		desired, reasons = maxR, []string{"TooManyReplicas: current number of replicas above maxReplicas"}
	case current < minR:
		desired, reasons = minR, []string{"TooFewReplicas: current number of replicas below minReplicas"}
	default:
		proposed, why, ok := a.computeReplicas(current, readings)
		reasons = why
		if !ok {
			return current, reasons
		}
		stabilized, held := a.stabilize(now, current, proposed)
		var limited string
		desired, limited = a.limitRate(now, current, stabilized)
		reasons = append(reasons, held, limited)
	}
	a.record(now, current, desired)
	return desired, reasons
}

// computeReplicas takes the largest proposal over all metrics. Like the
// controller it refuses to act when every metric failed, or when some failed
// and the rest would scale down, since the missing one might have said up.
func (a *Autoscaler) computeReplicas(current int, readings []MetricReading) (int, []string, bool) {
	var reasons []string
	replicas, invalid := 0, 0
	for _, m := range a.spec.Metrics {
		r, found := findReading(readings, m)
		if !found {
			invalid++
			reasons = append(reasons, fmt.Sprintf("FailedGetMetric: no reading for %s metric %s", m.Type, m.Name))
			continue
		}
		n, why, err := proposal(m, r, current)
		if err != nil {
			invalid++
			reasons = append(reasons, "FailedGetMetric: "+err.Error())
			continue
		}
		reasons = append(reasons, fmt.Sprintf("%s proposes %d replicas", why, n))
		if replicas == 0 || n > replicas {
			replicas = n
		}
	}
	if invalid >= len(a.spec.Metrics) || (invalid > 0 && replicas < current) {
		return current, append(reasons, "FailedComputeMetricsReplicas: keeping the current replica count"), false
	}
	return replicas, reasons, true
}

func findReading(readings []MetricReading, m MetricSpec) (MetricReading, bool) {
	for _, r := range readings {
		if r.Type == m.Type && r.Name == m.Name {
			return r, true
		}
	}
	return MetricReading{}, false
}

// stabilize bounds the proposal by the recommendations within each window:
// scaling up goes no higher than the lowest recent recommendation, scaling
// down no lower than the highest, so a brief spike or dip does not move the
// target. It records the unstabilized proposal.
func (a *Autoscaler) stabilize(now time.Time, current, proposed int) (int, string) {
	upCutoff := now.Add(-time.Duration(a.up.window) * time.Second)
	downCutoff := now.Add(-time.Duration(a.down.window) * time.Second)
	upRec, downRec := proposed, proposed
	kept := a.recommendations[:0]
	for _, r := range a.recommendations {
		if r.at.After(upCutoff) {
			upRec = min(upRec, r.replicas)
		}
		if r.at.After(downCutoff) {
			downRec = max(downRec, r.replicas)
		}
		// Older than both windows: never consulted again.
		if r.at.Before(upCutoff) && r.at.Before(downCutoff) {
			continue
		}
		kept = append(kept, r)
	}
	a.recommendations = append(kept, recommendation{at: now, replicas: proposed})

	rec := current
	rec = max(rec, upRec)
	rec = min(rec, downRec)
	switch {
	case rec == proposed:
		return rec, "ScaleAllowed: the recommendation is not held back by a stabilization window"
	case proposed > current:
		return rec, fmt.Sprintf("ScaleUpStabilized: recent recommendations were lower, using %d", rec)
	default:
		return rec, fmt.Sprintf("ScaleDownStabilized: recent recommendations were higher, using %d", rec)
	}
}

// limitRate applies the scaling policies and min/max to the stabilized count.
func (a *Autoscaler) limitRate(now time.Time, current, desired int) (int, string) {
	switch {
	case desired > current:
		limit := max(a.scaleUpLimit(now, current), current)
		if maxR := a.spec.MaxReplicas; maxR <= limit {
			if desired > maxR {
				return maxR, "TooManyReplicas: the desired replica count is more than maxReplicas"
			}
		} else if desired > limit {
			return limit, "ScaleUpLimit: the desired replica count is increasing faster than the maximum scale rate"
		}
	case desired < current:
		limit := min(a.scaleDownLimit(now, current), current)
		if minR := a.spec.MinReplicas; minR >= limit {
			if desired < minR {
				return minR, "TooFewReplicas: the desired replica count is less than minReplicas"
			}
		} else if desired < limit {
			return limit, "ScaleDownLimit: the desired replica count is decreasing faster than the maximum scale rate"
		}
	}
	return desired, "DesiredWithinRange: the desired count is within the acceptable range"
}

// scaleUpLimit is the highest count the scale-up policies allow. Each policy
// measures from the count at the start of its period, reconstructed from the
// scale events within it.
func (a *Autoscaler) scaleUpLimit(now time.Time, current int) int {
	if a.up.sel == SelectDisabled {
		return current
	}
	result := math.MinInt
	pick := func(x, y int) int { return max(x, y) }
	if a.up.sel == SelectMin {
		result = math.MaxInt
		pick = func(x, y int) int { return min(x, y) }
	}
	for _, p := range a.up.policies {
		start := current - changeWithin(now, p.PeriodSeconds, a.upEvents) + changeWithin(now, p.PeriodSeconds, a.downEvents)
		var proposed int
		if p.Type == PodsPolicy {
			proposed = start + p.Value
		} else {
			// Rounded up so that a small percentage still adds a pod.
			proposed = int(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// scaleDownLimit is the lowest count the scale-down policies allow.
func (a *Autoscaler) scaleDownLimit(now time.Time, current int) int {
	if a.down.sel == SelectDisabled {
		return current
	}
	// The smallest change downwards is the largest remaining count.
	result := math.MaxInt
	pick := func(x, y int) int { return min(x, y) }
	if a.down.sel == SelectMin {
		result = math.MinInt
		pick = func(x, y int) int { return max(x, y) }
	}
	for _, p := range a.down.policies {
		start := current - changeWithin(now, p.PeriodSeconds, a.upEvents) + changeWithin(now, p.PeriodSeconds, a.downEvents)
		var proposed int
		if p.Type == PodsPolicy {
			proposed = start - p.Value
		} else {
			// Truncated, as upstream converts the float back to int32.
			proposed = int(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

func changeWithin(now time.Time, periodSeconds int, events []scaleEvent) int {
	cutoff := now.Add(-time.Duration(periodSeconds) * time.Second)
	total := 0
	for _, e := range events {
		if e.at.After(cutoff) {
			total += e.change
		}
	}
	return total
}

// record stores a scale event and forgets events no policy can still see.
func (a *Autoscaler) record(now time.Time, current, desired int) {
	if desired > current {
		a.upEvents = append(a.upEvents, scaleEvent{at: now, change: desired - current})
	} else if desired < current {
		a.downEvents = append(a.downEvents, scaleEvent{at: now, change: current - desired})
	}
	longest := max(a.up.longestPeriod(), a.down.longestPeriod())
	cutoff := now.Add(-time.Duration(longest) * time.Second)
	a.upEvents = dropBefore(a.upEvents, cutoff)
	a.downEvents = dropBefore(a.downEvents, cutoff)
}

func dropBefore(events []scaleEvent, cutoff time.Time) []scaleEvent {
	kept := events[:0]
	for _, e := range events {
		if e.at.After(cutoff) {
			kept = append(kept, e)
		}
	}
	return kept
}

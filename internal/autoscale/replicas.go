package autoscale

import (
	"errors"
	"fmt"
	"math"
)

// PodSample is one pod's measurement of a Resource or Pods metric.
type PodSample struct {
	Value   float64 // usage: cores for cpu, bytes for memory, or the custom metric's value
	Request float64 // the pod's resource request, needed for Utilization targets
	Missing bool    // the metrics pipeline returned nothing for this pod
	Unready bool    // pending, or not ready yet (for cpu: still initialising)
}

// MetricReading is what the metrics pipeline returned for one MetricSpec,
// matched to it by Type and Name.
type MetricReading struct {
	Type MetricSourceType
	Name string
	// Pods holds one sample per pod of the target, for Resource and Pods
	// metrics. Pods that failed or are being deleted are left out, as the
	// controller ignores them. For Object and External metrics with a Value
	// target it may list the pods to say which are ready; when empty every
	// current replica counts as ready.
	Pods []PodSample
	// Value is the Object metric's value or the sum of the External metric's
	// series.
	Value float64
}

// maxQuantity bounds readings so that sums of milli-values cannot overflow.
const maxQuantity = 1e12

func inRange(v float64) bool { return v >= 0 && v <= maxQuantity }

// check rejects readings no metrics pipeline would produce, such as NaN or
// negative usage, so that they fail like an unavailable metric.
func (r MetricReading) check() error {
	if !inRange(r.Value) {
		return fmt.Errorf("value %v out of range", r.Value)
	}
	for _, p := range r.Pods {
		if !inRange(p.Value) || !inRange(p.Request) {
			return fmt.Errorf("pod value %v or request %v out of range", p.Value, p.Request)
		}
	}
	return nil
}

// milli converts a quantity to integer thousandths, as the controller
// compares resource.Quantity milli-values; it keeps our ratios and
// truncations identical to upstream.
func milli(v float64) int64 { return int64(math.Round(v * 1000)) }

func withinTolerance(ratio float64) bool { return math.Abs(1.0-ratio) <= Tolerance }

// proposal returns the replica count one metric asks for, following
// replica_calculator.go of the Kubernetes controller.
func proposal(m MetricSpec, r MetricReading, current int) (int, string, error) {
	if err := r.check(); err != nil {
		return 0, "", fmt.Errorf("metric %s: %w", m.Name, err)
	}
	switch m.Type {
	case ResourceMetric, PodsMetric:
		if m.Target.Type == UtilizationTarget {
			return utilizationReplicas(m, r.Pods, current)
		}
		return averageReplicas(m, r.Pods, current)
	case ObjectMetric, ExternalMetric:
		usage := milli(r.Value)
		if m.Target.Type == AverageValueTarget {
			target := milli(m.Target.AverageValue)
			n := current
			ratio := float64(usage) / (float64(target) * float64(n))
			if !withinTolerance(ratio) {
				n = int(math.Ceil(float64(usage) / float64(target)))
			}
			return n, fmt.Sprintf("%s: value %g for %d pods, target average %g", m.Name, r.Value, current, m.Target.AverageValue), nil
		}
		ratio := float64(usage) / float64(milli(m.Target.Value))
		why := fmt.Sprintf("%s: value %g, target %g", m.Name, r.Value, m.Target.Value)
		if current == 0 {
			return int(math.Ceil(ratio)), why, nil
		}
		if withinTolerance(ratio) {
			return current, why, nil
		}
		return int(math.Ceil(ratio * float64(readyCount(r.Pods, current)))), why, nil
	}
	return 0, "", fmt.Errorf("metric %s: unknown type %q", m.Name, m.Type)
}

func readyCount(pods []PodSample, current int) int {
	if len(pods) == 0 {
		return current
	}
	n := 0
	for _, p := range pods {
		if !p.Unready {
			n++
		}
	}
	return n
}

// sample is one pod's usage and request in thousandths.
type sample struct{ usage, request int64 }

// group splits pods as the controller's groupPods does: unready first, then
// missing, the rest ready with a metric.
func group(pods []PodSample) (ready, unready, missing []PodSample) {
	for _, p := range pods {
		switch {
		case p.Unready:
			unready = append(unready, p)
		case p.Missing:
			missing = append(missing, p)
		default:
			ready = append(ready, p)
		}
	}
	return ready, unready, missing
}

var errNoReadyMetrics = errors.New("no metrics for ready pods")

// utilizationReplicas handles Resource metrics with a Utilization target.
func utilizationReplicas(m MetricSpec, pods []PodSample, current int) (int, string, error) {
	ready, unready, missing := group(pods)
	if len(ready) == 0 {
		return 0, "", fmt.Errorf("metric %s: %w", m.Name, errNoReadyMetrics)
	}
	for _, p := range pods {
		if !(p.Request > 0) {
			return 0, "", fmt.Errorf("metric %s: missing request for a pod", m.Name)
		}
	}
	target := int64(m.Target.AverageUtilization)
	var samples []sample
	for _, p := range ready {
		samples = append(samples, sample{milli(p.Value), milli(p.Request)})
	}
	util := utilization(samples)
	ratio := float64(util) / float64(target)
	why := fmt.Sprintf("%s: utilization %d%% of requests, target %d%%", m.Name, util, target)

	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if withinTolerance(ratio) {
			return current, why, nil
		}
		return int(math.Ceil(ratio * float64(len(ready)))), why, nil
	}
	// Assume the worst case for the pods we know nothing about: idle when
	// scaling up, fully busy when scaling down, so they damp the move.
	for _, p := range missing {
		req := milli(p.Request)
		switch {
		case ratio < 1.0:
			samples = append(samples, sample{max(100, target) * req / 100, req})
		case ratio > 1.0:
			samples = append(samples, sample{0, req})
		}
	}
	if scaleUpWithUnready {
		for _, p := range unready {
			samples = append(samples, sample{0, milli(p.Request)})
		}
	}
	newRatio := float64(utilization(samples)) / float64(target)
	return damped(ratio, newRatio, len(samples), current), why, nil
}

// utilization is the pods' total usage as a whole percentage of their total
// requests, truncated as upstream does.
func utilization(samples []sample) int64 {
	var usage, requests int64
	for _, s := range samples {
		usage += s.usage
		requests += s.request
	}
	if requests == 0 {
		return 0
	}
	return usage * 100 / requests
}

// averageReplicas handles Pods metrics and Resource metrics with an
// AverageValue target.
func averageReplicas(m MetricSpec, pods []PodSample, current int) (int, string, error) {
	ready, unready, missing := group(pods)
	if len(ready) == 0 {
		return 0, "", fmt.Errorf("metric %s: %w", m.Name, errNoReadyMetrics)
	}
	target := milli(m.Target.AverageValue)
	var values []int64
	for _, p := range ready {
		values = append(values, milli(p.Value))
	}
	avg := average(values)
	ratio := float64(avg) / float64(target)
	why := fmt.Sprintf("%s: average %g per pod, target %g", m.Name, float64(avg)/1000, m.Target.AverageValue)

	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if withinTolerance(ratio) {
			return current, why, nil
		}
		return int(math.Ceil(ratio * float64(len(ready)))), why, nil
	}
	for range missing {
		// Unlike utilization, upstream counts missing pods as idle when the
		// ready pods sit exactly on target.
		if ratio < 1.0 {
			values = append(values, target)
		} else {
			values = append(values, 0)
		}
	}
	if scaleUpWithUnready {
		for range unready {
			values = append(values, 0)
		}
	}
	newRatio := float64(average(values)) / float64(target)
	return damped(ratio, newRatio, len(values), current), why, nil
}

// average truncates like the controller's integer division of milli-values.
func average(values []int64) int64 {
	var sum int64
	for _, v := range values {
		sum += v
	}
	return sum / int64(len(values))
}

// damped finishes a calculation that filled in missing or unready pods: it
// keeps the current count when the fill-in brings the ratio within tolerance
// or would reverse the direction of scaling.
func damped(ratio, newRatio float64, pods, current int) int {
	if withinTolerance(newRatio) || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return current
	}
	n := int(math.Ceil(newRatio * float64(pods)))
	if (newRatio < 1.0 && n > current) || (newRatio > 1.0 && n < current) {
		return current
	}
	return n
}

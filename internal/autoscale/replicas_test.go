package autoscale

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// pods returns n ready pods each reporting v against a request of req.
func pods(n int, v, req float64) []PodSample {
	out := make([]PodSample, n)
	for i := range out {
		out[i] = PodSample{Value: v, Request: req}
	}
	return out
}

func cpuReading(p ...[]PodSample) MetricReading {
	r := MetricReading{Type: ResourceMetric, Name: "cpu"}
	for _, ps := range p {
		r.Pods = append(r.Pods, ps...)
	}
	return r
}

func podsReading(name string, p ...[]PodSample) MetricReading {
	r := MetricReading{Type: PodsMetric, Name: name}
	for _, ps := range p {
		r.Pods = append(r.Pods, ps...)
	}
	return r
}

func TestProposal(t *testing.T) {
	rps := podsAverage("rps", 0.1) // 100m, as in the documentation's example
	missing := PodSample{Missing: true, Request: 1}
	unready := PodSample{Unready: true, Request: 1}
	tests := []struct {
		name    string
		metric  MetricSpec
		reading MetricReading
		current int
		want    int
	}{
		// Kubernetes documentation, algorithm details.
		{"200m of 100m doubles", rps, podsReading("rps", pods(3, 0.2, 0)), 3, 6},
		{"50m of 100m halves", rps, podsReading("rps", pods(4, 0.05, 0)), 4, 2},
		{"ratio 1.09 within tolerance", rps, podsReading("rps", pods(4, 0.109, 0)), 4, 4},
		{"ratio 0.91 within tolerance", rps, podsReading("rps", pods(4, 0.091, 0)), 4, 4},
		{"ratio 1.15 outside tolerance", rps, podsReading("rps", pods(4, 0.115, 0)), 4, 5},
		{"ratio 0.85 outside tolerance", rps, podsReading("rps", pods(10, 0.085, 0)), 10, 9},
		// Resource utilization: usage over requests, truncated to whole percent.
		{"cpu 140% of 70% doubles", cpu(70), cpuReading(pods(3, 0.7, 0.5)), 3, 6},
		// Summed usage over summed requests (83%), not the mean of per-pod utilization (70%).
		{"cpu sums usage over summed requests", cpu(50), cpuReading(pods(1, 0.9, 1), pods(1, 0.1, 0.2)), 2, 4},
		{"cpu 35% of 70% halves", cpu(70), cpuReading(pods(4, 0.35, 1)), 4, 2},
		{"cpu raw average value", MetricSpec{Type: ResourceMetric, Name: "cpu", Target: MetricTarget{Type: AverageValueTarget, AverageValue: 0.5}},
			cpuReading(pods(4, 1, 1)), 4, 8},
		// Missing metrics: assumed at 100% when scaling down, 0% when scaling up.
		{"missing pod damps scale-down", cpu(50), cpuReading(pods(3, 0.1, 1), []PodSample{missing}), 4, 3},
		{"missing pod damps scale-up to no change", cpu(50), cpuReading(pods(2, 0.55, 1), []PodSample{missing, missing}), 4, 4},
		{"missing pod would reverse direction", cpu(50), cpuReading(pods(3, 0.4, 1), []PodSample{missing}), 4, 4},
		{"missing pods metric assumed at target", rps, podsReading("rps", pods(3, 0.01, 0), []PodSample{missing}), 4, 2},
		{"missing pods idle when ready pods are on target", rps, podsReading("rps", pods(1, 0.1, 0), []PodSample{missing, missing, missing}), 4, 1},
		{"missing pod scaling up", rps, podsReading("rps", pods(3, 0.4, 0), []PodSample{missing}), 4, 12},
		// Unready pods count as idle when scaling up.
		{"unready pod holds scale-up", cpu(50), cpuReading(pods(3, 0.7, 1), []PodSample{unready}), 4, 4},
		{"unready pod scale-up", cpu(50), cpuReading(pods(3, 1.5, 1), []PodSample{unready}), 4, 9},
		{"unready pod ignored scaling down", cpu(50), cpuReading(pods(2, 0.1, 1), []PodSample{unready, unready}), 4, 1},
		// Object and External metrics.
		{"object value", MetricSpec{Type: ObjectMetric, Name: "ingress_rps", Target: MetricTarget{Type: ValueTarget, Value: 10}},
			MetricReading{Type: ObjectMetric, Name: "ingress_rps", Value: 20}, 3, 6},
		{"object value counts ready pods", MetricSpec{Type: ObjectMetric, Name: "ingress_rps", Target: MetricTarget{Type: ValueTarget, Value: 10}},
			MetricReading{Type: ObjectMetric, Name: "ingress_rps", Value: 20, Pods: append(pods(2, 0, 0), unready)}, 3, 4},
		{"object value within tolerance", MetricSpec{Type: ObjectMetric, Name: "ingress_rps", Target: MetricTarget{Type: ValueTarget, Value: 10}},
			MetricReading{Type: ObjectMetric, Name: "ingress_rps", Value: 10.5}, 3, 3},
		{"external average value", MetricSpec{Type: ExternalMetric, Name: "lag", Target: MetricTarget{Type: AverageValueTarget, AverageValue: 150}},
			MetricReading{Type: ExternalMetric, Name: "lag", Value: 1000}, 5, 7},
		{"external average value within tolerance", MetricSpec{Type: ExternalMetric, Name: "lag", Target: MetricTarget{Type: AverageValueTarget, AverageValue: 200}},
			MetricReading{Type: ExternalMetric, Name: "lag", Value: 1050}, 5, 5},
		{"external value scales down", MetricSpec{Type: ExternalMetric, Name: "lag", Target: MetricTarget{Type: ValueTarget, Value: 100}},
			MetricReading{Type: ExternalMetric, Name: "lag", Value: 25}, 8, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := proposal(tt.metric, tt.reading, tt.current)
			if err != nil {
				t.Fatalf("proposal: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %d replicas, want %d", got, tt.want)
			}
		})
	}
}

func TestProposalErrors(t *testing.T) {
	tests := []struct {
		name    string
		metric  MetricSpec
		reading MetricReading
	}{
		{"no ready pods", cpu(50), cpuReading([]PodSample{{Unready: true, Request: 1}, {Missing: true, Request: 1}})},
		{"no pods", podsAverage("rps", 1), podsReading("rps")},
		{"missing request", cpu(50), cpuReading(pods(2, 0.5, 1), pods(1, 0.5, 0))},
		{"negative usage", cpu(50), cpuReading(pods(2, -0.5, 1))},
		{"NaN value", MetricSpec{Type: ExternalMetric, Name: "lag", Target: MetricTarget{Type: ValueTarget, Value: 1}},
			MetricReading{Type: ExternalMetric, Name: "lag", Value: math.NaN()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _, err := proposal(tt.metric, tt.reading, 3); err == nil {
				t.Errorf("got %d replicas and no error, want an error", got)
			}
		})
	}
}

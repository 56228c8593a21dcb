package autoscale

import (
	"math"
	"testing"
)

// FuzzStep feeds arbitrary readings, including NaN, infinities and negative
// values, and checks the answer always stays within [min, max].
func FuzzStep(f *testing.F) {
	f.Add(3, 0.5, 1.0, 900.0, 10.0, false, false)
	f.Add(1, math.NaN(), 0.0, math.Inf(1), -3.0, true, true)
	f.Add(20, 1e300, 1e-300, 0.0, 0.0, false, true)
	spec := Spec{MinReplicas: 2, MaxReplicas: 12, Metrics: []MetricSpec{
		cpu(70),
		podsAverage("queue_depth", 100),
		{Type: ExternalMetric, Name: "lag", Target: MetricTarget{Type: AverageValueTarget, AverageValue: 50}},
	}}
	f.Fuzz(func(t *testing.T, current int, usage, request, lag, depth float64, missing, unready bool) {
		current = max(0, min(current, 100))
		a, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			p := make([]PodSample, current)
			for j := range p {
				p[j] = PodSample{Value: usage, Request: request, Missing: missing && j == 0, Unready: unready && j == 1}
			}
			q := make([]PodSample, current)
			for j := range q {
				q[j] = PodSample{Value: depth * float64(j+i)}
			}
			readings := []MetricReading{
				{Type: ResourceMetric, Name: "cpu", Pods: p},
				{Type: PodsMetric, Name: "queue_depth", Pods: q},
				{Type: ExternalMetric, Name: "lag", Value: lag * float64(i)},
			}
			got, reasons := a.Step(at(30*i), current, readings)
			if current == 0 {
				if got != 0 {
					t.Fatalf("got %d from 0 replicas, want 0", got)
				}
				return
			}
			if got < spec.MinReplicas || got > spec.MaxReplicas {
				t.Fatalf("got %d replicas, want within [%d,%d] (%v)", got, spec.MinReplicas, spec.MaxReplicas, reasons)
			}
			current = got
		}
	})
}

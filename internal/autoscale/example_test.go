package autoscale_test

import (
	"fmt"
	"time"

	"github.com/backhaul/backhaul/internal/autoscale"
)

// A scaling simulator reconciles every 15 s with its own clock and applies
// each answer before the next step.
func ExampleAutoscaler_Step() {
	a, err := autoscale.New(autoscale.Spec{
		MinReplicas: 2,
		MaxReplicas: 10,
		Metrics: []autoscale.MetricSpec{{
			Type: autoscale.PodsMetric, Name: "queue_depth",
			Target: autoscale.MetricTarget{Type: autoscale.AverageValueTarget, AverageValue: 100},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	replicas, backlog := 2, 900.0
	for i := range 3 {
		reading := autoscale.MetricReading{Type: autoscale.PodsMetric, Name: "queue_depth"}
		for range replicas {
			reading.Pods = append(reading.Pods, autoscale.PodSample{Value: backlog / float64(replicas)})
		}
		replicas, _ = a.Step(start.Add(time.Duration(15*i)*time.Second), replicas, []autoscale.MetricReading{reading})
		fmt.Println(replicas)
	}
	// Output:
	// 6
	// 9
	// 9
}

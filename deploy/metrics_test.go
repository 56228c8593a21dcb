package deploy

import (
	"context"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/autoscale"
)

// TestCustomMetricsAreExported starts each scaled target alone, as its
// Deployment runs it, and checks that the series behind every custom metric
// its HPA reads (through the adapter rule that serves it) is on its /metrics.
func TestCustomMetricsAreExported(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per target")
	}
	rules := adapterRules(t)
	for _, g := range autoscale.GuideSpecs() {
		t.Run(g.Service, func(t *testing.T) {
			p := startServe(t, g.Service, nil, "--target="+g.Service)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			names, err := metricNames(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range g.Spec.Metrics {
				if m.Type != autoscale.PodsMetric {
					continue
				}
				series := ruleFor(t, rules, m.Name).series()
				if !names[series] {
					t.Errorf("%s does not export %s, which its HPA metric %s reads", g.Service, series, m.Name)
				}
			}
		})
	}
}

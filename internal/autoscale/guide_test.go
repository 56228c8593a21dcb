package autoscale

import (
	"slices"
	"testing"
)

// TestGuideSpecs checks every row of the scaling guide's section 2.2 table,
// with the windows of sections 2.1, 2.3 and 6.3.
func TestGuideSpecs(t *testing.T) {
	type policies struct {
		pods, percent, period int
		window                int
		sel                   SelectPolicy
	}
	standardUp := policies{2, 50, 60, 60, SelectMax}
	standardDown := policies{1, 10, 120, 300, SelectMin}
	tests := []struct {
		service, hpa     string
		minR, maxR       int
		cpu              int
		secondary        string
		secondaryTarget  float64
		scaleUp, scaleDn policies
	}{
		{"api-gateway", "api-gateway", 3, 20, 70, "http_requests_per_second", 1000, standardUp, standardDown},
		{"load-matching", "load-matching-service", 2, 15, 70, "queue_depth", 100, standardUp, standardDown},
		{"driver-service", "driver-service", 3, 12, 70, "active_sessions", 500, standardUp, standardDown},
		{"load-service", "load-service", 3, 8, 70, "transactions_per_second", 200, standardUp, standardDown},
		{"tracking-service", "tracking-service", 3, 20, 70, "position_updates_per_second", 5000, standardUp, standardDown},
		{"optimization-engine", "optimization-engine", 2, 10, 75, "job_queue_length", 5,
			policies{1, 30, 60, 120, SelectMax}, policies{1, 10, 180, 300, SelectMin}},
		{"notification-service", "notification-service", 2, 8, 70, "pending_notifications", 100, standardUp, standardDown},
	}
	got := GuideSpecs()
	if len(got) != len(tests) {
		t.Fatalf("got %d specs, want %d", len(got), len(tests))
	}
	check := func(t *testing.T, dir string, r *ScalingRules, w policies) {
		t.Helper()
		wantRules := ScalingRules{
			StabilizationWindowSeconds: new(w.window),
			SelectPolicy:               w.sel,
			Policies: []ScalingPolicy{
				{Type: PodsPolicy, Value: w.pods, PeriodSeconds: w.period},
				{Type: PercentPolicy, Value: w.percent, PeriodSeconds: w.period},
			},
		}
		if r == nil || r.StabilizationWindowSeconds == nil || *r.StabilizationWindowSeconds != w.window ||
			r.SelectPolicy != w.sel || !slices.Equal(r.Policies, wantRules.Policies) {
			t.Errorf("%s: got %+v, want %+v", dir, r, wantRules)
		}
	}
	for i, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			g := got[i]
			if g.Service != tt.service || g.HPAName != tt.hpa {
				t.Fatalf("got service %q (HPA %q), want %q (HPA %q)", g.Service, g.HPAName, tt.service, tt.hpa)
			}
			s := g.Spec
			if err := s.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if s.MinReplicas != tt.minR || s.MaxReplicas != tt.maxR {
				t.Errorf("got replicas %d..%d, want %d..%d", s.MinReplicas, s.MaxReplicas, tt.minR, tt.maxR)
			}
			wantMetrics := []MetricSpec{
				{Type: ResourceMetric, Name: "cpu", Target: MetricTarget{Type: UtilizationTarget, AverageUtilization: tt.cpu}},
				{Type: PodsMetric, Name: tt.secondary, Target: MetricTarget{Type: AverageValueTarget, AverageValue: tt.secondaryTarget}},
			}
			if !slices.Equal(s.Metrics, wantMetrics) {
				t.Errorf("got metrics %+v, want %+v", s.Metrics, wantMetrics)
			}
			if s.Behavior == nil {
				t.Fatal("got no behavior, want the guide's")
			}
			check(t, "scaleUp", s.Behavior.ScaleUp, tt.scaleUp)
			check(t, "scaleDown", s.Behavior.ScaleDown, tt.scaleDn)
		})
	}
}

// TestGuideSpecsScaleAsDescribed follows the API gateway through a spike and
// its end: up by 2 pods or 50% a minute after a 60 s window, down by one pod
// every two minutes after 300 s.
func TestGuideSpecsScaleAsDescribed(t *testing.T) {
	a := mustNew(t, GuideSpecs()[0].Spec)
	busy := func(n int) []MetricReading {
		return []MetricReading{cpuReading(pods(n, 0.98, 0.5)), podsReading("http_requests_per_second", pods(n, 500, 0))}
	}
	idle := func(n int) []MetricReading {
		return []MetricReading{cpuReading(pods(n, 0.05, 0.5)), podsReading("http_requests_per_second", pods(n, 50, 0))}
	}
	current := 4
	var got []int
	for sec := 0; sec <= 240; sec += 15 {
		current, _ = a.Step(at(sec), current, busy(current))
		got = append(got, current)
	}
	// 196% of 70% asks for 2.8x; each minute adds the larger of 2 pods and
	// 50%, counted from the replicas at the start of the minute, up to max.
	wantUp := []int{6, 6, 6, 6, 9, 9, 9, 9, 14, 14, 14, 14, 20, 20, 20, 20, 20}
	if !slices.Equal(got, wantUp) {
		t.Fatalf("scale-up: got %v, want %v", got, wantUp)
	}
	got = nil
	for sec := 300; sec <= 1200; sec += 60 {
		current, _ = a.Step(at(sec), current, idle(current))
		got = append(got, current)
	}
	// Nothing for 300 s after the last busy ask (240 s), then one pod (the
	// smaller of 1 pod and 10%) per 120 s.
	wantDown := []int{20, 20, 20, 20, 19, 19, 18, 18, 17, 17, 16, 16, 15, 15, 14, 14}
	if !slices.Equal(got, wantDown) {
		t.Errorf("scale-down: got %v, want %v", got, wantDown)
	}
}

package autoscale

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// want returns a reading that asks for exactly n replicas (unless n is
// within the tolerance of current): an External metric with an average
// target of 1 proposes ceil(value).
func want(n int) []MetricReading {
	return []MetricReading{{Type: ExternalMetric, Name: "load", Value: float64(n)}}
}

func loadSpec(minR, maxR int, b *Behavior) Spec {
	return Spec{MinReplicas: minR, MaxReplicas: maxR, Behavior: b, Metrics: []MetricSpec{
		{Type: ExternalMetric, Name: "load", Target: MetricTarget{Type: AverageValueTarget, AverageValue: 1}},
	}}
}

func mustNew(t *testing.T, s Spec) *Autoscaler {
	t.Helper()
	a, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

type step struct {
	sec  int // seconds after t0
	want int // replicas the metrics ask for
	got  int // replicas Step must return
}

// run feeds the steps in order, applying each answer as the new count.
func run(t *testing.T, a *Autoscaler, current int, steps []step) {
	t.Helper()
	for _, s := range steps {
		got, reasons := a.Step(at(s.sec), current, want(s.want))
		if got != s.got {
			t.Fatalf("at %ds from %d asking %d: got %d, want %d (%s)", s.sec, current, s.want, got, s.got, strings.Join(reasons, "; "))
		}
		current = got
	}
}

func TestStepDocumentationExamples(t *testing.T) {
	t.Run("default scale-up of 4 pods or 100% per 15s", func(t *testing.T) {
		a := mustNew(t, loadSpec(1, 100, nil))
		run(t, a, 1, []step{{0, 40, 5}, {15, 40, 10}, {30, 40, 20}, {45, 40, 40}})
	})
	t.Run("default scale-up counts additions within the period", func(t *testing.T) {
		a := mustNew(t, loadSpec(1, 100, nil))
		run(t, a, 2, []step{{0, 40, 6}, {5, 40, 6}, {15, 40, 12}})
	})
	t.Run("default scale-down stabilization of 300s", func(t *testing.T) {
		a := mustNew(t, loadSpec(1, 100, nil))
		run(t, a, 10, []step{
			{0, 10, 10}, {60, 4, 10}, {120, 6, 10}, {180, 4, 10}, {240, 4, 10},
			{300, 4, 6}, // the 10 at 0s has left the window; 6 at 120s is the highest left
			{420, 4, 4},
		})
	})
	t.Run("scale-down 10% per minute", func(t *testing.T) {
		b := &Behavior{ScaleDown: &ScalingRules{
			StabilizationWindowSeconds: new(0),
			Policies:                   []ScalingPolicy{{Type: PercentPolicy, Value: 10, PeriodSeconds: 60}},
		}}
		a := mustNew(t, loadSpec(1, 100, b))
		run(t, a, 50, []step{{0, 10, 45}, {30, 10, 45}, {60, 10, 40}, {120, 10, 36}})
	})
	t.Run("scale-down 4 pods or 10% per minute", func(t *testing.T) {
		// The documentation's 80 replicas going to 10: 10% (8) while above 40, then 4 pods.
		b := &Behavior{ScaleDown: &ScalingRules{
			StabilizationWindowSeconds: new(0),
			Policies: []ScalingPolicy{
				{Type: PodsPolicy, Value: 4, PeriodSeconds: 60},
				{Type: PercentPolicy, Value: 10, PeriodSeconds: 60},
			},
		}}
		a := mustNew(t, loadSpec(1, 100, b))
		current := 80
		var got []int
		for i := range 16 {
			current, _ = a.Step(at(60*i), current, want(10))
			got = append(got, current)
		}
		wantSeq := []int{72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10, 10, 10}
		if !slices.Equal(got, wantSeq) {
			t.Errorf("got %v, want %v", got, wantSeq)
		}
	})
	t.Run("scale-down 10% but at most 5 pods with selectPolicy Min", func(t *testing.T) {
		b := &Behavior{ScaleDown: &ScalingRules{
			StabilizationWindowSeconds: new(0),
			SelectPolicy:               SelectMin,
			Policies: []ScalingPolicy{
				{Type: PercentPolicy, Value: 10, PeriodSeconds: 60},
				{Type: PodsPolicy, Value: 5, PeriodSeconds: 60},
			},
		}}
		a := mustNew(t, loadSpec(1, 200, b))
		run(t, a, 100, []step{{0, 10, 95}, {60, 10, 90}})
	})
	t.Run("scale-up stabilization ignores a short spike", func(t *testing.T) {
		b := &Behavior{ScaleUp: &ScalingRules{StabilizationWindowSeconds: new(60)}}
		a := mustNew(t, loadSpec(1, 100, b))
		run(t, a, 4, []step{{0, 4, 4}, {15, 8, 4}, {30, 4, 4}, {45, 8, 4}, {100, 8, 8}})
	})
	t.Run("multiple metrics take the largest proposal", func(t *testing.T) {
		s := GuideSpecs()[0].Spec // api-gateway: cpu 70%, 1000 rps a pod
		s.Behavior = nil
		a := mustNew(t, s)
		got, reasons := a.Step(at(0), 3, []MetricReading{
			cpuReading(pods(3, 0.7, 0.5)),                             // 140% of 70%: 6
			podsReading("http_requests_per_second", pods(3, 1500, 0)), // 1.5x: 5
		})
		if got != 6 {
			t.Errorf("got %d, want 6 (%s)", got, strings.Join(reasons, "; "))
		}
	})
}

func TestStepPolicies(t *testing.T) {
	up := []ScalingPolicy{{Type: PodsPolicy, Value: 2, PeriodSeconds: 60}, {Type: PercentPolicy, Value: 50, PeriodSeconds: 60}}
	down := []ScalingPolicy{{Type: PodsPolicy, Value: 1, PeriodSeconds: 120}, {Type: PercentPolicy, Value: 10, PeriodSeconds: 120}}
	tests := []struct {
		sel      SelectPolicy
		upGot    int // from 10 asking 30
		downGot  int // from 20 asking 1
		upLater  int // 30 s later, still asking 30
		downNext int // one period later, still asking 1
	}{
		{SelectMax, 15, 18, 15, 16},
		{SelectMin, 12, 19, 12, 18},
		{SelectDisabled, 10, 20, 10, 20},
		{"", 15, 18, 15, 16}, // unset means Max
	}
	for _, tt := range tests {
		t.Run("select "+string(tt.sel), func(t *testing.T) {
			b := &Behavior{
				ScaleUp:   &ScalingRules{StabilizationWindowSeconds: new(0), SelectPolicy: tt.sel, Policies: up},
				ScaleDown: &ScalingRules{StabilizationWindowSeconds: new(0), SelectPolicy: tt.sel, Policies: down},
			}
			run(t, mustNew(t, loadSpec(1, 100, b)), 10, []step{{0, 30, tt.upGot}, {30, 30, tt.upLater}})
			run(t, mustNew(t, loadSpec(1, 100, b)), 20, []step{{0, 1, tt.downGot}, {120, 1, tt.downNext}})
		})
	}
}

func TestStepPolicyPeriods(t *testing.T) {
	b := &Behavior{
		ScaleUp: &ScalingRules{StabilizationWindowSeconds: new(0), Policies: []ScalingPolicy{
			{Type: PodsPolicy, Value: 2, PeriodSeconds: 60},
		}},
		ScaleDown: &ScalingRules{StabilizationWindowSeconds: new(0), Policies: []ScalingPolicy{
			{Type: PodsPolicy, Value: 3, PeriodSeconds: 60},
		}},
	}
	a := mustNew(t, loadSpec(1, 100, b))
	// Each limit measures from the count at the start of its period, so the
	// additions and removals within the last 60 s both count: at 10s the
	// period began at 10, allowing 7; at 61s it began at 12 (7 - 5 up + 10
	// down), allowing 9, which is no lower than 7; at 91s it began at 7.
	run(t, a, 10, []step{{0, 30, 12}, {10, 1, 7}, {20, 30, 12}, {30, 1, 7}, {61, 1, 7}, {91, 1, 4}})
}

func TestStepClamping(t *testing.T) {
	b := &Behavior{
		ScaleUp:   &ScalingRules{StabilizationWindowSeconds: new(0)},
		ScaleDown: &ScalingRules{StabilizationWindowSeconds: new(0)},
	}
	tests := []struct {
		name          string
		current, want int
		got           int
		reason        string
	}{
		{"above max", 25, 25, 10, "TooManyReplicas"},
		{"below min", 1, 1, 3, "TooFewReplicas"},
		{"desired over max", 8, 16, 10, "TooManyReplicas"},
		{"desired under min", 6, 1, 3, "TooFewReplicas"},
		{"rate limit before max", 4, 10, 8, "ScaleUpLimit"},
		{"within range", 5, 7, 7, "DesiredWithinRange"},
		{"zero replicas disables scaling", 0, 5, 0, "ScalingDisabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, loadSpec(3, 10, b))
			var readings []MetricReading
			if tt.current > 0 {
				readings = want(tt.want)
			}
			got, reasons := a.Step(at(0), tt.current, readings)
			if got != tt.got {
				t.Errorf("got %d, want %d", got, tt.got)
			}
			if !slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, tt.reason) }) {
				t.Errorf("got reasons %q, want one starting %q", reasons, tt.reason)
			}
		})
	}
}

func TestStepMissingMetrics(t *testing.T) {
	spec := Spec{MinReplicas: 1, MaxReplicas: 20, Metrics: []MetricSpec{cpu(50), podsAverage("load", 1)}}
	tests := []struct {
		name     string
		readings []MetricReading
		want     int
	}{
		{"both readings", []MetricReading{cpuReading(pods(4, 1, 1)), podsReading("load", pods(4, 1, 0))}, 8},
		{"missing reading, other scales up", []MetricReading{cpuReading(pods(4, 1, 1))}, 8},
		{"missing reading, other scales down", []MetricReading{cpuReading(pods(4, 0.1, 1))}, 4},
		{"failed reading, other scales down", []MetricReading{cpuReading(pods(4, 0.1, 1)), podsReading("load")}, 4},
		{"no readings", nil, 4},
		{"reading of another metric", []MetricReading{podsReading("other", pods(4, 9, 0))}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reasons := mustNew(t, spec).Step(at(0), 4, tt.readings)
			if got != tt.want {
				t.Errorf("got %d, want %d (%s)", got, tt.want, strings.Join(reasons, "; "))
			}
		})
	}
}

func TestNewRejectsInvalidSpecs(t *testing.T) {
	valid := loadSpec(1, 5, nil)
	tests := []struct {
		name   string
		mutate func(*Spec)
	}{
		{"min zero", func(s *Spec) { s.MinReplicas = 0 }},
		{"max below min", func(s *Spec) { s.MaxReplicas = 0 }},
		{"no metrics", func(s *Spec) { s.Metrics = nil }},
		{"utilization on pods metric", func(s *Spec) { s.Metrics[0].Target = MetricTarget{Type: UtilizationTarget, AverageUtilization: 50} }},
		{"zero target", func(s *Spec) { s.Metrics[0].Target.AverageValue = 0 }},
		{"target finer than milli", func(s *Spec) { s.Metrics[0].Target.AverageValue = 1e-6 }},
		{"NaN target", func(s *Spec) { s.Metrics[0].Target.AverageValue = math.NaN() }},
		{"unknown source", func(s *Spec) { s.Metrics[0].Type = "Container" }},
		{"bad select policy", func(s *Spec) { s.Behavior = &Behavior{ScaleUp: &ScalingRules{SelectPolicy: "Fastest"}} }},
		{"negative window", func(s *Spec) { s.Behavior = &Behavior{ScaleDown: &ScalingRules{StabilizationWindowSeconds: new(-1)}} }},
		{"long period", func(s *Spec) {
			s.Behavior = &Behavior{ScaleDown: &ScalingRules{Policies: []ScalingPolicy{{Type: PodsPolicy, Value: 1, PeriodSeconds: 1801}}}}
		}},
		{"zero policy value", func(s *Spec) {
			s.Behavior = &Behavior{ScaleUp: &ScalingRules{Policies: []ScalingPolicy{{Type: PercentPolicy, Value: 0, PeriodSeconds: 15}}}}
		}},
	}
	if _, err := New(valid); err != nil {
		t.Fatalf("New(valid): %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid
			s.Metrics = slices.Clone(valid.Metrics)
			tt.mutate(&s)
			if _, err := New(s); err == nil {
				t.Errorf("got no error, want one")
			}
		})
	}
}

// TestStepProperties drives every guide spec, and variants with scale-down
// disabled, with random readings and checks the invariants.
func TestStepProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 4))
	for _, g := range GuideSpecs() {
		for _, disabled := range []bool{false, true} {
			spec := g.Spec
			if disabled {
				b := *spec.Behavior
				sd := *b.ScaleDown
				sd.SelectPolicy = SelectDisabled
				b.ScaleDown = &sd
				spec.Behavior = &b
			}
			a := mustNew(t, spec)
			current := spec.MinReplicas + rng.IntN(spec.MaxReplicas-spec.MinReplicas+1)
			sec := 0
			for range 2000 {
				sec += 1 + rng.IntN(60)
				got, reasons := a.Step(at(sec), current, randomReadings(rng, spec, current))
				if got < spec.MinReplicas || got > spec.MaxReplicas {
					t.Fatalf("%s: got %d replicas, want within [%d,%d] (%s)", g.Service, got, spec.MinReplicas, spec.MaxReplicas, strings.Join(reasons, "; "))
				}
				if disabled && got < current {
					t.Fatalf("%s with scale-down disabled: got %d from %d", g.Service, got, current)
				}
				current = got
			}
		}
	}
}

func randomReadings(rng *rand.Rand, spec Spec, current int) []MetricReading {
	var out []MetricReading
	for _, m := range spec.Metrics {
		if rng.IntN(20) == 0 {
			continue // the pipeline lost this metric
		}
		r := MetricReading{Type: m.Type, Name: m.Name}
		scale := m.Target.AverageValue
		if m.Target.Type == UtilizationTarget {
			scale = float64(m.Target.AverageUtilization) / 100
		}
		for range current {
			p := PodSample{Value: rng.Float64() * 4 * scale, Request: 1}
			switch rng.IntN(10) {
			case 0:
				p.Missing = true
			case 1:
				p.Unready = true
			}
			r.Pods = append(r.Pods, p)
		}
		out = append(out, r)
	}
	return out
}

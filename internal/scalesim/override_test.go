package scalesim

import (
	"math"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/autoscale"
)

const exampleOverride = `
label: faster-solver-scaling
services:
  optimization-engine:
    minReplicas: 3
    maxReplicas: 12
    metrics:
    - type: Resource
      name: cpu
      target: {type: Utilization, averageUtilization: 60}
    - type: Pods
      name: job_queue_length
      target: {type: AverageValue, averageValue: "2"}
    behavior:
      scaleUp:
        stabilizationWindowSeconds: 30
        policies:
        - {type: Pods, value: 2, periodSeconds: 60}
  api-gateway:
    metrics:
    - type: Pods
      name: http_requests_per_second
      target: {type: AverageValue, averageValue: 1.5k}
`

func TestOverrideApplies(t *testing.T) {
	o, err := ParseOverride([]byte(exampleOverride))
	if err != nil {
		t.Fatal(err)
	}
	if o.Label != "faster-solver-scaling" || o.Predictive {
		t.Errorf("got label %q predictive %v", o.Label, o.Predictive)
	}
	hpas, err := o.Apply(DefaultPlatform(), autoscale.GuideSpecs())
	if err != nil {
		t.Fatal(err)
	}
	guide := autoscale.GuideSpecs()
	for i, h := range hpas {
		switch h.Service {
		case "optimization-engine":
			s := h.Spec
			if s.MinReplicas != 3 || s.MaxReplicas != 12 || len(s.Metrics) != 2 ||
				s.Metrics[0].Target.AverageUtilization != 60 || s.Metrics[1].Target.AverageValue != 2 {
				t.Errorf("optimization-engine: got %+v", s)
			}
			up := s.Behavior.ScaleUp
			if *up.StabilizationWindowSeconds != 30 || len(up.Policies) != 1 || up.SelectPolicy != autoscale.SelectMax {
				t.Errorf("scaleUp: got window %d, %d policies, select %s; want 30, 1, the guide's Max", *up.StabilizationWindowSeconds, len(up.Policies), up.SelectPolicy)
			}
			if *s.Behavior.ScaleDown.StabilizationWindowSeconds != 300 {
				t.Error("scaleDown was not given and must keep the guide's")
			}
			if *guide[i].Spec.Behavior.ScaleUp.StabilizationWindowSeconds != 120 {
				t.Error("Apply changed the guide's specs it was given")
			}
		case "api-gateway":
			if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Target.AverageValue != 1500 || h.Spec.MinReplicas != 3 {
				t.Errorf("api-gateway: got %+v", h.Spec)
			}
		default:
			if h.Spec.MinReplicas != guide[i].Spec.MinReplicas || len(h.Spec.Metrics) != len(guide[i].Spec.Metrics) {
				t.Errorf("%s changed without an override", h.Service)
			}
		}
	}
}

func TestOverrideErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", ``, "empty"},
		{"nothing", `label: x`, "nothing to override"},
		{"unknown field", "services:\n  api-gateway:\n    minReplica: 2\n", "minReplica"},
		{"two documents", "predictive: true\n---\npredictive: true\n", "one YAML document"},
		{"bad quantity", "services:\n  api-gateway:\n    metrics:\n    - {type: Pods, name: http_requests_per_second, target: {type: AverageValue, averageValue: lots}}\n", `"lots" is not a quantity`},
		{"unknown service", "services:\n  billing:\n    minReplicas: 2\n", "services.billing: unknown service"},
		{"min above max", "services:\n  load-service:\n    minReplicas: 9\n", "services.load-service: maxReplicas 8: must not be below minReplicas 9"},
		{"metric not exported", "services:\n  load-service:\n    metrics:\n    - {type: Pods, name: queue_depth, target: {type: AverageValue, averageValue: 5}}\n", `services.load-service.metrics[0]: the load-service model exports no Pods metric "queue_depth"`},
		{"missing target value", "services:\n  load-service:\n    metrics:\n    - {type: Resource, name: cpu, target: {type: Utilization}}\n", "services.load-service.metrics[0]: target.averageUtilization: required"},
		{"bad target type", "services:\n  load-service:\n    metrics:\n    - {type: Resource, name: cpu, target: {type: Percent}}\n", `target.type "Percent"`},
		{"bad policy", "services:\n  load-service:\n    behavior:\n      scaleDown:\n        policies:\n        - {type: Pods, value: 0, periodSeconds: 60}\n", "services.load-service: behavior.scaleDown: policies[0]: value 0"},
		{"bad select", "services:\n  load-service:\n    behavior:\n      scaleUp:\n        selectPolicy: Fastest\n", `selectPolicy "Fastest"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOverride([]byte(tt.yaml))
			if err == nil {
				_, err = o.Apply(DefaultPlatform(), autoscale.GuideSpecs())
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1000", 1000, true},
		{"500m", 0.5, true},
		{"1.5k", 1500, true},
		{"2M", 2e6, true},
		{" 7 ", 7, true},
		{"2e3", 2000, true},
		{"", 0, false},
		{"k", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"0x10", 0, false},
		{"1Ki", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseQuantity(tt.in)
		if (err == nil) != tt.ok || (tt.ok && math.Abs(got-tt.want) > 1e-12) {
			t.Errorf("ParseQuantity(%q): got %g, %v; want %g, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzParseOverride checks that no input makes the parser or Apply panic,
// and that whatever Apply accepts is a valid configuration the simulator
// can read every metric of.
func FuzzParseOverride(f *testing.F) {
	f.Add([]byte(exampleOverride))
	f.Add([]byte("predictive: true\n"))
	f.Add([]byte("services:\n  api-gateway:\n    minReplicas: -1\n"))
	f.Add([]byte("services:\n  load-service:\n    metrics: []\n"))
	f.Add([]byte("services: {tracking-service: {behavior: {scaleDown: {selectPolicy: Disabled}}}}"))
	f.Add([]byte("services:\n  api-gateway:\n    metrics:\n    - {type: Pods, name: http_requests_per_second, target: {type: AverageValue, averageValue: 1e400}}\n"))
	f.Add([]byte("&a [*a, *a]"))
	p := DefaultPlatform()
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseOverride(data)
		if err != nil {
			return
		}
		hpas, err := o.Apply(p, autoscale.GuideSpecs())
		if err != nil {
			return
		}
		cfg := Config{Platform: p, HPAs: hpas, Scenario: Scenarios()[0], Duration: MaxDuration, Step: MinStep}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Apply accepted an override the simulator rejects: %v", err)
		}
	})
}

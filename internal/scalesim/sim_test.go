package scalesim

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/autoscale"
	"github.com/backhaul/backhaul/internal/testenv"
)

// TestImports keeps the simulator pure: the standard library, the HPA model,
// the forecaster and the YAML decoder for override files.
func TestImports(t *testing.T) {
	testenv.ForbidImports(t, func(path string) bool {
		return path == "github.com/backhaul/backhaul/internal/autoscale" ||
			path == "github.com/backhaul/backhaul/internal/scalesim/forecast" ||
			path == "go.yaml.in/yaml/v3"
	})
}

func guideConfig(t *testing.T, scenario string, predictive bool) Config {
	t.Helper()
	sc, err := LookupScenario(scenario)
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Label: "guide", Platform: DefaultPlatform(), HPAs: autoscale.GuideSpecs(),
		Scenario: sc, Duration: sc.Duration, Step: 15 * time.Second, Predictive: predictive,
	}
}

func mustRun(t *testing.T, cfg Config) *Result {
	t.Helper()
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// allowed returns the bound the spec's policies put on a change at a sync
// whose count at the start of each policy's period was startOf(period):
// the highest count a scale-up may reach and the lowest a scale-down may.
func allowed(rules autoscale.ScalingRules, up bool, startOf func(period int) int) int {
	limit := math.MinInt
	pickMax := rules.SelectPolicy != autoscale.SelectMin
	if !up {
		pickMax = rules.SelectPolicy == autoscale.SelectMin
		limit = math.MaxInt
	}
	if pickMax {
		limit = math.MinInt
	} else {
		limit = math.MaxInt
	}
	for _, p := range rules.Policies {
		s := startOf(p.PeriodSeconds)
		var v int
		switch {
		case up && p.Type == autoscale.PodsPolicy:
			v = s + p.Value
		case up:
			v = int(math.Ceil(float64(s) * (1 + float64(p.Value)/100)))
		case p.Type == autoscale.PodsPolicy:
			v = s - p.Value
		default:
			v = int(float64(s) * (1 - float64(p.Value)/100))
		}
		if pickMax {
			limit = max(limit, v)
		} else {
			limit = min(limit, v)
		}
	}
	return limit
}

// TestInvariants checks every HPA decision of every scenario, with and
// without predictive scaling: the count stays within [min, max], it never
// rises or falls faster than the behavior's policies allow, and the
// predictive minimum never drives a scale-down below itself.
func TestInvariants(t *testing.T) {
	for _, scenario := range ScenarioNames() {
		for _, predictive := range []bool{false, true} {
			name := scenario
			if predictive {
				name += "/predictive"
			}
			t.Run(name, func(t *testing.T) {
				cfg := guideConfig(t, scenario, predictive)
				if scenario == "seasonal" {
					cfg.Duration = 3 * 24 * time.Hour // the first three days keep the test short
				}
				r := mustRun(t, cfg)
				for i, s := range r.Services {
					spec := cfg.HPAs[i].Spec
					if cfg.HPAs[i].Service != s.Service {
						t.Fatalf("service order: got %s, want %s", s.Service, cfg.HPAs[i].Service)
					}
					checkSyncs(t, s, spec, predictive)
				}
			})
		}
	}
}

func checkSyncs(t *testing.T, s *ServiceResult, spec autoscale.Spec, predictive bool) {
	t.Helper()
	if len(s.syncs) == 0 {
		t.Fatalf("%s: no HPA syncs recorded", s.Service)
	}
	// countAt is the replica count in force at time at: the last decision at
	// or before it, as the controller reconstructs a period's start.
	countAt := func(k int, at time.Time) int {
		c := s.syncs[0].before
		for j := 0; j < k && !s.syncs[j].at.After(at); j++ {
			c = s.syncs[j].after
		}
		return c
	}
	for k, x := range s.syncs {
		if x.after < spec.MinReplicas || x.after > spec.MaxReplicas {
			t.Fatalf("%s at %s: %d replicas, want within [%d,%d]", s.Service, x.at, x.after, spec.MinReplicas, spec.MaxReplicas)
		}
		if k > 0 && x.before != s.syncs[k-1].after {
			t.Fatalf("%s at %s: sync started from %d, the previous decision was %d", s.Service, x.at, x.before, s.syncs[k-1].after)
		}
		startOf := func(period int) int { return countAt(k, x.at.Add(-time.Duration(period)*time.Second)) }
		switch {
		case x.after > x.before:
			if limit := allowed(*spec.Behavior.ScaleUp, true, startOf); x.after > max(limit, x.before) && x.before >= spec.MinReplicas {
				t.Fatalf("%s at %s: scaled up %d -> %d, the policies allow %d", s.Service, x.at, x.before, x.after, limit)
			}
		case x.after < x.before:
			if limit := allowed(*spec.Behavior.ScaleDown, false, startOf); x.after < min(max(limit, spec.MinReplicas), x.before) {
				t.Fatalf("%s at %s: scaled down %d -> %d, the policies allow %d", s.Service, x.at, x.before, x.after, limit)
			}
		}
		if predictive && x.after < min(x.before, x.floor) {
			t.Fatalf("%s at %s: %d -> %d under a predictive minimum of %d", s.Service, x.at, x.before, x.after, x.floor)
		}
		if !predictive && x.floor != 0 {
			t.Fatalf("%s: a predictive minimum without predictive scaling", s.Service)
		}
	}
}

func TestDeterministic(t *testing.T) {
	cfg := guideConfig(t, "spike", true)
	cfg.Duration = 6 * time.Hour
	a, err := json.Marshal(mustRun(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(mustRun(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("two runs of the same configuration differ")
	}
}

// The simulator's answers for the guide's settings, which the benchmarks
// page reports: the shape must hold even when the model's numbers are tuned.
func TestScenarioOutcomes(t *testing.T) {
	daily := mustRun(t, guideConfig(t, "daily", false))
	dailyPred := mustRun(t, guideConfig(t, "daily", true))
	spike := mustRun(t, guideConfig(t, "spike", false))
	batch := mustRun(t, guideConfig(t, "batch", false))
	svc := func(r *Result, name string) *ServiceResult {
		for _, s := range r.Services {
			if s.Service == name {
				return s
			}
		}
		t.Fatalf("no service %s", name)
		return nil
	}
	if got := svc(daily, "api-gateway").MinutesAboveTarget; got != 0 {
		t.Errorf("daily: gateway %.1f minutes above target, want 0: its measured capacity is three times the HPA's target", got)
	}
	if got := svc(spike, "api-gateway").MinutesAboveTarget; got <= 0 {
		t.Errorf("spike: gateway %.1f minutes above target, want some while the HPA catches up", got)
	}
	if got, max := svc(spike, "api-gateway").PeakReplicas, 20; got != max {
		t.Errorf("spike: gateway peaks at %d replicas, want its maximum %d", got, max)
	}
	if got := svc(batch, "optimization-engine").PeakReplicas; got != 10 {
		t.Errorf("batch: optimization-engine peaks at %d, want its maximum 10 for 150 jobs", got)
	}
	if dailyPred.MinutesAboveTarget > daily.MinutesAboveTarget {
		t.Errorf("daily: predictive %.1f minutes above target, guide %.1f: the forecast should not make it worse",
			dailyPred.MinutesAboveTarget, daily.MinutesAboveTarget)
	}
	// Predictive scaling does not simply add pods: by starting the morning
	// ramp earlier it keeps the notification backlog, and so the HPA's
	// overshoot on it, small.
	if g, p := svc(daily, "notification-service"), svc(dailyPred, "notification-service"); p.PeakReplicas > g.PeakReplicas {
		t.Errorf("daily: notification-service peaks at %d with predictive, %d without", p.PeakReplicas, g.PeakReplicas)
	}
}

// A node group too small for the spike makes the cluster autoscaler add
// nodes, which join after their provisioning time; once the load has gone
// they are removed after scale-down-unneeded-time.
func TestClusterAutoscaler(t *testing.T) {
	p := DefaultPlatform()
	for i := range p.NodeGroups {
		if p.NodeGroups[i].Name == "application" {
			p.NodeGroups[i].Min = 1
			p.NodeGroups[i].AllocCPU = 4 // room for eight API pods
		}
	}
	start := tuesday.Add(10 * time.Hour)
	sc := Scenario{
		Name: "step", Start: start,
		Load: func(service string, t time.Time) float64 {
			if service == "api-gateway" && t.Sub(start) >= 10*time.Minute && t.Sub(start) < 40*time.Minute {
				return 12000
			}
			return 1
		},
	}
	cfg := Config{Label: "small", Platform: p, HPAs: autoscale.GuideSpecs(), Scenario: sc, Duration: 2 * time.Hour, Step: 5 * time.Second}
	r := mustRun(t, cfg)
	var app NodeGroupResult
	for _, g := range r.NodeGroups {
		if g.Name == "application" {
			app = g
		}
	}
	if app.PeakNodes < 3 {
		t.Fatalf("peak %d application nodes, want at least 3 for 12 gateway pods and the other services' minimums", app.PeakNodes)
	}
	// Timeline samples are a minute apart here.
	first := -1
	for i, n := range app.Timeline {
		if n > app.Timeline[0] && first < 0 {
			first = i
		}
	}
	if first < 10 {
		t.Errorf("a node was added at minute %d, before the load arrived at minute 10", first+1)
	}
	if last := app.Timeline[len(app.Timeline)-1]; last >= app.PeakNodes {
		t.Errorf("still %d nodes an hour and a half after the load went, want fewer than the peak %d", last, app.PeakNodes)
	}
	gw := r.Services[0]
	if gw.PeakReplicas < 12 {
		t.Errorf("gateway peaked at %d replicas, want 12 for 12,000 req/s", gw.PeakReplicas)
	}
}

func TestQueueing(t *testing.T) {
	tests := []struct {
		c           int
		a           float64
		wantC       float64 // probability of waiting
		wantWaiting float64 // Lq
	}{
		{1, 0.5, 0.5, 0.5},       // M/M/1: P(wait) = ρ, Lq = ρ²/(1-ρ)
		{2, 1, 1.0 / 3, 1.0 / 3}, // M/M/2 at ρ = 0.5
		{10, 0, 0, 0},
	}
	for _, tt := range tests {
		if got := erlangC(tt.c, tt.a); math.Abs(got-tt.wantC) > 1e-12 {
			t.Errorf("erlangC(%d, %g): got %g, want %g", tt.c, tt.a, got, tt.wantC)
		}
		q, ok := queueing(tt.c, time.Second, 1, tt.a)
		if !ok || math.Abs(q.waiting-tt.wantWaiting) > 1e-12 {
			t.Errorf("queueing(%d, %g): got Lq %g (stable %v), want %g", tt.c, tt.a, q.waiting, ok, tt.wantWaiting)
		}
	}
	if _, ok := queueing(2, time.Second, 1, 2); ok {
		t.Error("a queue at 100% utilisation reported stable")
	}
	// M/M/1 at ρ = 0.5, service 1 s: P(W > x) = 0.5·e^{-0.5x}, p99 = 2·ln(50).
	q, _ := queueing(1, time.Second, 1, 0.5)
	if got, want := q.wait99.Seconds(), 2*math.Log(50); math.Abs(got-want) > 1e-6 {
		t.Errorf("M/M/1 p99 wait: got %g s, want %g s", got, want)
	}
	// Fixed service times halve the wait (Allen-Cunneen).
	d, _ := queueing(1, time.Second, 0, 0.5)
	if got, want := d.wait99.Seconds(), math.Log(50); math.Abs(got-want) > 1e-6 {
		t.Errorf("M/D/1 p99 wait: got %g s, want %g s", got, want)
	}
}

func TestLoadAtTarget(t *testing.T) {
	p := DefaultPlatform()
	want := map[string]float64{
		"api-gateway":          1000,   // http_requests_per_second 1000 below cpu 70% (1,139/s)
		"tracking-service":     5000,   // position updates, far below cpu
		"driver-service":       100,    // 500 sessions at 5 per req/s
		"load-service":         200,    // 200 transactions
		"optimization-engine":  0.0243, // (0.75 - 0.02) / 30 jobs/s: 73% busy
		"notification-service": 170,    // 85% of 200/s: cpu would allow 340
	}
	for i, m := range p.Services {
		w, ok := want[m.Service]
		if !ok {
			continue
		}
		if got := loadAtTarget(m, autoscale.GuideSpecs()[i].Spec); math.Abs(got-w) > 0.001*w+1e-4 {
			t.Errorf("%s: got %g, want %g", m.Service, got, w)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	base := guideConfig(t, "daily", false)
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"step does not divide the sync", func(c *Config) { c.Step = 7 * time.Second }, "step 7s"},
		{"step too long", func(c *Config) { c.Step = 30 * time.Second }, "step 30s"},
		{"duration too short", func(c *Config) { c.Duration = time.Second }, "duration 1s"},
		{"duration too long", func(c *Config) { c.Duration = 100 * 24 * time.Hour }, "duration 2400h"},
		{"missing hpa", func(c *Config) { c.HPAs = c.HPAs[1:] }, "hpa api-gateway: missing"},
		{"metric not exported", func(c *Config) {
			c.HPAs = autoscale.GuideSpecs()
			c.HPAs[0].Spec.Metrics = []autoscale.MetricSpec{{Type: autoscale.PodsMetric, Name: "queue_depth",
				Target: autoscale.MetricTarget{Type: autoscale.AverageValueTarget, AverageValue: 1}}}
		}, "hpa api-gateway: metric Pods queue_depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Errorf("the guide's configuration: %v", err)
	}
}

func TestScenarios(t *testing.T) {
	if _, err := LookupScenario("weekly"); err == nil || !strings.Contains(err.Error(), "batch, daily, seasonal, spike") {
		t.Errorf("unknown scenario: got %v, want the known names listed", err)
	}
	spike, _ := LookupScenario("spike")
	at := tuesday.Add(11*time.Hour + 20*time.Minute)
	for service, m := range spikeMultipliers {
		if got, want := spike.Load(service, at), m*spike.Usual(service, at); math.Abs(got-want) > 1e-9*want {
			t.Errorf("spike %s at 11:20: got %g, want %g", service, got, want)
		}
	}
	for _, sc := range Scenarios() {
		for _, service := range []string{"api-gateway", "tracking-service", "optimization-engine"} {
			for h := range 24 * 14 {
				if v := sc.Load(service, sc.Start.Add(time.Duration(h)*time.Hour)); !(v > 0) {
					t.Fatalf("%s: %s load %g at hour %d, want positive", sc.Name, service, v, h)
				}
			}
		}
	}
}

// A pod's servers never use more CPU than its limit, and every service has a
// node group that can hold one of its pods.
func TestPlatformConsistent(t *testing.T) {
	p := DefaultPlatform()
	for _, m := range p.Services {
		if used := float64(m.Servers) * m.CPUPerUnit / m.ServiceTime.Seconds(); used > m.CPULimit*1.001 { // service times are whole nanoseconds
			t.Errorf("%s: servers busy use %.3f cores, above the %.2f-core limit", m.Service, used, m.CPULimit)
		}
		if m.CPURequest > m.CPULimit {
			t.Errorf("%s: request %.2f above limit %.2f", m.Service, m.CPURequest, m.CPULimit)
		}
		g, ok := p.group(m.NodeGroup)
		if !ok || !g.Simulated || g.AllocCPU < m.CPURequest || g.AllocMem < m.MemRequest {
			t.Errorf("%s: node group %q cannot hold its pods", m.Service, m.NodeGroup)
		}
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, guideConfig(t, "daily", false)); err == nil {
		t.Error("a cancelled run returned no error")
	}
}

func TestLeadTime(t *testing.T) {
	p := DefaultPlatform()
	want := map[string]time.Duration{
		"api-gateway":         215 * time.Second, // 15 start-up + 15 lag + 15 sync + 60 window + 10 scan + 90 node + 10 pull
		"load-matching":       260 * time.Second, // a 60 s start-up
		"optimization-engine": 275 * time.Second, // a 120 s scale-up window
	}
	for i, m := range p.Services {
		if w, ok := want[m.Service]; ok {
			if got := LeadTime(p.Cluster, m, autoscale.GuideSpecs()[i].Spec); got != w {
				t.Errorf("%s: got %s, want %s", m.Service, got, w)
			}
		}
	}
}

package scalesim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/backhaul/backhaul/internal/autoscale"
	"github.com/backhaul/backhaul/internal/scalesim/forecast"
)

// Config is one simulation run.
type Config struct {
	// Label names the configuration in reports: "guide", or an override file's name.
	Label    string
	Platform Platform
	// HPAs are the autoscalers, one per service of the platform.
	HPAs     []autoscale.GuideSpec
	Scenario Scenario
	// Duration is the simulated span from the scenario's start; Step the
	// simulation's resolution, which must divide the HPA sync period.
	Duration, Step time.Duration
	// Predictive adds a scheduled minimum of replicas from a forecast of
	// each service's load (see predictive.go).
	Predictive bool
}

// Limits on what a run may ask for, to keep a typo from running for hours.
const (
	MinStep     = time.Second
	MaxDuration = 60 * 24 * time.Hour
)

// Validate reports every problem with the configuration, naming the field.
func (c Config) Validate() error {
	var errs []error
	sync := c.Platform.Cluster.HPASyncPeriod
	if c.Step < MinStep || sync <= 0 || c.Step > sync || sync%c.Step != 0 {
		errs = append(errs, fmt.Errorf("step %s: must be at least %s and divide the HPA sync period %s", c.Step, MinStep, sync))
	}
	if c.Duration < sync || c.Duration > MaxDuration {
		errs = append(errs, fmt.Errorf("duration %s: must be within %s..%s", c.Duration, sync, MaxDuration))
	}
	if c.Scenario.Load == nil {
		errs = append(errs, errors.New("scenario: no load curve"))
	}
	for _, m := range c.Platform.Services {
		h, ok := c.hpa(m.Service)
		if !ok {
			errs = append(errs, fmt.Errorf("hpa %s: missing", m.Service))
			continue
		}
		if err := h.Spec.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("hpa %s: %w", m.Service, err))
		}
		for _, x := range h.Spec.Metrics {
			if !m.produces(x) {
				errs = append(errs, fmt.Errorf("hpa %s: metric %s %s: the service model does not export it", m.Service, x.Type, x.Name))
			}
		}
		if _, ok := c.Platform.group(m.NodeGroup); !ok {
			errs = append(errs, fmt.Errorf("service %s: node group %q: unknown", m.Service, m.NodeGroup))
		}
	}
	return errors.Join(errs...)
}

func (c Config) hpa(service string) (autoscale.GuideSpec, bool) {
	for _, h := range c.HPAs {
		if h.Service == service {
			return h, true
		}
	}
	return autoscale.GuideSpec{}, false
}

func (p Platform) group(name string) (NodeGroup, bool) {
	for _, g := range p.NodeGroups {
		if g.Name == name {
			return g, true
		}
	}
	return NodeGroup{}, false
}

// produces says whether the simulator can read metric m of this service.
func (m ServiceModel) produces(x autoscale.MetricSpec) bool {
	if x.Type == autoscale.ResourceMetric {
		return x.Name == "cpu" && x.Target.Type == autoscale.UtilizationTarget
	}
	_, ok := m.metric(x.Name)
	return ok && x.Type == autoscale.PodsMetric
}

// sample is what happened to one service during one step.
type sample struct {
	arrivals float64 // load units per second
	cpu      float64 // cores used by all ready pods
	waiting  float64 // queued, not being handled
	inflight float64 // being handled
	ready    int
}

// pod is one replica.
type pod struct {
	node    *node // nil while pending
	readyAt time.Time
}

// service is one service's state during a run.
type service struct {
	model ServiceModel
	spec  autoscale.Spec
	hpa   *autoscale.Autoscaler
	grp   *group
	pods  []*pod

	backlog float64
	ring    []sample // the last len(ring) steps, for lagged metric windows
	steps   int      // samples written to ring

	loadAtTarget float64
	forecast     *forecast.Model
	observed     []float64 // arrivals per forecast bucket since Start
	bucketSum    float64
	floor        int // the predictive minimum in force

	res *ServiceResult
	// the worst latency within the current timeline sample, and the last
	sampleLatency, lastLatency float64
}

// Run simulates the configuration and returns what happened. It is
// deterministic: the same configuration gives the same result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid simulation: %w", err)
	}
	s, err := newSim(cfg)
	if err != nil {
		return nil, err
	}
	return s.run(ctx)
}

type sim struct {
	cfg      Config
	cl       Cluster
	start    time.Time
	services []*service
	groups   []*group
	res      *Result
	// resolution is the timelines' sampling interval.
	resolution time.Duration
	// nodeTimelines[i] is the node count of groups[i] at each sample.
	nodeTimelines [][]int
}

// sampleEvery picks the timeline's resolution: a minute, or coarser for long
// runs so that a timeline holds at most about 1,440 points.
func sampleEvery(d, step time.Duration) time.Duration {
	s := max(time.Minute, d/1440)
	s = s.Round(step)
	return max(s, step)
}

func newSim(cfg Config) (*sim, error) {
	p := cfg.Platform
	s := &sim{cfg: cfg, cl: p.Cluster, start: cfg.Scenario.Start, resolution: sampleEvery(cfg.Duration, cfg.Step)}
	s.res = &Result{
		Label: cfg.Label, Scenario: cfg.Scenario.Name, Description: cfg.Scenario.Description,
		Start: s.start, DurationSeconds: cfg.Duration.Seconds(), StepSeconds: cfg.Step.Seconds(),
		SampleSeconds: s.resolution.Seconds(), Predictive: cfg.Predictive,
	}
	for _, ng := range p.NodeGroups {
		if ng.Simulated {
			s.groups = append(s.groups, &group{NodeGroup: ng})
		}
	}
	window := max(s.cl.RateWindow, s.cl.CPUWindow) + s.cl.MetricsLag + 2*cfg.Step
	ringLen := int(window/cfg.Step) + 1
	for _, m := range p.Services {
		h, _ := cfg.hpa(m.Service)
		sv := &service{model: m, spec: h.Spec, ring: make([]sample, ringLen)}
		sv.loadAtTarget = loadAtTarget(m, h.Spec)
		for _, g := range s.groups {
			if g.Name == m.NodeGroup {
				sv.grp = g
			}
		}
		sv.res = &ServiceResult{
			Service: m.Service, Unit: m.Unit, HPA: h.HPAName,
			MinReplicas: h.Spec.MinReplicas, MaxReplicas: h.Spec.MaxReplicas,
			TargetLatencyMS: ms(m.TargetLatency), LowReplicas: math.MaxInt,
		}
		s.services = append(s.services, sv)
	}
	if cfg.Predictive {
		if err := s.fitForecasts(s.start); err != nil {
			return nil, err
		}
	}
	for _, sv := range s.services {
		spec := sv.spec
		if cfg.Predictive {
			spec.Metrics = append(append([]autoscale.MetricSpec(nil), spec.Metrics...), scheduledMetric)
		}
		a, err := autoscale.New(spec)
		if err != nil {
			return nil, fmt.Errorf("hpa %s: %w", sv.model.Service, err)
		}
		sv.hpa = a
	}
	s.initialState()
	return s, nil
}

// loadAtTarget is the load per pod at which the HPA settles: the smallest
// over its metrics of the load that puts each metric on its target, and
// never above 85% of what a pod can serve, where M/M/c waits are still
// short.
func loadAtTarget(m ServiceModel, spec autoscale.Spec) float64 {
	best := 0.85 * m.capacityPerPod()
	for _, x := range spec.Metrics {
		switch {
		case x.Type == autoscale.ResourceMetric && x.Name == "cpu":
			l := (float64(x.Target.AverageUtilization)/100*m.CPURequest - m.IdleCPU) / m.CPUPerUnit
			best = min(best, max(l, 0))
		case x.Type == autoscale.PodsMetric:
			if mt, ok := m.metric(x.Name); ok && mt.PerUnit > 0 && (mt.Kind == RateMetric || mt.Kind == GaugeMetric) {
				best = min(best, x.Target.AverageValue/mt.PerUnit)
			}
		}
	}
	return best
}

// initialState starts each service at the replicas its HPA would hold for
// the first load, every pod ready, on as many nodes as they need.
func (s *sim) initialState() {
	t := s.start
	for _, sv := range s.services {
		load := s.cfg.Scenario.Load(sv.model.Service, t)
		n := sv.spec.MinReplicas
		if sv.loadAtTarget > 0 {
			n = int(math.Ceil(load / sv.loadAtTarget))
		}
		n = max(sv.spec.MinReplicas, min(sv.spec.MaxReplicas, n))
		for range n {
			sv.pods = append(sv.pods, &pod{readyAt: t})
		}
	}
	for _, g := range s.groups {
		for range g.Min {
			n := g.add(t, 0)
			n.pulled = true
		}
	}
	for _, sv := range s.services {
		for _, p := range sv.pods {
			for {
				if n := sv.grp.place(t, sv.model.CPURequest, sv.model.MemRequest); n != nil {
					p.node = n
					n.pulled = true
					break
				}
				if len(sv.grp.nodes) >= sv.grp.Max {
					break // stays pending; the run reports it as not ready
				}
				sv.grp.add(t, 0).pulled = true
			}
		}
		// Before the run the service was in a steady state at this load.
		load := s.cfg.Scenario.Load(sv.model.Service, t)
		smp := s.serve(sv, t, load, s.cfg.Step)
		for i := range sv.ring {
			sv.ring[i] = smp
		}
		sv.backlog = 0
	}
}

func (s *sim) run(ctx context.Context) (*Result, error) {
	step, sync := s.cfg.Step, s.cl.HPASyncPeriod
	steps := int(s.cfg.Duration / step)
	for i := range steps {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		t := s.start.Add(time.Duration(i) * step)
		if s.cfg.Predictive && i > 0 && t.Sub(s.start)%s.cl.PredictiveRefit == 0 {
			if err := s.fitForecasts(t); err != nil {
				return nil, err
			}
		}
		if t.Sub(s.start)%sync == 0 {
			for _, sv := range s.services {
				s.reconcile(sv, t)
			}
		}
		s.schedule(t)
		if t.Sub(s.start)%s.cl.ScanInterval == 0 {
			s.autoscaleNodes(t)
		}
		for _, sv := range s.services {
			load := s.cfg.Scenario.Load(sv.model.Service, t.Add(step/2))
			smp := s.serve(sv, t, load, step)
			sv.ring[sv.steps%len(sv.ring)] = smp
			sv.steps++
			s.account(sv, t, load, smp)
		}
		for _, g := range s.groups {
			g.nodeHours += float64(len(g.nodes)) * step.Hours()
		}
		if t.Add(step).Sub(s.start)%s.resolution == 0 {
			s.record(t.Add(step))
		}
	}
	s.finish()
	return s.res, nil
}

func (sv *service) ready(now time.Time) int {
	n := 0
	for _, p := range sv.pods {
		if p.node != nil && !p.readyAt.After(now) {
			n++
		}
	}
	return n
}

// serve advances the service's queue by one step at arrival rate load and
// returns what the step looked like. A fluid backlog carries whatever the
// ready pods could not serve; below capacity the M/M/c steady state gives
// the waiting and the latency.
func (s *sim) serve(sv *service, now time.Time, load float64, step time.Duration) sample {
	m := sv.model
	dt := step.Seconds()
	ready := sv.ready(now)
	servers := ready * m.Servers
	capacity := float64(servers) / m.ServiceTime.Seconds()
	served := min(capacity, load+sv.backlog/dt)
	sv.backlog = max(0, sv.backlog+(load-served)*dt)

	smp := sample{arrivals: load, ready: ready}
	smp.cpu = served*m.CPUPerUnit + float64(ready)*m.IdleCPU
	smp.inflight = served * m.ServiceTime.Seconds()
	latency := math.Inf(1)
	switch q, stable := queueing(servers, m.ServiceTime, m.ServiceCV2, load); {
	case sv.backlog > 0 && capacity > 0:
		latency = m.BaseLatency.Seconds() + sv.backlog/capacity
		smp.waiting = sv.backlog
	case stable:
		latency = m.BaseLatency.Seconds() + q.wait99.Seconds()
		smp.waiting = q.waiting
	default:
		smp.waiting = sv.backlog
	}
	sv.sampleLatency = max(sv.sampleLatency, latency)
	sv.lastLatency = latency
	return smp
}

package scalesim

import (
	"math"
	"time"
)

// Result is what one run produced.
type Result struct {
	Label           string            `json:"label"`
	Scenario        string            `json:"scenario"`
	Description     string            `json:"description"`
	Start           time.Time         `json:"start"`
	DurationSeconds float64           `json:"duration_seconds"`
	StepSeconds     float64           `json:"step_seconds"`
	SampleSeconds   float64           `json:"sample_seconds"` // the timelines' resolution
	Predictive      bool              `json:"predictive"`
	Services        []*ServiceResult  `json:"services"`
	NodeGroups      []NodeGroupResult `json:"node_groups"`
	// CostUSD is every node of the cluster for the run, the groups the
	// simulator does not scale billed at their minimum size.
	CostUSD float64 `json:"cost_usd"`
	// PodCostUSD sums the services' shares: what the pods themselves take
	// of the nodes, which moves with the replicas even while the node
	// count stays at the groups' minimum.
	PodCostUSD float64 `json:"pod_cost_usd"`
	// MinutesAboveTarget sums the services' minutes above target latency.
	MinutesAboveTarget float64 `json:"minutes_above_target"`
}

// ServiceResult is one service's run.
type ServiceResult struct {
	Service            string  `json:"service"`
	HPA                string  `json:"hpa"`
	Unit               string  `json:"unit"`
	MinReplicas        int     `json:"min_replicas"`
	MaxReplicas        int     `json:"max_replicas"`
	LowReplicas        int     `json:"low_replicas"`
	PeakReplicas       int     `json:"peak_replicas"`
	MeanReplicas       float64 `json:"mean_replicas"`
	ReplicaHours       float64 `json:"replica_hours"`
	ScaleUps           int     `json:"scale_ups"`
	ScaleDowns         int     `json:"scale_downs"`
	PeakLoad           float64 `json:"peak_load"` // in Unit per second
	TargetLatencyMS    float64 `json:"target_latency_ms"`
	WorstLatencyMS     float64 `json:"worst_latency_ms"` // -1 when nothing could serve
	MinutesAboveTarget float64 `json:"minutes_above_target"`
	PeakWaiting        float64 `json:"peak_waiting"` // units queued, not yet handled
	// CostUSD is the service's share of its nodes: each scheduled pod's
	// larger fraction of a node's CPU or memory, times the node's price.
	CostUSD  float64 `json:"cost_usd"`
	Timeline []Point `json:"timeline"`

	syncs        []syncRecord
	replicaSteps float64
	steps        int
}

// Point is one sample of a service's timeline.
type Point struct {
	OffsetSeconds float64 `json:"offset_seconds"` // since the start
	Load          float64 `json:"load"`
	Replicas      int     `json:"replicas"`
	Ready         int     `json:"ready"`
	LatencyMS     float64 `json:"latency_ms"` // the worst p99 estimate within the sample; -1: none could serve
	Floor         int     `json:"predictive_min,omitempty"`
}

// NodeGroupResult is one node group's run.
type NodeGroupResult struct {
	Name         string  `json:"name"`
	InstanceType string  `json:"instance_type"`
	HourlyUSD    float64 `json:"hourly_usd"`
	Simulated    bool    `json:"simulated"`
	MinNodes     int     `json:"min_nodes"`
	PeakNodes    int     `json:"peak_nodes"`
	NodeHours    float64 `json:"node_hours"`
	CostUSD      float64 `json:"cost_usd"`
	Timeline     []int   `json:"timeline"` // nodes at each sample
}

// syncRecord is one HPA decision, kept for the invariant tests.
type syncRecord struct {
	at                   time.Time
	before, after, floor int
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latencyMS reports an infinite latency (no ready pod) as -1, which JSON can carry.
func latencyMS(seconds float64) float64 {
	if math.IsInf(seconds, 1) {
		return -1
	}
	return math.Round(seconds*1e4) / 10
}

// account adds one step of one service to its totals.
func (s *sim) account(sv *service, t time.Time, load float64, smp sample) {
	r := sv.res
	dt := s.cfg.Step
	n := len(sv.pods)
	r.replicaSteps += float64(n)
	r.steps++
	r.PeakReplicas = max(r.PeakReplicas, n)
	r.LowReplicas = min(r.LowReplicas, n)
	r.PeakLoad = max(r.PeakLoad, load)
	r.PeakWaiting = max(r.PeakWaiting, smp.waiting)
	if sv.lastLatency > sv.model.TargetLatency.Seconds() {
		r.MinutesAboveTarget += dt.Minutes()
	}
	if r.WorstLatencyMS >= 0 {
		if math.IsInf(sv.lastLatency, 1) {
			r.WorstLatencyMS = -1
		} else {
			r.WorstLatencyMS = max(r.WorstLatencyMS, latencyMS(sv.lastLatency))
		}
	}
	scheduled := 0
	for _, p := range sv.pods {
		if p.node != nil {
			scheduled++
		}
	}
	share := max(sv.model.CPURequest/sv.grp.AllocCPU, sv.model.MemRequest/sv.grp.AllocMem)
	r.CostUSD += float64(scheduled) * share * sv.grp.HourlyUSD * dt.Hours()
	if s.cfg.Predictive {
		s.observe(sv, t, load)
	}
}

// record appends a timeline point for every service and node group.
func (s *sim) record(at time.Time) {
	for _, sv := range s.services {
		sv.res.Timeline = append(sv.res.Timeline, Point{
			OffsetSeconds: at.Sub(s.start).Seconds(),
			Load:          round3(sv.ring[(sv.steps-1)%len(sv.ring)].arrivals),
			Replicas:      len(sv.pods),
			Ready:         sv.ready(at),
			LatencyMS:     latencyMS(sv.sampleLatency),
			Floor:         sv.floor,
		})
		sv.sampleLatency = 0
	}
	for i, g := range s.groups {
		if len(s.nodeTimelines) <= i {
			s.nodeTimelines = append(s.nodeTimelines, nil)
		}
		s.nodeTimelines[i] = append(s.nodeTimelines[i], len(g.nodes))
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// finish computes the totals.
func (s *sim) finish() {
	hours := s.cfg.Duration.Hours()
	for _, sv := range s.services {
		r := sv.res
		if r.steps > 0 {
			r.MeanReplicas = math.Round(r.replicaSteps/float64(r.steps)*100) / 100
		}
		r.ReplicaHours = math.Round(r.replicaSteps*s.cfg.Step.Hours()*100) / 100
		r.MinutesAboveTarget = math.Round(r.MinutesAboveTarget*100) / 100
		r.CostUSD = math.Round(r.CostUSD*100) / 100
		r.PeakLoad = round3(r.PeakLoad)
		r.PeakWaiting = round3(r.PeakWaiting)
		s.res.Services = append(s.res.Services, r)
		s.res.MinutesAboveTarget += r.MinutesAboveTarget
		s.res.PodCostUSD += r.CostUSD
	}
	s.res.PodCostUSD = math.Round(s.res.PodCostUSD*100) / 100
	s.res.MinutesAboveTarget = math.Round(s.res.MinutesAboveTarget*100) / 100
	gi := 0
	for _, ng := range s.cfg.Platform.NodeGroups {
		gr := NodeGroupResult{Name: ng.Name, InstanceType: ng.InstanceType, HourlyUSD: ng.HourlyUSD, Simulated: ng.Simulated, MinNodes: ng.Min, PeakNodes: ng.Min}
		if ng.Simulated {
			g := s.groups[gi]
			gr.PeakNodes = g.peak
			gr.NodeHours = g.nodeHours
			if gi < len(s.nodeTimelines) {
				gr.Timeline = s.nodeTimelines[gi]
			}
			gi++
		} else {
			gr.NodeHours = float64(ng.Min) * hours
		}
		gr.CostUSD = math.Round(gr.NodeHours*ng.HourlyUSD*100) / 100
		gr.NodeHours = math.Round(gr.NodeHours*100) / 100
		s.res.NodeGroups = append(s.res.NodeGroups, gr)
		s.res.CostUSD += gr.CostUSD
	}
	s.res.CostUSD = math.Round(s.res.CostUSD*100) / 100
}

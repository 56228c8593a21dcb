package scalesim

import (
	"math"
	"time"
)

// MetricKind says how the simulator produces a metric the HPA reads.
type MetricKind int

const (
	// RateMetric is a per-second rate over a window (Prometheus rate()[2m]),
	// of load units times PerUnit, shared evenly by the ready pods.
	RateMetric MetricKind = iota
	// GaugeMetric is an instantaneous level proportional to the load (such as
	// open sessions), shared evenly by the ready pods.
	GaugeMetric
	// WaitingMetric is the length of a queue shared by every replica, reported
	// by every ready pod: what a gauge reading the JetStream consumer's
	// pending count (or the job table) exports.
	WaitingMetric
	// QueuedOrRunningMetric is the shared queue plus the items being handled,
	// as JetStream counts pending plus unacknowledged messages.
	QueuedOrRunningMetric
)

// Metric is one custom metric a service exports.
type Metric struct {
	Name    string
	Kind    MetricKind
	PerUnit float64 // metric units per load unit (rate and gauge kinds)
}

// ServiceModel is what the simulator knows about one service: what a pod
// needs and what it can do. Load is counted in the service's own unit
// (requests, positions, match requests, jobs, notifications) per second.
type ServiceModel struct {
	Service   string
	Unit      string // the load unit, plural: "requests"
	Class     string // the resource class of guide section 3.3
	NodeGroup string // the node group of guide section 6.2 its pods run on

	// CPURequest and CPULimit are cores; the limit is what Servers and
	// CPUPerUnit may use at most (Servers x CPUPerUnit / ServiceTime).
	CPURequest, CPULimit float64
	MemRequest           float64 // GiB

	// A pod is Servers parallel servers, each taking ServiceTime per unit
	// (M/M/c): CPU-bound services have one server per core of their limit,
	// a solver worker is one server, an I/O-bound sender many.
	Servers     int
	ServiceTime time.Duration
	// ServiceCV2 is the squared coefficient of variation of the service
	// time: 1 for exponential, 0 for fixed. The M/M/c wait is scaled by
	// (1+ServiceCV2)/2 (the Allen-Cunneen approximation for M/G/c).
	ServiceCV2 float64
	// CPUPerUnit is the CPU a unit costs, in core-seconds.
	CPUPerUnit float64
	// IdleCPU is what an idle pod uses (cores): runtime, probes, scrapes.
	IdleCPU float64

	// BaseLatency is the p99 latency of a unit without queueing, and
	// TargetLatency the objective the report counts minutes above.
	BaseLatency, TargetLatency time.Duration

	// StartUp is from pod creation on a node with the image to ready.
	StartUp time.Duration
	Metrics []Metric
}

// capacityPerPod is the load a ready pod serves at full utilisation.
func (m ServiceModel) capacityPerPod() float64 {
	return float64(m.Servers) / m.ServiceTime.Seconds()
}

// metric returns the exported metric named name.
func (m ServiceModel) metric(name string) (Metric, bool) {
	for _, x := range m.Metrics {
		if x.Name == name {
			return x, true
		}
	}
	return Metric{}, false
}

// NodeGroup is an EKS managed node group of guide section 6.2.
type NodeGroup struct {
	Name         string
	InstanceType string
	Min, Max     int
	// Allocatable is what pods may request on one node: the instance's
	// vCPUs and memory less the kubelet's reservations and the daemon sets.
	AllocCPU, AllocMem float64
	HourlyUSD          float64
	// Simulated groups host the services' pods; the others (system,
	// ml_inference) are billed at their minimum size.
	Simulated bool
}

// Cluster holds the cluster autoscaler's timing (guide section 6.1) and how
// long a new node takes to join.
type Cluster struct {
	ScanInterval            time.Duration // scan-interval
	ScaleDownDelayAfterAdd  time.Duration // scale-down-delay-after-add
	ScaleDownUnneededTime   time.Duration // scale-down-unneeded-time
	NodeProvision           time.Duration // EC2 launch to Ready (our assumption)
	ImagePullOnNewNode      time.Duration // extra start-up on a node without the image
	ScaleDownUtilThreshold  float64       // the autoscaler's default 0.5
	MaxNodesTotal           int           // max-nodes-total
	HPASyncPeriod           time.Duration // --horizontal-pod-autoscaler-sync-period
	MetricsLag              time.Duration // scrape interval: how old the newest sample is
	RateWindow              time.Duration // the adapter rules' rate(...[2m])
	CPUWindow               time.Duration // metrics-server's resolution
	PredictiveRefit         time.Duration // how often the forecast is refitted
	PredictiveHistoryBucket time.Duration // the forecaster's bucket
}

// Platform is the whole model: services, node groups and timing.
type Platform struct {
	Services   []ServiceModel
	NodeGroups []NodeGroup
	Cluster    Cluster
}

// Resource classes of guide section 3.3.
const (
	classAPI        = "API Services"
	classData       = "Data Processing"
	classBackground = "Background Workers"
)

// DefaultPlatform is the model the simulator runs unless told otherwise.
// Every figure is documented in docs/benchmarks.md ("Scaling simulator"),
// with where it was measured or why it was assumed.
func DefaultPlatform() Platform {
	api := func(name, unit string, cpuPerUnit float64, base, target time.Duration, metrics ...Metric) ServiceModel {
		return ServiceModel{
			Service: name, Unit: unit, Class: classAPI, NodeGroup: "application",
			CPURequest: 0.5, CPULimit: 1, MemRequest: 1,
			Servers: 1, ServiceTime: seconds(cpuPerUnit), ServiceCV2: 1, CPUPerUnit: cpuPerUnit, IdleCPU: 0.01,
			BaseLatency: base, TargetLatency: target, StartUp: 15 * time.Second,
			Metrics: metrics,
		}
	}
	return Platform{
		Services: []ServiceModel{
			// 6,700 req/s through the whole gateway path on 2 cores shared
			// with the load generator (PostgreSQL + Redis + NATS): 3,350 per core.
			api("api-gateway", "requests", 1.0/3350, 14*time.Millisecond, 200*time.Millisecond,
				Metric{Name: "http_requests_per_second", Kind: RateMetric, PerUnit: 1}),
			{
				// The recommendation query: 1.86 ms CPU at p99 (0.77 ms p50)
				// among 100,000 open loads; the p99 is taken as the mean to
				// cover storing the result and its event, not in the benchmark.
				Service: "load-matching", Unit: "match requests", Class: classData, NodeGroup: "data_processing",
				CPURequest: 1, CPULimit: 2, MemRequest: 4,
				Servers: 2, ServiceTime: 1860 * time.Microsecond, ServiceCV2: 1, CPUPerUnit: 0.00186, IdleCPU: 0.02,
				BaseLatency: 3 * time.Millisecond, TargetLatency: 2 * time.Second,
				// It loads the open-load index from the store before it is ready.
				StartUp: 60 * time.Second,
				Metrics: []Metric{{Name: "queue_depth", Kind: QueuedOrRunningMetric}},
			},
			// The load board without its cache (one SQLite query a request):
			// 2,470 req/s on 2 shared cores, 1,235 per core; a driver session
			// sends a request every 5 s.
			api("driver-service", "requests", 1.0/1235, 14*time.Millisecond, 200*time.Millisecond,
				Metric{Name: "active_sessions", Kind: GaugeMetric, PerUnit: 5}),
			api("load-service", "transactions", 1.0/1235, 14*time.Millisecond, 200*time.Millisecond,
				Metric{Name: "transactions_per_second", Kind: RateMetric, PerUnit: 1}),
			{
				// The slowest full-speed PostgreSQL run, 78,500 positions/s on
				// 2 cores shared with the client and the database: 39,250 per
				// core; the paced run's p99 acknowledgement was 14.2 ms. The
				// manifests run it as a data-processing service.
				Service: "tracking-service", Unit: "positions", Class: classData, NodeGroup: "data_processing",
				CPURequest: 1, CPULimit: 2, MemRequest: 4,
				Servers: 2, ServiceTime: seconds(1.0 / 39250), ServiceCV2: 1, CPUPerUnit: 1.0 / 39250, IdleCPU: 0.02,
				BaseLatency: 15 * time.Millisecond, TargetLatency: 50 * time.Millisecond,
				StartUp: 15 * time.Second,
				Metrics: []Metric{{Name: "position_updates_per_second", Kind: RateMetric, PerUnit: 1}},
			},
			{
				// One solver worker a pod (Options.Workers), single-threaded,
				// searching for the job's whole time limit (30 s by default),
				// so every job takes the same time.
				Service: "optimization-engine", Unit: "jobs", Class: classData, NodeGroup: "data_processing",
				CPURequest: 1, CPULimit: 2, MemRequest: 4,
				Servers: 1, ServiceTime: 30 * time.Second, ServiceCV2: 0, CPUPerUnit: 30, IdleCPU: 0.02,
				BaseLatency: 30 * time.Second, TargetLatency: 90 * time.Second,
				StartUp: 15 * time.Second,
				Metrics: []Metric{{Name: "job_queue_length", Kind: WaitingMetric}},
			},
			{
				// No benchmark yet: 20 concurrent sends a pod to a provider
				// answering in 100 ms, 0.5 ms of CPU each (assumed).
				Service: "notification-service", Unit: "notifications", Class: classBackground, NodeGroup: "application",
				CPURequest: 0.25, CPULimit: 0.5, MemRequest: 0.5,
				Servers: 20, ServiceTime: 100 * time.Millisecond, ServiceCV2: 1, CPUPerUnit: 0.0005, IdleCPU: 0.005,
				BaseLatency: 100 * time.Millisecond, TargetLatency: 30 * time.Second,
				StartUp: 15 * time.Second,
				Metrics: []Metric{{Name: "pending_notifications", Kind: WaitingMetric}},
			},
		},
		NodeGroups: []NodeGroup{
			// us-east-1 on-demand Linux prices; allocatable after the EKS
			// kubelet reservations and the daemon sets (CNI, kube-proxy,
			// log and metrics agents).
			{Name: "system", InstanceType: "m6i.large", Min: 3, Max: 6, AllocCPU: 1.5, AllocMem: 6, HourlyUSD: 0.096},
			{Name: "application", InstanceType: "c6i.2xlarge", Min: 4, Max: 20, AllocCPU: 7.6, AllocMem: 13.5, HourlyUSD: 0.34, Simulated: true},
			{Name: "data_processing", InstanceType: "r6i.2xlarge", Min: 2, Max: 10, AllocCPU: 7.6, AllocMem: 58, HourlyUSD: 0.504, Simulated: true},
			{Name: "ml_inference", InstanceType: "g5.xlarge", Min: 1, Max: 5, AllocCPU: 3.6, AllocMem: 14, HourlyUSD: 1.006},
		},
		Cluster: Cluster{
			ScanInterval:            10 * time.Second,
			ScaleDownDelayAfterAdd:  10 * time.Minute,
			ScaleDownUnneededTime:   10 * time.Minute,
			NodeProvision:           90 * time.Second,
			ImagePullOnNewNode:      10 * time.Second,
			ScaleDownUtilThreshold:  0.5,
			MaxNodesTotal:           100,
			HPASyncPeriod:           15 * time.Second,
			MetricsLag:              15 * time.Second,
			RateWindow:              2 * time.Minute,
			CPUWindow:               15 * time.Second,
			PredictiveRefit:         24 * time.Hour,
			PredictiveHistoryBucket: 5 * time.Minute,
		},
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// erlangC is the probability that an arrival waits in an M/M/c queue with c
// servers and offered load a = λ·S (a < c), by the Erlang B recursion, which
// stays stable for thousands of servers.
func erlangC(c int, a float64) float64 {
	if a <= 0 {
		return 0
	}
	b := 1.0
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return float64(c) * b / (float64(c) - a*(1-b))
}

// mmc describes an M/M/c queue in steady state.
type mmc struct {
	wait99  time.Duration // 99th percentile of the time in queue
	waiting float64       // mean number waiting (Lq)
}

// queueing returns the steady-state queue of c servers with service time s
// under arrival rate lambda; ok is false when the queue is unstable.
func queueing(c int, s time.Duration, cv2, lambda float64) (q mmc, ok bool) {
	if c <= 0 {
		return mmc{}, lambda <= 0
	}
	a := lambda * s.Seconds()
	if a >= float64(c) {
		return mmc{}, false
	}
	pw := erlangC(c, a)
	drain := float64(c)/s.Seconds() - lambda // rate at which a wait decays
	// P(W > x) = pw·exp(-drain·x), so the p99 wait is 0 unless pw > 1%.
	scale := (1 + cv2) / 2
	if pw > 0.01 {
		q.wait99 = seconds(scale * math.Log(pw/0.01) / drain)
	}
	q.waiting = scale * pw * a / (float64(c) - a)
	return q, true
}

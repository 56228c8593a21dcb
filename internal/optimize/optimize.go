// Package optimize is the optimization-engine: routing jobs submitted
// through the API, queued on a JetStream work queue with priorities, solved
// by workers that any number of replicas run, with their progress and
// results kept in the store.
//
// The store is the record of every job; the queue carries job IDs only.
//
// Enqueueing: a job and its submission event commit in one transaction,
// and the job's message is published right after the commit with the job
// ID as its message ID. The job row is its own outbox entry: enqueued_at
// stays NULL until the queue has acknowledged the message, and a sweeper in
// every replica publishes the queued jobs left without one (a crash or a
// queue outage between commit and publish); the queue's duplicate window
// stores a job published twice once. Job messages do not go through the
// platform's event outbox, whose relay publishes in strict order: a job
// message that could not be published would hold every domain event behind
// it.
//
// Priorities: one durable consumer per priority (NATS before 2.10 allows
// one filter subject per consumer); an idle worker asks the high consumer
// first, then normal, then low, so it always takes a pending high job first.
//
// Redelivery: a worker claims a delivered job in the store under a lease
// that it renews, with the queue's in-progress signal, three times per
// AckWait. A worker that dies stops both; the queue redelivers after
// AckWait and the next worker, finding the lease expired, starts the job
// again as a new attempt. Every write a worker makes is fenced by its
// attempt number, so a worker presumed dead cannot overwrite its successor,
// and a delivery of a finished job, or of a job whose lease is live, runs
// nothing. After MaxAttempts attempts the job is failed.
package optimize

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/promreg"
	"github.com/backhaul/backhaul/internal/store"
)

// Prefixes are the API paths this service owns (the gateway routes them).
var Prefixes = []string{"/api/v1/jobs"}

// Options tune the service. Zero values take the defaults.
type Options struct {
	// Workers is the number of jobs this process solves at once; the
	// solver is CPU-bound, so the default is 1.
	Workers int
	// AckWait is how long the queue waits for a worker's heartbeat before
	// it hands the job to another worker; default 30s. Workers heartbeat
	// three times per AckWait.
	AckWait time.Duration
	// MaxAttempts is how many workers may take a job before it is failed;
	// default 3.
	MaxAttempts int
	// PollInterval is how often an idle worker looks for jobs besides being
	// woken by new ones (redeliveries wake nobody); default 1s.
	PollInterval time.Duration
	// CheckInterval is how often a running job saves its progress and looks
	// for a cancellation, and how often an event stream polls; default 500ms.
	CheckInterval time.Duration
	// SweepInterval is how often queued jobs whose message was never
	// acknowledged by the queue are published again; default 5s.
	SweepInterval time.Duration
	// RetryDelay is the wait before a job whose attempt failed is tried
	// again; default 1s.
	RetryDelay time.Duration
	// Name identifies this process in the jobs it runs; default the host
	// name and a random suffix.
	Name string
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 500 * time.Millisecond
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = 5 * time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.Name == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "optimizer"
		}
		o.Name = host + "-" + randomSuffix()
	}
	return o
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Service runs optimization jobs.
type Service struct {
	db   *store.DB
	bus  *bus.Bus
	log  *slog.Logger
	opts Options

	// consumers are the queue's consumers in the order workers read them:
	// high, normal, low.
	consumers []jetstream.Consumer

	jobs    *prometheus.CounterVec
	runTime prometheus.Histogram
	running prometheus.Gauge
}

// queueStream names the work queue before bus.StreamName adds its prefix.
const queueStream = "OPTIMIZE_JOBS"

// queueSubject is the queue subject of a priority, before the namespace.
// Queue subjects stay outside bus.EventAreas: one stream owns a subject.
func queueSubject(p Priority) string { return "jobs.optimize." + string(p) }

func consumerName(p Priority) string { return "optimize-" + string(p) }

// setupTimeout bounds the creation of the queue and its consumers.
const setupTimeout = 15 * time.Second

// New builds the service, creates the work queue and its consumers, and
// registers the metrics on reg (nil registers nowhere).
func New(db *store.DB, b *bus.Bus, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, bus: b, log: log.With("service", "optimization-engine"), opts: opts.withDefaults()}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := s.ensureQueue(ctx); err != nil {
		return nil, err
	}
	if err := s.registerMetrics(reg); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) registerMetrics(reg prometheus.Registerer) error {
	s.jobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backhaul_optimize_jobs_total",
		Help: "Optimization jobs finished, by final status.",
	}, []string{"status"})
	s.runTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "backhaul_optimize_job_run_seconds",
		Help:    "Time a worker spent on one attempt of a job, from claim to stored result.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900},
	})
	s.running = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "backhaul_optimize_jobs_running",
		Help: "Jobs this process is solving now.",
	})
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "job_queue_length",
		Help: "Optimization jobs queued and not yet taken by a worker (the optimization-engine autoscaler reads it).",
	}, s.queueLength)
	for _, st := range []Status{StatusSucceeded, StatusFailed, StatusCancelled} {
		s.jobs.WithLabelValues(string(st))
	}
	if reg == nil {
		return nil
	}
	var err error
	if s.jobs, err = promreg.Register(reg, s.jobs); err != nil {
		return err
	}
	if s.runTime, err = promreg.Register(reg, s.runTime); err != nil {
		return err
	}
	if s.running, err = promreg.Register(reg, s.running); err != nil {
		return err
	}
	if _, err = promreg.Register[prometheus.Collector](reg, queued); err != nil {
		return err
	}
	return nil
}

// queueLength counts the jobs waiting for a worker. The store, not the
// queue, is counted: it already leaves out cancelled jobs whose message is
// still in the queue, and it is the same in every replica.
func (s *Service) queueLength() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM optimize_jobs WHERE status = 'queued'`).Scan(&n); err != nil {
		s.log.Warn("count queued jobs", "err", err)
		return 0
	}
	return float64(n)
}

func (s *Service) finished(st Status) { s.jobs.WithLabelValues(string(st)).Inc() }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// submitter reports whether p may submit and follow jobs: dispatchers and
// admins of organizations that run fleets, and the marketplace's operators.
func submitter(p freight.Principal) bool {
	return p.Is(freight.RoleOperator) ||
		(p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin))
}

// visible is the WHERE clause of the jobs p may read: its organization's,
// or every job for an operator.
func visible(p freight.Principal) (string, []any) {
	if p.Is(freight.RoleOperator) {
		return "1=1", nil
	}
	return "org_id = ?", []any{p.OrgID}
}

func forbidden() error {
	return freight.Errorf(freight.EFORBIDDEN, "optimization jobs are for dispatchers and admins of carriers and brokers, and for operators")
}

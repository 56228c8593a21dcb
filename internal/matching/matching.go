// Package matching is the load-matching service: it keeps the open loads
// and the drivers in memory with spatial grids, and answers which loads suit
// a driver, which drivers suit a load, which chains of reloads a driver can
// haul back to back, and how a carrier's available drivers are best assigned
// to open loads, each with the reasons.
//
// Feasibility is a hard filter: equipment, weight within capacity, the
// deadhead limit, the driver's no-go regions and home-by time, reaching the
// pickup inside its window with a speed model, and a trip that is legal
// under the hours-of-service rules with the breaks and rests it needs
// (package hos). Among feasible matches, a linear score (score.go) ranks
// them, so each item can say which factor would have to change, and by how
// much, to rank higher.
//
// The index is built from the store when the service starts and follows the
// event stream: every replica reads every event (an ordered consumer of its
// own, replaying from shortly before the index was read), and an event only
// says which row to read again, so redelivered, late or reordered events
// leave the index where the store is.
//
// Match requests (a load posted, a driver becoming available, a dispatcher's
// request) go through a JetStream work queue that the replicas share. The
// store is the record of each request; the first replica to store its result
// wins, in the same transaction as its matching.recommended.v1 event, so a
// request delivered twice has its effects once.
//
// # Tenancy
//
// Recommendations follow the rest of the API: another tenant's driver,
// load or request is not found (404), never forbidden.
//
//   - A carrier's (or broker's) dispatchers and admins see recommendations
//     for their own drivers: loads for a driver, chains, and, for any open
//     load on the board, their own drivers ranked for it. They set their
//     drivers' preferences and assign their available drivers.
//   - A driver sees their own loads and chains and sets their own
//     preferences; ranking drivers for a load is not for drivers (403).
//   - A shipper (or a broker, as the poster) may ask which trucks suit its
//     own open load: it sees how good the matches are (score, deadhead,
//     slack, hours-of-service margin, what would rank each higher) but not
//     whose they are; drivers, carriers and positions are left out. Other
//     posters' loads are not found. This lets a shipper judge its rate and
//     windows without learning carriers' fleets.
//   - Operators see everything, identified, and change nothing.
//
// Match requests are read by the organization that made them (for events:
// the poster of a new load, anonymised, or the carrier of a newly available
// driver) and by operators.
package matching

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/promreg"
	"github.com/backhaul/backhaul/internal/store"
)

// Prefixes are the API paths this service owns (the gateway routes them).
var Prefixes = []string{"/api/v1/matches", "/api/v1/recommendations"}

// Deps are the optional services matching uses when they run.
type Deps struct {
	// Positions gives live positions (the tracking service); nil means
	// the last delivery or the home base.
	Positions Positions
	// Outlook rates reloads (market intelligence); nil means the density
	// of the load board around the destination.
	Outlook Outlook
	// Miles estimates road miles; nil means geo.DefaultCircuity.
	Miles geo.Distancer
}

// Options tune the service. Zero values take the defaults.
type Options struct {
	// Name identifies this replica in the requests it handles; default
	// the host name and a random suffix.
	Name string
	// Workers is the number of match requests handled at once; default 2.
	Workers int
	// SpeedMPH is the average speed on the road, stops excluded; default 50.
	SpeedMPH float64
	// StopTime is the on-duty time at each pickup and delivery; default 1h.
	StopTime time.Duration
	// MaxDeadheadMiles is the deadhead limit of drivers who set none;
	// default 250.
	MaxDeadheadMiles float64
	// Cycle60 applies the 60-hour/7-day rule instead of 70/8.
	Cycle60 bool
	// DeadheadCostPerMile prices empty miles in reload chains; default 0.80.
	DeadheadCostPerMile float64
	// TopN is how many matches a match request stores; default 10, at
	// most 50.
	TopN int
	// AckWait is how long the queue waits before handing a request to
	// another replica; default 30s.
	AckWait time.Duration
	// MaxAttempts is how many failed attempts fail a request; default 3.
	MaxAttempts int
	// RetryDelay is the wait before a failed attempt is retried; default 1s.
	RetryDelay time.Duration
	// SweepInterval is how often requests whose queue message was never
	// acknowledged are published again; default 5s.
	SweepInterval time.Duration
	// PositionRefresh is how often live positions are read into the
	// index, when Positions is set; default 1m.
	PositionRefresh time.Duration
	// PositionMaxAge is the age beyond which a live position is ignored;
	// default 6h.
	PositionMaxAge time.Duration
	// OutlookTTL is how long market intelligence's outlooks are cached;
	// default 10m.
	OutlookTTL time.Duration
	// ReplayMargin is how far before the index was read its event
	// consumers start, covering clock skew between the store and the bus;
	// default 2m.
	ReplayMargin time.Duration
	// Now is the clock; default the store's.
	Now func() time.Time
}

func (o Options) withDefaults(db *store.DB) Options {
	if o.Name == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "matcher"
		}
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.Name = host + "-" + hex.EncodeToString(b)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if !(o.SpeedMPH > 0) {
		o.SpeedMPH = 50
	}
	if !(o.MaxDeadheadMiles > 0) {
		o.MaxDeadheadMiles = 250
	}
	if !(o.DeadheadCostPerMile > 0) {
		o.DeadheadCostPerMile = 0.80
	}
	if o.TopN <= 0 {
		o.TopN = 10
	}
	o.TopN = min(o.TopN, maxTopN)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	def(&o.StopTime, time.Hour)
	def(&o.AckWait, 30*time.Second)
	def(&o.RetryDelay, time.Second)
	def(&o.SweepInterval, 5*time.Second)
	def(&o.PositionRefresh, time.Minute)
	def(&o.PositionMaxAge, 6*time.Hour)
	def(&o.OutlookTTL, 10*time.Minute)
	def(&o.ReplayMargin, 2*time.Minute)
	if o.Now == nil && db != nil {
		o.Now = db.Now
	}
	return o
}

// Service is one replica of the load-matching service.
type Service struct {
	db    *store.DB
	bus   *bus.Bus
	log   *slog.Logger
	opts  Options
	deps  Deps
	miles geo.Distancer
	idx   *Index
	eng   *engine

	// indexedAt is when the index was read (the bus's clock is the wall
	// clock, so this is too); event consumers replay from before it.
	indexedAt time.Time
	queue     jetstream.Consumer

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	events   prometheus.Counter
}

// Work queue names, outside the event areas (one stream owns a subject).
const (
	queueStream   = "MATCH_REQUESTS"
	queueSubject  = "jobs.match.requests"
	queueConsumer = "matching-requests"
)

// setupTimeout bounds building the index and creating the queue.
const setupTimeout = 2 * time.Minute

// New builds a replica: it reads the index from the store, creates the
// work queue and its consumer, and registers the metrics on reg (nil
// registers nowhere). Run starts its background work.
func New(db *store.DB, b *bus.Bus, deps Deps, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if db == nil || b == nil {
		return nil, errors.New("matching: a store and a bus are required")
	}
	s := &Service{db: db, bus: b, log: log.With("service", "load-matching"), opts: opts.withDefaults(db), deps: deps, miles: deps.Miles}
	if s.miles == nil {
		s.miles = geo.DefaultCircuity
	}
	s.idx = NewIndex()
	s.eng = newEngine(s.idx, s.miles, s.opts, deps.Positions, deps.Outlook)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s.indexedAt = time.Now()
	started := time.Now()
	if err := s.idx.load(ctx, db, s.miles); err != nil {
		return nil, fmt.Errorf("matching: %w", err)
	}
	loads, drivers := s.idx.Counts()
	s.log.Info("matching index built", "open_loads", loads, "drivers", drivers, "elapsed", time.Since(started).Round(time.Millisecond))
	if err := s.ensureQueue(ctx); err != nil {
		return nil, err
	}
	if err := s.registerMetrics(reg); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) now() time.Time { return store.Now(s.opts.Now()) }

// Index exposes the replica's index (its counts, for health pages).
func (s *Service) Index() *Index { return s.idx }

func (s *Service) registerMetrics(reg prometheus.Registerer) error {
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backhaul_match_requests_total",
		Help: "Match request deliveries handled by this process, by outcome: done (result stored), duplicate (already done elsewhere), failed, retried.",
	}, []string{"outcome"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backhaul_matching_seconds",
		Help:    "Time to answer a matching question from the index, by kind.",
		Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"kind"})
	s.events = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backhaul_matching_index_events_total",
		Help: "Events applied to this process's matching index.",
	})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "queue_depth",
		Help: "Match requests waiting in the work queue or being handled (the load-matching autoscaler reads it).",
	}, s.queueDepth)
	for _, o := range []string{"done", "duplicate", "failed", "retried"} {
		s.requests.WithLabelValues(o)
	}
	if reg == nil {
		return nil
	}
	var err error
	if s.requests, err = promreg.Register(reg, s.requests); err != nil {
		return err
	}
	if s.latency, err = promreg.Register(reg, s.latency); err != nil {
		return err
	}
	if s.events, err = promreg.Register(reg, s.events); err != nil {
		return err
	}
	_, err = promreg.Register[prometheus.Collector](reg, depth)
	return err
}

// queueDepth reads the requests the queue still holds for the replicas.
func (s *Service) queueDepth() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := s.bus.QueueDepth(ctx, queueStream, queueConsumer)
	if err != nil {
		s.log.Warn("queue depth", "err", err)
		return 0
	}
	return float64(n)
}

// Run follows the event stream into the index, turns new loads and newly
// available drivers into match requests, and handles match requests, until
// ctx ends. Several replicas may run against one store and one bus.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		runErrs []error
	)
	fail := func(err error) {
		if err == nil || ctx.Err() != nil {
			return
		}
		errMu.Lock()
		runErrs = append(runErrs, err)
		errMu.Unlock()
		cancel()
	}
	for _, subject := range followed {
		wg.Go(func() { fail(s.follow(ctx, subject)) })
	}
	for _, t := range s.triggers() {
		wg.Go(func() { fail(s.bus.Consume(ctx, t.cfg, t.handle)) })
	}
	for i := range s.opts.Workers {
		wg.Go(func() { fail(s.work(ctx, fmt.Sprintf("%s/%d", s.opts.Name, i+1))) })
	}
	wg.Go(func() { s.sweeper(ctx) })
	if s.deps.Positions != nil {
		wg.Go(func() { s.refreshPositions(ctx) })
	}
	s.log.Info("load matching running", "name", s.opts.Name, "workers", s.opts.Workers)
	wg.Wait()
	return errors.Join(runErrs...)
}

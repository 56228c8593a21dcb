// Package market is the market-intelligence service: instant rate quotes
// with a calibrated P10-P90 range, the offered rate of a posted load, the
// retraining of the rate model, and the market dashboard (load-to-truck
// ratios, rate indexes, hot and cold markets, demand forecasts, the reload
// outlook the matching service reads).
//
// The rate model learns from the platform's own bookings and from history
// imported with `backhaul market import` (Import). A retrained model goes
// into service only when it scores better than the one in service on
// bookings neither has learned from, and it is stored, so that a restart or
// another replica quotes with it at once. Until a model is in service,
// quotes come from a per-equipment, per-distance-band rate table fitted on
// the history; with no history at all the service answers 503.
package market

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/market/areas"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
	"github.com/backhaul/backhaul/internal/store"
)

// Prefixes are the API paths this service owns (the gateway routes them).
var Prefixes = []string{"/api/v1/quotes", "/api/v1/market"}

// Options tune the service. The zero value is the product default.
type Options struct {
	// Areas are the market areas the rate model learns lane levels for;
	// nil means the key market areas of package areas, which scored as
	// well as the rate model's default grid on held-back bookings and
	// name real markets (docs/benchmarks.md, market intelligence).
	Areas ratemodel.Areas
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Seed makes training reproducible; 0 means 1.
	Seed uint64
	// RetrainAt is the time of day (UTC, under 24 hours) of the daily
	// retraining; 0 means 03:00 and a negative value turns the schedule
	// off.
	RetrainAt time.Duration
	// Poll is how often Run looks for queued retraining runs and for a
	// model another replica put into service; 0 means 30 seconds.
	Poll time.Duration
	// LiveTTL is how long load-to-truck figures are reused; 0 means 15
	// seconds.
	LiveTTL time.Duration
	// StatsTTL is how long rate indexes, forecasts and lane histories are
	// reused; 0 means 5 minutes.
	StatsTTL time.Duration
	// TrainTimeout bounds one retraining run; a run left running longer
	// (its replica died) is marked failed. 0 means 30 minutes.
	TrainTimeout time.Duration
	// Worker names this replica in the runs it claims; "" means host:pid.
	Worker string
	// Miles estimates road miles of a quoted lane; nil means
	// geo.DefaultCircuity, as the load service uses.
	Miles geo.Distancer
}

func (o *Options) defaults() {
	if o.Areas == nil {
		o.Areas = areas.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.RetrainAt == 0 {
		o.RetrainAt = 3 * time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = 30 * time.Second
	}
	if o.LiveTTL <= 0 {
		o.LiveTTL = 15 * time.Second
	}
	if o.StatsTTL <= 0 {
		o.StatsTTL = 5 * time.Minute
	}
	if o.TrainTimeout <= 0 {
		o.TrainTimeout = 30 * time.Minute
	}
	if o.Miles == nil {
		o.Miles = geo.DefaultCircuity
	}
	if o.Worker == "" {
		host, _ := os.Hostname()
		o.Worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
}

// Service is the market-intelligence service. It implements loads.Quoter.
type Service struct {
	db    *store.DB
	log   *slog.Logger
	opts  Options
	areas *areas.Set // the dashboard's areas
	// schemes are the area schemes a stored model may have been trained
	// with, by name.
	schemes map[string]ratemodel.Areas
	met     *metrics

	pricer atomic.Pointer[pricer] // nil: no market data at all
	reload sync.Mutex             // one reload at a time
	wake   chan struct{}
	live   cached[*liveSnapshot]
	stats  cached[*marketStats]
}

// New returns the service and loads the model in service, if any, so that
// quotes are available before Run starts. reg may be nil.
func New(db *store.DB, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.defaults()
	if opts.RetrainAt >= 24*time.Hour {
		return nil, fmt.Errorf("market: retrain time of day %v is not within a day", opts.RetrainAt)
	}
	s := &Service{
		db: db, log: log, opts: opts, areas: areas.Default(),
		schemes: map[string]ratemodel.Areas{},
		wake:    make(chan struct{}, 1),
	}
	for _, a := range []ratemodel.Areas{opts.Areas, areas.Default(), ratemodel.DefaultAreas()} {
		s.schemes[a.Name()] = a
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.met = met
	s.live.ttl, s.stats.ttl = opts.LiveTTL, opts.StatsTTL
	if err := s.refresh(context.Background()); err != nil {
		return nil, fmt.Errorf("market: load the rate model: %w", err)
	}
	return s, nil
}

// Run keeps the service current until ctx is done: it queues the daily
// retraining, runs queued retraining jobs (one replica at a time), puts into
// service models other replicas trained, and keeps the live figures warm.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Follow keeps a process that quotes without running the
// market-intelligence target (a load service pricing posted loads) on the
// model in service: it reloads the model when another replica stores a new
// one, and never trains.
func (s *Service) Follow(ctx context.Context) error {
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	for {
		if err := s.refresh(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("market: reload the rate model", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) tick(ctx context.Context) {
	warn := func(what string, err error) {
		if err != nil && ctx.Err() == nil {
			s.log.Warn(what, "err", err)
		}
	}
	warn("market: reload the rate model", s.refresh(ctx))
	warn("market: schedule retraining", s.schedule(ctx))
	_, err := s.RunQueued(ctx)
	warn("market: retraining", err)
	_, err = s.liveFigures(ctx)
	warn("market: live figures", err)
	_, err = s.marketStats(ctx)
	warn("market: rate indexes", err)
}

// cached holds a value computed at most once per ttl; callers that find it
// stale recompute it one at a time while others keep reading the old one.
type cached[T any] struct {
	ttl time.Duration
	mu  sync.Mutex // held while computing
	v   atomic.Pointer[cachedValue[T]]
}

type cachedValue[T any] struct {
	v  T
	at time.Time
}

func (c *cached[T]) get(now time.Time, compute func() (T, error)) (T, error) {
	if cv := c.v.Load(); cv != nil && now.Sub(cv.at) < c.ttl {
		return cv.v, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cv := c.v.Load(); cv != nil && now.Sub(cv.at) < c.ttl {
		return cv.v, nil
	}
	v, err := compute()
	if err != nil {
		var zero T
		return zero, err
	}
	c.v.Store(&cachedValue[T]{v: v, at: now})
	return v, nil
}

// errNoData is what quotes and the dashboard answer before any booking is
// known.
var errNoData = freight.Errorf(freight.EUNAVAILABLE, "no market data yet; import history with backhaul market import")

// Package tracking is the tracking-service: positions from drivers' phones
// and telematics devices are decoded, filtered and acknowledged once
// durable; the history is kept by day (PostgreSQL partitions, or one SQLite
// table) with hourly rollups; the latest position of every driver answers
// radius queries; geofences move loads through pickup and delivery; a live
// ETA is kept for every active load; and live views stream positions.
package tracking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/tracking/ingest"
	"github.com/backhaul/backhaul/internal/tracking/latest"
)

// Prefixes are the API paths this service owns (the gateway routes them).
var Prefixes = []string{"/api/v1/positions", "/api/v1/tracking"}

// Config tunes the service. The zero value of every field means its default.
type Config struct {
	// DatabaseURL is the PostgreSQL URL of the store; the ingest path opens
	// its own pgx pool on it for COPY. Required on PostgreSQL.
	DatabaseURL string
	// Limits are the filters applied before storage.
	Limits ingest.Limits
	// MaxBatchPoints and MaxBatchBytes bound one request (413 beyond).
	MaxBatchPoints int
	MaxBatchBytes  int64
	// Retention of raw positions (90 days) and of hourly rollups (a year).
	Retention       time.Duration
	RollupRetention time.Duration
	// PartitionsAhead is how many days of partitions exist ahead of today.
	PartitionsAhead int
	// RollupLookback is how far back the hourly refresh recomputes closed
	// hours, to take in late fixes (6 hours).
	RollupLookback time.Duration
	// Writers is the number of concurrent group commits (4 on PostgreSQL;
	// SQLite has one writer).
	Writers int
	// RedisPrefix prefixes the keys of the latest-position index in Redis.
	RedisPrefix string
	// GeofenceMiles is the radius around a stop (0.5 miles); Dwell the time
	// inside (or outside) before an arrival (or departure) counts (2
	// minutes); FreeTime the time on site before detention starts (2 hours).
	GeofenceMiles float64
	Dwell         time.Duration
	FreeTime      time.Duration
}

func (c Config) withDefaults() Config {
	if c.Limits == (ingest.Limits{}) {
		c.Limits = ingest.DefaultLimits
	}
	if c.MaxBatchPoints <= 0 {
		c.MaxBatchPoints = 5000
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 1 << 20
	}
	if c.Retention <= 0 {
		c.Retention = 90 * 24 * time.Hour
	}
	if c.RollupRetention <= 0 {
		c.RollupRetention = 365 * 24 * time.Hour
	}
	if c.PartitionsAhead <= 0 {
		c.PartitionsAhead = 3
	}
	if c.RollupLookback <= 0 {
		c.RollupLookback = 6 * time.Hour
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "backhaul:tracking:"
	}
	if c.GeofenceMiles <= 0 {
		c.GeofenceMiles = 0.5
	}
	if c.Dwell <= 0 {
		c.Dwell = 2 * time.Minute
	}
	if c.FreeTime <= 0 {
		c.FreeTime = 2 * time.Hour
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Limits.MaxAge >= c.Retention {
		errs = append(errs, fmt.Errorf("tracking: the oldest accepted fix (%s) must be younger than the retention (%s)", c.Limits.MaxAge, c.Retention))
	}
	if c.Limits.MaxAge <= 0 || c.Limits.MaxFuture < 0 {
		errs = append(errs, errors.New("tracking: limits need a positive maximum age and a non-negative clock skew"))
	}
	return errors.Join(errs...)
}

// DriverChecker confirms that a driver belongs to a carrier (the
// driver-service implements it).
type DriverChecker interface {
	DriverBelongs(ctx context.Context, carrierID, driverID string) (bool, error)
}

// StatusSetter moves a load along its status machine (the load-service).
type StatusSetter interface {
	SetStatus(ctx context.Context, p freight.Principal, id string, in loads.StatusInput) (freight.Load, error)
}

// Deps are the collaborators the service uses.
type Deps struct {
	// Drivers checks that a dispatcher posts for its own carrier's drivers.
	Drivers DriverChecker
	// Redis, when set, holds the latest positions (shared by replicas);
	// nil keeps them in the process.
	Redis redis.UniversalClient
	// Status applies geofence arrivals and departures; nil leaves load
	// statuses alone (visits are still recorded).
	Status StatusSetter
	// Loads finds a driver's active loads; nil reads the store.
	Loads LoadFinder
	// Fleet reads a driver's hours-of-service clock for the ETA; nil
	// assumes a rested driver.
	Fleet DriverReader
	// Fanout shares live fixes between replicas; nil keeps each replica's
	// live views to its own ingest.
	Fanout Fanout
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the tracking-service.
type Service struct {
	db     *store.DB
	cfg    Config
	deps   Deps
	log    *slog.Logger
	now    func() time.Time
	pool   *pgxpool.Pool // PostgreSQL only
	parts  *partitions   // PostgreSQL only
	write  *writer
	latest latest.Index
	m      *metrics
	hub    *hub
	fanout Fanout
	fences *fenceEngine
	etas   *etaState

	statesMu sync.Mutex
	states   map[string]*driverState

	belongsMu sync.Mutex
	belongs   map[string]time.Time // carrier/driver pairs confirmed, until
}

// New builds the service. On PostgreSQL it opens its COPY pool and makes
// sure the positions table is partitioned with today's partitions in place.
func New(db *store.DB, cfg Config, deps Deps, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if deps.Drivers == nil {
		return nil, errors.New("tracking: a driver checker is required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Loads == nil {
		deps.Loads = storeLoads{db: db}
	}
	s := &Service{db: db, cfg: cfg, deps: deps, log: log, now: deps.Now, m: newMetrics(reg),
		states: map[string]*driverState{}, belongs: map[string]time.Time{}, hub: newHub(), fanout: deps.Fanout, etas: newETAState()}
	if deps.Redis != nil {
		s.latest = latest.NewRedis(deps.Redis, cfg.RedisPrefix, cfg.Retention)
	} else {
		s.latest = latest.NewLocal()
	}
	if db.Dialect() == store.Postgres {
		if cfg.DatabaseURL == "" {
			return nil, errors.New("tracking: the PostgreSQL URL is required for the COPY path")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("tracking: database url: %w", err)
		}
		// The writers, partition upkeep and the odd conflict fallback.
		pcfg.MaxConns = int32(max(cfg.Writers, 4) + 2)
		if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
			return nil, fmt.Errorf("tracking: connect: %w", err)
		}
		s.parts = &partitions{pool: s.pool, days: map[time.Time]bool{}}
		if err := s.parts.convert(ctx); err != nil {
			s.pool.Close()
			return nil, fmt.Errorf("tracking: %w", err)
		}
		if _, _, err := s.parts.maintain(ctx, s.now(), cfg.Limits.MaxAge, cfg.Retention, cfg.PartitionsAhead); err != nil {
			s.pool.Close()
			return nil, fmt.Errorf("tracking: %w", err)
		}
		n := cfg.Writers
		if n <= 0 {
			n = 4
		}
		s.write = newWriter(n, 50_000, postgresWrite(s.pool), s.m.observeWrite)
	} else {
		s.write = newWriter(1, 20_000, sqliteWrite(db), s.m.observeWrite)
	}
	s.fences = newFenceEngine(s)
	return s, nil
}

// Close commits what is queued and releases the connections.
func (s *Service) Close() {
	s.write.close()
	s.fences.close()
	s.hub.close()
	if s.pool != nil {
		s.pool.Close()
	}
}

// Latest returns the index of latest positions.
func (s *Service) Latest() latest.Index { return s.latest }

// Run does the background work until ctx is done: partitions ahead and
// retention (hourly), rollups of closed hours (hourly), the geofence and
// ETA engine, and warming the in-process index after a restart.
func (s *Service) Run(ctx context.Context) error {
	if _, ok := s.latest.(*latest.Local); ok {
		if err := s.warm(ctx); err != nil {
			s.log.Warn("warm latest positions", "err", err)
		}
	}
	if s.fanout != nil {
		stop, err := s.fanout.Subscribe(s.hub.publish)
		if err != nil {
			return err
		}
		defer stop()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.fences.run(ctx)
	}()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	var lastHour time.Time
	for {
		if h := s.now().Truncate(time.Hour); !h.Equal(lastHour) {
			if err := s.Maintain(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("tracking maintenance", "err", err)
			} else {
				lastHour = h
			}
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
		}
	}
}

// Maintain runs one round of the hourly work: partitions, retention and
// rollups. Run calls it every hour; tests call it with a moved clock.
func (s *Service) Maintain(ctx context.Context) error {
	now := s.now()
	var errs []error
	if s.parts != nil {
		created, dropped, err := s.parts.maintain(ctx, now, s.cfg.Limits.MaxAge, s.cfg.Retention, s.cfg.PartitionsAhead)
		if err != nil {
			errs = append(errs, err)
		}
		if len(created)+len(dropped) > 0 {
			s.log.Info("position partitions", "created", created, "dropped", dropped)
		}
	} else if _, err := s.db.Exec(ctx, `DELETE FROM positions WHERE recorded_at < ?`, now.Add(-s.cfg.Retention)); err != nil {
		errs = append(errs, fmt.Errorf("position retention: %w", err))
	}
	s.evictStates(time.Hour)
	if _, err := s.RefreshRollups(ctx); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM position_rollups WHERE hour < ?`, now.Add(-s.cfg.RollupRetention)); err != nil {
		errs = append(errs, fmt.Errorf("rollup retention: %w", err))
	}
	return errors.Join(errs...)
}

// warm loads the latest fix of every driver seen within the accepted age
// into the in-process index, so a restarted replica answers radius queries
// at once.
func (s *Service) warm(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT p.driver_id, p.carrier_id, p.recorded_at, p.lat, p.lon, p.speed_mph, p.heading_deg
		FROM positions p JOIN (SELECT driver_id, MAX(recorded_at) AS at FROM positions WHERE recorded_at >= ? GROUP BY driver_id) m
		ON m.driver_id = p.driver_id AND m.at = p.recorded_at`, s.now().Add(-s.cfg.Limits.MaxAge))
	if err != nil {
		return err
	}
	defer rows.Close()
	var fixes []latest.Fix
	for rows.Next() {
		var (
			f              latest.Fix
			speed, heading *float64
		)
		if err := rows.Scan(&f.DriverID, &f.CarrierID, store.Time(&f.Time), &f.Lat, &f.Lon, &speed, &heading); err != nil {
			return err
		}
		f.SpeedMph, f.HeadingDeg = deref(speed), deref(heading)
		fixes = append(fixes, f)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return s.latest.Update(ctx, fixes)
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

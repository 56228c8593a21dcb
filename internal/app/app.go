// Package app wires Backhaul's modules into one process: configuration, the
// module manager and its targets, the HTTP server, and the CLI.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/backhaul/backhaul/internal/accounts"
	"github.com/backhaul/backhaul/internal/auth"
	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/cache"
	"github.com/backhaul/backhaul/internal/demo"
	"github.com/backhaul/backhaul/internal/documents"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/gateway"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/market"
	"github.com/backhaul/backhaul/internal/matching"
	"github.com/backhaul/backhaul/internal/modules"
	"github.com/backhaul/backhaul/internal/notify"
	"github.com/backhaul/backhaul/internal/optimize"
	"github.com/backhaul/backhaul/internal/ratelimit"
	"github.com/backhaul/backhaul/internal/reports"
	"github.com/backhaul/backhaul/internal/scalesim/scaleapi"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/tracking"
	"github.com/backhaul/backhaul/internal/web"
)

// Targets are the services of the scaling guide, each a --target.
var Targets = []string{
	"api-gateway", "load-service", "driver-service", "load-matching",
	"tracking-service", "notification-service", "optimization-engine", "market-intelligence",
}

// owned maps each target to the API prefixes it serves; the gateway proxies
// the prefixes of targets that run elsewhere.
var owned = map[string][]string{
	"load-service":         slices.Concat(loads.Prefixes, geocode.Prefixes, documents.Prefixes, reports.Prefixes),
	"driver-service":       drivers.Prefixes,
	"load-matching":        matching.Prefixes,
	"tracking-service":     tracking.Prefixes,
	"notification-service": notify.Prefixes,
	"optimization-engine":  optimize.Prefixes,
	"market-intelligence":  market.Prefixes,
}

// App is one running process.
type App struct {
	cfg Config
	log *slog.Logger
	reg *prometheus.Registry
	mgr *modules.Manager

	root *http.ServeMux // health, metrics, docs, public routes
	api  *http.ServeMux // authenticated /api/v1 routes
	http *httpapi.Metrics

	db       *store.DB
	bus      *bus.Bus
	relay    *bus.Relay
	redis    redis.UniversalClient
	limiter  gateway.Limiter
	tokens   *auth.Tokens
	accounts *accounts.Service
	drivers  *drivers.Service
	loads    *loads.Service
	optimize *optimize.Service
	// tracking is set when the tracking-service runs here; modules that
	// start before it read it at call time.
	tracking atomic.Pointer[tracking.Service]
	market   *market.Service
	matching *matching.Service

	// documents is set when the load-service runs here.
	documents *documents.Service

	remote  []string                        // API prefixes served by other processes
	gw      atomic.Pointer[gateway.Gateway] // set when the api-gateway runs here
	portal  atomic.Pointer[web.Portal]      // set when the api-gateway runs here
	streams context.Context                 // cancelled when the HTTP server shuts down
	addrMu  sync.Mutex
	addr    net.Addr
	srv     *http.Server
}

// New builds the process from a resolved configuration.
func New(cfg Config, log *slog.Logger) *App {
	a := &App{cfg: cfg, log: log, reg: prometheus.NewRegistry(), mgr: modules.New(log),
		root: http.NewServeMux(), api: http.NewServeMux()}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.http = httpapi.NewMetrics(a.reg)
	a.mgr.SetStopTimeout(cfg.ShutdownTimeout)
	a.register()
	return a
}

func (a *App) register() {
	m := a.mgr
	m.Register("store", a.initStore)
	m.Register("bus", a.initBus, modules.DependsOn("store"))
	m.Register("cache", a.initCache)
	m.Register("domain", a.initDomain, modules.DependsOn("store", "bus", "cache"))
	m.Register("cache-follow", a.initCacheFollow, modules.DependsOn("domain"))
	m.Register("server", a.initServer, modules.DependsOn("domain", "cache", "cache-follow"))
	m.Register("api-gateway", a.initGateway, modules.Public(), modules.DependsOn("server"))
	m.Register("load-service", func(ctx context.Context) (modules.Service, error) {
		geocode.Default().Routes(a.api)
		return a.initLoadService(ctx)
	}, modules.Public(), modules.DependsOn("server", "reports"))
	m.Register("reports", a.initReports, modules.DependsOn("server"))
	m.Register("driver-service", a.routes(func(mux *http.ServeMux) {
		a.drivers.Routes(mux)
		// The driver-service autoscaler's second metric (scaling guide, section 2).
		a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "active_sessions",
			Help: "Distinct callers this driver-service process served in the last 5 minutes."},
			func() float64 { return float64(a.drivers.Sessions().Active()) }))
	}), modules.Public(), modules.DependsOn("server"))
	// The services below grow in later releases; today they run as modules
	// with health and metrics so that every Deployment of the scaling guide
	// can start.
	m.Register("optimization-engine", a.initOptimize, modules.Public(), modules.DependsOn("server"))
	m.Register("tracking-service", a.initTracking, modules.Public(), modules.DependsOn("server"))
	m.Register("market-intelligence", a.initMarket, modules.Public(), modules.DependsOn("server"))
	m.Register("load-matching", a.initMatching, modules.Public(), modules.DependsOn("server"))
	m.Register("notification-service", a.initNotify, modules.Public(), modules.DependsOn("server"))
}

// Run runs the configured targets until ctx is cancelled or a module fails.
func (a *App) Run(ctx context.Context) error {
	return a.mgr.Run(ctx, a.cfg.TargetList())
}

// Addr is the HTTP server's address once it listens (tests use port 0).
func (a *App) Addr() net.Addr {
	a.addrMu.Lock()
	defer a.addrMu.Unlock()
	return a.addr
}

// Config returns the process's configuration.
func (a *App) Config() Config { return a.cfg }

// Bus is the event bus, once started (tests read the stream through it).
func (a *App) Bus() *bus.Bus { return a.bus }

// Ready reports whether every module runs.
func (a *App) Ready() error { return a.mgr.Ready() }

// local reports whether target runs in this process.
func (a *App) local(target string) bool {
	for _, t := range a.cfg.TargetList() {
		if t == "all" || t == target {
			return true
		}
	}
	return false
}

// service adapts init/stop functions to modules.Service.
type service struct {
	start func(context.Context) error
	stop  func(context.Context) error
	run   func(context.Context) error
}

func (s *service) Start(ctx context.Context) error {
	if s.start == nil {
		return nil
	}
	return s.start(ctx)
}

func (s *service) Stop(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	return s.stop(ctx)
}

// runner is a service with a background loop.
type runner struct{ *service }

func (r runner) Run(ctx context.Context) error { return r.run(ctx) }

func (a *App) initStore(ctx context.Context) (modules.Service, error) {
	db, err := OpenStore(ctx, a.cfg, a.log)
	if err != nil {
		return nil, err
	}
	if a.cfg.Migrate {
		applied, err := db.Migrate(ctx)
		if err != nil {
			db.Close()
			return nil, err
		}
		if len(applied) > 0 {
			a.log.Info("migrated store", "engine", db.Dialect().String(), "versions", applied)
		}
	}
	if err := db.RegisterMetrics(a.reg); err != nil {
		db.Close()
		return nil, err
	}
	a.db = db
	a.log.Info("store open", "engine", db.Dialect().String())
	return &service{stop: func(context.Context) error { return db.Close() }}, nil
}

// OpenStore opens the configured store (for serve and migrate).
func OpenStore(ctx context.Context, cfg Config, log *slog.Logger) (*store.DB, error) {
	return store.Open(ctx, store.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxOpenConns: cfg.DBMaxConns,
		ConnMaxIdleTime: cfg.DBIdleTimeout, ReplicaURLs: cfg.DatabaseReplicaURLs, ReplicaMaxLag: cfg.DBReplicaMaxLag,
		PgBouncer: cfg.DBPgBouncer, SessionKey: principalSession}, log)
}

type outbox struct{ db *store.DB }

func (o outbox) Pending(ctx context.Context, limit int) ([]bus.Pending, error) {
	rows, err := o.db.PendingEvents(ctx, limit)
	out := make([]bus.Pending, len(rows))
	for i, r := range rows {
		out[i] = bus.Pending{Seq: r.Seq, Event: r.Event}
	}
	return out, err
}

func (o outbox) MarkPublished(ctx context.Context, seqs []int64) error {
	return o.db.MarkPublished(ctx, seqs)
}

func (a *App) initBus(ctx context.Context) (modules.Service, error) {
	b, err := bus.Open(ctx, bus.Config{URL: a.cfg.NATSURL, DataDir: a.cfg.DataDir, Namespace: a.cfg.NATSNamespace}, a.log)
	if err != nil {
		return nil, err
	}
	if err := b.EnsureEventStream(ctx); err != nil {
		b.Close()
		return nil, err
	}
	relay, err := bus.NewRelay(outbox{a.db}, b, bus.RelayConfig{}, a.log, a.reg)
	if err != nil {
		b.Close()
		return nil, err
	}
	a.bus, a.relay = b, relay
	a.db.OnCommit(relay.Notify)
	return runner{&service{
		run: func(ctx context.Context) error {
			go a.pruneOutbox(ctx)
			return relay.Run(ctx)
		},
		stop: func(context.Context) error { b.Close(); return nil },
	}}, nil
}

// proxied reports whether another process serves path.
func (a *App) proxied(path string) bool {
	for _, p := range a.remote {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// pruneOutbox deletes published outbox rows after a day and expired
// idempotency keys, hourly.
func (a *App) pruneOutbox(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := a.db.PruneOutbox(ctx, 24*time.Hour); err != nil && ctx.Err() == nil {
			a.log.Warn("prune outbox", "err", err)
		} else if n > 0 {
			a.log.Info("pruned outbox", "rows", n)
		}
		if _, err := a.db.PruneIdempotency(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("prune idempotency keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *App) initCache(ctx context.Context) (modules.Service, error) {
	if a.cfg.RedisURL == "" {
		a.limiter = ratelimit.NewLocal(time.Now)
		return nil, nil
	}
	opts, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		// The platform runs without Redis, from the database and with
		// rate limits let through, and reports it in /readyz and
		// backhaul_cache_up; go-redis reconnects by itself.
		a.log.Warn("redis unavailable; serving from the database until it answers", "err", err)
	}
	a.redis = client
	a.limiter = &coolingLimiter{next: ratelimit.NewRedis(client, "backhaul:"), cooldown: a.cfg.CacheRedisCooldown}
	return &service{stop: func(context.Context) error { return client.Close() }}, nil
}

// tokenSecret returns the configured secret or, for the embedded default, a
// secret generated once into the data directory so that tokens survive a
// restart.
func (a *App) tokenSecret() ([]byte, error) {
	if a.cfg.TokenSecret != "" {
		return []byte(a.cfg.TokenSecret), nil
	}
	path := filepath.Join(a.cfg.DataDir, "token.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= 64 {
		return b, nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	secret := []byte(hex.EncodeToString(buf))
	if err := os.MkdirAll(a.cfg.DataDir, 0o750); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("write token secret: %w", err)
	}
	return secret, nil
}

func (a *App) initDomain(ctx context.Context) (modules.Service, error) {
	secret, err := a.tokenSecret()
	if err != nil {
		return nil, err
	}
	if a.tokens, err = auth.NewTokens(secret, a.cfg.TokenTTL, time.Now); err != nil {
		return nil, err
	}
	g := Geocoder{}
	miles := geo.DefaultCircuity
	a.drivers = drivers.New(a.db, g, a.log)
	a.accounts = accounts.New(a.db, a.tokens, a.drivers, a.log)
	if a.market, err = market.New(a.db, a.log, a.reg, market.Options{Miles: miles}); err != nil {
		return nil, err
	}
	a.loads = loads.New(a.db, g, miles, a.market, a.log)
	a.loads.SetBoardCacheTTL(a.cfg.BoardCacheTTL)
	if err := cache.RegisterMetrics(a.reg, "load_board", a.loads.BoardCache()); err != nil {
		return nil, err
	}
	if err := a.wireCaches(); err != nil {
		return nil, err
	}
	if a.cfg.Demo {
		seeded, err := demo.Seed(ctx, a.db, demo.Services{Accounts: a.accounts, Drivers: a.drivers, Loads: a.loads}, demo.Options{Seed: 1}, a.log)
		if err != nil {
			return nil, fmt.Errorf("demo data: %w", err)
		}
		if seeded {
			a.log.Info("demo data loaded", "sign_in", demo.Password)
		}
	}
	if !a.local("market-intelligence") {
		// Price posted loads with the model other processes train.
		return runner{&service{run: a.market.Follow}}, nil
	}
	return nil, nil
}

func (a *App) routes(register func(*http.ServeMux)) modules.InitFunc {
	return func(context.Context) (modules.Service, error) {
		if register != nil {
			register(a.api)
		}
		return nil, nil
	}
}

func (a *App) initOptimize(context.Context) (modules.Service, error) {
	svc, err := optimize.New(a.db, a.bus, a.log, a.reg, optimize.Options{Workers: a.cfg.OptimizeWorkers,
		AckWait: a.cfg.OptimizeAckWait, MaxAttempts: a.cfg.OptimizeMaxAttempts})
	if err != nil {
		return nil, err
	}
	a.optimize = svc
	svc.Routes(a.api)
	return runner{&service{run: svc.Run}}, nil
}

func (a *App) initTracking(context.Context) (modules.Service, error) {
	deps := tracking.Deps{Drivers: a.drivers, Status: a.loads, Fleet: a.drivers,
		Fanout: tracking.NewNATSFanout(a.bus.Conn(), a.bus.Subject("live.positions"))}
	if a.redis != nil {
		deps.Redis = a.redis
	}
	svc, err := tracking.New(a.db, tracking.Config{DatabaseURL: a.cfg.DatabaseURL, MaxBatchBytes: a.cfg.MaxBodyBytes}, deps, a.log, a.reg)
	if err != nil {
		return nil, err
	}
	a.tracking.Store(svc)
	svc.Routes(a.api)
	return runner{&service{run: svc.Run, stop: func(context.Context) error { svc.Close(); return nil }}}, nil
}

func (a *App) initMarket(context.Context) (modules.Service, error) {
	a.market.Routes(a.api)
	return runner{&service{run: a.market.Run}}, nil
}

func (a *App) initMatching(context.Context) (modules.Service, error) {
	// Live positions come from the tracking service when it runs in this
	// process (it may start after matching, so they are looked up lazily).
	deps := matching.Deps{Miles: geo.DefaultCircuity, Outlook: outlook{a.market}, Positions: positions{a}}
	svc, err := matching.New(a.db, a.bus, deps, a.log, a.reg, matching.Options{})
	if err != nil {
		return nil, err
	}
	a.matching = svc
	svc.Routes(a.api)
	return runner{&service{run: svc.Run}}, nil
}

func (a *App) initGateway(context.Context) (modules.Service, error) {
	gw := gateway.New(a.limiter, gateway.Limits{
		User: ratelimit.Limit{Rate: a.cfg.RateUser, Burst: a.cfg.RateUserBurst},
		Key:  ratelimit.Limit{Rate: a.cfg.RateKey, Burst: a.cfg.RateKeyBurst},
		Anon: ratelimit.Limit{Rate: a.cfg.RateAnon, Burst: a.cfg.RateAnonBurst},
	}, a.log, a.reg)
	public := http.NewServeMux()
	a.accounts.PublicRoutes(public)
	a.root.Handle("POST /api/v1/auth/", gw.LimitAnonymous(httpapi.Routed(public)))
	a.accounts.Routes(a.api)
	// Split mode: prefixes of targets running elsewhere go to their process.
	for target, prefixes := range owned {
		if a.local(target) {
			continue
		}
		u, err := url.Parse(a.cfg.ServiceURL(target))
		if err != nil {
			return nil, fmt.Errorf("service url of %s: %w", target, err)
		}
		proxy := gateway.Proxy(target, u, a.log)
		a.remote = append(a.remote, prefixes...)
		for _, p := range prefixes {
			a.api.Handle(p, proxy)
			a.api.Handle(p+"/", proxy)
		}
	}
	a.gw.Store(gw)
	// The portal is the platform's public face, served with the gateway.
	portal, err := web.New(web.Options{Version: Version, Log: a.log})
	if err != nil {
		return nil, err
	}
	portal.Routes(a.root)
	a.portal.Store(portal)
	scaleapi.NewServer().Routes(a.api)
	return nil, nil
}

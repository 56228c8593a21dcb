package matching

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/bus/bustest"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

const testTimeout = 45 * time.Second

// Callers of every kind.
var (
	dispA    = freight.Principal{OrgID: "org-carrier-a", OrgKind: freight.OrgCarrier, UserID: "u-disp-a", Role: freight.RoleDispatcher}
	adminA   = freight.Principal{OrgID: "org-carrier-a", OrgKind: freight.OrgCarrier, UserID: "u-admin-a", Role: freight.RoleAdmin}
	dispB    = freight.Principal{OrgID: "org-carrier-b", OrgKind: freight.OrgCarrier, UserID: "u-disp-b", Role: freight.RoleDispatcher}
	broker   = freight.Principal{OrgID: "org-broker", OrgKind: freight.OrgBroker, UserID: "u-broker", Role: freight.RoleAdmin}
	shipper  = freight.Principal{OrgID: "org-shipper", OrgKind: freight.OrgShipper, UserID: "u-ship", Role: freight.RoleShipper}
	shipper2 = freight.Principal{OrgID: "org-shipper-2", OrgKind: freight.OrgShipper, UserID: "u-ship-2", Role: freight.RoleShipper}
	operator = freight.Principal{OrgID: "org-platform", OrgKind: freight.OrgPlatform, UserID: "u-op", Role: freight.RoleOperator}
	shipAdm  = freight.Principal{OrgID: "org-shipper", OrgKind: freight.OrgShipper, UserID: "u-ship-adm", Role: freight.RoleAdmin}
)

// driverOf is the principal of a driver of carrier A.
func driverOf(id string) freight.Principal {
	return freight.Principal{OrgID: "org-carrier-a", OrgKind: freight.OrgCarrier, UserID: "u-" + id, Role: freight.RoleDriver, DriverID: id}
}

func seedOrgs(t testing.TB, db *store.DB) {
	t.Helper()
	for id, kind := range map[string]freight.OrgKind{"org-carrier-a": freight.OrgCarrier, "org-carrier-b": freight.OrgCarrier,
		"org-broker": freight.OrgBroker, "org-shipper": freight.OrgShipper, "org-shipper-2": freight.OrgShipper, "org-platform": freight.OrgPlatform} {
		if _, err := db.Exec(context.Background(), `INSERT INTO organizations (id, name, kind, created_at) VALUES (?, ?, ?, ?)`,
			id, id, string(kind), db.Now()); err != nil {
			t.Fatalf("seed organization %s: %v", id, err)
		}
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// openDB returns a migrated store with the test organizations, its clock
// stopped at t0.
func openDB(t *testing.T, engine string) *store.DB {
	t.Helper()
	db := storetest.Open(t, engine)
	db.SetClock(func() time.Time { return t0 })
	seedOrgs(t, db)
	return db
}

// withEvents creates the events stream the index follows.
func withEvents(t *testing.T, buses []*bus.Bus) []*bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := buses[0].EnsureEventStream(ctx); err != nil {
		t.Fatal(err)
	}
	return buses
}

// setup is one engine combination: a store and the buses of the replicas
// sharing it.
type setup struct {
	name string
	open func(t *testing.T, replicas int) (*store.DB, []*bus.Bus)
}

// setups pair the embedded engines (SQLite, NATS in the process) and the
// production ones (PostgreSQL, an external NATS server with a connection per
// replica).
var setups = []setup{
	{name: "sqlite+embedded", open: func(t *testing.T, replicas int) (*store.DB, []*bus.Bus) {
		return openDB(t, "sqlite"), withEvents(t, bustest.Embedded(t, replicas, testLogger(t)))
	}},
	{name: "postgres+external", open: func(t *testing.T, replicas int) (*store.DB, []*bus.Bus) {
		return openDB(t, "postgres"), withEvents(t, bustest.External(t, replicas, "match", testLogger(t)))
	}},
}

func eachSetup(t *testing.T, f func(t *testing.T, su setup)) {
	for _, su := range setups {
		t.Run(su.name, func(t *testing.T) { f(t, su) })
	}
}

// outbox adapts the store to the relay.
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

// relay publishes the store's outbox to b until the test ends, as the
// platform's bus module does.
func relay(t *testing.T, db *store.DB, b *bus.Bus) {
	t.Helper()
	r, err := bus.NewRelay(outbox{db}, b, bus.RelayConfig{Interval: 20 * time.Millisecond}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.OnCommit(r.Notify)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// geocoder resolves places for the load and driver services.
type geocoder struct{}

func (geocoder) Resolve(l freight.Location) (freight.Location, bool) {
	var p geocode.Place
	var ok bool
	if l.ZIP != "" {
		p, ok = geocode.Default().ZIP(l.ZIP)
	} else {
		p, ok = geocode.Default().City(l.City, l.State)
	}
	if !ok {
		return l, false
	}
	l.City, l.State, l.ZIP, l.Lat, l.Lon = p.City, p.State, p.ZIP, p.Point.Lat, p.Point.Lon
	return l, true
}

// platform is the load and driver services over the test store, to create
// rows and events the way the platform does.
type platform struct {
	t       *testing.T
	db      *store.DB
	loads   *loads.Service
	drivers *drivers.Service
}

func newPlatform(t *testing.T, db *store.DB) *platform {
	return &platform{t: t, db: db, loads: loads.New(db, geocoder{}, geo.DefaultCircuity, nil, testLogger(t)),
		drivers: drivers.New(db, geocoder{}, testLogger(t))}
}

// driver creates a driver of p's carrier.
func (pl *platform) driver(p freight.Principal, name string, home place, eq freight.Equipment, hos *freight.HOSClock) freight.Driver {
	pl.t.Helper()
	d, err := pl.drivers.CreateDriver(context.Background(), p, freight.DriverInput{Name: name, HomeBase: home.loc(), Equipment: eq,
		CapacityLbs: 45000, HOS: hos})
	if err != nil {
		pl.t.Fatalf("create driver: %v", err)
	}
	return d
}

// post posts a load as p.
func (pl *platform) post(p freight.Principal, s loadSpec) freight.Load {
	pl.t.Helper()
	l := s.load()
	rate := l.Rate
	in := freight.LoadInput{Reference: s.id, Origin: l.Origin, Destination: l.Destination, Pickup: l.Pickup, Delivery: l.Delivery,
		Equipment: l.Equipment, WeightLbs: l.WeightLbs, Rate: &rate, Post: true}
	out, err := pl.loads.Create(context.Background(), p, in)
	if err != nil {
		pl.t.Fatalf("post load %s: %v", s.id, err)
	}
	return out
}

// testOptions are fast settings for tests.
func testOptions(name string) Options {
	return Options{Name: name, Workers: 2, SweepInterval: 200 * time.Millisecond, RetryDelay: 100 * time.Millisecond, AckWait: 30 * time.Second}
}

func newService(t *testing.T, db *store.DB, b *bus.Bus, deps Deps, opts Options) (*Service, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(db, b, deps, testLogger(t), reg, opts)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	return s, reg
}

// run starts s.Run until the test ends.
func run(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(testTimeout):
			t.Errorf("run did not return after its context ended")
		}
	})
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// api serves the service's routes with the principal set in the request
// context, as the platform's authentication does.
type api struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	as  map[string]freight.Principal
}

func newAPI(t *testing.T, s *Service) *api {
	mux := http.NewServeMux()
	s.Routes(mux)
	a := &api{t: t, as: map[string]freight.Principal{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		p, ok := a.as[r.Header.Get("X-Test-As")]
		a.mu.Unlock()
		if ok {
			r = r.WithContext(httpapi.WithPrincipal(r.Context(), p))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// do sends a request as p and returns the status and body.
func (a *api) do(method, path string, p freight.Principal, body any) (int, []byte) {
	a.t.Helper()
	key := p.Subject() + "/" + p.DriverID
	a.mu.Lock()
	a.as[key] = p
	a.mu.Unlock()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Test-As", key)
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return res.StatusCode, out
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// outboxCount counts the outbox's events of a type, published or not.
func outboxCount(t *testing.T, db *store.DB, typ string) map[string]int {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT subject_id FROM outbox WHERE type = ?`, typ)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id]++
	}
	return out
}

// metric returns the value of a gauge or counter on reg.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

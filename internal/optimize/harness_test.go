package optimize

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/bus/bustest"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

const testTimeout = 45 * time.Second

// The organizations every test store holds, and callers of every kind.
var (
	carrierA = freight.Principal{OrgID: "org-carrier-a", OrgKind: freight.OrgCarrier, UserID: "u-disp-a", Role: freight.RoleDispatcher}
	adminA   = freight.Principal{OrgID: "org-carrier-a", OrgKind: freight.OrgCarrier, UserID: "u-admin-a", Role: freight.RoleAdmin}
	driverA  = freight.Principal{OrgID: "org-carrier-a", OrgKind: freight.OrgCarrier, UserID: "u-driver-a", Role: freight.RoleDriver, DriverID: "drv-1"}
	carrierB = freight.Principal{OrgID: "org-carrier-b", OrgKind: freight.OrgCarrier, UserID: "u-disp-b", Role: freight.RoleDispatcher}
	broker   = freight.Principal{OrgID: "org-broker", OrgKind: freight.OrgBroker, KeyID: "k-broker", Role: freight.RoleDispatcher}
	operator = freight.Principal{OrgID: "org-platform", OrgKind: freight.OrgPlatform, UserID: "u-op", Role: freight.RoleOperator}
	shipper  = freight.Principal{OrgID: "org-shipper", OrgKind: freight.OrgShipper, UserID: "u-ship", Role: freight.RoleShipper}
	shipAdm  = freight.Principal{OrgID: "org-shipper", OrgKind: freight.OrgShipper, UserID: "u-ship-adm", Role: freight.RoleAdmin}
)

var principals = map[string]freight.Principal{
	"carrierA": carrierA, "adminA": adminA, "driverA": driverA, "carrierB": carrierB, "broker": broker,
	"operator": operator, "shipper": shipper, "shipAdm": shipAdm,
}

func seedOrgs(t *testing.T, db *store.DB) {
	t.Helper()
	orgs := map[string]freight.OrgKind{}
	for _, p := range principals {
		orgs[p.OrgID] = p.OrgKind
	}
	for id, kind := range orgs {
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

// openDB returns a migrated store with the test organizations.
func openDB(t *testing.T, engine string) *store.DB {
	t.Helper()
	db := storetest.Open(t, engine)
	seedOrgs(t, db)
	return db
}

// setup is one engine combination: a store and the buses of the replicas
// that share it.
type setup struct {
	name string
	open func(t *testing.T, replicas int) (*store.DB, []*bus.Bus)
}

// setups pairs the embedded engines (SQLite, NATS in the process) and the
// production ones (PostgreSQL, an external NATS server with a connection per
// replica).
var setups = []setup{
	{name: "sqlite+embedded", open: func(t *testing.T, replicas int) (*store.DB, []*bus.Bus) {
		return openDB(t, "sqlite"), bustest.Embedded(t, replicas, testLogger(t))
	}},
	{name: "postgres+external", open: func(t *testing.T, replicas int) (*store.DB, []*bus.Bus) {
		return openDB(t, "postgres"), bustest.External(t, replicas, "opt", testLogger(t))
	}},
}

// eachSetup runs f on every engine combination.
func eachSetup(t *testing.T, f func(t *testing.T, su setup)) {
	for _, su := range setups {
		t.Run(su.name, func(t *testing.T) { f(t, su) })
	}
}

// testOptions are fast defaults for tests: the long AckWait keeps a busy
// test machine from redelivering a job whose worker is merely slow.
func testOptions(name string) Options {
	return Options{Name: name, AckWait: 30 * time.Second, PollInterval: 100 * time.Millisecond,
		CheckInterval: 100 * time.Millisecond, SweepInterval: 200 * time.Millisecond, RetryDelay: 100 * time.Millisecond}
}

func newService(t *testing.T, db *store.DB, b *bus.Bus, opts Options) (*Service, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(db, b, testLogger(t), reg, opts)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	return s, reg
}

// run starts s.Run and returns a function that stops it (as a crash would,
// for a job in progress) and waits for it to return. It stops at the end of
// the test in any case.
func run(t *testing.T, s *Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
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
	t.Cleanup(stop)
	return stop
}

// instanceText reads an instance from testdata.
func instanceText(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lilim(t testing.TB) *Problem {
	return &Problem{Format: "lilim", Instance: instanceText(t, "lr101_12.txt")}
}

func solomon(t testing.TB) *Problem {
	return &Problem{Format: "solomon", Instance: instanceText(t, "r101_25.txt")}
}

func ptr[T any](v T) *T { return &v }

// submit queues a job through the service.
func submit(t *testing.T, s *Service, p freight.Principal, req JobRequest) Job {
	t.Helper()
	j, err := s.Submit(context.Background(), p, req)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return j
}

// getJob reads a job as an operator, who sees every job.
func getJob(t *testing.T, s *Service, id string) Job {
	t.Helper()
	j, err := s.Get(context.Background(), operator, id)
	if err != nil {
		t.Fatalf("get job %s: %v", id, err)
	}
	return j
}

// waitFor polls cond until it holds, failing the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStatus waits until a job reaches one of the statuses and returns it.
func waitStatus(t *testing.T, s *Service, id string, want ...Status) Job {
	t.Helper()
	var j Job
	waitFor(t, "job "+id+" to be "+joinStatuses(want), func() bool {
		j = getJob(t, s, id)
		for _, w := range want {
			if j.Status == w {
				return true
			}
		}
		return false
	})
	return j
}

func joinStatuses(ss []Status) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString(string(s))
	}
	return b.String()
}

// api serves the service's routes with the principal named by the
// X-Test-As header, as the app's authentication would set it.
type api struct {
	t   *testing.T
	srv *httptest.Server
}

func newAPI(t *testing.T, s *Service) *api {
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := principals[r.Header.Get("X-Test-As")]; ok {
			r = r.WithContext(httpapi.WithPrincipal(r.Context(), p))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &api{t: t, srv: srv}
}

// do sends a request as who and returns the status and body.
func (a *api) do(method, path, who string, body any) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
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
	req.Header.Set("X-Test-As", who)
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res.StatusCode, out
}

// decode unmarshals a response body, failing the test on error.
func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// outboxTypes counts the outbox's events by type, and by type and status
// for job_finished.
func outboxTypes(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	evs, err := db.PendingEvents(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		out[e.Event.Type]++
		if e.Event.Type == EventJobFinished {
			var f FinishedEvent
			if err := json.Unmarshal(e.Event.Data, &f); err != nil {
				t.Fatal(err)
			}
			out[e.Event.Type+"/"+string(f.Status)]++
		}
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
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// embeddedBus starts a NATS server inside the test.
func embeddedBus(t *testing.T) *bus.Bus { return bustest.Embedded(t, 1, testLogger(t))[0] }

package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/bus/bustest"
	"github.com/backhaul/backhaul/internal/event"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/notify/webhook"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

const testTimeout = 30 * time.Second

// The organizations and users every test store holds.
var (
	shipAdmin   = freight.Principal{OrgID: "org-ship", OrgKind: freight.OrgShipper, UserID: "u-ship-admin", Role: freight.RoleAdmin}
	shipUser    = freight.Principal{OrgID: "org-ship", OrgKind: freight.OrgShipper, UserID: "u-ship", Role: freight.RoleShipper}
	carrierDisp = freight.Principal{OrgID: "org-carr", OrgKind: freight.OrgCarrier, UserID: "u-disp", Role: freight.RoleDispatcher}
	carrierAdm  = freight.Principal{OrgID: "org-carr", OrgKind: freight.OrgCarrier, UserID: "u-carr-admin", Role: freight.RoleAdmin}
	driver      = freight.Principal{OrgID: "org-carr", OrgKind: freight.OrgCarrier, UserID: "u-driver", Role: freight.RoleDriver, DriverID: "drv-1"}
	otherAdmin  = freight.Principal{OrgID: "org-other", OrgKind: freight.OrgShipper, UserID: "u-other-admin", Role: freight.RoleAdmin}
	apiKey      = freight.Principal{OrgID: "org-ship", OrgKind: freight.OrgShipper, KeyID: "k-1", Role: freight.RoleAdmin}
)

var principals = map[string]freight.Principal{
	"shipAdmin": shipAdmin, "shipUser": shipUser, "carrierDisp": carrierDisp, "carrierAdm": carrierAdm,
	"driver": driver, "otherAdmin": otherAdmin, "apiKey": apiKey,
}

func seed(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	orgs := map[string]freight.OrgKind{}
	for _, p := range principals {
		orgs[p.OrgID] = p.OrgKind
	}
	for id, kind := range orgs {
		if _, err := db.Exec(ctx, `INSERT INTO organizations (id, name, kind, created_at) VALUES (?, ?, ?, ?)`, id, id, string(kind), db.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range principals {
		if p.UserID == "" {
			continue
		}
		if _, err := db.Exec(ctx, `INSERT INTO users (id, org_id, email, name, role, driver_id, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?)`,
			p.UserID, p.OrgID, p.UserID+"@example.com", p.UserID, string(p.Role), p.DriverID, db.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// setup is one engine combination.
type setup struct {
	name string
	open func(t *testing.T, replicas int) (*store.DB, []*bus.Bus)
}

var setups = []setup{
	{name: "sqlite+embedded", open: func(t *testing.T, replicas int) (*store.DB, []*bus.Bus) {
		return openDB(t, "sqlite"), withStream(t, bustest.Embedded(t, replicas, testLogger(t)))
	}},
	{name: "postgres+external", open: func(t *testing.T, replicas int) (*store.DB, []*bus.Bus) {
		return openDB(t, "postgres"), withStream(t, bustest.External(t, replicas, "ntf", testLogger(t)))
	}},
}

func openDB(t *testing.T, engine string) *store.DB {
	db := storetest.Open(t, engine)
	seed(t, db)
	return db
}

func withStream(t *testing.T, bs []*bus.Bus) []*bus.Bus {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := bs[0].EnsureEventStream(ctx); err != nil {
		t.Fatal(err)
	}
	return bs
}

func eachSetup(t *testing.T, f func(t *testing.T, su setup)) {
	for _, su := range setups {
		t.Run(su.name, func(t *testing.T) { f(t, su) })
	}
}

// testOptions are fast timings for tests.
func testOptions() Options {
	return Options{Workers: 4, AckWait: 10 * time.Second, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		SweepInterval: 100 * time.Millisecond, StreamPoll: 100 * time.Millisecond, AllowPrivateWebhooks: true}
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
			t.Errorf("run did not return")
		}
	})
}

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

// statusEvent is a loads.status.v1 event of load moving to status to.
func statusEvent(t testing.TB, load string, to freight.LoadStatus) event.Event {
	t.Helper()
	e, err := event.New("loads.status.v1", "org-ship", load, time.Now(), map[string]any{"load_id": load, "from": "in_transit",
		"to": to, "actor": "test", "carrier_id": "org-carr", "driver_id": "drv-1", "shipper_id": "org-ship"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func handle(t *testing.T, s *Service, e event.Event) {
	t.Helper()
	if err := s.HandleEvent(context.Background(), "test", e); err != nil {
		t.Fatalf("handle %s: %v", e.Type, err)
	}
}

// hook is a webhook receiver that verifies signatures and records what it
// accepted, in order. status decides the answer to each request.
type hook struct {
	t      *testing.T
	srv    *httptest.Server
	secret []byte
	mu     sync.Mutex
	got    []WebhookBody
	calls  int
	bad    int
	status func(call int) int
	delay  time.Duration
}

func newHook(t *testing.T) *hook {
	h := &hook{t: t, status: func(int) int { return http.StatusNoContent }}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.calls++
		call, secret, delay := h.calls, h.secret, h.delay
		h.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0); err != nil {
			h.mu.Lock()
			h.bad++
			h.mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		code := h.status(call)
		if code < 300 {
			var b WebhookBody
			if err := json.Unmarshal(body, &b); err != nil || b.ID != r.Header.Get(webhook.DeliveryHeader) {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			h.mu.Lock()
			h.got = append(h.got, b)
			h.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) received() []WebhookBody {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]WebhookBody(nil), h.got...)
}

// register creates an endpoint for p's organization on the hook.
func (h *hook) register(s *Service, p freight.Principal, kinds ...string) Endpoint {
	h.t.Helper()
	ep, err := s.CreateEndpoint(context.Background(), p, EndpointInput{URL: h.srv.URL + "/hook", EventTypes: kinds})
	if err != nil {
		h.t.Fatalf("create endpoint: %v", err)
	}
	h.mu.Lock()
	h.secret = []byte(ep.Secret)
	h.mu.Unlock()
	return ep
}

func inbox(t *testing.T, s *Service, p freight.Principal) InboxPage {
	t.Helper()
	page, err := s.Inbox(context.Background(), p, InboxFilter{Limit: 100})
	if err != nil {
		t.Fatalf("inbox of %s: %v", p.UserID, err)
	}
	return page
}

func deliveries(t *testing.T, s *Service, p freight.Principal, ep, status string) []Delivery {
	t.Helper()
	page, err := s.Deliveries(context.Background(), p, ep, DeliveryFilter{Status: status, Limit: 200})
	if err != nil {
		t.Fatalf("deliveries: %v", err)
	}
	return page.Items
}

// api serves the routes with the principal named by X-Test-As.
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

func (a *api) do(method, path, who string, body any) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				a.t.Fatal(err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("X-Test-As", who)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

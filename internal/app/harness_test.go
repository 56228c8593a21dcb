package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/backhaul/backhaul/internal/app"
	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/testenv"
)

// platform is a running process under test.
type platform struct {
	t    testing.TB
	app  *app.App
	base string
	stop func()
}

type setting func(*app.Config)

func withTargets(ts ...string) setting { return func(c *app.Config) { c.Targets = ts } }

// engines lists the backend layouts every end-to-end test runs on: the
// embedded default and the production engines.
var engines = []string{"embedded", "production"}

// config returns a resolved configuration for engine. Production layouts
// share one PostgreSQL schema, NATS and Redis only when given the same
// shared settings.
func config(t testing.TB, engine string, sets ...setting) app.Config {
	t.Helper()
	var cfg app.Config
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := cfg.Resolve(fs, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "warn"
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.TokenSecret = strings.Repeat("s", 40)
	if engine == "production" {
		cfg.DatabaseURL = testenv.PostgresSchemaURL(t)
		cfg.NATSURL = testenv.NATSURL(t)
		cfg.RedisURL = testenv.RedisURL(t)
		cfg.NATSNamespace = testenv.Unique("t")
		t.Cleanup(func() { deleteStreams(t, cfg.NATSURL, cfg.NATSNamespace) })
		cfg.DBMaxConns = 10
	}
	for _, s := range sets {
		s(&cfg)
	}
	return cfg
}

// start runs a process with cfg until the test ends.
func start(t testing.TB, cfg app.Config) *platform {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a := app.New(cfg, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for a.Ready() != nil {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("process stopped while starting: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not ready after 60s: %v", a.Ready())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p := &platform{t: t, app: a, base: "http://" + a.Addr().String()}
	var stopped bool
	p.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("process stopped with error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("process did not stop within 30s")
		}
	}
	t.Cleanup(p.stop)
	return p
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

func (r response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r.Body)
	}
}

var client = &http.Client{Timeout: 30 * time.Second}

// call sends a request; body may be nil, a string (sent raw) or a value
// (sent as JSON).
func (p *platform) call(method, path, token string, body any) response {
	p.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails the test unless the status is want.
func (p *platform) must(want int, method, path, token string, body any) map[string]any {
	p.t.Helper()
	r := p.call(method, path, token, body)
	if r.Status != want {
		p.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(p.t)
}

// account is a signed-in user.
type account struct {
	Token  string
	OrgID  string
	UserID string
}

func (p *platform) signup(kind, org, email string) account {
	p.t.Helper()
	m := p.must(201, "POST", "/api/v1/auth/signup", "", map[string]any{
		"org_name": org, "org_kind": kind, "name": org + " Admin", "email": email, "password": "a-long-password"})
	return account{Token: m["token"].(string), OrgID: m["organization"].(map[string]any)["id"].(string), UserID: m["user"].(map[string]any)["id"].(string)}
}

func (p *platform) addUser(admin account, role, email, driverID string) account {
	p.t.Helper()
	in := map[string]any{"email": email, "name": role + " user", "role": role, "password": "a-long-password"}
	if driverID != "" {
		in["driver_id"] = driverID
	}
	p.must(201, "POST", "/api/v1/users", admin.Token, in)
	m := p.must(200, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "a-long-password"})
	return account{Token: m["token"].(string), OrgID: admin.OrgID, UserID: m["user"].(map[string]any)["id"].(string)}
}

// loadInput is a valid load from Dallas to Atlanta picked up tomorrow.
func loadInput() map[string]any {
	pick := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Hour)
	return map[string]any{
		"reference":   "PO-1",
		"origin":      map[string]any{"city": "Dallas", "state": "TX"},
		"destination": map[string]any{"zip": "30303"},
		"pickup":      map[string]any{"start": pick.Format(time.RFC3339), "end": pick.Add(4 * time.Hour).Format(time.RFC3339)},
		"delivery":    map[string]any{"start": pick.Add(20 * time.Hour).Format(time.RFC3339), "end": pick.Add(30 * time.Hour).Format(time.RFC3339)},
		"equipment":   "van", "weight_lbs": 30000, "commodity": "Paper", "rate_usd": 2100.5, "post": true,
	}
}

func driverInput(name string) map[string]any {
	return map[string]any{"name": name, "home_base": map[string]any{"city": "Fort Worth", "state": "TX"},
		"equipment": "van", "capacity_lbs": 45000}
}

func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

func fmtPath(format string, args ...any) string { return fmt.Sprintf(format, args...) }

type appConfig = app.Config

func (p *platform) login(email, password string) account {
	p.t.Helper()
	m := p.must(200, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": password})
	return account{Token: m["token"].(string), OrgID: m["organization"].(map[string]any)["id"].(string), UserID: m["user"].(map[string]any)["id"].(string)}
}

// deleteStreams removes a test namespace's streams from the shared NATS.
func deleteStreams(t testing.TB, url, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{URL: url, Namespace: ns}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer b.Close()
	if err := b.DeleteNamespaceStreams(ctx); err != nil {
		t.Logf("cleanup: %v", err)
	}
}

func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// callWith sends a raw body with a content type.
func (p *platform) callWith(method, path, token, contentType, body string) response {
	p.t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/app"
)

func TestIdempotencyKeyReplaysFirstAnswer(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine))
			shipper := p.signup("shipper", "Acme", "a@acme.test")
			post := func(key string, body any) response {
				raw := fmt.Sprint(body)
				req, _ := http.NewRequest("POST", p.base+"/api/v1/loads", strings.NewReader(raw))
				req.Header.Set("Authorization", "Bearer "+shipper.Token)
				req.Header.Set("Idempotency-Key", key)
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return response{Status: res.StatusCode, Header: res.Header, Body: b}
			}
			body := jsonString(t, loadInput())
			first := post("k-1", body)
			again := post("k-1", body)
			if first.Status != 201 || again.Status != 201 || string(first.Body) != string(again.Body) {
				t.Fatalf("first %d %s, retry %d %s: want the same 201", first.Status, first.Body, again.Status, again.Body)
			}
			if again.Header.Get("Idempotent-Replayed") != "true" {
				t.Error("retry not marked Idempotent-Replayed")
			}
			if n := len(p.must(200, "GET", "/api/v1/loads", shipper.Token, nil)["items"].([]any)); n != 1 {
				t.Errorf("%d loads stored after a retried POST, want 1", n)
			}
			if r := post("k-1", strings.Replace(body, "PO-1", "PO-2", 1)); r.Status != 422 {
				t.Errorf("key reused for another body: %d, want 422", r.Status)
			}
			if r := post("k-2", body); r.Status != 201 || r.JSON(t)["id"] == first.JSON(t)["id"] {
				t.Errorf("new key: %d, want a new load", r.Status)
			}
		})
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	p := start(t, config(t, "embedded"))
	p.must(200, "GET", "/healthz", "", nil)
	ready := p.must(200, "GET", "/readyz", "", nil)
	mods := ready["modules"].(map[string]any)
	for _, m := range []string{"store", "bus", "server", "api-gateway", "load-service", "tracking-service"} {
		if mods[m] != "Running" {
			t.Errorf("module %s is %v, want Running", m, mods[m])
		}
	}
	shipper := p.signup("shipper", "Acme", "a@acme.test")
	id := str(p.must(201, "POST", "/api/v1/loads", shipper.Token, loadInput()), "id")
	p.must(200, "GET", "/api/v1/loads/"+id, shipper.Token, nil)
	p.call("GET", "/api/v1/loads/nope", shipper.Token, nil)
	r := p.call("GET", "/metrics", "", nil)
	if r.Status != 200 {
		t.Fatalf("/metrics = %d", r.Status)
	}
	for _, want := range []string{
		`http_requests_total{code="201",method="POST",route="/api/v1/loads"} 1`,
		`http_requests_total{code="200",method="GET",route="/api/v1/loads/{id}"} 1`,
		`http_requests_total{code="404",method="GET",route="/api/v1/loads/{id}"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/api/v1/loads/{id}"`,
		`backhaul_outbox_published_total`,
	} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if rid := r.Header.Get("X-Request-ID"); len(rid) < 8 {
		t.Errorf("X-Request-ID = %q", rid)
	}
}

// A request in flight when the process is told to stop still completes.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	p := start(t, config(t, "embedded"))
	shipper := p.signup("shipper", "Acme", "a@acme.test")
	body := jsonString(t, loadInput())
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Send the headers and half the body, then ask the process to stop.
	fmt.Fprintf(conn, "POST /api/v1/loads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		shipper.Token, len(body), body[:len(body)/2])
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { p.stop(); close(stopped) }()
	time.Sleep(200 * time.Millisecond)
	if _, err := io.WriteString(conn, body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost during shutdown: %v", err)
	}
	if res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("in-flight request = %d, want 201: %s", res.StatusCode, b)
	}
	<-stopped
	// The acknowledged load survived the restart.
	q := start(t, func() appConfig { c := p.app.Config(); c.HTTPAddr = "127.0.0.1:0"; return c }())
	login := q.login("a@acme.test", "a-long-password")
	if n := len(q.must(200, "GET", "/api/v1/loads", login.Token, nil)["items"].([]any)); n != 1 {
		t.Errorf("after restart %d loads, want the 1 acknowledged", n)
	}
}

// Rate limits answer 429 with Retry-After, and with Redis two gateway
// replicas share one budget per user.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	tight := func(c *appConfig) { c.RateUser, c.RateUserBurst = 0.5, 4 }
	a := start(t, config(t, "production", tight))
	bcfg := config(t, "production", tight)
	bcfg.DatabaseURL, bcfg.RedisURL = a.app.Config().DatabaseURL, a.app.Config().RedisURL
	b := start(t, bcfg)
	shipper := a.signup("shipper", "Acme", "a@acme.test")
	var codes []int
	for i := range 8 {
		p := a
		if i%2 == 1 {
			p = b
		}
		r := p.call("GET", "/api/v1/loads", shipper.Token, nil)
		codes = append(codes, r.Status)
		if r.Status == 429 {
			if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("429 without a useful Retry-After: %q", ra)
			}
			if r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("429 is not a problem")
			}
		}
	}
	ok := 0
	for _, c := range codes {
		if c == 200 {
			ok++
		}
	}
	if ok != 4 || codes[len(codes)-1] != 429 {
		t.Errorf("codes across two replicas = %v, want 4 x 200 (the shared burst) then 429", codes)
	}
	// Another user has a budget of its own.
	other := a.signup("shipper", "Other", "b@other.test")
	a.must(200, "GET", "/api/v1/loads", other.Token, nil)
}

// A module that cannot start stops the process with an error naming it.
func TestUnreachableEngineFailsTheStart(t *testing.T) {
	cfg := config(t, "embedded")
	cfg.DatabaseURL = "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
	a := app.New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "module store") || !strings.Contains(err.Error(), "postgres") {
		t.Fatalf("Run = %v, want a failure of the store module naming postgres", err)
	}
	if a.Ready() == nil {
		t.Error("a failed process reports ready")
	}
}

// Open event streams do not hold up a shutdown: they end, and the process
// stops cleanly well within its shutdown timeout.
func TestShutdownEndsEventStreams(t *testing.T) {
	p := start(t, config(t, "embedded"))
	w := newWorld(t, p)
	instance, err := os.ReadFile("../optimize/testdata/r101_25.txt")
	if err != nil {
		t.Fatal(err)
	}
	// A job queued behind nothing but still running when the process stops.
	id := str(p.must(201, "POST", "/api/v1/jobs", w.dispatcher.Token, map[string]any{"time_limit_s": 600,
		"problem": map[string]any{"format": "solomon", "instance": string(instance)}}), "id")
	req, _ := http.NewRequest("GET", p.base+"/api/v1/jobs/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+w.dispatcher.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("job event stream: %v %v", err, res)
	}
	ended := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, res.Body); close(ended) }()
	began := time.Now()
	p.stop() // fails the test if Run returns an error
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("shutdown with an open stream took %v", d)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Error("the stream did not end at shutdown")
	}
}

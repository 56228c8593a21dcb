package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// child is a platform process started from the test binary.
type child struct {
	cmd  *exec.Cmd
	base string
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChild runs `backhaul serve` with args in a new OS process and waits
// until it is ready.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	addr := freePort(t)
	args = append([]string{"serve", "--http-addr", addr}, args...)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, base: "http://" + addr}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if res, err := http.Get(c.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %v not ready", args)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Three load-matching processes share one NATS and one store: every match
// request is handled exactly once, and the work is shared.
func TestThreeMatcherProcessesHandleEachRequestOnce(t *testing.T) {
	cfg := config(t, "production", withTargets("api-gateway", "load-service", "driver-service"))
	p := start(t, cfg)
	w := newWorld(t, p)
	for range 3 {
		p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput())
	}
	var matchers []*child
	for range 3 {
		matchers = append(matchers, startChild(t, "--target=load-matching", "--migrate=false", "--log-level=warn",
			"--database-url", cfg.DatabaseURL, "--nats-url", cfg.NATSURL, "--nats-namespace", cfg.NATSNamespace,
			"--redis-url", cfg.RedisURL, "--token-secret", cfg.TokenSecret, "--data-dir", t.TempDir()))
	}
	const n = 30
	var ids []string
	for i := range n {
		m := &platform{t: t, base: matchers[i%3].base}
		ids = append(ids, str(m.must(202, "POST", "/api/v1/matches/requests", w.dispatcher.Token, map[string]any{"driver_id": w.driverID}), "id"))
	}
	handlers := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range ids {
		for {
			m := &platform{t: t, base: matchers[0].base}
			r := m.must(200, "GET", "/api/v1/matches/requests/"+id, w.dispatcher.Token, nil)
			if str(r, "status") == "done" {
				if r["attempts"].(float64) != 1 {
					t.Errorf("request %s took %v attempts, want 1", id, r["attempts"])
				}
				handlers[str(r, "handled_by")]++
				break
			}
			if s := str(r, "status"); s == "failed" || time.Now().After(deadline) {
				t.Fatalf("request %s ended as %v", id, r)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(handlers) < 2 {
		t.Errorf("requests handled by %v, want the work shared by several processes", handlers)
	}
	db, err := sql.Open("pgx", cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var events int
	q := fmt.Sprintf(`SELECT COUNT(*) FROM outbox WHERE type = 'matching.recommended.v1' AND subject_id IN ('%s')`, strings.Join(ids, "','"))
	if err := db.QueryRowContext(ctx, q).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != n {
		t.Errorf("%d matching.recommended.v1 events for %d requests, want exactly one each", events, n)
	}
}

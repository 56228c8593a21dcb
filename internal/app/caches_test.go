package app_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/testenv"
)

// metric returns the value of one series from a process's /metrics, or -1.
func (p *platform) metric(series string) float64 {
	p.t.Helper()
	res, err := http.Get(p.base + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if name, val, ok := strings.Cut(sc.Text(), " "); ok && name == series {
			var v float64
			if _, err := fmt.Sscan(val, &v); err == nil {
				return v
			}
		}
	}
	return -1
}

// A revoked API key is refused at once by every replica: two processes
// share PostgreSQL, NATS and Redis, both have the key's lookup cached, one
// revokes it, and the other refuses it on the very next request.
func TestRevokedKeyDeniedOnEveryReplica(t *testing.T) {
	a := start(t, config(t, "production"))
	cfgB := config(t, "production")
	cfgB.DatabaseURL, cfgB.NATSNamespace, cfgB.RedisURL = a.app.Config().DatabaseURL, a.app.Config().NATSNamespace, a.app.Config().RedisURL
	b := start(t, cfgB)

	w := newWorld(t, a)
	key := a.must(201, "POST", "/api/v1/api-keys", w.carrier.Token, map[string]any{"name": "TMS", "role": "dispatcher"})
	secret := str(key, "secret")
	for range 3 {
		a.must(200, "GET", "/api/v1/me", secret, nil)
		b.must(200, "GET", "/api/v1/me", secret, nil)
	}
	if hits := b.metric(`backhaul_cache_hits_total{cache="sessions"}`); hits < 2 {
		t.Errorf("replica B session cache hits = %v, want the key served from the cache", hits)
	}
	a.must(204, "DELETE", "/api/v1/api-keys/"+str(key, "id"), w.carrier.Token, nil)
	b.must(401, "GET", "/api/v1/me", secret, nil)
	a.must(401, "GET", "/api/v1/me", secret, nil)
}

// Without Redis each process caches on its own; another replica's
// revocation reaches it through the event stream.
func TestRevokedKeyDeniedWithLocalCaches(t *testing.T) {
	a := start(t, config(t, "production", func(c *appConfig) { c.RedisURL = "" }))
	cfgB := config(t, "production", func(c *appConfig) { c.RedisURL = "" })
	cfgB.DatabaseURL, cfgB.NATSNamespace = a.app.Config().DatabaseURL, a.app.Config().NATSNamespace
	b := start(t, cfgB)

	w := newWorld(t, a)
	key := a.must(201, "POST", "/api/v1/api-keys", w.carrier.Token, map[string]any{"name": "TMS", "role": "dispatcher"})
	secret := str(key, "secret")
	b.must(200, "GET", "/api/v1/me", secret, nil)
	b.must(200, "GET", "/api/v1/me", secret, nil) // cached in B
	a.must(204, "DELETE", "/api/v1/api-keys/"+str(key, "id"), w.carrier.Token, nil)
	a.must(401, "GET", "/api/v1/me", secret, nil) // the writer at once
	deadline := time.Now().Add(20 * time.Second)
	for b.call("GET", "/api/v1/me", secret, nil).Status != 401 {
		if time.Now().After(deadline) {
			t.Fatal("replica B still accepts the revoked key 20 s after the revocation")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A load's change is visible at once through the entity cache, on the
// replica that made it and on another replica sharing Redis.
func TestEntityCacheInvalidation(t *testing.T) {
	a := start(t, config(t, "production"))
	cfgB := config(t, "production")
	cfgB.DatabaseURL, cfgB.NATSNamespace, cfgB.RedisURL = a.app.Config().DatabaseURL, a.app.Config().NATSNamespace, a.app.Config().RedisURL
	b := start(t, cfgB)
	w := newWorld(t, a)
	id := str(a.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id")
	for _, p := range []*platform{a, b, a, b} {
		if st := str(p.must(200, "GET", "/api/v1/loads/"+id, w.shipper.Token, nil), "status"); st != "posted" {
			t.Fatalf("status = %s, want posted", st)
		}
	}
	if hits := b.metric(`backhaul_cache_hits_total{cache="entities"}`); hits < 1 {
		t.Errorf("entity cache hits on B = %v, want at least 1", hits)
	}
	// The carrier books on B; both replicas show the booking at once.
	b.must(201, "POST", "/api/v1/bookings", w.dispatcher.Token, map[string]any{"load_id": id})
	for name, p := range map[string]*platform{"writer": b, "other": a} {
		got := p.must(200, "GET", "/api/v1/loads/"+id, w.shipper.Token, nil)
		if str(got, "status") != "booked" || str(got, "carrier_id") != w.carrier.OrgID {
			t.Errorf("%s replica right after booking: %v, want booked by the carrier", name, got)
		}
	}
	// Tenancy is applied after the cache: another carrier still sees nothing.
	other := a.signup("carrier", "Other", "o@other.test")
	a.must(404, "GET", "/api/v1/loads/"+id, other.Token, nil)
}

// With Redis unreachable (a closed port) the platform starts and works from
// the database, reports Redis as degraded in /readyz while staying ready,
// and exports backhaul_cache_up 0.
func TestRedisUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	testenv.PostgresURL(t) // skips outside CI without the engines
	p := start(t, config(t, "production", func(c *appConfig) { c.RedisURL = "redis://" + closed }))

	w := newWorld(t, p)
	key := str(p.must(201, "POST", "/api/v1/api-keys", w.carrier.Token, map[string]any{"name": "TMS", "role": "dispatcher"}), "secret")
	id := str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id")
	for range 3 {
		p.must(200, "GET", "/api/v1/loads/"+id, w.shipper.Token, nil)
		p.must(200, "GET", "/api/v1/me", key, nil)
		p.must(200, "GET", "/api/v1/board?equipment=van", key, nil)
	}
	p.must(201, "POST", "/api/v1/bookings", key, map[string]any{"load_id": id})
	if st := str(p.must(200, "GET", "/api/v1/loads/"+id, w.shipper.Token, nil), "status"); st != "booked" {
		t.Errorf("status after booking without Redis = %s, want booked", st)
	}
	ready := p.must(200, "GET", "/readyz", "", nil)
	if deg, _ := ready["degraded"].([]any); len(deg) != 1 || deg[0] != "redis" {
		t.Errorf("/readyz = %v, want degraded [redis]", ready)
	}
	for _, c := range []string{"sessions", "entities"} {
		if up := p.metric(`backhaul_cache_up{cache="` + c + `"}`); up != 0 {
			t.Errorf("backhaul_cache_up{cache=%q} = %v, want 0", c, up)
		}
		if errs := p.metric(`backhaul_cache_errors_total{cache="` + c + `"}`); errs < 1 {
			t.Errorf("backhaul_cache_errors_total{cache=%q} = %v, want > 0", c, errs)
		}
	}
}

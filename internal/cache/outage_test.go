package cache_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backhaul/backhaul/internal/cache"
	"github.com/backhaul/backhaul/internal/testenv"
)

// flakyNet reaches the test Redis until cut, then fails every dial, read
// and write, as a network partition would.
type flakyNet struct{ down atomic.Bool }

var errCut = errors.New("network cut")

func (f *flakyNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if f.down.Load() {
		return nil, errCut
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &flakyConn{Conn: c, net: f}, nil
}

type flakyConn struct {
	net.Conn
	net *flakyNet
}

func (c *flakyConn) Read(p []byte) (int, error) {
	if c.net.down.Load() {
		return 0, errCut
	}
	return c.Conn.Read(p)
}

func (c *flakyConn) Write(p []byte) (int, error) {
	if c.net.down.Load() {
		return 0, errCut
	}
	return c.Conn.Write(p)
}

func flakyRedis(t *testing.T) (*redis.Client, *flakyNet) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	f := &flakyNet{}
	opts.Dialer, opts.MaxRetries = f.dial, -1
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client, f
}

// While Redis is down the cache fails fast for its cooldown, says so in
// Healthy and in its metrics, and tries again after it.
func TestRedisCooldown(t *testing.T) {
	ctx := context.Background()
	client, network := flakyRedis(t)
	clk := newFakeClock()
	c := cache.NewRedis(client, testenv.Unique("backhaul:test:cache:")+":", cache.WithClock(clk.Now), cache.WithCooldown(5*time.Second))
	reg := prometheus.NewRegistry()
	if err := cache.RegisterMetrics(reg, "entities", c); err != nil {
		t.Fatal(err)
	}
	mustSet(t, c, "k", []byte("v"), time.Hour)
	if err := c.Healthy(); err != nil {
		t.Fatalf("Healthy while up = %v", err)
	}
	if got := gather(t, reg)["backhaul_cache_up/entities"]; got != 1 {
		t.Errorf("backhaul_cache_up = %v while up, want 1", got)
	}

	network.down.Store(true)
	if _, _, err := c.Get(ctx, "k"); err == nil || errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("first Get during the outage = %v, want the network error", err)
	}
	if _, _, err := c.Get(ctx, "k"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Get within the cooldown = %v, want ErrUnavailable", err)
	}
	if c.Healthy() == nil {
		t.Error("Healthy during the outage = nil")
	}
	m := gather(t, reg)
	if m["backhaul_cache_up/entities"] != 0 || m["backhaul_cache_errors_total/entities"] < 2 {
		t.Errorf("metrics during the outage = %v, want up 0 and errors >= 2", m)
	}
	// GetOrLoad serves from the loader meanwhile.
	got, err := cache.GetOrLoad(ctx, c, "k", time.Hour, func(context.Context) (string, error) { return "from db", nil })
	if err != nil || got != "from db" {
		t.Fatalf("GetOrLoad during the outage = %q, %v", got, err)
	}

	network.down.Store(false)
	clk.Advance(5 * time.Second)
	mustHit(t, c, "k", []byte("v"))
	if err := c.Healthy(); err != nil {
		t.Errorf("Healthy after recovery = %v", err)
	}
}

// An entry deleted while Redis was unreachable is not served when it comes
// back: the deletion is sent before the cache answers again.
func TestRedisRemembersInvalidations(t *testing.T) {
	ctx := context.Background()
	client, network := flakyRedis(t)
	clk := newFakeClock()
	prefix := testenv.Unique("backhaul:test:cache:") + ":"
	c := cache.NewRedis(client, prefix, cache.WithClock(clk.Now), cache.WithCooldown(time.Second))
	t.Cleanup(func() { c.DeletePrefix(context.Background(), "") })
	mustSet(t, c, "apikey:1", []byte("alice"), time.Hour)
	mustSet(t, c, "apikey:2", []byte("bob"), time.Hour)
	mustSet(t, c, "board:a", []byte("page"), time.Hour)

	network.down.Store(true)
	if err := c.Delete(ctx, "apikey:1"); err == nil {
		t.Fatal("Delete during the outage succeeded")
	}
	if err := c.DeletePrefix(ctx, "board:"); err == nil {
		t.Fatal("DeletePrefix during the outage succeeded")
	}
	network.down.Store(false)
	clk.Advance(time.Second)

	mustMiss(t, c, "apikey:1")
	mustMiss(t, c, "board:a")
	mustHit(t, c, "apikey:2", []byte("bob"))
	if n, err := client.Exists(ctx, prefix+"apikey:1", prefix+"board:a").Result(); err != nil || n != 0 {
		t.Errorf("keys deleted during the outage: %d remain (%v), want 0", n, err)
	}
}

package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backhaul/backhaul/internal/ratelimit"
	"github.com/backhaul/backhaul/internal/testenv"
)

// limiter is the method set both implementations share.
type limiter interface {
	Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Decision, error)
}

// harness is one fresh limiter and a way to let time pass for it.
type harness struct {
	l limiter
	// exact is true when no time passes but what pass lets pass.
	exact bool
	pass  func(d time.Duration)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newLocalHarness(t testing.TB) harness {
	clk := newFakeClock()
	return harness{l: ratelimit.NewLocal(clk.Now), exact: true, pass: clk.Advance}
}

func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse redis url: %v", err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client
}

// redisPrefix returns a prefix of keys for one test and removes its keys when
// the test ends.
func redisPrefix(t testing.TB, client *redis.Client) string {
	prefix := testenv.Unique("backhaul:test:ratelimit:") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			if err := client.Unlink(ctx, iter.Val()).Err(); err != nil {
				t.Errorf("clean up %s: %v", iter.Val(), err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up %s: %v", prefix, err)
		}
	})
	return prefix
}

func newRedisHarness(t testing.TB) harness {
	client := redisClient(t)
	return harness{l: ratelimit.NewRedis(client, redisPrefix(t, client)), pass: time.Sleep}
}

func TestLocal(t *testing.T) { testLimiter(t, newLocalHarness) }
func TestRedis(t *testing.T) { testLimiter(t, newRedisHarness) }

// testLimiter is the conformance suite every implementation passes.
func testLimiter(t *testing.T, newHarness func(t testing.TB) harness) {
	ctx := context.Background()

	t.Run("BurstThenDenied", func(t *testing.T) {
		h := newHarness(t)
		// One request a second: the few milliseconds a real server takes
		// between requests refill nothing that counts.
		lim := ratelimit.Limit{Rate: 1, Burst: 5}
		for i := range lim.Burst {
			d := mustAllow(t, h.l, "shipper-1", lim)
			if !d.Allowed {
				t.Fatalf("request %d of the burst: denied, want allowed", i+1)
			}
			if want := lim.Burst - 1 - i; d.Remaining != want {
				t.Errorf("request %d: Remaining = %d, want %d", i+1, d.Remaining, want)
			}
			if d.RetryAfter != 0 {
				t.Errorf("request %d: RetryAfter = %v, want 0 when allowed", i+1, d.RetryAfter)
			}
		}
		d := mustAllow(t, h.l, "shipper-1", lim)
		if d.Allowed {
			t.Fatal("request past the burst: allowed, want denied")
		}
		if d.Remaining != 0 {
			t.Errorf("denied: Remaining = %d, want 0", d.Remaining)
		}
		checkNear(t, h, "RetryAfter", d.RetryAfter, time.Second)
		checkNear(t, h, "ResetAfter", d.ResetAfter, 5*time.Second)
	})

	t.Run("Refill", func(t *testing.T) {
		h := newHarness(t)
		lim := ratelimit.Limit{Rate: 20, Burst: 2}
		mustAllow(t, h.l, "k", lim)
		mustAllow(t, h.l, "k", lim)
		d := mustAllow(t, h.l, "k", lim)
		if d.Allowed {
			t.Fatal("third request of a burst of 2: allowed, want denied")
		}
		h.pass(d.RetryAfter)
		// A real server's clock runs on its own: retry, within a bound.
		deadline := time.Now().Add(2 * time.Second)
		for d = mustAllow(t, h.l, "k", lim); !d.Allowed; d = mustAllow(t, h.l, "k", lim) {
			if h.exact || time.Now().After(deadline) {
				t.Fatalf("after waiting RetryAfter: denied (%+v), want allowed", d)
			}
			h.pass(d.RetryAfter)
		}
		if h.exact {
			if d := mustAllow(t, h.l, "k", lim); d.Allowed {
				t.Error("another request at the same instant: allowed, want denied")
			}
			h.pass(time.Second)
			for i := range lim.Burst {
				if d := mustAllow(t, h.l, "k", lim); !d.Allowed {
					t.Errorf("request %d after a quiet second: denied, want the whole burst", i+1)
				}
			}
		}
	})

	t.Run("IndependentKeys", func(t *testing.T) {
		h := newHarness(t)
		lim := ratelimit.Limit{Rate: 0.1, Burst: 1}
		if d := mustAllow(t, h.l, "carrier-a", lim); !d.Allowed {
			t.Fatal("carrier-a first request: denied")
		}
		if d := mustAllow(t, h.l, "carrier-a", lim); d.Allowed {
			t.Fatal("carrier-a second request: allowed, want denied")
		}
		for _, k := range []string{"carrier-b", "carrier-a ", "Carrier-a", ""} {
			if d := mustAllow(t, h.l, k, lim); !d.Allowed {
				t.Errorf("key %q after carrier-a spent its budget: denied, want allowed", k)
			}
		}
	})

	t.Run("InvalidLimits", func(t *testing.T) {
		h := newHarness(t)
		for _, lim := range []ratelimit.Limit{
			{Rate: 0, Burst: 1},
			{Rate: -5, Burst: 10},
			{Rate: math.NaN(), Burst: 1},
			{Rate: math.Inf(1), Burst: 1},
			{Rate: 1, Burst: 0},
			{Rate: 1, Burst: -3},
			{Rate: 1e-9, Burst: 1_000_000}, // a window of 31,000 years
		} {
			d, err := h.l.Allow(ctx, "k", lim)
			if !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Errorf("Allow with %+v: got %+v, %v; want %v", lim, d, err, ratelimit.ErrInvalidLimit)
			}
		}
	})
}

// checkNear checks a duration computed at the last request: exactly want
// with an injected clock, or at most want and no more than the time the
// test's requests took below it with a real one.
func checkNear(t *testing.T, h harness, name string, got, want time.Duration) {
	t.Helper()
	if h.exact && got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
	if !h.exact && (got > want || got < want-want/10) {
		t.Errorf("%s = %v, want just under %v", name, got, want)
	}
}

func mustAllow(t testing.TB, l limiter, key string, lim ratelimit.Limit) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, lim)
	if err != nil {
		t.Fatalf("Allow(%q, %+v): %v", key, lim, err)
	}
	return d
}

// TestRedisSharedAcrossReplicas checks the property Redis exists for: two
// replicas, each with its own connection, draw on one budget per key.
func TestRedisSharedAcrossReplicas(t *testing.T) {
	a := redisClient(t)
	b := redisClient(t)
	prefix := redisPrefix(t, a)
	replicas := []*ratelimit.Redis{ratelimit.NewRedis(a, prefix), ratelimit.NewRedis(b, prefix)}
	lim := ratelimit.Limit{Rate: 0.1, Burst: 4}
	for i := range 6 {
		r := replicas[i%2]
		d := mustAllow(t, r, "tenant-7", lim)
		if want := i < lim.Burst; d.Allowed != want {
			t.Errorf("request %d via replica %d: allowed = %v, want %v", i+1, i%2, d.Allowed, want)
		}
	}
}

// TestRedisKeyExpires checks that a key leaves Redis once it no longer
// matters, so idle keys cost no memory.
func TestRedisKeyExpires(t *testing.T) {
	ctx := context.Background()
	client := redisClient(t)
	prefix := redisPrefix(t, client)
	l := ratelimit.NewRedis(client, prefix)
	d := mustAllow(t, l, "device-9", ratelimit.Limit{Rate: 20, Burst: 1})
	ttl, err := client.PTTL(ctx, prefix+"device-9").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > d.ResetAfter.Round(time.Millisecond)+time.Millisecond {
		t.Fatalf("PTTL = %v, want a positive TTL no longer than ResetAfter %v", ttl, d.ResetAfter)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, err := client.Exists(ctx, prefix+"device-9").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key still present long after its ResetAfter of %v", d.ResetAfter)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisScriptReloaded checks the fallback from EVALSHA to EVAL when the
// server has lost its script cache (a restart or a failover).
func TestRedisScriptReloaded(t *testing.T) {
	ctx := context.Background()
	client := redisClient(t)
	l := ratelimit.NewRedis(client, redisPrefix(t, client))
	lim := ratelimit.Limit{Rate: 0.1, Burst: 2}
	mustAllow(t, l, "k", lim)
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Skipf("SCRIPT FLUSH not permitted: %v", err)
	}
	if d := mustAllow(t, l, "k", lim); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after SCRIPT FLUSH: got %+v, want allowed with 0 remaining", d)
	}
}

func TestLocalSweepsStaleKeys(t *testing.T) {
	clk := newFakeClock()
	l := ratelimit.NewLocal(clk.Now)
	lim := ratelimit.Limit{Rate: 1, Burst: 10} // a key matters for 1s after its last request
	const perWave, waves = 5000, 8
	for w := range waves {
		for i := range perWave {
			if d := mustAllow(t, l, fmt.Sprintf("w%d-k%d", w, i), lim); !d.Allowed {
				t.Fatalf("fresh key denied: %+v", d)
			}
		}
		clk.Advance(2 * time.Second)
	}
	// Without sweeping every key of every wave would still be held. A shard
	// holds at most twice its live keys; uneven spread over shards gets the
	// rest of the slack.
	t.Logf("Len() = %d", l.Len())
	if got, bound := l.Len(), 3*perWave; got > bound {
		t.Errorf("Len() = %d after %d waves of %d keys, want at most %d", got, waves, perWave, bound)
	}
}

func TestLocalSweepKeepsLiveKeys(t *testing.T) {
	clk := newFakeClock()
	l := ratelimit.NewLocal(clk.Now)
	slow := ratelimit.Limit{Rate: 0.001, Burst: 1}
	mustAllow(t, l, "busy", slow)
	// Enough fresh keys to make every shard sweep several times.
	for i := range 20_000 {
		mustAllow(t, l, fmt.Sprintf("k%d", i), ratelimit.Limit{Rate: 1000, Burst: 1})
		if i%1000 == 0 {
			clk.Advance(time.Second)
		}
	}
	if d := mustAllow(t, l, "busy", slow); d.Allowed {
		t.Error("a key within its window was swept: its spent budget came back")
	}
}

// FuzzLocalAllow checks the promises of GCRA on random request times: no
// window [t1, t2] between two allowed requests holds more than
// Burst + (t2-t1)/interval of them, a caller who waits RetryAfter is let
// through, Remaining tells truly whether the next request would pass, and
// every duration stays within its bounds.
func FuzzLocalAllow(f *testing.F) {
	f.Add(uint16(100), uint8(3), []byte{0, 0, 0, 0, 10, 0, 0, 200})
	f.Add(uint16(2000), uint8(1), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 0})
	f.Add(uint16(7), uint8(19), []byte{0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, rate uint16, burst uint8, gaps []byte) {
		lim := ratelimit.Limit{Rate: float64(rate%5000+1) / 100, Burst: int(burst%20) + 1}
		interval := time.Duration(math.Round(float64(time.Second) / lim.Rate))
		clk := newFakeClock()
		l := ratelimit.NewLocal(clk.Now)
		if len(gaps) > 400 {
			gaps = gaps[:400] // the window check is quadratic
		}
		var (
			allowed []time.Time
			prev    ratelimit.Decision
		)
		for i, g := range gaps {
			// Half the gaps are exact multiples of what the last decision
			// said to wait, the other half arbitrary.
			var gap time.Duration
			if g%2 == 0 {
				gap = prev.RetryAfter * time.Duration(g/64)
			} else {
				gap = time.Duration(g) * 5 * time.Millisecond
			}
			clk.Advance(gap)
			now := clk.Now()
			d := mustAllow(t, l, "k", lim)
			switch {
			case i > 0 && !prev.Allowed && gap >= prev.RetryAfter && !d.Allowed:
				t.Fatalf("request %d: denied %+v after waiting %v, as told by %+v", i, d, gap, prev)
			case i > 0 && prev.Allowed && prev.Remaining > 0 && !d.Allowed:
				t.Fatalf("request %d: denied %+v though %d remained", i, d, prev.Remaining)
			case i > 0 && prev.Allowed && prev.Remaining == 0 && gap == 0 && d.Allowed:
				t.Fatalf("request %d: allowed at once though none remained", i)
			case d.Allowed && (d.Remaining < 0 || d.Remaining >= lim.Burst || d.RetryAfter != 0):
				t.Fatalf("request %d: allowed with %+v", i, d)
			case !d.Allowed && (d.RetryAfter <= 0 || d.RetryAfter > interval || d.Remaining != 0):
				t.Fatalf("request %d: denied with %+v, interval %v", i, d, interval)
			case d.ResetAfter < 0 || d.ResetAfter > time.Duration(lim.Burst)*interval:
				t.Fatalf("request %d: ResetAfter %v outside [0, %v]", i, d.ResetAfter, time.Duration(lim.Burst)*interval)
			}
			if d.Allowed {
				allowed = append(allowed, now)
			}
			prev = d
		}
		for i := range allowed {
			for j := i; j < len(allowed); j++ {
				n := j - i + 1
				if limit := lim.Burst + int(allowed[j].Sub(allowed[i])/interval); n > limit {
					t.Fatalf("%d requests allowed within %v, want at most %d (%+v)", n, allowed[j].Sub(allowed[i]), limit, lim)
				}
			}
		}
	})
}

func BenchmarkLocalAllow(b *testing.B) {
	benchmarkAllow(b, ratelimit.NewLocal(nil))
}

func BenchmarkRedisAllow(b *testing.B) {
	client := redisClient(b)
	benchmarkAllow(b, ratelimit.NewRedis(client, redisPrefix(b, client)))
}

// benchmarkAllow spreads requests from parallel callers over 1,000 keys.
func benchmarkAllow(b *testing.B, l limiter) {
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("api-key-%d", i)
	}
	lim := ratelimit.Limit{Rate: 100, Burst: 50}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := l.Allow(ctx, keys[i%len(keys)], lim); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

package cache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backhaul/backhaul/internal/cache"
	"github.com/backhaul/backhaul/internal/testenv"
)

// cacheUnderTest is the method set both implementations share.
type cacheUnderTest interface {
	cache.Store
	Delete(ctx context.Context, keys ...string) error
	DeletePrefix(ctx context.Context, prefix string) error
	Stats() cache.Stats
}

// harness is one fresh, empty cache and a way to let time pass for it.
type harness struct {
	c cacheUnderTest
	// pass lets d go by: a fake clock moves, a real one is waited on.
	pass func(d time.Duration)
}

// fakeClock is a clock tests move by hand.
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

func newLocalHarness(t *testing.T) harness {
	clk := newFakeClock()
	return harness{c: cache.NewLocal(10_000, clk.Now), pass: clk.Advance}
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

func newRedisHarness(t *testing.T) harness {
	c := cache.NewRedis(redisClient(t), testenv.Unique("backhaul:test:cache:")+":")
	t.Cleanup(func() {
		if err := c.DeletePrefix(context.Background(), ""); err != nil {
			t.Errorf("clean up: %v", err)
		}
	})
	return harness{c: c, pass: time.Sleep}
}

func TestLocal(t *testing.T) { testCache(t, newLocalHarness) }
func TestRedis(t *testing.T) { testCache(t, newRedisHarness) }

// testCache is the conformance suite every implementation passes.
func testCache(t *testing.T, newHarness func(t *testing.T) harness) {
	ctx := context.Background()

	t.Run("GetSetDelete", func(t *testing.T) {
		h := newHarness(t)
		mustMiss(t, h.c, "k1")
		mustSet(t, h.c, "k1", []byte("one"), time.Hour)
		mustHit(t, h.c, "k1", []byte("one"))
		mustSet(t, h.c, "k1", []byte("uno"), time.Hour)
		mustHit(t, h.c, "k1", []byte("uno"))
		mustSet(t, h.c, "k2", []byte("two"), time.Hour)
		mustSet(t, h.c, "k3", []byte("three"), time.Hour)
		if err := h.c.Delete(ctx, "k1", "k2", "absent"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := h.c.Delete(ctx); err != nil {
			t.Fatalf("Delete of no keys: %v", err)
		}
		mustMiss(t, h.c, "k1")
		mustMiss(t, h.c, "k2")
		mustHit(t, h.c, "k3", []byte("three"))
	})

	t.Run("BinaryValues", func(t *testing.T) {
		h := newHarness(t)
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		tests := []struct {
			key   string
			value []byte
		}{
			{"every-byte", all},
			{"nuls", []byte{0, 0, 0}},
			{"empty", []byte{}},
			{"invalid-utf8", []byte{0xff, 0xfe, 0xc3, 0x28}},
			{"key with spaces/and:separators\x00", []byte("v")},
		}
		for _, tt := range tests {
			mustSet(t, h.c, tt.key, tt.value, time.Hour)
		}
		for _, tt := range tests {
			mustHit(t, h.c, tt.key, tt.value)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		h := newHarness(t)
		const ttl = 60 * time.Millisecond
		mustSet(t, h.c, "short", []byte("s"), ttl)
		mustSet(t, h.c, "long", []byte("l"), time.Hour)
		mustSet(t, h.c, "forever", []byte("f"), 0)
		h.pass(ttl)
		// A real server expires on its own schedule: poll, within a bound.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, ok, err := h.c.Get(ctx, "short")
			if err != nil {
				t.Fatalf("Get(short): %v", err)
			}
			if !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Get(short) still hits long after its ttl of %v", ttl)
			}
			h.pass(10 * time.Millisecond)
		}
		mustHit(t, h.c, "long", []byte("l"))
		mustHit(t, h.c, "forever", []byte("f"))
	})

	t.Run("DeletePrefix", func(t *testing.T) {
		h := newHarness(t)
		keep := []string{"ab", "b:1", "a", "xa:1"}
		drop := []string{"a:1", "a:2", "a:sub:3"}
		for _, k := range append(slices.Clone(keep), drop...) {
			mustSet(t, h.c, k, []byte(k), time.Hour)
		}
		// Glob characters in a prefix are literal.
		mustSet(t, h.c, "g*[x]?\\1", []byte("g"), time.Hour)
		mustSet(t, h.c, "gz", []byte("gz"), time.Hour)

		if err := h.c.DeletePrefix(ctx, "a:"); err != nil {
			t.Fatalf("DeletePrefix(a:): %v", err)
		}
		if err := h.c.DeletePrefix(ctx, "g*[x]?\\"); err != nil {
			t.Fatalf("DeletePrefix(glob): %v", err)
		}
		for _, k := range drop {
			mustMiss(t, h.c, k)
		}
		mustMiss(t, h.c, "g*[x]?\\1")
		for _, k := range keep {
			mustHit(t, h.c, k, []byte(k))
		}
		mustHit(t, h.c, "gz", []byte("gz"))
	})

	t.Run("DeletePrefixManyBatches", func(t *testing.T) {
		h := newHarness(t)
		const n = 1234 // more than one SCAN batch
		for i := range n {
			mustSet(t, h.c, fmt.Sprintf("bulk:%d", i), []byte("x"), time.Hour)
		}
		mustSet(t, h.c, "other", []byte("o"), time.Hour)
		if err := h.c.DeletePrefix(ctx, "bulk:"); err != nil {
			t.Fatalf("DeletePrefix: %v", err)
		}
		for i := range n {
			mustMiss(t, h.c, fmt.Sprintf("bulk:%d", i))
		}
		mustHit(t, h.c, "other", []byte("o"))
	})

	t.Run("Stats", func(t *testing.T) {
		h := newHarness(t)
		mustMiss(t, h.c, "s")
		mustSet(t, h.c, "s", []byte("v"), time.Hour)
		mustHit(t, h.c, "s", []byte("v"))
		mustHit(t, h.c, "s", []byte("v"))
		got := h.c.Stats()
		if got.Hits != 2 || got.Misses != 1 {
			t.Errorf("Stats() = %+v, want 2 hits and 1 miss", got)
		}
	})

	t.Run("GetOrLoad", func(t *testing.T) {
		h := newHarness(t)
		type quote struct {
			Lane  string   `json:"lane"`
			Cents int64    `json:"cents"`
			Tags  []string `json:"tags"`
		}
		want := quote{Lane: "CHI-DAL", Cents: 182_500, Tags: []string{"dry-van"}}
		var loads atomic.Int64
		load := func(context.Context) (quote, error) {
			loads.Add(1)
			return want, nil
		}
		for i := range 3 {
			got, err := cache.GetOrLoad(ctx, h.c, "quote:1", time.Hour, load)
			if err != nil {
				t.Fatalf("call %d: GetOrLoad: %v", i, err)
			}
			if !equalJSON(got, want) {
				t.Fatalf("call %d: got %+v, want %+v", i, got, want)
			}
		}
		if got := loads.Load(); got != 1 {
			t.Errorf("load ran %d times, want 1", got)
		}
		raw, ok, err := h.c.Get(ctx, "quote:1")
		if err != nil || !ok {
			t.Fatalf("Get(quote:1) = %v, %v; want the cached value", ok, err)
		}
		if wantRaw, _ := json.Marshal(want); !bytes.Equal(raw, wantRaw) {
			t.Errorf("cached %s, want %s", raw, wantRaw)
		}
	})

	t.Run("GetOrLoadError", func(t *testing.T) {
		h := newHarness(t)
		errDown := errors.New("pricing store down")
		_, err := cache.GetOrLoad(ctx, h.c, "k", time.Hour, func(context.Context) (int, error) { return 0, errDown })
		if !errors.Is(err, errDown) {
			t.Fatalf("got error %v, want %v", err, errDown)
		}
		mustMiss(t, h.c, "k")
		got, err := cache.GetOrLoad(ctx, h.c, "k", time.Hour, func(context.Context) (int, error) { return 7, nil })
		if err != nil || got != 7 {
			t.Fatalf("after a failed load: got %d, %v; want 7, nil", got, err)
		}
	})

	t.Run("GetOrLoadUndecodable", func(t *testing.T) {
		h := newHarness(t)
		mustSet(t, h.c, "k", []byte("not json"), time.Hour)
		got, err := cache.GetOrLoad(ctx, h.c, "k", time.Hour, func(context.Context) (int, error) { return 42, nil })
		if err != nil || got != 42 {
			t.Fatalf("got %d, %v; want 42, nil", got, err)
		}
		mustHit(t, h.c, "k", []byte("42"))
	})

	t.Run("GetOrLoadSingleFlight", func(t *testing.T) {
		h := newHarness(t)
		const callers = 64
		var loads atomic.Int64
		load := func(context.Context) (string, error) {
			loads.Add(1)
			// Hold the load open so that the callers pile up behind it.
			time.Sleep(20 * time.Millisecond)
			return "hot", nil
		}
		start := make(chan struct{})
		errs := make(chan error, callers)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				<-start
				v, err := cache.GetOrLoad(ctx, h.c, "hot-lane", time.Hour, load)
				if err == nil && v != "hot" {
					err = fmt.Errorf("got %q, want %q", v, "hot")
				}
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := loads.Load(); got != 1 {
			t.Errorf("%d concurrent callers ran load %d times, want 1", callers, got)
		}
	})

	t.Run("GetOrLoadCallerCancelled", func(t *testing.T) {
		h := newHarness(t)
		release := make(chan struct{})
		loadCtx := make(chan context.Context, 1)
		load := func(ctx context.Context) (int, error) {
			loadCtx <- ctx
			<-release
			return 1, nil
		}
		first, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := cache.GetOrLoad(first, h.c, "k", time.Hour, load)
			done <- err
		}()
		lctx := <-loadCtx
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller got %v, want %v", err, context.Canceled)
		}
		if lctx.Err() != nil {
			t.Fatalf("load's context was cancelled with its first caller: %v", lctx.Err())
		}
		close(release)
		// The load goes on for the callers still waiting, and is cached.
		got, err := cache.GetOrLoad(ctx, h.c, "k", time.Hour, func(context.Context) (int, error) { return 2, nil })
		if err != nil || got != 1 {
			t.Fatalf("got %d, %v; want the shared load's 1, nil", got, err)
		}
	})
}

func TestLocalLRU(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		ops  []string // "set k" or "get k"
		want []string // keys left, capacity 3
	}{
		{"oldest goes", []string{"set a", "set b", "set c", "set d"}, []string{"b", "c", "d"}},
		{"read refreshes", []string{"set a", "set b", "set c", "get a", "set d"}, []string{"a", "c", "d"}},
		{"write refreshes", []string{"set a", "set b", "set c", "set a", "set d"}, []string{"a", "c", "d"}},
		{"miss does not refresh", []string{"set a", "set b", "set c", "get x", "set d", "set e"}, []string{"c", "d", "e"}},
		{"chain", []string{"set a", "set b", "set c", "get a", "get b", "set d", "set e"}, []string{"b", "d", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cache.NewLocal(3, newFakeClock().Now)
			for _, op := range tt.ops {
				verb, key, _ := strings.Cut(op, " ")
				if verb == "set" {
					mustSet(t, c, key, []byte(key), time.Hour)
				} else if _, _, err := c.Get(ctx, key); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.Len(); got != len(tt.want) {
				t.Errorf("Len() = %d, want %d", got, len(tt.want))
			}
			for _, k := range tt.want {
				mustHit(t, c, k, []byte(k))
			}
			if got, want := c.Stats().Evictions, uint64(len(keysOf(tt.ops))-3); got != want {
				t.Errorf("Evictions = %d, want %d", got, want)
			}
		})
	}
}

// keysOf returns the distinct keys the ops set.
func keysOf(ops []string) map[string]bool {
	keys := map[string]bool{}
	for _, op := range ops {
		if k, ok := strings.CutPrefix(op, "set "); ok {
			keys[k] = true
		}
	}
	return keys
}

func TestLocalEvictsExpiredFirst(t *testing.T) {
	clk := newFakeClock()
	c := cache.NewLocal(3, clk.Now)
	mustSet(t, c, "live-old", []byte("1"), time.Hour)
	mustSet(t, c, "dies", []byte("2"), time.Minute)
	mustSet(t, c, "live", []byte("3"), time.Hour)
	mustHit(t, c, "live-old", []byte("1")) // now the most recent but one
	clk.Advance(2 * time.Minute)
	mustSet(t, c, "new", []byte("4"), time.Hour)
	// "dies" is neither the least recently used nor live: it goes first.
	mustHit(t, c, "live-old", []byte("1"))
	mustHit(t, c, "live", []byte("3"))
	mustHit(t, c, "new", []byte("4"))
	if got := c.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
}

func TestLocalExpiryBoundary(t *testing.T) {
	clk := newFakeClock()
	c := cache.NewLocal(10, clk.Now)
	mustSet(t, c, "k", []byte("v"), time.Minute)
	clk.Advance(time.Minute - time.Nanosecond)
	mustHit(t, c, "k", []byte("v"))
	clk.Advance(time.Nanosecond)
	mustMiss(t, c, "k")
	if got := c.Len(); got != 0 {
		t.Errorf("Len() after an expired lookup = %d, want 0", got)
	}
	if got := c.Stats().Evictions; got != 1 {
		t.Errorf("Evictions = %d, want 1", got)
	}
}

func TestLocalCopiesValues(t *testing.T) {
	ctx := context.Background()
	c := cache.NewLocal(10, newFakeClock().Now)
	v := []byte("abc")
	mustSet(t, c, "k", v, time.Hour)
	v[0] = 'X'
	got, _, _ := c.Get(ctx, "k")
	got[1] = 'Y'
	mustHit(t, c, "k", []byte("abc"))
}

func TestNewLocalPanicsOnNoCapacity(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewLocal(0, nil) did not panic")
		}
	}()
	cache.NewLocal(0, nil)
}

func TestRedisKeysUnderPrefix(t *testing.T) {
	ctx := context.Background()
	client := redisClient(t)
	base := testenv.Unique("backhaul:test:cache:")
	a := cache.NewRedis(client, base+":a:")
	b := cache.NewRedis(client, base+":b:")
	t.Cleanup(func() {
		a.DeletePrefix(ctx, "")
		b.DeletePrefix(ctx, "")
	})
	mustSet(t, a, "k", []byte("from a"), time.Hour)
	mustSet(t, b, "k", []byte("from b"), time.Hour)
	if got, err := client.Get(ctx, base+":a:k").Result(); err != nil || got != "from a" {
		t.Fatalf("raw GET %s = %q, %v; want %q", base+":a:k", got, err, "from a")
	}
	if err := a.DeletePrefix(ctx, ""); err != nil {
		t.Fatal(err)
	}
	mustMiss(t, a, "k")
	mustHit(t, b, "k", []byte("from b"))
}

// TestGetOrLoadRedisDown checks that a cache outage costs callers nothing but
// the loads, and the log one line per interval.
func TestGetOrLoadRedisDown(t *testing.T) {
	ctx := context.Background()
	// An address where nothing listens: connections are refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { client.Close() })

	var logs bytes.Buffer
	clk := newFakeClock()
	c := cache.NewRedis(client, "backhaul:test:",
		cache.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		cache.WithErrorLogInterval(time.Minute),
		cache.WithClock(clk.Now))

	var loads int
	load := func(context.Context) (string, error) { loads++; return "fresh", nil }
	for i := range 3 {
		got, err := cache.GetOrLoad(ctx, c, "k", time.Hour, load)
		if err != nil || got != "fresh" {
			t.Fatalf("call %d: got %q, %v; want %q, nil", i, got, err, "fresh")
		}
	}
	if loads != 3 {
		t.Errorf("load ran %d times, want 3 (nothing can be cached)", loads)
	}
	if got := logLines(t, &logs); len(got) != 1 {
		t.Fatalf("logged %d lines within one interval, want 1: %v", len(got), got)
	}

	clk.Advance(time.Minute)
	if _, err := cache.GetOrLoad(ctx, c, "k", time.Hour, load); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, &logs)
	if len(lines) != 2 {
		t.Fatalf("logged %d lines over two intervals, want 2: %v", len(lines), lines)
	}
	if n, _ := lines[1]["suppressed"].(float64); n < 1 {
		t.Errorf("second line reports %v suppressed failures, want at least 1", lines[1]["suppressed"])
	}
	if !strings.Contains(fmt.Sprint(lines[0]["err"]), "refused") {
		t.Errorf("logged error %q, want the connection failure", lines[0]["err"])
	}
}

func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func mustSet(t *testing.T, c cache.Store, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := c.Set(context.Background(), key, value, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func mustHit(t *testing.T, c cache.Store, key string, want []byte) {
	t.Helper()
	got, ok, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !ok {
		t.Fatalf("Get(%q) missed, want %q", key, want)
	}
	if !bytes.Equal(got, want) || got == nil {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func mustMiss(t *testing.T, c cache.Store, key string) {
	t.Helper()
	got, ok, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if ok {
		t.Fatalf("Get(%q) = %q, want a miss", key, got)
	}
}

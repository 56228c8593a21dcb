// Package cache holds byte values under string keys for a limited time, in
// the process (Local, an LRU with per-entry TTL) or in Redis (Redis, shared
// by every replica). Both have the same methods, so a service is written once
// and configured for either. GetOrLoad layers typed, JSON-encoded values with
// one load per key at a time on top of either.
package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Stats counts what a cache did since it was created.
type Stats struct {
	Hits      uint64 // lookups that found a live entry
	Misses    uint64 // lookups that found nothing or an expired entry
	Evictions uint64 // entries the cache dropped by itself (capacity or expiry)
	Errors    uint64 // operations that failed or were skipped because the backend was down
}

// Store is what GetOrLoad needs from a cache. *Local and *Redis implement it.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Flight returns the state GetOrLoad shares among the callers of this
	// cache in the process.
	Flight() *Flight
}

// Option configures a cache.
type Option func(*options)

type options struct {
	logger   *slog.Logger
	logEvery time.Duration
	clock    func() time.Time
	cooldown time.Duration
}

// WithCooldown sets how long a Redis cache that just failed is not asked
// again: lookups miss at once and are served by their loaders (the
// database), so an outage costs one failed round trip per cooldown instead
// of one per request. The default is two seconds; 0 asks every time.
func WithCooldown(d time.Duration) Option { return func(o *options) { o.cooldown = d } }

// WithLogger sets where GetOrLoad reports cache failures. The default
// discards them.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithErrorLogInterval sets the least time between two reports of cache
// failures; the failures in between are counted and reported with the next
// one. The default is one minute.
func WithErrorLogInterval(d time.Duration) Option { return func(o *options) { o.logEvery = d } }

// WithClock sets the clock that paces failure reports. NewLocal's clock
// argument sets it for a Local; the default is time.Now.
func WithClock(clock func() time.Time) Option { return func(o *options) { o.clock = clock } }

// Flight collapses concurrent GetOrLoad misses on one key into one load and
// paces the logging of cache failures. A Store keeps one for its lifetime.
type Flight struct {
	group    singleflight.Group
	logger   *slog.Logger
	logEvery time.Duration
	clock    func() time.Time

	mu         sync.Mutex
	logged     bool
	loggedAt   time.Time
	suppressed int
}

// NewFlight returns the Flight for a Store implemented outside this package.
func NewFlight(opts ...Option) *Flight {
	o := options{logEvery: time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	return &Flight{logger: o.logger, logEvery: o.logEvery, clock: o.clock}
}

// report logs a cache failure unless one was logged less than logEvery ago;
// a cache that is down fails on every request, and one line a minute says as
// much as thousands.
func (f *Flight) report(ctx context.Context, op, key string, err error) {
	f.mu.Lock()
	now := f.clock()
	if f.logged && now.Sub(f.loggedAt) < f.logEvery {
		f.suppressed++
		f.mu.Unlock()
		return
	}
	suppressed := f.suppressed
	f.logged, f.loggedAt, f.suppressed = true, now, 0
	f.mu.Unlock()
	f.logger.LogAttrs(ctx, slog.LevelWarn, "cache failed, loading without it",
		slog.String("op", op), slog.String("key", key), slog.String("err", err.Error()),
		slog.Int("suppressed", suppressed))
}

// GetOrLoad returns the value cached under key, or calls load, caches its
// result for ttl and returns it. Values are JSON-encoded.
//
// Concurrent misses on one key in the process share one call of load, so a
// hot key that expires costs one load, not one per request. load runs with
// the first caller's context values but not its cancellation, since other
// callers may be waiting for it; it should bound its own time. Each caller
// still returns early when its own context is done.
//
// The cache is an optimisation, never a dependency: when Get or Set fails (a
// Redis outage) or a cached value no longer decodes, GetOrLoad logs it at
// most once per the Flight's interval and serves the value from load. Errors
// from load are returned as they are and nothing is cached.
func GetOrLoad[T any](ctx context.Context, c Store, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	var zero T
	f := c.Flight()
	raw, ok, err := c.Get(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		f.report(ctx, "get", key, err)
	case ok:
		var v T
		derr := json.Unmarshal(raw, &v)
		if derr == nil {
			return v, nil
		}
		f.report(ctx, "decode", key, derr)
	}
	// A cache that just failed is not asked again before loading.
	recheck := err == nil
	ch := f.group.DoChan(key, func() (any, error) {
		return fill(context.WithoutCancel(ctx), c, f, key, ttl, recheck, load)
	})
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		// Every caller decodes its own copy, so no two share maps or slices.
		var v T
		if err := json.Unmarshal(r.Val.([]byte), &v); err != nil {
			return zero, fmt.Errorf("cache %q: decode loaded value: %w", key, err)
		}
		return v, nil
	}
}

// fill runs once per key at a time. It looks in the cache again first: a
// caller that missed just before another caller's load finished would
// otherwise load a second time.
func fill[T any](ctx context.Context, c Store, f *Flight, key string, ttl time.Duration, recheck bool, load func(context.Context) (T, error)) ([]byte, error) {
	if recheck {
		raw, ok, err := c.Get(ctx, key)
		if err != nil {
			f.report(ctx, "get", key, err)
		} else if ok {
			var v T
			if json.Unmarshal(raw, &v) == nil {
				return raw, nil
			}
		}
	}
	v, err := load(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cache %q: encode: %w", key, err)
	}
	if err := c.Set(ctx, key, raw, ttl); err != nil {
		f.report(ctx, "set", key, err)
	}
	return raw, nil
}

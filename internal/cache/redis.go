package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// scanBatch is the COUNT hint of each SCAN and so the most keys unlinked per
// round trip by DeletePrefix.
const scanBatch = 500

// maxPending bounds the invalidations a Redis cache remembers while the
// server is unreachable.
const maxPending = 10_000

// ErrUnavailable is returned while a Redis cache is cooling down after a
// failure.
var ErrUnavailable = errors.New("cache unavailable")

// Redis is a cache in Redis, shared by every replica. Keys are stored under
// a prefix so that caches share a server without colliding. Expiry and
// eviction are Redis's own (configure the server with maxmemory-policy
// allkeys-lru): Stats counts hits and misses seen by this process and
// reports no evictions (the server's INFO has them).
//
// A failed operation puts the cache out of use for a cooldown: lookups then
// fail at once, so GetOrLoad serves from the loader without waiting on the
// network. Invalidations that fail are remembered and sent before the cache
// answers again, so an entry deleted during an outage is not served after
// it.
type Redis struct {
	client   redis.UniversalClient
	prefix   string
	flight   *Flight
	clock    func() time.Time
	cooldown time.Duration

	hits, misses, errs atomic.Uint64
	downUntil          atomic.Int64 // Unix nanoseconds; 0: up
	backlog            atomic.Bool  // invalidations wait in pending or prefixes

	flushMu  sync.Mutex // held while the backlog is sent
	mu       sync.Mutex
	lastErr  error
	pending  []string // full keys to unlink once the server answers
	prefixes []string // full prefixes to clear once the server answers
}

// NewRedis returns a cache that keeps its keys under prefix (for example
// "backhaul:quotes:") on client.
func NewRedis(client redis.UniversalClient, prefix string, opts ...Option) *Redis {
	o := options{cooldown: 2 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	clock := o.clock
	if clock == nil {
		clock = time.Now
	}
	return &Redis{client: client, prefix: prefix, flight: NewFlight(opts...), clock: clock, cooldown: o.cooldown}
}

// ready reports whether the cache may be asked: not cooling down, and every
// invalidation missed during an outage delivered. Callers wait while the
// missed invalidations are sent, so none of them reads an entry that was
// deleted during the outage.
func (c *Redis) ready(ctx context.Context) error {
	if until := c.downUntil.Load(); until != 0 && c.clock().UnixNano() < until {
		c.errs.Add(1)
		return c.unavailable()
	}
	if !c.backlog.Load() {
		return nil
	}
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	keys, prefixes := c.pending, c.prefixes
	c.pending, c.prefixes = nil, nil
	c.mu.Unlock()
	var err error
	if len(keys) > 0 {
		err = unlink(ctx, c.client, keys)
	}
	for i := 0; err == nil && i < len(prefixes); i++ {
		err = c.deletePrefix(ctx, prefixes[i])
	}
	if err != nil {
		c.remember(keys, prefixes)
		return c.fail(ctx, err)
	}
	c.mu.Lock()
	c.backlog.Store(len(c.pending) > 0 || len(c.prefixes) > 0)
	c.mu.Unlock()
	return nil
}

// remember queues invalidations for when the server answers again; past
// maxPending keys it queues the whole cache's prefix instead.
func (c *Redis) remember(keys, prefixes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, keys...)
	c.prefixes = append(c.prefixes, prefixes...)
	if len(c.pending) > maxPending || len(c.prefixes) > 100 {
		c.pending, c.prefixes = nil, []string{c.prefix}
	}
	c.backlog.Store(true)
}

func (c *Redis) unavailable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastErr != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, c.lastErr)
	}
	return ErrUnavailable
}

// fail records a failure and starts the cooldown, unless the caller merely
// gave up (its context ended), which says nothing about the server.
func (c *Redis) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	c.errs.Add(1)
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
	if c.cooldown > 0 {
		c.downUntil.Store(c.clock().Add(c.cooldown).UnixNano())
	}
	return err
}

// succeed ends an outage.
func (c *Redis) succeed() {
	if c.downUntil.Load() != 0 {
		c.downUntil.Store(0)
		c.mu.Lock()
		c.lastErr = nil
		c.mu.Unlock()
	}
}

// Healthy reports whether the last operation reached the server; it sends
// nothing itself.
func (c *Redis) Healthy() error {
	if c.downUntil.Load() == 0 {
		return nil
	}
	return c.unavailable()
}

// Get returns the value under key.
func (c *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := c.ready(ctx); err != nil {
		c.misses.Add(1)
		return nil, false, fmt.Errorf("cache get %q: %w", key, err)
	}
	b, err := c.client.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		c.succeed()
		c.misses.Add(1)
		return nil, false, nil
	}
	if err != nil {
		c.misses.Add(1)
		return nil, false, fmt.Errorf("cache get %q: %w", key, c.fail(ctx, err))
	}
	c.succeed()
	c.hits.Add(1)
	return b, true, nil
}

// Set stores value under key for ttl; a ttl <= 0 never expires. Redis keeps
// TTLs in whole milliseconds, so a ttl is cut down to one.
func (c *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	switch {
	case ttl <= 0:
		ttl = 0 // go-redis reads negative values as KEEPTTL
	case ttl < time.Millisecond:
		ttl = time.Millisecond
	}
	if err := c.ready(ctx); err != nil {
		return fmt.Errorf("cache set %q: %w", key, err)
	}
	if err := c.client.Set(ctx, c.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("cache set %q: %w", key, c.fail(ctx, err))
	}
	c.succeed()
	return nil
}

// Delete removes the keys; absent keys are ignored. When the server cannot
// be reached the keys are remembered and removed before the cache answers
// again.
func (c *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	err := c.ready(ctx)
	if err == nil {
		if err = unlink(ctx, c.client, full); err != nil {
			err = c.fail(ctx, err)
		} else {
			c.succeed()
		}
	}
	if err != nil {
		c.remember(full, nil)
		return fmt.Errorf("cache delete: %w", err)
	}
	return nil
}

// DeletePrefix removes every key that starts with prefix. It walks the
// keyspace with SCAN and unlinks each batch, so it never blocks the server
// the way KEYS would; keys written while it runs may survive it. On a cluster
// or ring it walks every primary. Like Delete, it is remembered when the
// server cannot be reached.
func (c *Redis) DeletePrefix(ctx context.Context, prefix string) error {
	err := c.ready(ctx)
	if err == nil {
		if err = c.deletePrefix(ctx, c.prefix+prefix); err != nil {
			err = c.fail(ctx, err)
		} else {
			c.succeed()
		}
	}
	if err != nil {
		c.remember(nil, []string{c.prefix + prefix})
		return fmt.Errorf("cache delete prefix %q: %w", prefix, err)
	}
	return nil
}

func (c *Redis) deletePrefix(ctx context.Context, full string) error {
	match := escapeGlob(full) + "*"
	each := func(ctx context.Context, node *redis.Client) error { return scanUnlink(ctx, node, match) }
	switch cl := c.client.(type) {
	case *redis.ClusterClient:
		return cl.ForEachMaster(ctx, each)
	case *redis.Ring:
		return cl.ForEachShard(ctx, each)
	default:
		return scanUnlink(ctx, c.client, match)
	}
}

// Stats returns the hits, misses and errors this process saw.
func (c *Redis) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Errors: c.errs.Load()}
}

// Flight returns the cache's GetOrLoad state.
func (c *Redis) Flight() *Flight { return c.flight }

func scanUnlink(ctx context.Context, c redis.Cmdable, match string) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, scanBatch).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := unlink(ctx, c, keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// unlink removes keys in one round trip. It sends one UNLINK per key because
// a cluster refuses a multi-key command whose keys hash to different slots.
func unlink(ctx context.Context, c redis.Cmdable, keys []string) error {
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	return err
}

// escapeGlob quotes the characters SCAN's MATCH pattern treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// scanBatch is the COUNT hint of each SCAN and so the most keys unlinked per
// round trip by DeletePrefix.
const scanBatch = 500

// Redis is a cache in Redis, shared by every replica. Keys are stored under
// a prefix so that caches share a server without colliding. Expiry and
// eviction are Redis's own: Stats counts hits and misses seen by this
// process and reports no evictions (the server's INFO has them).
type Redis struct {
	client redis.UniversalClient
	prefix string
	flight *Flight

	hits, misses atomic.Uint64
}

// NewRedis returns a cache that keeps its keys under prefix (for example
// "backhaul:quotes:") on client.
func NewRedis(client redis.UniversalClient, prefix string, opts ...Option) *Redis {
	return &Redis{client: client, prefix: prefix, flight: NewFlight(opts...)}
}

// Get returns the value under key.
func (c *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := c.client.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		c.misses.Add(1)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cache get %q: %w", key, err)
	}
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
	if err := c.client.Set(ctx, c.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("cache set %q: %w", key, err)
	}
	return nil
}

// Delete removes the keys; absent keys are ignored.
func (c *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	if err := unlink(ctx, c.client, full); err != nil {
		return fmt.Errorf("cache delete: %w", err)
	}
	return nil
}

// DeletePrefix removes every key that starts with prefix. It walks the
// keyspace with SCAN and unlinks each batch, so it never blocks the server
// the way KEYS would; keys written while it runs may survive it. On a cluster
// or ring it walks every primary.
func (c *Redis) DeletePrefix(ctx context.Context, prefix string) error {
	match := escapeGlob(c.prefix+prefix) + "*"
	each := func(ctx context.Context, node *redis.Client) error { return scanUnlink(ctx, node, match) }
	var err error
	switch cl := c.client.(type) {
	case *redis.ClusterClient:
		err = cl.ForEachMaster(ctx, each)
	case *redis.Ring:
		err = cl.ForEachShard(ctx, each)
	default:
		err = scanUnlink(ctx, c.client, match)
	}
	if err != nil {
		return fmt.Errorf("cache delete prefix %q: %w", prefix, err)
	}
	return nil
}

// Stats returns the hits and misses this process saw.
func (c *Redis) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load()}
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

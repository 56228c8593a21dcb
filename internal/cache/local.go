package cache

import (
	"container/list"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// expiredScan bounds how many of the least recently used entries a full
// cache inspects for expired ones before it evicts a live entry, so a Set
// stays O(1).
const expiredScan = 16

// Local is an in-process LRU cache with a TTL per entry, for the embedded
// mode and for values each replica may hold on its own. Expired entries are
// misses; they are dropped when looked up or when the cache is full, before
// any live entry. It is safe for concurrent use.
type Local struct {
	clock  func() time.Time
	max    int
	flight *Flight

	mu    sync.Mutex
	order *list.List               // of *entry, most recently used first
	items map[string]*list.Element // key -> element of order

	hits, misses, evictions atomic.Uint64
}

type entry struct {
	key     string
	value   []byte
	expires time.Time // zero: never
}

func (e *entry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// NewLocal returns a cache of at most maxEntries entries whose TTLs run on
// clock (time.Now if nil). It panics if maxEntries < 1.
func NewLocal(maxEntries int, clock func() time.Time, opts ...Option) *Local {
	if maxEntries < 1 {
		panic("cache: NewLocal needs maxEntries >= 1")
	}
	if clock == nil {
		clock = time.Now
	}
	return &Local{
		clock:  clock,
		max:    maxEntries,
		flight: NewFlight(append([]Option{WithClock(clock)}, opts...)...),
		order:  list.New(),
		items:  make(map[string]*list.Element),
	}
}

// Get returns a copy of the live value under key.
func (c *Local) Get(_ context.Context, key string) ([]byte, bool, error) {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		c.misses.Add(1)
		return nil, false, nil
	}
	e := el.Value.(*entry)
	if e.expired(now) {
		c.remove(el)
		c.evictions.Add(1)
		c.misses.Add(1)
		return nil, false, nil
	}
	c.order.MoveToFront(el)
	c.hits.Add(1)
	return clone(e.value), true, nil
}

// Set stores a copy of value under key for ttl; a ttl <= 0 never expires.
// A full cache drops expired entries first, then the least recently used.
func (c *Local) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now := c.clock()
	e := &entry{key: key, value: clone(value)}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value = e
		c.order.MoveToFront(el)
		return nil
	}
	c.items[key] = c.order.PushFront(e)
	c.shrink(now)
	return nil
}

// Delete removes the keys; absent keys are ignored.
func (c *Local) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if el, ok := c.items[k]; ok {
			c.remove(el)
		}
	}
	return nil
}

// DeletePrefix removes every key that starts with prefix.
func (c *Local) DeletePrefix(_ context.Context, prefix string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.items {
		if strings.HasPrefix(k, prefix) {
			c.remove(el)
		}
	}
	return nil
}

// Stats returns the counters since the cache was created.
func (c *Local) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
}

// Flight returns the cache's GetOrLoad state.
func (c *Local) Flight() *Flight { return c.flight }

// Len returns the number of entries held, expired ones not yet dropped
// included.
func (c *Local) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// shrink brings the cache back to its capacity. Expired entries among the
// oldest go first: they are garbage whatever their recency.
func (c *Local) shrink(now time.Time) {
	el := c.order.Back()
	for i := 0; i < expiredScan && el != nil && len(c.items) > c.max; i++ {
		prev := el.Prev()
		if el.Value.(*entry).expired(now) {
			c.remove(el)
			c.evictions.Add(1)
		}
		el = prev
	}
	for len(c.items) > c.max {
		c.remove(c.order.Back())
		c.evictions.Add(1)
	}
}

func (c *Local) remove(el *list.Element) {
	c.order.Remove(el)
	delete(c.items, el.Value.(*entry).key)
}

// clone copies b so that callers never share the cache's memory; an empty
// value comes back non-nil, as it does from Redis.
func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

package cache_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/cache"
)

// lruModel is the plainest statement of Local's rules, for FuzzLocal to
// compare against: a slice in recency order, scanned in full.
type lruModel struct {
	max     int
	order   []modelEntry // most recently used first
	stats   cache.Stats
	scanMax int
}

type modelEntry struct {
	key     string
	value   byte
	expires time.Time
}

func (e modelEntry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

func (m *lruModel) find(key string) int {
	return slices.IndexFunc(m.order, func(e modelEntry) bool { return e.key == key })
}

func (m *lruModel) get(key string, now time.Time) (byte, bool) {
	i := m.find(key)
	switch {
	case i < 0:
		m.stats.Misses++
		return 0, false
	case m.order[i].expired(now):
		m.order = slices.Delete(m.order, i, i+1)
		m.stats.Evictions++
		m.stats.Misses++
		return 0, false
	}
	e := m.order[i]
	m.order = slices.Insert(slices.Delete(m.order, i, i+1), 0, e)
	m.stats.Hits++
	return e.value, true
}

func (m *lruModel) set(key string, v byte, ttl time.Duration, now time.Time) {
	e := modelEntry{key: key, value: v}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	if i := m.find(key); i >= 0 {
		m.order = slices.Insert(slices.Delete(m.order, i, i+1), 0, e)
		return
	}
	m.order = slices.Insert(m.order, 0, e)
	// Expired entries among the oldest few go before the least recently used.
	for i, n := len(m.order)-1, 0; n < m.scanMax && i >= 0 && len(m.order) > m.max; i, n = i-1, n+1 {
		if m.order[i].expired(now) {
			m.order = slices.Delete(m.order, i, i+1)
			m.stats.Evictions++
		}
	}
	for len(m.order) > m.max {
		m.order = m.order[:len(m.order)-1]
		m.stats.Evictions++
	}
}

func (m *lruModel) delete(key string) {
	if i := m.find(key); i >= 0 {
		m.order = slices.Delete(m.order, i, i+1)
	}
}

// FuzzLocal runs random operations on a Local and on lruModel and checks
// that they agree on every lookup, the size and the counters.
func FuzzLocal(f *testing.F) {
	f.Add([]byte{2, 1, 0, 5, 1, 9, 2, 13, 3, 17, 1, 0, 4})
	f.Add([]byte{0, 1, 1, 5, 2, 9, 3, 3, 200, 0, 0, 4, 0})
	f.Add([]byte{3, 1, 3, 5, 3, 9, 3, 13, 3, 3, 30, 17, 7, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 {
			return
		}
		ctx := context.Background()
		keys := []string{"a", "b", "c", "d", "e", "f"}
		ttls := []time.Duration{0, time.Second, 5 * time.Second, 30 * time.Second}
		clk := newFakeClock()
		m := &lruModel{max: 1 + int(ops[0])%4, scanMax: 16}
		c := cache.NewLocal(m.max, clk.Now)
		for i := 1; i+1 < len(ops); i += 2 {
			op, arg := ops[i], ops[i+1]
			key := keys[int(op/4)%len(keys)]
			now := clk.Now()
			switch op % 4 {
			case 0:
				want, wantOK := m.get(key, now)
				got, ok, err := c.Get(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if ok != wantOK || (ok && (len(got) != 1 || got[0] != want)) {
					t.Fatalf("op %d: Get(%q) = %v, %v; want %v, %v", i/2, key, got, ok, want, wantOK)
				}
			case 1:
				ttl := ttls[int(arg)%len(ttls)]
				m.set(key, arg, ttl, now)
				if err := c.Set(ctx, key, []byte{arg}, ttl); err != nil {
					t.Fatal(err)
				}
			case 2:
				m.delete(key)
				if err := c.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
			case 3:
				clk.Advance(time.Duration(arg%20) * time.Second)
			}
			if got, want := c.Len(), len(m.order); got != want {
				t.Fatalf("op %d: Len() = %d, want %d", i/2, got, want)
			}
		}
		if got, want := c.Stats(), m.stats; got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
	})
}

package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

const (
	// shardCount spreads keys over locks so that busy keys do not queue
	// behind each other.
	shardCount = 32
	// minSweep is the size below which a shard never sweeps.
	minSweep = 64
)

// Local keeps each key's TAT in the process: for the embedded mode and for
// limits that may be per replica. Keys whose TAT has passed hold nothing a
// fresh key would not, so a shard drops them whenever it has doubled since
// its last sweep; memory stays within about twice the keys active within
// their burst window. It is safe for concurrent use.
type Local struct {
	clock  func() time.Time
	seed   maphash.Seed
	shards [shardCount]localShard
}

type localShard struct {
	mu      sync.Mutex
	tats    map[string]time.Time
	sweepAt int // sweep when len(tats) reaches this
}

// NewLocal returns a limiter on clock (time.Now if nil).
func NewLocal(clock func() time.Time) *Local {
	if clock == nil {
		clock = time.Now
	}
	l := &Local{clock: clock, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].tats = make(map[string]time.Time)
		l.shards[i].sweepAt = minSweep
	}
	return l
}

// Allow decides one request for key under l. It fails only for an invalid
// limit.
func (l *Local) Allow(_ context.Context, key string, lim Limit) (Decision, error) {
	interval, err := lim.interval(time.Nanosecond)
	if err != nil {
		return Decision{}, err
	}
	s := &l.shards[maphash.String(l.seed, key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	now := l.clock()
	var ahead time.Duration
	if tat, ok := s.tats[key]; ok {
		ahead = tat.Sub(now)
	}
	d, next := gcra(ahead, interval, lim.Burst)
	if d.Allowed {
		s.tats[key] = now.Add(next)
		if len(s.tats) >= s.sweepAt {
			s.sweep(now)
		}
	}
	return d, nil
}

// Len returns the number of keys held, stale ones not yet swept included.
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tats)
		s.mu.Unlock()
	}
	return n
}

func (s *localShard) sweep(now time.Time) {
	for k, tat := range s.tats {
		if !tat.After(now) {
			delete(s.tats, k)
		}
	}
	s.sweepAt = max(2*len(s.tats), minSweep)
}

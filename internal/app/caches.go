package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/cache"
	"github.com/backhaul/backhaul/internal/event"
	"github.com/backhaul/backhaul/internal/gateway"
	"github.com/backhaul/backhaul/internal/modules"
	"github.com/backhaul/backhaul/internal/ratelimit"
)

// sharedCache is what the services need of a cache: *cache.Local in the
// embedded mode, *cache.Redis in production.
type sharedCache interface {
	cache.Store
	Delete(ctx context.Context, keys ...string) error
	DeletePrefix(ctx context.Context, prefix string) error
	Stats() cache.Stats
}

// newCache returns the cache called name: in Redis when configured (shared
// by every replica, its keys under backhaul:[namespace:]name:), else in the
// process (an LRU of --cache-entries). Its hit, miss, error and, for Redis,
// up metrics carry cache=name.
func (a *App) newCache(name string) (sharedCache, error) {
	var c sharedCache
	if a.redis != nil {
		prefix := "backhaul:"
		if a.cfg.NATSNamespace != "" {
			prefix += a.cfg.NATSNamespace + ":"
		}
		c = cache.NewRedis(a.redis, prefix+name+":", cache.WithLogger(a.log), cache.WithCooldown(a.cfg.CacheRedisCooldown))
	} else {
		c = cache.NewLocal(a.cfg.CacheEntries, time.Now, cache.WithLogger(a.log))
	}
	if err := cache.RegisterMetrics(a.reg, name, c); err != nil {
		return nil, err
	}
	return c, nil
}

// wireCaches gives the services their caches (the scaling guide's 4.4.2):
// the session cache of API-key lookups and the entity cache of loads by ID.
// The load board's page cache stays in the process (its keys carry the
// process's write generation).
func (a *App) wireCaches() error {
	sessions, err := a.newCache("sessions")
	if err != nil {
		return err
	}
	a.accounts.SetSessionCache(sessions, a.cfg.CacheSessionTTL)
	entities, err := a.newCache("entities")
	if err != nil {
		return err
	}
	a.loads.SetEntityCache(entities, a.cfg.CacheEntityTTL)
	return nil
}

// invalidating are the event subjects whose events remove cached entries,
// one ordered consumer each (NATS servers before 2.10 take one filter per
// consumer).
var invalidating = []string{"loads.>", "bookings.>", "orgs.apikey_revoked.v1"}

// initCacheFollow follows the event stream so that another replica's writes
// invalidate this one's caches: in-process caches are dropped here, shared
// ones (Redis) were dropped by the writer and are dropped again, harmlessly.
func (a *App) initCacheFollow(context.Context) (modules.Service, error) {
	return runner{&service{run: func(ctx context.Context) error {
		errc := make(chan error, len(invalidating))
		for _, subject := range invalidating {
			go func() { errc <- a.followInvalidations(ctx, subject) }()
		}
		var err error
		for range invalidating {
			err = errors.Join(err, <-errc)
		}
		return err
	}}}, nil
}

// followInvalidations reads new events of subject with an ephemeral ordered
// consumer of this process's own, recreating it when it fails: a process
// that goes away leaves nothing behind, and one that starts has empty
// caches.
func (a *App) followInvalidations(ctx context.Context, subject string) error {
	for delay := 100 * time.Millisecond; ctx.Err() == nil; delay = min(2*delay, 5*time.Second) {
		err := a.consumeInvalidations(ctx, subject)
		if ctx.Err() != nil {
			return nil
		}
		a.log.Warn("cache invalidation consumer restarting", "subject", subject, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	return nil
}

func (a *App) consumeInvalidations(ctx context.Context, subject string) error {
	cons, err := a.bus.JetStream().OrderedConsumer(ctx, a.bus.StreamName(bus.EventsStream), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{a.bus.Subject(subject)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("follow %s: %w", subject, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow %s: %w", subject, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return err
		}
		var e event.Event
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			continue
		}
		a.invalidate(ctx, e)
	}
}

// invalidate removes what an event made stale.
func (a *App) invalidate(ctx context.Context, e event.Event) {
	switch e.Area() {
	case "loads":
		a.loads.ForgetLoad(ctx, e.SubjectID)
	case "bookings":
		var b struct {
			Booking struct {
				LoadID string `json:"load_id"`
			} `json:"booking"`
		}
		if json.Unmarshal(e.Data, &b) == nil {
			a.loads.ForgetLoad(ctx, b.Booking.LoadID)
		}
	case "orgs":
		if err := a.accounts.ForgetAPIKey(ctx, e.SubjectID); err != nil {
			a.log.Warn("drop revoked api key from the session cache", "key", e.SubjectID, "err", err)
		}
	}
}

// coolingLimiter keeps a failing Redis limiter out of the request path for
// a cooldown, as the caches do: the gateway lets requests through when its
// limiter fails, and without the cooldown each of them would first wait out
// the client's retries against a server that is down.
type coolingLimiter struct {
	next      gateway.Limiter
	cooldown  time.Duration
	downUntil atomic.Int64 // Unix nanoseconds
}

var errLimiterCooling = errors.New("rate limiter unavailable (redis), cooling down")

func (c *coolingLimiter) Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Decision, error) {
	if time.Now().UnixNano() < c.downUntil.Load() {
		return ratelimit.Decision{}, errLimiterCooling
	}
	d, err := c.next.Allow(ctx, key, l)
	if err != nil && ctx.Err() == nil && c.cooldown > 0 {
		c.downUntil.Store(time.Now().Add(c.cooldown).UnixNano())
	}
	return d, err
}

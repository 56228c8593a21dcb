package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/event"
	"github.com/backhaul/backhaul/internal/promreg"
)

// Outbox is the store's table of committed events waiting to be published.
// Events enter it in the same transaction as the change they describe, so
// an event exists exactly when its change was committed.
type Outbox interface {
	// Pending returns up to limit committed, unpublished events, oldest
	// first, each with its outbox sequence number.
	Pending(ctx context.Context, limit int) ([]Pending, error)
	// MarkPublished records that the events with these sequence numbers were
	// acknowledged by the stream.
	MarkPublished(ctx context.Context, seqs []int64) error
}

// Pending is an outbox entry not yet published.
type Pending struct {
	Seq   int64
	Event event.Event
}

// Publisher sends an event and returns once the stream has acknowledged it.
// *Bus is one.
type Publisher interface {
	Publish(ctx context.Context, e event.Event) error
}

// RelayConfig tunes a Relay. Zero values take the defaults.
type RelayConfig struct {
	BatchSize  int              // events read per outbox query; default 100
	Interval   time.Duration    // poll interval when idle; default 200ms
	MinBackoff time.Duration    // first wait after a failure; default 100ms
	MaxBackoff time.Duration    // longest wait after repeated failures; default 10s
	Now        func() time.Time // clock for the lag gauge; default time.Now
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Interval <= 0 {
		c.Interval = 200 * time.Millisecond
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(10*time.Second, c.MinBackoff)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Relay moves committed events from the outbox to the stream, in outbox
// order. It marks an event published only after the stream acknowledged it,
// so a crash in between publishes that event again on restart, and the
// stream's de-duplication by event ID stores it once.
type Relay struct {
	outbox Outbox
	pub    Publisher
	cfg    RelayConfig
	log    *slog.Logger
	wake   chan struct{}

	published prometheus.Counter
	errors    prometheus.Counter
	lag       prometheus.Gauge
}

// NewRelay builds a relay and registers its metrics on reg (nil registers
// nowhere). A second relay on the same registry shares the first's metrics.
func NewRelay(outbox Outbox, pub Publisher, cfg RelayConfig, logger *slog.Logger, reg prometheus.Registerer) (*Relay, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{
		outbox: outbox,
		pub:    pub,
		cfg:    cfg.withDefaults(),
		log:    logger.With("component", "outbox-relay"),
		wake:   make(chan struct{}, 1),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backhaul_outbox_published_total",
			Help: "Outbox events acknowledged by the stream.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backhaul_outbox_publish_errors_total",
			Help: "Outbox events whose publication failed and will be retried.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "backhaul_outbox_lag_seconds",
			Help: "Age of the oldest committed event not yet published.",
		}),
	}
	if reg != nil {
		var err error
		if r.published, err = promreg.Register(reg, r.published); err != nil {
			return nil, err
		}
		if r.errors, err = promreg.Register(reg, r.errors); err != nil {
			return nil, err
		}
		if r.lag, err = promreg.Register(reg, r.lag); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Notify wakes the relay to look at the outbox now, typically right after a
// transaction that wrote to it committed. It never blocks; calls made while
// a wake-up is already pending coalesce into it.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx is done, then returns nil. Failures are logged and
// retried with exponential backoff; they never end the loop.
func (r *Relay) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var backoff time.Duration
	for {
		err := r.drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait, wake := r.cfg.Interval, r.wake
		if err != nil {
			backoff = min(max(2*backoff, r.cfg.MinBackoff), r.cfg.MaxBackoff)
			// A failing stream or outbox is not helped by hurrying, so
			// notifications wait for the backoff.
			wait, wake = backoff, nil
			r.log.Warn("outbox relay failed, retrying", "err", err, "retry_in", backoff)
		} else {
			backoff = 0
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-wake:
		}
	}
}

// drain publishes batches until the outbox is empty or something fails.
func (r *Relay) drain(ctx context.Context) error {
	for {
		batch, err := r.outbox.Pending(ctx, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(batch) == 0 {
			r.lag.Set(0)
			return nil
		}
		r.lag.Set(max(0, r.cfg.Now().Sub(batch[0].Event.OccurredAt).Seconds()))

		seqs := make([]int64, 0, len(batch))
		var pubErr error
		for _, p := range batch {
			if err := r.pub.Publish(ctx, p.Event); err != nil {
				// Stop here: publishing later events first would break
				// the outbox order.
				r.errors.Inc()
				pubErr = fmt.Errorf("publish outbox seq %d (%s %s): %w", p.Seq, p.Event.Type, p.Event.ID, err)
				break
			}
			r.published.Inc()
			seqs = append(seqs, p.Seq)
		}
		if len(seqs) > 0 {
			if err := r.outbox.MarkPublished(ctx, seqs); err != nil {
				return errors.Join(pubErr, fmt.Errorf("mark published: %w", err))
			}
		}
		if pubErr != nil {
			return pubErr
		}
		if len(batch) < r.cfg.BatchSize {
			r.lag.Set(0)
			return nil
		}
	}
}

package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/event"
)

const (
	defaultMaxDeliver = 10
	defaultAckWait    = 30 * time.Second
	defaultRetryDelay = 500 * time.Millisecond
	maxRetryDelay     = time.Minute
)

// ConsumerConfig describes a durable pull consumer.
type ConsumerConfig struct {
	// Durable names the consumer; it keeps its place across restarts.
	Durable string
	// Stream is the stream's name before StreamName adds its prefix;
	// empty means EventsStream. Set it to consume a work queue.
	Stream string
	// Subjects filter the stream, without the namespace ("loads.>").
	// Empty means every subject of the stream.
	Subjects []string
	// MaxDeliver bounds the deliveries of one message; 0 means 10.
	MaxDeliver int
	// AckWait is how long the server waits for an acknowledgement before
	// redelivering; 0 means 30s. A handler must finish well within it.
	AckWait time.Duration
	// RetryDelay is the delay before the first redelivery after a handler
	// error; it doubles with each delivery, up to a minute. 0 means 500ms.
	RetryDelay time.Duration
}

// Handler processes one event. Delivery is at least once, so a handler must
// be idempotent (the event ID identifies repeats).
type Handler func(ctx context.Context, e event.Event) error

// Consume delivers the stream's events to handler one at a time, in stream
// order, until ctx is done. A nil result acknowledges the message; an error
// asks for redelivery after a growing delay; a message that is not an event
// envelope is logged and terminated, since no retry can fix it.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig, handler Handler) error {
	if cfg.Durable == "" {
		return errors.New("bus: consume: durable name required")
	}
	cfg = withConsumerDefaults(cfg)
	stream := b.StreamName(cfg.Stream)
	filters := make([]string, len(cfg.Subjects))
	for i, s := range cfg.Subjects {
		filters[i] = b.Subject(s)
	}
	ccfg := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    cfg.MaxDeliver,
		AckWait:       cfg.AckWait,
	}
	// A single filter goes in FilterSubject, which servers before 2.10
	// (still in Linux distributions) understand; several need FilterSubjects.
	if len(filters) == 1 {
		ccfg.FilterSubject = filters[0]
	} else {
		ccfg.FilterSubjects = filters
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, stream, ccfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("bus: consumer %s on %s: %w", cfg.Durable, stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("bus: consumer %s: messages: %w", cfg.Durable, err)
	}
	defer it.Stop()

	log := b.log.With("consumer", cfg.Durable, "stream", stream)
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return fmt.Errorf("bus: consumer %s: %w", cfg.Durable, err)
			}
			log.Warn("consumer: next message", "err", err)
			continue
		}
		handle(ctx, log, cfg, msg, handler)
	}
}

func handle(ctx context.Context, log *slog.Logger, cfg ConsumerConfig, msg jetstream.Msg, handler Handler) {
	e, err := decodeEvent(msg.Data())
	if err != nil {
		log.Error("consumer: undecodable message terminated", "subject", msg.Subject(), "err", err)
		if err := msg.Term(); err != nil {
			log.Warn("consumer: term", "err", err)
		}
		return
	}
	herr := handler(ctx, e)
	if herr == nil {
		if err := msg.Ack(); err != nil {
			log.Warn("consumer: ack", "event", e.ID, "err", err)
		}
		return
	}
	delivered := 1
	if md, err := msg.Metadata(); err == nil {
		delivered = int(md.NumDelivered)
	}
	if delivered >= cfg.MaxDeliver {
		// The server will not deliver it again: say so loudly.
		log.Error("consumer: event dropped after last delivery", "event", e.ID, "type", e.Type, "deliveries", delivered, "err", herr)
		if err := msg.Term(); err != nil {
			log.Warn("consumer: term", "err", err)
		}
		return
	}
	log.Warn("consumer: handler failed, will retry", "event", e.ID, "type", e.Type, "deliveries", delivered, "err", herr)
	if err := msg.NakWithDelay(retryDelay(cfg.RetryDelay, delivered)); err != nil {
		log.Warn("consumer: nak", "event", e.ID, "err", err)
	}
}

// retryDelay doubles base for each delivery already made, up to a minute.
func retryDelay(base time.Duration, delivered int) time.Duration {
	d := base
	for i := 1; i < delivered && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

func withConsumerDefaults(cfg ConsumerConfig) ConsumerConfig {
	if cfg.Stream == "" {
		cfg.Stream = EventsStream
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = defaultMaxDeliver
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = defaultAckWait
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = defaultRetryDelay
	}
	return cfg
}

// QueueDepth returns the messages a consumer has still to finish: those not
// yet delivered plus those delivered and not yet acknowledged. Stream is the
// name before StreamName adds its prefix. Services export it as their
// queue_depth or job_queue_length gauge.
func (b *Bus) QueueDepth(ctx context.Context, stream, consumer string) (int, error) {
	cons, err := b.js.Consumer(ctx, b.StreamName(stream), consumer)
	if err != nil {
		return 0, fmt.Errorf("bus: queue depth %s/%s: %w", stream, consumer, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: queue depth %s/%s: %w", stream, consumer, err)
	}
	return int(info.NumPending) + info.NumAckPending, nil
}

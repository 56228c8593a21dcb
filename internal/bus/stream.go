package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/event"
)

// EventsStream is the name of the stream of domain events, before
// StreamName adds its prefix.
const EventsStream = "EVENTS"

const (
	// DuplicateWindow is how long the stream remembers message IDs. It
	// outlasts any relay restart, so an event published but not yet marked
	// when the relay died is dropped when published again.
	DuplicateWindow = 10 * time.Minute
	// EventRetention is how long events stay in the stream.
	EventRetention = 7 * 24 * time.Hour
)

// EventAreas are the first elements of the event types the events stream
// holds ("loads" for "loads.posted.v1"). A service that introduces a new area
// adds it here; a work queue's subjects must stay outside these areas, since
// JetStream lets only one stream own a subject.
var EventAreas = []string{
	"loads",
	"bookings",
	"drivers",
	"carriers",
	"trucks",
	"orgs",
	"tracking",
	"matching",
	"market",
	"optimize",
	"notify",
	"documents",
}

// EnsureEventStream creates the events stream, or updates it to the current
// configuration.
func (b *Bus) EnsureEventStream(ctx context.Context) error {
	subjects := make([]string, len(EventAreas))
	for i, area := range EventAreas {
		subjects[i] = b.Subject(area + ".>")
	}
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        b.StreamName(EventsStream),
		Description: "Backhaul domain events",
		Subjects:    subjects,
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      EventRetention,
		Discard:     jetstream.DiscardOld,
		Duplicates:  DuplicateWindow,
		Replicas:    b.replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: ensure events stream: %w", err)
	}
	return nil
}

// EnsureWorkQueue creates or updates a work-queue stream called name: each
// message is removed once a consumer acknowledges it. Subjects are given
// without the namespace ("jobs.optimize.>") and must not overlap EventAreas.
func (b *Bus) EnsureWorkQueue(ctx context.Context, name string, subjects []string) error {
	if len(subjects) == 0 {
		return fmt.Errorf("bus: work queue %s: no subjects", name)
	}
	ns := make([]string, len(subjects))
	for i, s := range subjects {
		ns[i] = b.Subject(s)
	}
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       b.StreamName(name),
		Subjects:   ns,
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: DuplicateWindow,
		Replicas:   b.replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: ensure work queue %s: %w", name, err)
	}
	return nil
}

// Publish sends e to the stream that owns its subject and waits for the
// stream's acknowledgement. The event ID is the message ID, so publishing the
// same event again within DuplicateWindow stores it once.
func (b *Bus) Publish(ctx context.Context, e event.Event) error {
	if e.ID == "" {
		return fmt.Errorf("bus: publish %s: event has no id", e.Type)
	}
	if err := event.ValidType(e.Type); err != nil {
		return fmt.Errorf("bus: publish: %w", err)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("bus: encode %s %s: %w", e.Type, e.ID, err)
	}
	msg := &nats.Msg{Subject: b.Subject(e.Type), Data: data, Header: nats.Header{}}
	ack, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID))
	if err != nil {
		return fmt.Errorf("bus: publish %s %s: %w", e.Type, e.ID, err)
	}
	if ack == nil || ack.Stream == "" {
		return fmt.Errorf("bus: publish %s %s: no acknowledgement", e.Type, e.ID)
	}
	return nil
}

// decodeEvent parses a message body into an envelope and checks the fields
// consumers rely on.
func decodeEvent(data []byte) (event.Event, error) {
	var e event.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return event.Event{}, fmt.Errorf("decode event: %w", err)
	}
	if e.ID == "" {
		return event.Event{}, errors.New("decode event: no id")
	}
	if err := event.ValidType(e.Type); err != nil {
		return event.Event{}, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}

// DeleteNamespaceStreams deletes every stream of the bus's namespace, for
// tests and measurements that share a NATS server. It refuses to run
// without a namespace, where it would delete production streams.
func (b *Bus) DeleteNamespaceStreams(ctx context.Context) error {
	if b.ns == "" {
		return errors.New("bus: no namespace; refusing to delete streams")
	}
	js := b.JetStream()
	var mine []string
	names := js.StreamNames(ctx)
	for n := range names.Name() {
		if strings.HasPrefix(n, b.ns+"_") {
			mine = append(mine, n)
		}
	}
	var errs []error
	for _, n := range mine {
		if err := js.DeleteStream(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("delete stream %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

package matching

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/event"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

// followed are the event subjects every replica applies to its index, one
// consumer each (NATS servers before 2.10 take one filter per consumer).
var followed = []string{"loads.>", "bookings.>", "drivers.>", "matching.>"}

// follow applies the events of subject to the index with an ordered
// consumer of this replica's own, from shortly before the index was read.
// Ordered consumers are ephemeral: a replica that goes away leaves nothing
// behind on the server, and one that starts reads the store afresh.
func (s *Service) follow(ctx context.Context, subject string) error {
	start := s.indexedAt.Add(-s.opts.ReplayMargin)
	cons, err := s.bus.JetStream().OrderedConsumer(ctx, s.bus.StreamName(bus.EventsStream), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{s.bus.Subject(subject)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("matching: follow %s: %w", subject, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("matching: follow %s: %w", subject, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return fmt.Errorf("matching: follow %s: %w", subject, err)
			}
			s.log.Warn("follow events", "subject", subject, "err", err)
			continue
		}
		var e event.Event
		if err := json.Unmarshal(msg.Data(), &e); err != nil || e.ID == "" {
			s.log.Error("undecodable event skipped", "subject", msg.Subject(), "err", err)
			continue
		}
		// An ordered consumer does not redeliver: retry here until the
		// store answers, since the index must not skip a change.
		for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
			err := s.apply(ctx, e)
			if err == nil {
				s.events.Inc()
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("apply event to the index", "event", e.ID, "type", e.Type, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
		}
	}
}

// apply reads again the row an event is about. Applying an event twice, or
// after a later one, leaves the index as the store is.
func (s *Service) apply(ctx context.Context, e event.Event) error {
	switch e.Area() {
	case "loads":
		return s.idx.refreshLoad(ctx, s.db, s.miles, e.SubjectID)
	case "bookings":
		var b struct {
			Booking struct {
				LoadID string `json:"load_id"`
			} `json:"booking"`
		}
		if json.Unmarshal(e.Data, &b) != nil || b.Booking.LoadID == "" {
			return nil
		}
		return s.idx.refreshLoad(ctx, s.db, s.miles, b.Booking.LoadID)
	case "drivers":
		return s.idx.refreshDriver(ctx, s.db, e.SubjectID)
	case "matching":
		if e.Type == EventPreferencesUpdated {
			return s.idx.refreshPrefs(ctx, s.db, e.SubjectID)
		}
	}
	return nil
}

// trigger turns events into match requests, shared by the replicas (a
// durable consumer each), once per event.
type trigger struct {
	cfg    bus.ConsumerConfig
	handle bus.Handler
}

func (s *Service) triggers() []trigger {
	return []trigger{
		{bus.ConsumerConfig{Durable: "matching-load-posted", Subjects: []string{"loads.posted.v1"}}, s.onLoadPosted},
		{bus.ConsumerConfig{Durable: "matching-driver-status", Subjects: []string{"drivers.status.v1"}}, s.onDriverStatus},
		{bus.ConsumerConfig{Durable: "matching-driver-created", Subjects: []string{"drivers.created.v1"}}, s.onDriverCreated},
	}
}

// Sources of match requests.
const (
	SourceLoadPosted      = "load_posted"
	SourceDriverAvailable = "driver_available"
	SourceDispatcher      = "dispatcher"
)

// requestID derives a request's ID from the event that caused it, so that
// the request and its queue message are the same however often the event
// comes.
func requestID(source, eventID string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("backhaul/matching/"+source+"/"+eventID)).String()
}

// stale reports whether an event is too old to be worth matching: a new
// consumer reads the stream's whole retention once, and last week's new
// loads are gone.
func (s *Service) stale(e event.Event) bool { return s.now().Sub(e.OccurredAt) > triggerMaxAge }

// triggerMaxAge bounds the age of the events that become match requests.
const triggerMaxAge = time.Hour

func (s *Service) onLoadPosted(ctx context.Context, e event.Event) error {
	if s.stale(e) {
		return nil
	}
	// The poster's organization may read the result, anonymised; the
	// event carries every carrier's matches to the notification service.
	r := request{ID: requestID(SourceLoadPosted, e.ID), OrgID: e.OrgID, Kind: KindLoad, SubjectID: e.SubjectID,
		Source: SourceLoadPosted, TopN: s.opts.TopN, CreatedBy: "event:" + e.ID}
	return s.triggered(ctx, "matching-load-posted", e.ID, r)
}

func (s *Service) onDriverStatus(ctx context.Context, e event.Event) error {
	if s.stale(e) {
		return nil
	}
	var d struct {
		DriverID  string               `json:"driver_id"`
		CarrierID string               `json:"carrier_id"`
		From      freight.DriverStatus `json:"from"`
		To        freight.DriverStatus `json:"to"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil || d.To != freight.DriverAvailable || d.From == freight.DriverAvailable {
		return nil
	}
	r := request{ID: requestID(SourceDriverAvailable, e.ID), OrgID: d.CarrierID, Kind: KindDriver, SubjectID: d.DriverID,
		Source: SourceDriverAvailable, TopN: s.opts.TopN, CreatedBy: "event:" + e.ID}
	return s.triggered(ctx, "matching-driver-status", e.ID, r)
}

func (s *Service) onDriverCreated(ctx context.Context, e event.Event) error {
	if s.stale(e) {
		return nil
	}
	var d freight.Driver
	if err := json.Unmarshal(e.Data, &d); err != nil || d.Status != freight.DriverAvailable || d.ID == "" {
		return nil
	}
	r := request{ID: requestID(SourceDriverAvailable, e.ID), OrgID: d.CarrierID, Kind: KindDriver, SubjectID: d.ID,
		Source: SourceDriverAvailable, TopN: s.opts.TopN, CreatedBy: "event:" + e.ID}
	return s.triggered(ctx, "matching-driver-created", e.ID, r)
}

// triggered stores a request once per event (the consumer's record of the
// event commits with it) and publishes it to the queue.
func (s *Service) triggered(ctx context.Context, consumer, eventID string, r request) error {
	var first bool
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if first, err = tx.FirstDelivery(ctx, consumer, eventID); err != nil || !first {
			return err
		}
		return insertRequest(ctx, tx, &r)
	})
	if err != nil || !first {
		return err
	}
	if err := s.enqueue(ctx, r.ID); err != nil {
		// The sweeper publishes it later; the request is safe in the store.
		s.log.Warn("publish match request", "request", r.ID, "err", err)
	}
	return nil
}

// refreshPositions reads the live positions of the matchable drivers into
// the index, so that searches for drivers near a pickup see where trucks
// are now.
func (s *Service) refreshPositions(ctx context.Context) {
	t := time.NewTicker(s.opts.PositionRefresh)
	defer t.Stop()
	for {
		s.idx.mu.RLock()
		ids := make([]string, 0, len(s.idx.drivers))
		for id, rec := range s.idx.drivers {
			if rec.matchable() {
				ids = append(ids, id)
			}
		}
		s.idx.mu.RUnlock()
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			if p, at, ok := s.deps.Positions.Latest(ctx, id); ok {
				s.idx.setLive(id, p, at)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

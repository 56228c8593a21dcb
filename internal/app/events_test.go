package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/event"
)

// Every state change publishes its versioned event through the outbox.
func TestStateChangesPublishEvents(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine))
			w := newWorld(t, p)
			id := str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id")
			bid := str(p.must(201, "POST", "/api/v1/bookings", w.dispatcher.Token, map[string]any{"load_id": id}), "id")
			p.must(200, "POST", "/api/v1/drivers/"+w.driverID+"/status", w.driver.Token, map[string]any{"status": "resting"})

			want := map[string]string{ // type -> subject ID expected among the events
				"orgs.created.v1":     w.shipper.OrgID,
				"drivers.created.v1":  w.driverID,
				"loads.created.v1":    id,
				"loads.posted.v1":     id,
				"loads.status.v1":     id,
				"bookings.created.v1": bid,
				"drivers.status.v1":   w.driverID,
			}
			got := readEvents(t, p.app.Bus(), len(want)+4, func(e event.Event) bool {
				if want[e.Type] == e.SubjectID {
					delete(want, e.Type)
				}
				return len(want) == 0
			})
			if len(want) != 0 {
				t.Fatalf("events never published: %v (saw %d events)", want, got)
			}
		})
	}
}

// readEvents reads the events stream from the start until done returns true
// or 20 seconds pass, and returns how many events it saw.
func readEvents(t *testing.T, b *bus.Bus, _ int, done func(event.Event) bool) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := b.JetStream().OrderedConsumer(ctx, b.StreamName(bus.EventsStream), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		var e event.Event
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			t.Fatalf("undecodable event: %v", err)
		}
		seen++
		if done(e) {
			return seen
		}
	}
	return seen
}

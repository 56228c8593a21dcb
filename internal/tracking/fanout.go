package tracking

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/backhaul/backhaul/internal/tracking/latest"
)

// Fanout carries committed fixes to the live views of every replica, so a
// client streaming from one replica sees positions ingested by another.
// Delivery is best effort, as a live map needs: the store keeps the history.
type Fanout interface {
	Publish(fixes []latest.Fix)
	// Subscribe calls f with the fixes other replicas publish until the
	// returned stop function is called.
	Subscribe(f func([]latest.Fix)) (stop func(), err error)
}

// NATSFanout is a Fanout over a core NATS subject (not JetStream: live
// positions are ephemeral, and the subject must stay outside the event
// stream's areas).
type NATSFanout struct {
	nc      *nats.Conn
	subject string
	origin  string
}

// NewNATSFanout returns a fan-out on subject.
func NewNATSFanout(nc *nats.Conn, subject string) *NATSFanout {
	return &NATSFanout{nc: nc, subject: subject, origin: uuid.NewString()}
}

type fanoutMsg struct {
	Origin string       `json:"origin"`
	Fixes  []latest.Fix `json:"fixes"`
}

// Publish sends fixes to the other replicas.
func (f *NATSFanout) Publish(fixes []latest.Fix) {
	b, err := json.Marshal(fanoutMsg{Origin: f.origin, Fixes: fixes})
	if err == nil {
		_ = f.nc.Publish(f.subject, b)
	}
}

// Subscribe receives other replicas' fixes.
func (f *NATSFanout) Subscribe(fn func([]latest.Fix)) (func(), error) {
	sub, err := f.nc.Subscribe(f.subject, func(m *nats.Msg) {
		var msg fanoutMsg
		if json.Unmarshal(m.Data, &msg) != nil || msg.Origin == f.origin {
			return
		}
		fn(msg.Fixes)
	})
	if err != nil {
		return nil, fmt.Errorf("live fan-out: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

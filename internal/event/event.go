// Package event defines the envelope of every domain event Backhaul
// publishes. Events are versioned by their type ("loads.posted.v1"), which is
// also the NATS subject they travel on, and carry a unique ID so that
// consumers can be idempotent under at-least-once delivery.
package event

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is one state change, as written to the outbox and published.
type Event struct {
	ID         string          `json:"id"`          // unique; also the JetStream message ID used for de-duplication
	Type       string          `json:"type"`        // versioned subject, e.g. "loads.posted.v1"
	OccurredAt time.Time       `json:"occurred_at"` // when the change was committed
	OrgID      string          `json:"org_id,omitempty"`
	SubjectID  string          `json:"subject_id,omitempty"` // the object that changed (load ID, driver ID, ...)
	Data       json.RawMessage `json:"data"`
}

// New builds an event with a fresh time-ordered ID.
func New(typ, orgID, subjectID string, at time.Time, data any) (Event, error) {
	if err := ValidType(typ); err != nil {
		return Event{}, err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event: %w", typ, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("event id: %w", err)
	}
	return Event{ID: id.String(), Type: typ, OccurredAt: at.UTC(), OrgID: orgID, SubjectID: subjectID, Data: raw}, nil
}

// ValidType checks that typ has the shape "<area>.<name>.v<N>".
func ValidType(typ string) error {
	parts := strings.Split(typ, ".")
	if len(parts) < 3 {
		return fmt.Errorf("event type %q: want <area>.<name>.v<N>", typ)
	}
	v := parts[len(parts)-1]
	if len(v) < 2 || v[0] != 'v' || strings.Trim(v[1:], "0123456789") != "" {
		return fmt.Errorf("event type %q: last element must be a version like v1", typ)
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, " *>") {
			return fmt.Errorf("event type %q: empty or wildcard element", typ)
		}
	}
	return nil
}

// Area returns the first element of the type ("loads" for "loads.posted.v1").
func (e Event) Area() string {
	area, _, _ := strings.Cut(e.Type, ".")
	return area
}

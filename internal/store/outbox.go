package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/event"
)

// Emit writes an event to the outbox inside the transaction.
func (tx *Tx) Emit(ctx context.Context, e event.Event) error {
	if e.OccurredAt.IsZero() {
		e.OccurredAt = tx.now
	}
	_, err := tx.Exec(ctx, `INSERT INTO outbox (id, type, org_id, subject_id, occurred_at, data) VALUES (?, ?, ?, ?, ?, ?)`,
		e.ID, e.Type, e.OrgID, e.SubjectID, e.OccurredAt, string(e.Data))
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	tx.events++
	return nil
}

// EmitNew builds an event stamped with the transaction's time and emits it.
func (tx *Tx) EmitNew(ctx context.Context, typ, orgID, subjectID string, data any) error {
	e, err := event.New(typ, orgID, subjectID, tx.now, data)
	if err != nil {
		return err
	}
	return tx.Emit(ctx, e)
}

// OutboxEntry is a committed event waiting to be published.
type OutboxEntry struct {
	Seq   int64
	Event event.Event
}

// PendingEvents returns up to limit unpublished events, oldest first.
func (db *DB) PendingEvents(ctx context.Context, limit int) ([]OutboxEntry, error) {
	rows, err := db.Query(ctx, `SELECT seq, id, type, org_id, subject_id, occurred_at, data FROM outbox
		WHERE published_at IS NULL ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox pending: %w", err)
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		var o OutboxEntry
		var data string
		if err := rows.Scan(&o.Seq, &o.Event.ID, &o.Event.Type, &o.Event.OrgID, &o.Event.SubjectID, Time(&o.Event.OccurredAt), &data); err != nil {
			return nil, fmt.Errorf("outbox scan: %w", err)
		}
		o.Event.Data = []byte(data)
		out = append(out, o)
	}
	return out, rows.Err()
}

// MarkPublished records that the stream acknowledged these events.
func (db *DB) MarkPublished(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	args := make([]any, 0, len(seqs)+1)
	args = append(args, db.Now())
	for _, s := range seqs {
		args = append(args, s)
	}
	q := `UPDATE outbox SET published_at = ? WHERE seq IN (?` + strings.Repeat(",?", len(seqs)-1) + `)`
	if _, err := db.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("outbox mark published: %w", err)
	}
	return nil
}

// PruneOutbox deletes events published more than age ago.
func (db *DB) PruneOutbox(ctx context.Context, age time.Duration) (int64, error) {
	res, err := db.Exec(ctx, `DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?`, db.Now().Add(-age))
	if err != nil {
		return 0, fmt.Errorf("outbox prune: %w", err)
	}
	return res.RowsAffected()
}

// FirstDelivery records that consumer handled eventID inside tx and reports
// whether this is the first time: consumers call it in the same transaction
// as their effects, so a redelivered event changes nothing twice.
func (tx *Tx) FirstDelivery(ctx context.Context, consumer, eventID string) (bool, error) {
	res, err := tx.Exec(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)
		ON CONFLICT (consumer, event_id) DO NOTHING`, consumer, eventID, tx.now)
	if err != nil {
		return false, fmt.Errorf("processed events: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

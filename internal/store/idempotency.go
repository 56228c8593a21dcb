package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// IdempotencyTTL is how long a stored answer is replayed.
const IdempotencyTTL = 24 * time.Hour

// BeginIdempotent implements httpapi.IdempotencyStore.
func (db *DB) BeginIdempotent(ctx context.Context, principal, key, method, path, hash string) (*httpapi.StoredResponse, error) {
	now := db.Now()
	// An expired claim no longer protects anything.
	if _, err := db.Exec(ctx, `DELETE FROM idempotency_keys WHERE principal = ? AND key = ? AND created_at < ?`, principal, key, now.Add(-IdempotencyTTL)); err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	res, err := db.Exec(ctx, `INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status, created_at)
		VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (principal, key) DO NOTHING`, principal, key, method, path, hash, now)
	if err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	var (
		gotHash string
		stored  httpapi.StoredResponse
		body    string
	)
	err = db.QueryRow(ctx, `SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE principal = ? AND key = ?`,
		principal, key).Scan(&gotHash, &stored.Status, &stored.ContentType, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, freight.Errorf(freight.ECONFLICT, "a request with this Idempotency-Key just finished; retry")
	}
	if err != nil {
		return nil, fmt.Errorf("idempotency: %w", err)
	}
	switch {
	case gotHash != hash:
		return nil, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "Idempotency-Key", Detail: "already used for a different request"}}}
	case stored.Status == 0:
		return nil, freight.Errorf(freight.ECONFLICT, "a request with this Idempotency-Key is in progress")
	}
	stored.Body = []byte(body)
	return &stored, nil
}

// FinishIdempotent implements httpapi.IdempotencyStore.
func (db *DB) FinishIdempotent(ctx context.Context, principal, key string, r httpapi.StoredResponse) error {
	_, err := db.Exec(ctx, `UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? WHERE principal = ? AND key = ?`,
		r.Status, r.ContentType, string(r.Body), principal, key)
	return err
}

// AbandonIdempotent implements httpapi.IdempotencyStore.
func (db *DB) AbandonIdempotent(ctx context.Context, principal, key string) {
	_, _ = db.Exec(ctx, `DELETE FROM idempotency_keys WHERE principal = ? AND key = ? AND status = 0`, principal, key)
}

// PruneIdempotency deletes expired keys.
func (db *DB) PruneIdempotency(ctx context.Context) (int64, error) {
	res, err := db.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, db.Now().Add(-IdempotencyTTL))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

func TestRebind(t *testing.T) {
	tests := []struct{ in, sqlite, pg string }{
		{"SELECT 1", "SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?", "x = '?' AND y = ?", "x = '?' AND y = $1"},
	}
	for _, tt := range tests {
		if got := store.SQLite.Rebind(tt.in); got != tt.sqlite {
			t.Errorf("sqlite Rebind(%q) = %q, want %q", tt.in, got, tt.sqlite)
		}
		if got := store.Postgres.Rebind(tt.in); got != tt.pg {
			t.Errorf("postgres Rebind(%q) = %q, want %q", tt.in, got, tt.pg)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Errorf("second Migrate applied %v, want nothing", applied)
		}
		cur, pending, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cur < 4 || pending != 0 {
			t.Errorf("status = version %d, %d pending; want >= 4, 0 pending", cur, pending)
		}
	})
}

func TestTimesRoundTripAndOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 3, 8, 6, 59, 59, 999_999_000, time.FixedZone("CST", -6*3600))
		times := []time.Time{base, base.Add(time.Microsecond), base.Add(-time.Hour), base.Add(10 * time.Second)}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for i, ts := range times {
				if _, err := tx.Exec(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)`,
					"c", string(rune('a'+i)), ts); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(ctx, `SELECT event_id, processed_at FROM processed_events WHERE processed_at >= ? ORDER BY processed_at`, base)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id string
			var ts time.Time
			if err := rows.Scan(&id, store.Time(&ts)); err != nil {
				t.Fatal(err)
			}
			want := times[id[0]-'a']
			if !ts.Equal(want) {
				t.Errorf("%s: read %v, want %v", id, ts, want)
			}
			got = append(got, id)
		}
		if want := "abd"; concat(got) != want {
			t.Errorf("order = %q, want %q", concat(got), want)
		}
	})
}

func concat(s []string) (out string) {
	for _, v := range s {
		out += v
	}
	return out
}

func TestRollbackWritesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.EmitNew(ctx, "loads.posted.v1", "o1", "l1", map[string]string{"a": "b"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		pending, err := db.PendingEvents(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 0 {
			t.Errorf("rolled-back transaction left %d outbox events", len(pending))
		}
	})
}

func TestOutboxPendingAndMark(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var woke int
		db.OnCommit(func() { woke++ })
		for i := range 5 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				return tx.EmitNew(ctx, "loads.posted.v1", "org", "load", map[string]int{"n": i})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if woke != 5 {
			t.Errorf("commit hook ran %d times, want 5", woke)
		}
		p, err := db.PendingEvents(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 3 || p[0].Seq >= p[1].Seq || p[1].Seq >= p[2].Seq {
			t.Fatalf("pending = %+v, want 3 in sequence order", p)
		}
		var data struct{ N *int }
		if err := json.Unmarshal(p[0].Event.Data, &data); err != nil || data.N == nil || *data.N != 0 || p[0].Event.Type != "loads.posted.v1" {
			t.Errorf("first event = %+v", p[0].Event)
		}
		if err := db.MarkPublished(ctx, []int64{p[0].Seq, p[1].Seq}); err != nil {
			t.Fatal(err)
		}
		rest, err := db.PendingEvents(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != 3 || rest[0].Seq != p[2].Seq {
			t.Errorf("after marking two, pending = %d starting at %d; want 3 starting at %d", len(rest), rest[0].Seq, p[2].Seq)
		}
	})
}

func TestFirstDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var firsts []bool
		for range 3 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				ok, err := tx.FirstDelivery(ctx, "notify", "evt-1")
				firsts = append(firsts, ok)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if !firsts[0] || firsts[1] || firsts[2] {
			t.Errorf("first deliveries = %v, want [true false false]", firsts)
		}
	})
}

// Concurrent writers must queue, not fail, on both engines.
func TestConcurrentTransactions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.InTx(ctx, func(tx *store.Tx) error {
					_, err := tx.FirstDelivery(ctx, "c", string(rune('A'+i)))
					return err
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM processed_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 40 {
			t.Errorf("rows = %d, want 40", n)
		}
	})
}

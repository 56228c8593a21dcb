package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// Conformance is the store's conformance suite: what every engine and every
// way of reaching one (directly, through PgBouncer) must do alike. open
// returns a migrated, empty store for one case.
func Conformance(t *testing.T, open func(t *testing.T) *store.DB) {
	cases := []struct {
		name string
		f    func(t *testing.T, db *store.DB)
	}{
		{"MigrationStatus", testMigrationStatus},
		{"TimesRoundTripAndOrder", testTimesRoundTripAndOrder},
		{"RollbackWritesNothing", testRollbackWritesNothing},
		{"OutboxPendingAndMark", testOutboxPendingAndMark},
		{"FirstDelivery", testFirstDelivery},
		{"ConcurrentTransactions", testConcurrentTransactions},
		{"Idempotency", testIdempotency},
		{"Reader", testReader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.f(t, open(t)) })
	}
}

func testMigrationStatus(t *testing.T, db *store.DB) {
	cur, pending, err := db.MigrationStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cur < 4 || pending != 0 {
		t.Errorf("status = version %d, %d pending; want >= 4, 0 pending", cur, pending)
	}
}

func testIdempotency(t *testing.T, db *store.DB) {
	ctx := context.Background()
	got, err := db.BeginIdempotent(ctx, "user:a", "k1", "POST", "/x", "h1")
	if err != nil || got != nil {
		t.Fatalf("first BeginIdempotent = %v, %v; want nil, nil", got, err)
	}
	if err := db.FinishIdempotent(ctx, "user:a", "k1", httpapi.StoredResponse{Status: 201, ContentType: "application/json", Body: []byte(`{"id":1}`)}); err != nil {
		t.Fatal(err)
	}
	got, err = db.BeginIdempotent(ctx, "user:a", "k1", "POST", "/x", "h1")
	if err != nil || got == nil || got.Status != 201 || string(got.Body) != `{"id":1}` {
		t.Fatalf("replayed BeginIdempotent = %+v, %v; want the stored 201", got, err)
	}
	if _, err := db.BeginIdempotent(ctx, "user:a", "k1", "POST", "/x", "other"); err == nil {
		t.Error("a reused key with another request: want an error")
	}
}

// testReader: without replicas, stale-tolerant reads see every write.
func testReader(t *testing.T, db *store.DB) {
	ctx := store.WithSession(context.Background(), "user:r")
	if _, err := db.Exec(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)`, "reader", "e", db.Now()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.ReadQueryRow(ctx, `SELECT COUNT(*) FROM processed_events WHERE consumer = ?`, "reader").Scan(&n); err != nil || n != 1 {
		t.Fatalf("read = %d, %v; want 1", n, err)
	}
}

func testTimesRoundTripAndOrder(t *testing.T, db *store.DB) {
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
}

func concat(s []string) (out string) {
	for _, v := range s {
		out += v
	}
	return out
}

func testRollbackWritesNothing(t *testing.T, db *store.DB) {
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
}

func testOutboxPendingAndMark(t *testing.T, db *store.DB) {
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
}

func testFirstDelivery(t *testing.T, db *store.DB) {
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
}

// Concurrent writers must queue, not fail, on both engines.
func testConcurrentTransactions(t *testing.T, db *store.DB) {
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
}

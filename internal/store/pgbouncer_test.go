package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// openThroughPgBouncer migrates a fresh database directly (migrations need
// a session-level lock) and opens the store through pgbouncer.
func openThroughPgBouncer(t *testing.T, pgb *storetest.PgBouncer) (db *store.DB, direct string) {
	t.Helper()
	ctx := context.Background()
	name, direct := storetest.CreateDatabase(t)
	m, err := store.Open(ctx, store.Config{URL: direct, MaxOpenConns: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	db, err = store.Open(ctx, store.Config{URL: pgb.URL(name), MaxOpenConns: 8, PgBouncer: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, direct
}

// The conformance suite passes through PgBouncer in transaction pooling.
func TestConformanceThroughPgBouncer(t *testing.T) {
	pgb := storetest.StartPgBouncer(t)
	storetest.Conformance(t, func(t *testing.T) *store.DB {
		db, _ := openThroughPgBouncer(t, pgb)
		return db
	})
}

// Migrations need a direct connection: through PgBouncer they refuse.
func TestMigrateRefusesPgBouncer(t *testing.T) {
	pgb := storetest.StartPgBouncer(t)
	db, _ := openThroughPgBouncer(t, pgb)
	if _, err := db.Migrate(context.Background()); err == nil || !strings.Contains(err.Error(), "direct connection") {
		t.Fatalf("Migrate through pgbouncer = %v, want the direct-connection error", err)
	}
}

// PgBouncer restarting under writes: the store recovers, and every write
// the store acknowledged is in the database.
func TestPgBouncerRestart(t *testing.T) {
	pgb := storetest.StartPgBouncer(t)
	db, direct := openThroughPgBouncer(t, pgb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	var acked []string
	var failed int
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				err := db.InTx(ctx, func(tx *store.Tx) error {
					if _, err := tx.FirstDelivery(ctx, "restart", id); err != nil {
						return err
					}
					return tx.EmitNew(ctx, "test.written.v1", "org", id, map[string]string{"id": id})
				})
				mu.Lock()
				if err == nil {
					acked = append(acked, id)
				} else if ctx.Err() == nil {
					failed++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond) // the pool reconnects
				}
			}
		}()
	}
	waitCount := func(n int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for ackedCount() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d writes acknowledged, want %d", ackedCount(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitCount(100)
	for range 2 {
		pgb.Restart()
		waitCount(ackedCount() + 100) // the store recovers
	}
	cancel()
	wg.Wait()
	t.Logf("%d writes acknowledged, %d failed while pgbouncer restarted", len(acked), failed)

	check, err := store.Open(context.Background(), store.Config{URL: direct, MaxOpenConns: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	stored := map[string]bool{}
	rows, err := check.Query(context.Background(), `SELECT p.event_id FROM processed_events p JOIN outbox o ON o.subject_id = p.event_id WHERE p.consumer = 'restart'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, id := range acked {
		if !stored[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, len(acked))
	}
}

package store_test

import (
	"context"
	"testing"

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

func TestConformance(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			storetest.Conformance(t, func(t *testing.T) *store.DB { return storetest.Open(t, engine) })
		})
	}
}

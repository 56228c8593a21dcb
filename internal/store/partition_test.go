package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

func TestMaintainPartitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		insert := func(driver string, hour time.Time) {
			t.Helper()
			_, err := db.Exec(ctx, `INSERT INTO position_rollups (driver_id, carrier_id, hour, points, miles, first_at, last_at,
				first_lat, first_lon, last_lat, last_lon) VALUES (?, 'c', ?, 1, 1, ?, ?, 0, 0, 0, 0)`, driver, hour, hour, hour)
			if err != nil {
				t.Fatal(err)
			}
		}
		// Rows before any partition exists: one expired, one old, one now.
		insert("expired", now.AddDate(-2, 0, 0))
		insert("old", now.AddDate(0, -5, 0))
		insert("now", now)
		created, dropped, err := db.MaintainPartitions(ctx, store.RollupPartitions, now)
		if err != nil {
			t.Fatal(err)
		}
		count := func(table string) int {
			t.Helper()
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if db.Dialect() == store.SQLite {
			if created != nil || dropped != nil || count("position_rollups") != 3 {
				t.Fatalf("sqlite: created %v dropped %v, %d rows; want nothing done", created, dropped, count("position_rollups"))
			}
			return
		}
		want := []string{"position_rollups_p202606", "position_rollups_p202611", "position_rollups_p202612", "position_rollups_p202701"}
		if !slices.Equal(created, want) || len(dropped) != 0 {
			t.Fatalf("created %v, dropped %v; want %v and none", created, dropped, want)
		}
		if n := count("position_rollups_default"); n != 0 {
			t.Errorf("default partition keeps %d rows, want 0", n)
		}
		if count("position_rollups_p202606") != 1 || count("position_rollups_p202611") != 1 || count("position_rollups") != 2 {
			t.Errorf("rows not in their months (the expired one deleted)")
		}
		// Idempotent; a year later the old months go.
		if c, d, err := db.MaintainPartitions(ctx, store.RollupPartitions, now); err != nil || len(c)+len(d) != 0 {
			t.Fatalf("second run: created %v dropped %v err %v; want nothing", c, d, err)
		}
		insert("late", now.AddDate(0, 1, 3)) // into a partition made ahead
		_, dropped, err = db.MaintainPartitions(ctx, store.RollupPartitions, now.AddDate(1, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"position_rollups_p202606", "position_rollups_p202611"}; !slices.Equal(dropped, want) {
			t.Errorf("dropped %v, want %v", dropped, want)
		}
		if n := count("position_rollups"); n != 1 {
			t.Errorf("%d rows left, want the late one", n)
		}
	})
}

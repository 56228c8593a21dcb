package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// explain returns PostgreSQL's plan of q.
func explain(t *testing.T, db *store.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query(context.Background(), "EXPLAIN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// The hot queries use the indexes of migration 00014 once the tables hold a
// realistic mix: a long history of delivered loads, a few open ones, many
// position fixes. The queries mirror those of internal/loads (board.go),
// internal/matching (index.go) and internal/tracking (track.go, tracking.go).
func TestHotQueriesUseIndexes(t *testing.T) {
	db := storetest.Open(t, "postgres")
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO organizations (id, name, kind, created_at) VALUES ('s1', 'Shipper', 'shipper', now()), ('c1', 'Carrier', 'carrier', now())`,
		// 40,000 loads: 2% posted, 3% on the road, the rest delivered, over
		// 400 drivers and four equipment types.
		`INSERT INTO loads (id, org_id, origin_lat, origin_lon, dest_lat, dest_lon, pickup_start, pickup_end,
			delivery_start, delivery_end, equipment, weight_lbs, rate_cents, miles, status, carrier_id, driver_id,
			created_by, created_at, updated_at)
		SELECT 'L' || lpad(g::text, 6, '0'), 's1', 30 + (g % 17), -100 + (g % 23), 35 + (g % 13), -90 + (g % 19),
			$1::timestamptz - make_interval(hours => 40000 - g), $1::timestamptz - make_interval(hours => 39990 - g),
			$1::timestamptz - make_interval(hours => 39980 - g), $1::timestamptz - make_interval(hours => 39970 - g),
			(ARRAY['dry_van', 'reefer', 'flatbed', 'step_deck'])[1 + g % 4], 30000, 250000, 500,
			CASE WHEN g % 50 = 0 THEN 'posted' WHEN g % 33 = 0 THEN 'in_transit' ELSE 'delivered' END,
			CASE WHEN g % 50 = 0 THEN '' ELSE 'c1' END,
			CASE WHEN g % 50 = 0 THEN '' ELSE 'D' || (g % 400) END,
			'u', $1::timestamptz, $1::timestamptz - make_interval(hours => 40000 - g)
		FROM generate_series(1, 40000) g`,
		// 100,000 fixes: 200 drivers, one a minute.
		`INSERT INTO positions (driver_id, carrier_id, recorded_at, received_at, lat, lon, speed_mph, heading_deg)
		SELECT 'D' || (g % 200), 'c1', $1::timestamptz - make_interval(mins => g / 200), $1::timestamptz, 35, -95, 55, 90
		FROM generate_series(1, 100000) g`,
	} {
		var args []any
		if strings.Contains(q, "$1") {
			args = []any{now}
		}
		if _, err := db.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q[:40], err)
		}
	}
	// Index-only scans need the visibility map that VACUUM writes.
	if _, err := db.Exec(ctx, `VACUUM ANALYZE loads`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `VACUUM ANALYZE positions`); err != nil {
		t.Fatal(err)
	}
	const cols = `id, org_id, origin_lat, origin_lon, dest_lat, dest_lon, pickup_start, pickup_end, equipment, rate_cents, miles, status`
	tests := []struct {
		name, query string
		args        []any
		want        string
	}{
		{"board newest", `SELECT ` + cols + ` FROM loads WHERE status = 'posted' ORDER BY id DESC LIMIT 26`, nil,
			"loads_posted_recent"},
		{"board pickup", `SELECT ` + cols + ` FROM loads WHERE status = 'posted' ORDER BY pickup_start, id LIMIT 26`,
			nil, "loads_posted_pickup"},
		{"board pickup by equipment", `SELECT ` + cols + ` FROM loads WHERE status = 'posted' AND equipment = ? ORDER BY pickup_start, id LIMIT 26`,
			[]any{"reefer"}, "loads_board"},
		{"matching open loads", `SELECT ` + cols + ` FROM loads WHERE status = 'posted'`, nil, "loads_posted_"},
		{"matching active loads", `SELECT ` + cols + ` FROM loads WHERE driver_id <> ''
			AND status IN ('booked', 'dispatched', 'at_pickup', 'in_transit', 'at_delivery')`, nil, "loads_driver_active"},
		{"matching last deliveries", `SELECT l.driver_id, l.dest_lat, l.dest_lon, l.updated_at FROM loads l
			WHERE l.status = 'delivered' AND l.driver_id <> '' AND l.updated_at = (SELECT MAX(m.updated_at) FROM loads m
			WHERE m.driver_id = l.driver_id AND m.status = 'delivered')`, nil, "Index Only Scan using loads_driver_delivered"},
		{"tracking history", `SELECT recorded_at, lat, lon, speed_mph, heading_deg FROM positions
			WHERE driver_id = ? AND recorded_at >= ? AND recorded_at < ? ORDER BY recorded_at`,
			[]any{"D7", now.Add(-6 * time.Hour), now}, "Index Only Scan using positions_pkey"},
		{"tracking latest", `SELECT p.driver_id, p.carrier_id, p.recorded_at, p.lat, p.lon, p.speed_mph, p.heading_deg
			FROM positions p JOIN (SELECT driver_id, MAX(recorded_at) AS at FROM positions WHERE recorded_at >= ? GROUP BY driver_id) m
			ON p.driver_id = m.driver_id AND p.recorded_at = m.at`, []any{now.Add(-10 * time.Minute)}, "Index Only Scan using positions_pkey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := explain(t, db, tt.query, tt.args...)
			if !strings.Contains(plan, tt.want) {
				t.Errorf("plan does not use %s:\n%s", tt.want, plan)
			}
		})
	}
}

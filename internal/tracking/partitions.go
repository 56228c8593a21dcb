package tracking

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// On PostgreSQL, positions live in a table partitioned by day on
// recorded_at: a day's fixes are one partition, retention drops whole
// partitions (no DELETE, no vacuum), and the rollups read one partition.
// The portable migration cannot say PARTITION BY, so the migration creates
// a plain table and the service converts it here, once, while it is still
// empty (a non-empty plain table is moved over in the same transaction).
// Partitions are named positions_YYYYMMDD and created ahead of time.

// partitionLock is the advisory lock key that serialises schema changes
// among replicas ("positions" in ASCII).
const partitionLock = 0x706f736974696f6e

// partitionDDL is the partitioned table. The BRIN index serves the time
// scans of rollups at almost no cost to ingest.
const partitionDDL = `CREATE TABLE positions_partitioned (
	driver_id   TEXT NOT NULL,
	carrier_id  TEXT NOT NULL,
	recorded_at TIMESTAMPTZ NOT NULL,
	received_at TIMESTAMPTZ NOT NULL,
	lat         DOUBLE PRECISION NOT NULL,
	lon         DOUBLE PRECISION NOT NULL,
	speed_mph   DOUBLE PRECISION,
	heading_deg DOUBLE PRECISION,
	accuracy_m  DOUBLE PRECISION,
	-- INCLUDE makes history and latest-fix reads index-only (migration 00014).
	PRIMARY KEY (driver_id, recorded_at) INCLUDE (lat, lon, speed_mph, heading_deg, carrier_id)
) PARTITION BY RANGE (recorded_at)`

// partitions keeps the days that have a partition, so the ingest path
// creates one only when a fix needs it.
type partitions struct {
	pool *pgxpool.Pool
	mu   sync.Mutex
	days map[time.Time]bool
}

func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func partitionName(d time.Time) string { return "positions_" + d.Format("20060102") }

// convert makes positions a partitioned table if it is not one yet.
func (p *partitions) convert(ctx context.Context) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(partitionLock)); err != nil {
			return err
		}
		var kind string
		if err := tx.QueryRow(ctx, `SELECT c.relkind::text FROM pg_class c
			WHERE c.oid = to_regclass('positions')`).Scan(&kind); err != nil {
			return fmt.Errorf("positions table: %w", err)
		}
		if kind == "p" {
			return nil
		}
		if _, err := tx.Exec(ctx, partitionDDL); err != nil {
			return err
		}
		// Existing rows (a store that ran before partitioning) keep their days.
		rows, err := tx.Query(ctx, `SELECT DISTINCT date_trunc('day', recorded_at AT TIME ZONE 'UTC') FROM positions`)
		if err != nil {
			return err
		}
		var days []time.Time
		for rows.Next() {
			var d time.Time
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return err
			}
			days = append(days, d)
		}
		rows.Close()
		for _, d := range days {
			if _, err := tx.Exec(ctx, createPartition("positions_partitioned", day(d))); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`INSERT INTO positions_partitioned SELECT driver_id, carrier_id, recorded_at, received_at, lat, lon, speed_mph, heading_deg, accuracy_m FROM positions`,
			`DROP TABLE positions`,
			`ALTER TABLE positions_partitioned RENAME TO positions`,
			`ALTER INDEX positions_partitioned_pkey RENAME TO positions_pkey`,
			`CREATE INDEX positions_recorded ON positions USING BRIN (recorded_at)`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("partition positions: %w", err)
			}
		}
		return nil
	})
}

func createPartition(parent string, d time.Time) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')`,
		partitionName(d), parent, d.Format(time.RFC3339), d.AddDate(0, 0, 1).Format(time.RFC3339))
}

// list returns the days that have a partition.
func (p *partitions) list(ctx context.Context) ([]time.Time, error) {
	rows, err := p.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass('positions')`)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	var days []time.Time
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		d, err := time.Parse("20060102", strings.TrimPrefix(name, "positions_"))
		if err != nil {
			continue // not one of ours
		}
		days = append(days, d)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	return days, rows.Err()
}

// ensure creates the partitions of the given days that are missing.
func (p *partitions) ensure(ctx context.Context, days []time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var missing []time.Time
	for _, d := range days {
		if !p.days[day(d)] {
			missing = append(missing, day(d))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(partitionLock)); err != nil {
			return err
		}
		for _, d := range missing {
			if _, err := tx.Exec(ctx, createPartition("positions", d)); err != nil {
				return fmt.Errorf("create partition %s: %w", partitionName(d), err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range missing {
		p.days[d] = true
	}
	return nil
}

// maintain creates the partitions from the oldest accepted day to ahead
// days from now, and drops those wholly older than the retention.
func (p *partitions) maintain(ctx context.Context, now time.Time, maxAge, retention time.Duration, ahead int) (created, dropped []string, err error) {
	existing, err := p.list(ctx)
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	p.days = map[time.Time]bool{}
	for _, d := range existing {
		p.days[d] = true
	}
	p.mu.Unlock()
	var want []time.Time
	for d := day(now.Add(-maxAge)); !d.After(day(now).AddDate(0, 0, ahead)); d = d.AddDate(0, 0, 1) {
		if !p.days[d] {
			want = append(want, d)
			created = append(created, partitionName(d))
		}
	}
	if err := p.ensure(ctx, want); err != nil {
		return nil, nil, err
	}
	cutoff := now.Add(-retention)
	for _, d := range existing {
		if d.AddDate(0, 0, 1).After(cutoff) {
			continue
		}
		// DROP of a partition takes a short exclusive lock on the parent.
		if _, err := p.pool.Exec(ctx, `DROP TABLE IF EXISTS `+partitionName(d)); err != nil {
			return created, dropped, fmt.Errorf("drop partition %s: %w", partitionName(d), err)
		}
		p.mu.Lock()
		delete(p.days, d)
		p.mu.Unlock()
		dropped = append(dropped, partitionName(d))
	}
	return created, dropped, nil
}

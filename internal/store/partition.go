package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// MonthlyPartitions describes a PostgreSQL table partitioned by month on a
// timestamp column (PARTITION BY RANGE, with a DEFAULT partition named
// <table>_default that catches rows of months not created yet). SQLite keeps
// such tables plain; their owners delete by age.
type MonthlyPartitions struct {
	Table  string // the partitioned parent
	Column string // the range key, a timestamp
	// Ahead is how many months after the current one get a partition
	// before any row needs it.
	Ahead int
	// Retention drops a month once all of it is older than this; zero
	// keeps every month.
	Retention time.Duration
}

// RollupPartitions is position_rollups, partitioned by migration 00015 and
// kept for a year (the scaling guide's 4.2.1).
var RollupPartitions = MonthlyPartitions{Table: "position_rollups", Column: "hour", Ahead: 2, Retention: 365 * 24 * time.Hour}

func month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func (p MonthlyPartitions) name(m time.Time) string { return p.Table + "_p" + m.Format("200601") }

// lockKey serialises maintenance of one table among processes.
func (p MonthlyPartitions) lockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("partitions:" + p.Table))
	return int64(h.Sum64() >> 1)
}

// MaintainPartitions creates the partitions of the current and the next
// Ahead months, moves rows that landed in the default partition into
// partitions of their month, and drops months past the retention. It is
// idempotent and safe to run from several processes at once; on SQLite it
// does nothing.
func (db *DB) MaintainPartitions(ctx context.Context, p MonthlyPartitions, now time.Time) (created, dropped []string, err error) {
	if db.dialect != Postgres {
		return nil, nil, nil
	}
	parent := pgx.Identifier{p.Table}.Sanitize()
	def := pgx.Identifier{p.Table + "_default"}.Sanitize()
	col := pgx.Identifier{p.Column}.Sanitize()
	err = db.InTx(ctx, func(tx *Tx) error {
		created, dropped = nil, nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, p.lockKey()); err != nil {
			return err
		}
		existing := map[string]bool{}
		rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = to_regclass(?)`, p.Table)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			existing[n] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var cutoff time.Time
		if p.Retention > 0 {
			cutoff = now.Add(-p.Retention)
		}
		// The months that need a partition: those ahead, and those of rows
		// waiting in the default partition.
		want := map[time.Time]bool{}
		for i := range p.Ahead + 1 {
			want[month(now).AddDate(0, i, 0)] = true
		}
		rows, err = tx.Query(ctx, `SELECT DISTINCT date_trunc('month', `+col+` AT TIME ZONE 'UTC') FROM `+def)
		if err != nil {
			return err
		}
		for rows.Next() {
			var m time.Time
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return err
			}
			want[month(m)] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		months := make([]time.Time, 0, len(want))
		for m := range want {
			if cutoff.IsZero() || m.AddDate(0, 1, 0).After(cutoff) {
				months = append(months, m)
			}
		}
		slices.SortFunc(months, func(a, b time.Time) int { return a.Compare(b) })
		for _, m := range months {
			name := p.name(m)
			if existing[name] {
				continue
			}
			from, to := m.Format(time.RFC3339), m.AddDate(0, 1, 0).Format(time.RFC3339)
			part := pgx.Identifier{name}.Sanitize()
			// Attaching checks the default partition holds no row of the
			// month, so the month's rows move first.
			for _, q := range []string{
				`CREATE TABLE ` + part + ` (LIKE ` + parent + ` INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
				`WITH moved AS (DELETE FROM ` + def + ` WHERE ` + col + ` >= '` + from + `' AND ` + col + ` < '` + to + `' RETURNING *)
					INSERT INTO ` + part + ` SELECT * FROM moved`,
				`ALTER TABLE ` + parent + ` ATTACH PARTITION ` + part + ` FOR VALUES FROM ('` + from + `') TO ('` + to + `')`,
			} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("partition %s: %w", name, err)
				}
			}
			created = append(created, name)
		}
		if cutoff.IsZero() {
			return nil
		}
		for name := range existing {
			ym, ok := strings.CutPrefix(name, p.Table+"_p")
			if !ok {
				continue
			}
			m, err := time.Parse("200601", ym)
			if err != nil || m.AddDate(0, 1, 0).After(cutoff) {
				continue
			}
			if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize()); err != nil {
				return fmt.Errorf("drop partition %s: %w", name, err)
			}
			dropped = append(dropped, name)
		}
		slices.Sort(dropped)
		_, err = tx.Exec(ctx, `DELETE FROM `+def+` WHERE `+col+` < ?`, cutoff)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("maintain partitions of %s: %w", p.Table, err)
	}
	return created, dropped, nil
}

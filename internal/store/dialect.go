package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect holds every difference between the SQL engines Backhaul runs on.
// Queries are written once, with "?" placeholders and portable SQL; the
// dialect rebinds them, converts arguments and renders migrations.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// timeLayout is fixed-width so that SQLite's text timestamps sort and compare
// like the instants they name. Microseconds match PostgreSQL's precision.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// Rebind turns "?" placeholders into the dialect's ("$1", "$2", ... for
// PostgreSQL). Question marks inside string literals are left alone.
func (d Dialect) Rebind(q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, inString := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inString = !inString
			b.WriteByte(c)
		case c == '?' && !inString:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Args converts arguments to what the engine stores: times become UTC
// (and fixed-width text on SQLite).
func (d Dialect) Args(args []any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			args[i] = d.time(v)
		case *time.Time:
			if v == nil {
				args[i] = nil
			} else {
				args[i] = d.time(*v)
			}
		}
	}
	return args
}

func (d Dialect) time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if d == SQLite {
		return t.Format(timeLayout)
	}
	return t
}

// Now truncates t to the precision both engines keep, so values read back
// compare equal to values written.
func Now(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// IsUniqueViolation reports whether err is a unique or primary-key conflict.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsForeignKeyViolation reports whether err is a foreign-key violation.
func IsForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// migrationVars are the type names substituted into the migration templates.
// POSTGRES is non-empty on PostgreSQL, for what only it has
// ({{if .POSTGRES}}...{{else}}...{{end}}): INCLUDE columns, partitioning,
// materialized views.
func (d Dialect) migrationVars() map[string]string {
	if d == Postgres {
		return map[string]string{
			"TIMESTAMP": "TIMESTAMPTZ",
			"JSON":      "JSONB",
			"SERIAL_PK": "BIGSERIAL PRIMARY KEY",
			"FLOAT":     "DOUBLE PRECISION",
			"POSTGRES":  "yes",
		}
	}
	return map[string]string{
		"TIMESTAMP": "TEXT",
		"JSON":      "TEXT",
		"SERIAL_PK": "INTEGER PRIMARY KEY AUTOINCREMENT",
		"FLOAT":     "REAL",
		"POSTGRES":  "",
	}
}

// Time scans a timestamp column of either engine into t. A NULL leaves t zero.
func Time(t *time.Time) *timeScanner { return &timeScanner{t: t} }

// NullTime scans a nullable timestamp into *t (nil for NULL).
func NullTime(t **time.Time) *nullTimeScanner { return &nullTimeScanner{t: t} }

type timeScanner struct{ t *time.Time }

func (s *timeScanner) Scan(src any) error {
	v, err := parseTime(src)
	if err != nil {
		return err
	}
	*s.t = v
	return nil
}

type nullTimeScanner struct{ t **time.Time }

func (s *nullTimeScanner) Scan(src any) error {
	if src == nil {
		*s.t = nil
		return nil
	}
	v, err := parseTime(src)
	if err != nil {
		return err
	}
	*s.t = &v
	return nil
}

func parseTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v.UTC(), nil
	case string:
		return parseTimeText(v)
	case []byte:
		return parseTimeText(string(v))
	}
	return time.Time{}, fmt.Errorf("store: cannot scan %T into a time", src)
}

func parseTimeText(s string) (time.Time, error) {
	if t, err := time.Parse(timeLayout, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: bad timestamp %q: %w", s, err)
	}
	return t.UTC(), nil
}

// Package store is Backhaul's relational store: one implementation over
// database/sql that runs on SQLite (the embedded default, a file in the data
// directory) and on PostgreSQL (production). The differences between the two
// live in dialect.go; services write portable SQL with "?" placeholders and
// own their queries, while this package owns connections, transactions,
// migrations and the transactional outbox.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // "sqlite" driver
)

// Config says where the data lives.
type Config struct {
	// URL is a postgres:// URL; empty means SQLite in DataDir.
	URL string
	// DataDir holds the SQLite file when URL is empty.
	DataDir string
	// MaxOpenConns bounds the PostgreSQL pool (and SQLite readers).
	MaxOpenConns int
	// ConnMaxIdleTime closes idle connections (the scaling guide: 5 minutes).
	ConnMaxIdleTime time.Duration

	// ReplicaURLs are PostgreSQL read replicas of URL's primary; reads
	// through Reader go to them (see replica.go).
	ReplicaURLs []string
	// ReplicaMaxLagBytes and ReplicaMaxLag take a replica out of rotation
	// when it is further behind the primary (defaults 16 MiB, 30 s).
	ReplicaMaxLagBytes int64
	ReplicaMaxLag      time.Duration
	// ReplicaCheckInterval is how often replicas are checked (default 2 s).
	ReplicaCheckInterval time.Duration
	// SessionTTL bounds how long a principal's reads stick to the primary
	// after a write when no replica catches up (default 5 minutes).
	SessionTTL time.Duration
	// SessionKey names the session (principal) of a context, for session
	// consistency; WithSession overrides it.
	SessionKey func(ctx context.Context) string

	// PgBouncer says URL (and the replica URLs) reach PostgreSQL through
	// PgBouncer in transaction pooling mode: statements run unprepared in
	// one round trip (pgx's exec mode), since consecutive statements may
	// land on different server connections, and Migrate refuses to run
	// because its session-level advisory lock needs a direct connection.
	PgBouncer bool
}

// DB is an open store.
type DB struct {
	dialect Dialect
	read    *sql.DB // queries outside transactions
	write   *sql.DB // transactions; a single connection on SQLite
	log     *slog.Logger
	now     func() time.Time

	// committed are called after every transaction that wrote outbox
	// events: the relay wakes at once, caches drop what changed.
	committed []func()

	// stmts caches prepared read statements by query text on SQLite, so a
	// hot query is parsed and planned once per connection instead of on
	// every call (pgx already caches statements per PostgreSQL connection).
	stmtMu sync.RWMutex
	stmts  map[string]*sql.Stmt

	pgbouncer    bool
	replicas     *replicaSet // nil without replicas
	sessionKey   func(context.Context) string
	primaryReads prometheus.Counter // stale-tolerant reads without replicas
}

// maxStmts bounds the statement cache; queries beyond it run unprepared.
const maxStmts = 512

// Open connects to the configured engine. It does not migrate.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = 20
	}
	if cfg.ConnMaxIdleTime <= 0 {
		cfg.ConnMaxIdleTime = 5 * time.Minute
	}
	db := &DB{log: log, now: time.Now, stmts: map[string]*sql.Stmt{}, pgbouncer: cfg.PgBouncer, sessionKey: cfg.SessionKey}
	var err error
	switch {
	case cfg.URL == "":
		err = db.openSQLite(cfg)
	case strings.HasPrefix(cfg.URL, "postgres://") || strings.HasPrefix(cfg.URL, "postgresql://"):
		err = db.openPostgres(cfg)
	default:
		return nil, fmt.Errorf("database url: want postgres://... or empty for the embedded SQLite store")
	}
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.write.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", db.dialect, err)
	}
	if db.replicas != nil {
		db.startReplicaChecks(pctx)
	}
	return db, nil
}

func (db *DB) openSQLite(cfg Config) error {
	dir := cfg.DataDir
	if dir == "" {
		dir = "data"
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, "backhaul.db")
	// WAL lets readers run beside the writer; synchronous=NORMAL in WAL mode
	// keeps every committed transaction across a crash of the process.
	pragmas := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	// One writer connection: SQLite serialises writers anyway, and a single
	// connection turns lock contention into a queue instead of busy errors.
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(max(4, cfg.MaxOpenConns/2))
	r.SetMaxIdleConns(max(4, cfg.MaxOpenConns/2))
	db.dialect, db.read, db.write = SQLite, r, w
	return nil
}

func (db *DB) openPostgres(cfg Config) error {
	if _, err := url.Parse(cfg.URL); err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	p, err := sql.Open("pgx", db.pgURL(cfg.URL))
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	p.SetMaxOpenConns(cfg.MaxOpenConns)
	p.SetMaxIdleConns(cfg.MaxOpenConns)
	p.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
	db.dialect, db.read, db.write = Postgres, p, p
	if len(cfg.ReplicaURLs) > 0 {
		return db.openReplicas(cfg)
	}
	return nil
}

// pgURL adapts a PostgreSQL URL to the connection mode: behind PgBouncer's
// transaction pooling, pgx must not rely on statements prepared on a server
// connection, so each query is parsed, bound and run in one round trip
// unless the URL already chose a mode.
func (db *DB) pgURL(raw string) string {
	if !db.pgbouncer {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if q.Get("default_query_exec_mode") == "" {
		q.Set("default_query_exec_mode", "exec")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Close closes every connection.
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	db.stmts = map[string]*sql.Stmt{}
	db.stmtMu.Unlock()
	var err error
	if db.replicas != nil {
		err = db.replicas.close()
	}
	err = errors.Join(err, db.write.Close())
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Dialect returns the engine's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// SetClock replaces the clock used for outbox and audit timestamps (tests).
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// Now is the store's clock, truncated to stored precision.
func (db *DB) Now() time.Time { return Now(db.now()) }

// OnCommit registers f to run after each transaction that emitted events.
// Register hooks while starting, before transactions run.
func (db *DB) OnCommit(f func()) { db.committed = append(db.committed, f) }

// Ping checks the engine answers, for readiness.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Stats returns the connection pool statistics of the read pool.
func (db *DB) Stats() sql.DBStats { return db.read.Stats() }

// stmt returns the prepared read statement for q, preparing it once.
func (db *DB) stmt(ctx context.Context, q string) *sql.Stmt {
	db.stmtMu.RLock()
	st := db.stmts[q]
	n := len(db.stmts)
	db.stmtMu.RUnlock()
	if st != nil || n >= maxStmts || db.dialect != SQLite {
		return st
	}
	st, err := db.read.PrepareContext(ctx, db.dialect.Rebind(q))
	if err != nil {
		return nil // the plain query reports the error
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if prev := db.stmts[q]; prev != nil {
		st.Close()
		return prev
	}
	db.stmts[q] = st
	return st
}

// Query runs a read query outside a transaction, on the primary: it sees
// every committed write. Reads that tolerate staleness use Reader.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := db.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, db.dialect.Args(args)...)
	}
	return db.read.QueryContext(ctx, db.dialect.Rebind(q), db.dialect.Args(args)...)
}

// QueryRow runs a single-row read query outside a transaction.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := db.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, db.dialect.Args(args)...)
	}
	return db.read.QueryRowContext(ctx, db.dialect.Rebind(q), db.dialect.Args(args)...)
}

// Exec runs one statement in its own transaction.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := db.write.ExecContext(ctx, db.dialect.Rebind(q), db.dialect.Args(args)...)
	if err == nil {
		db.noteWrite(ctx)
	}
	return res, err
}

// Tx is a transaction. Events emitted in it go to the outbox in the same
// commit, so an event is published if and only if its change committed.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	now     time.Time
	events  int
}

// InTx runs f in a transaction, committing when f returns nil.
func (db *DB) InTx(ctx context.Context, f func(tx *Tx) error) error {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, dialect: db.dialect, now: db.Now()}
	if err := f(tx); err != nil {
		if rerr := sqlTx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			db.log.Warn("rollback failed", "err", rerr)
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	db.noteWrite(ctx)
	if tx.events > 0 {
		for _, f := range db.committed {
			f()
		}
	}
	return nil
}

// Now is the transaction's timestamp: every row it writes shares it.
func (tx *Tx) Now() time.Time { return tx.now }

// Dialect returns the engine's dialect.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.dialect.Rebind(q), tx.dialect.Args(args)...)
}

// QueryRow runs a single-row query in the transaction.
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.dialect.Rebind(q), tx.dialect.Args(args)...)
}

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.dialect.Rebind(q), tx.dialect.Args(args)...)
}

// ForUpdate is the row-locking suffix for a SELECT that precedes an update
// of the same rows: PostgreSQL needs it, SQLite's writer lock already holds.
func (tx *Tx) ForUpdate() string {
	if tx.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
)

// Read replicas (the scaling guide's 4.1.1). Writes and transactions always
// run on the primary. Reads that tolerate staleness ask for db.Reader(ctx),
// which picks a healthy replica round-robin; every other read stays on the
// primary.
//
// Session consistency: after a principal writes, the primary's WAL position
// (pg_current_wal_lsn() after the commit) is remembered under the
// principal's session key, and that principal's reads go to the primary
// until a replica has replayed past that position (pg_last_wal_replay_lsn()).
// The positions live in this process, with an expiry. Across processes a
// write and the next read may land on different pods; there the position
// would travel with the principal (a cookie or a token claim set from
// LastWriteLSN, or a Redis key per principal), which this package leaves to
// the caller through WithSessionLSN.
//
// A health checker polls every replica: one that does not answer, is no
// longer in recovery, or lags beyond the configured bytes or seconds is taken
// out of rotation and put back once it passes again. A read that fails on a
// replica with a connection error takes the replica out and runs again on
// the primary, so a replica dying between two checks costs no failed read.

// Replica defaults.
const (
	DefaultReplicaMaxLagBytes = 16 << 20 // 16 MiB of WAL
	DefaultReplicaMaxLag      = 30 * time.Second
	DefaultReplicaCheck       = 2 * time.Second
	DefaultSessionTTL         = 5 * time.Minute
)

// Read targets, the label of backhaul_db_reads_total.
const (
	TargetPrimary = "primary"
	TargetReplica = "replica"
)

type sessionKey struct{}

// WithSession returns ctx whose reads and writes belong to the session key
// (a principal's subject). Config.SessionKey derives keys for contexts
// without one.
func WithSession(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, sessionKey{}, key)
}

type sessionLSNKey struct{}

// WithSessionLSN returns ctx whose reads must see at least the WAL position
// lsn (as returned by LastWriteLSN, possibly by another process).
func WithSessionLSN(ctx context.Context, lsn string) context.Context {
	return context.WithValue(ctx, sessionLSNKey{}, lsn)
}

func (db *DB) session(ctx context.Context) string {
	if k, ok := ctx.Value(sessionKey{}).(string); ok && k != "" {
		return k
	}
	if db.sessionKey != nil {
		return db.sessionKey(ctx)
	}
	return ""
}

// LSN is a PostgreSQL WAL position.
type LSN uint64

// ParseLSN parses PostgreSQL's text form of a WAL position ("16/B374D848").
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("lsn %q: want hi/lo", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("lsn %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("lsn %q: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xffffffff) }

// replica is one read replica and what the last check found.
type replica struct {
	name    string // host:port, for logs and metric labels
	db      *sql.DB
	healthy atomic.Bool
	replay  atomic.Uint64 // last replayed LSN seen
	polled  atomic.Int64  // when a read last asked for replay (Unix ns)
}

// replayPoll bounds how often a read that waits for a session's write asks
// a replica how far it has replayed, between the checker's rounds.
const replayPoll = 5 * time.Millisecond

// poll asks the replica how far it has replayed, at most once per
// replayPoll across all readers, so a writer's reads return to the replica
// as soon as it caught up rather than at the next health check.
func (r *replica) poll(ctx context.Context) {
	now := time.Now().UnixNano()
	last := r.polled.Load()
	if now-last < int64(replayPoll) || !r.polled.CompareAndSwap(last, now) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	var s sql.NullString
	if err := r.db.QueryRowContext(ctx, `SELECT pg_last_wal_replay_lsn()::text`).Scan(&s); err != nil || !s.Valid {
		return // the checker decides about health
	}
	if l, err := ParseLSN(s.String); err == nil {
		for {
			old := r.replay.Load()
			if uint64(l) <= old || r.replay.CompareAndSwap(old, uint64(l)) {
				return
			}
		}
	}
}

// sessions remembers each principal's last write position until it expires.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]sessionWrite
}

type sessionWrite struct {
	lsn     LSN
	expires time.Time
}

func (s *sessions) set(key string, lsn LSN, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.m[key]; ok && w.lsn > lsn && now.Before(w.expires) {
		lsn = w.lsn
	}
	s.m[key] = sessionWrite{lsn: lsn, expires: now.Add(s.ttl)}
}

func (s *sessions) get(key string, now time.Time) LSN {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.m[key]
	if !ok {
		return 0
	}
	if !now.Before(w.expires) {
		delete(s.m, key)
		return 0
	}
	return w.lsn
}

// prune forgets expired positions and those every healthy replica passed.
func (s *sessions) prune(now time.Time, replayed LSN) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, w := range s.m {
		if !now.Before(w.expires) || w.lsn <= replayed {
			delete(s.m, k)
		}
	}
}

func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// replicaSet routes stale-tolerant reads.
type replicaSet struct {
	list        []*replica
	next        atomic.Uint64
	maxLagBytes int64
	maxLag      time.Duration
	interval    time.Duration
	sessions    sessions
	log         *slog.Logger

	reads   *prometheus.CounterVec
	lagB    *prometheus.GaugeVec
	lagS    *prometheus.GaugeVec
	healthy prometheus.GaugeFunc
	removed *prometheus.CounterVec
	sticky  prometheus.GaugeFunc

	stop context.CancelFunc
	done chan struct{}
}

func newReadMetrics(rs *replicaSet) {
	rs.reads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backhaul_db_reads_total",
		Help: "Stale-tolerant reads by where they ran: primary or replica.",
	}, []string{"target"})
	rs.lagB = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "backhaul_db_replica_lag_bytes",
		Help: "WAL bytes the replica has not replayed yet, at the last check.",
	}, []string{"replica"})
	rs.lagS = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "backhaul_db_replica_lag_seconds",
		Help: "Seconds since the replica replayed its last transaction while behind the primary.",
	}, []string{"replica"})
	rs.healthy = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "backhaul_db_replicas_healthy",
		Help: "Replicas currently serving reads.",
	}, func() float64 { return float64(rs.healthyCount()) })
	rs.removed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backhaul_db_replica_removals_total",
		Help: "Times a replica was taken out of rotation, by reason.",
	}, []string{"replica", "reason"})
	rs.sticky = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "backhaul_db_sticky_sessions",
		Help: "Principals whose reads stay on the primary until the replicas catch up with their last write.",
	}, func() float64 { return float64(rs.sessions.len()) })
	rs.reads.WithLabelValues(TargetPrimary)
	rs.reads.WithLabelValues(TargetReplica)
}

func (rs *replicaSet) healthyCount() int {
	if rs == nil {
		return 0
	}
	n := 0
	for _, r := range rs.list {
		if r.healthy.Load() {
			n++
		}
	}
	return n
}

// pick returns the next healthy replica that has replayed at least need, or
// nil when the read must go to the primary.
func (rs *replicaSet) pick(need LSN) *replica {
	n := uint64(len(rs.list))
	start := rs.next.Add(1)
	for i := range n {
		r := rs.list[(start+i)%n]
		if r.healthy.Load() && LSN(r.replay.Load()) >= need {
			return r
		}
	}
	return nil
}

// openReplicas connects to each replica URL; checks run from the start.
func (db *DB) openReplicas(cfg Config) error {
	rs := &replicaSet{
		maxLagBytes: cfg.ReplicaMaxLagBytes,
		maxLag:      cfg.ReplicaMaxLag,
		interval:    cfg.ReplicaCheckInterval,
		sessions:    sessions{ttl: cfg.SessionTTL, m: map[string]sessionWrite{}},
		log:         db.log,
	}
	if rs.maxLagBytes <= 0 {
		rs.maxLagBytes = DefaultReplicaMaxLagBytes
	}
	if rs.maxLag <= 0 {
		rs.maxLag = DefaultReplicaMaxLag
	}
	if rs.interval <= 0 {
		rs.interval = DefaultReplicaCheck
	}
	if rs.sessions.ttl <= 0 {
		rs.sessions.ttl = DefaultSessionTTL
	}
	newReadMetrics(rs)
	db.replicas = rs
	for _, raw := range cfg.ReplicaURLs {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return fmt.Errorf("replica url %q: want postgres://", redact(raw))
		}
		conn, err := sql.Open("pgx", db.pgURL(raw))
		if err != nil {
			return fmt.Errorf("open replica %s: %w", u.Host, err)
		}
		conn.SetMaxOpenConns(cfg.MaxOpenConns)
		conn.SetMaxIdleConns(cfg.MaxOpenConns)
		conn.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
		rs.list = append(rs.list, &replica{name: u.Host, db: conn})
	}
	return nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparseable)"
}

// startReplicaChecks runs one check at once, then one per interval.
func (db *DB) startReplicaChecks(ctx context.Context) {
	rs := db.replicas
	db.CheckReplicas(ctx)
	cctx, cancel := context.WithCancel(context.Background())
	rs.stop, rs.done = cancel, make(chan struct{})
	go func() {
		defer close(rs.done)
		t := time.NewTicker(rs.interval)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
				db.CheckReplicas(cctx)
			}
		}
	}()
}

func (rs *replicaSet) close() error {
	if rs.stop != nil {
		rs.stop()
		<-rs.done
	}
	var err error
	for _, r := range rs.list {
		err = errors.Join(err, r.db.Close())
	}
	return err
}

// CheckReplicas checks every replica now, taking out those that fail or lag
// and putting back those that pass. The background checker calls it every
// ReplicaCheckInterval; tests call it to avoid waiting.
func (db *DB) CheckReplicas(ctx context.Context) {
	rs := db.replicas
	if rs == nil || len(rs.list) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, min(max(rs.interval, time.Second), 5*time.Second))
	defer cancel()
	primary, perr := db.currentLSN(cctx)
	var wg sync.WaitGroup
	for _, r := range rs.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reason := rs.check(cctx, r, primary, perr == nil)
			db.setHealth(r, reason)
		}()
	}
	wg.Wait()
	minReplay := LSN(math.MaxUint64)
	any := false
	for _, r := range rs.list {
		if r.healthy.Load() {
			minReplay, any = min(minReplay, LSN(r.replay.Load())), true
		}
	}
	if !any {
		minReplay = 0
	}
	rs.sessions.prune(db.now(), minReplay)
}

// check returns why r must not serve reads, or "" when it may.
func (rs *replicaSet) check(ctx context.Context, r *replica, primary LSN, primaryKnown bool) string {
	var inRecovery bool
	var replay, receive sql.NullString
	var since float64
	err := r.db.QueryRowContext(ctx, `SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
		pg_last_wal_receive_lsn()::text, COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8`).
		Scan(&inRecovery, &replay, &receive, &since)
	if err != nil {
		rs.log.Debug("replica check failed", "replica", r.name, "err", err)
		return "unreachable"
	}
	if !inRecovery || !replay.Valid {
		return "not_in_recovery"
	}
	lsn, err := ParseLSN(replay.String)
	if err != nil {
		return "unreachable"
	}
	r.replay.Store(uint64(lsn))
	var lagBytes int64
	if primaryKnown && primary > lsn {
		lagBytes = int64(primary - lsn)
	}
	// An idle primary writes nothing to replay, so the time since the last
	// replayed transaction only counts while the replica is behind.
	lagSeconds := since
	switch {
	case primaryKnown && lagBytes == 0:
		lagSeconds = 0
	case !primaryKnown && receive.Valid && receive.String == replay.String:
		lagSeconds = 0
	}
	rs.lagB.WithLabelValues(r.name).Set(float64(lagBytes))
	rs.lagS.WithLabelValues(r.name).Set(lagSeconds)
	switch {
	case lagBytes > rs.maxLagBytes:
		return "lag_bytes"
	case lagSeconds > rs.maxLag.Seconds():
		return "lag_seconds"
	}
	return ""
}

func (db *DB) setHealth(r *replica, reason string) {
	rs := db.replicas
	ok := reason == ""
	if was := r.healthy.Swap(ok); was == ok {
		return
	}
	if ok {
		rs.log.Info("replica back in rotation", "replica", r.name)
		return
	}
	rs.removed.WithLabelValues(r.name, reason).Inc()
	rs.log.Warn("replica taken out of rotation", "replica", r.name, "reason", reason)
}

// currentLSN is the primary's WAL insert position.
func (db *DB) currentLSN(ctx context.Context) (LSN, error) {
	var s string
	if err := db.write.QueryRowContext(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&s); err != nil {
		return 0, fmt.Errorf("primary wal position: %w", err)
	}
	return ParseLSN(s)
}

// noteWrite remembers the primary's WAL position for the session of ctx
// after a committed write, so the session's next reads see it.
func (db *DB) noteWrite(ctx context.Context) {
	rs := db.replicas
	if rs == nil || len(rs.list) == 0 {
		return
	}
	key := db.session(ctx)
	if key == "" {
		return
	}
	lsn, err := db.currentLSN(context.WithoutCancel(ctx))
	if err != nil {
		// Unknown position: stay on the primary until the entry expires.
		lsn = LSN(math.MaxUint64)
	}
	rs.sessions.set(key, lsn, db.now())
}

// LastWriteLSN is the WAL position the session of ctx must read at least,
// or "" when it has none: to hand to another process (WithSessionLSN).
func (db *DB) LastWriteLSN(ctx context.Context) string {
	if db.replicas == nil {
		return ""
	}
	if key := db.session(ctx); key != "" {
		if l := db.replicas.sessions.get(key, db.now()); l != 0 {
			return l.String()
		}
	}
	return ""
}

// RegisterMetrics registers the read-routing metrics: reads by target,
// replica lag and the number of healthy replicas. Without replicas every
// stale-tolerant read counts as a primary read.
func (db *DB) RegisterMetrics(reg prometheus.Registerer) error {
	rs := db.replicas
	if rs == nil {
		rs = &replicaSet{sessions: sessions{m: map[string]sessionWrite{}}}
		newReadMetrics(rs)
		db.primaryReads = rs.reads.WithLabelValues(TargetPrimary)
	}
	for _, c := range []prometheus.Collector{rs.reads, rs.lagB, rs.lagS, rs.healthy, rs.removed, rs.sticky} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("store metrics: %w", err)
		}
	}
	return nil
}

// Reader runs reads that tolerate staleness. It is bound to one target,
// chosen when it was made.
type Reader struct {
	db  *DB
	rep *replica // nil for the primary
}

// Reader returns where the next stale-tolerant read of ctx's session runs:
// a healthy replica round-robin, or the primary when there is none, when
// ctx carries no session key and the store has no replicas, or while the
// session's last write has not reached any healthy replica yet.
func (db *DB) Reader(ctx context.Context) *Reader {
	rs := db.replicas
	if rs == nil || len(rs.list) == 0 {
		return &Reader{db: db}
	}
	var need LSN
	if key := db.session(ctx); key != "" {
		need = rs.sessions.get(key, db.now())
	}
	if s, ok := ctx.Value(sessionLSNKey{}).(string); ok && s != "" {
		l, err := ParseLSN(s)
		if err != nil {
			l = LSN(math.MaxUint64)
		}
		need = max(need, l)
	}
	r := rs.pick(need)
	if r == nil && need != 0 && need != LSN(math.MaxUint64) {
		// The session's write may have reached a replica since the last
		// check: ask one, then pick again.
		if c := rs.pick(0); c != nil {
			c.poll(ctx)
			r = rs.pick(need)
		}
	}
	return &Reader{db: db, rep: r}
}

// Primary returns a Reader bound to the primary, counted as a primary read:
// for callers that choose per read whether staleness is acceptable.
func (db *DB) Primary() *Reader { return &Reader{db: db} }

// Target is "primary" or "replica".
func (r *Reader) Target() string {
	if r.rep == nil {
		return TargetPrimary
	}
	return TargetReplica
}

// Replica names the replica (host:port), or "" on the primary.
func (r *Reader) Replica() string {
	if r.rep == nil {
		return ""
	}
	return r.rep.name
}

func (r *Reader) count(target string) {
	rs := r.db.replicas
	switch {
	case rs != nil && rs.reads != nil:
		rs.reads.WithLabelValues(target).Inc()
	case r.db.primaryReads != nil:
		r.db.primaryReads.Inc()
	}
}

// Query runs a read query; a replica that fails to answer is taken out and
// the query runs again on the primary.
func (r *Reader) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if r.rep != nil {
		rows, err := r.rep.db.QueryContext(ctx, r.db.dialect.Rebind(q), r.db.dialect.Args(args)...)
		if err == nil || !r.failover(ctx, err) {
			r.count(TargetReplica)
			return rows, err
		}
	}
	r.count(TargetPrimary)
	return r.db.Query(ctx, q, args...)
}

// QueryRow runs a single-row read query, with the failover of Query.
func (r *Reader) QueryRow(ctx context.Context, q string, args ...any) *Row {
	rows, err := r.Query(ctx, q, args...)
	return &Row{rows: rows, err: err}
}

// failover reports whether err is the replica's fault (not the query's or
// the caller's), taking the replica out when it is.
func (r *Reader) failover(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Recovery conflicts cancel queries on a replica (40001, 57014
		// without our cancellation), a replica that has not replayed a
		// migration yet lacks its tables and columns (42P01, 42703), and an
		// admin shutdown (57P01-57P03) stops it: the primary can answer.
		switch pe.Code {
		case "40001", "57014", "42P01", "42703":
			return true
		case "57P01", "57P02", "57P03":
		default:
			return false
		}
	}
	r.db.setHealth(r.rep, "read_failed")
	return true
}

// Row is one row of a Reader query.
type Row struct {
	rows *sql.Rows
	err  error
}

// Scan copies the row's columns into dest; sql.ErrNoRows when there is none.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}

// Err is the error of running the query, if any.
func (r *Row) Err() error { return r.err }

// ReadQuery runs a stale-tolerant read query (db.Reader(ctx).Query).
func (db *DB) ReadQuery(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.Reader(ctx).Query(ctx, q, args...)
}

// ReadQueryRow runs a stale-tolerant single-row read (db.Reader(ctx).QueryRow).
func (db *DB) ReadQueryRow(ctx context.Context, q string, args ...any) *Row {
	return db.Reader(ctx).QueryRow(ctx, q, args...)
}

// ReplicaStatus is what the last check found about one replica.
type ReplicaStatus struct {
	Name    string
	Healthy bool
	Replay  LSN
}

// Replicas reports every replica's state.
func (db *DB) Replicas() []ReplicaStatus {
	if db.replicas == nil {
		return nil
	}
	out := make([]ReplicaStatus, len(db.replicas.list))
	for i, r := range db.replicas.list {
		out[i] = ReplicaStatus{Name: r.name, Healthy: r.healthy.Load(), Replay: LSN(r.replay.Load())}
	}
	return out
}

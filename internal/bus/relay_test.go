package bus

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/backhaul/backhaul/internal/event"
)

// sqliteOutbox is an outbox table in a real SQLite database, written the way
// services write theirs: the event row goes in with the change, in one
// transaction.
type sqliteOutbox struct {
	db *sql.DB
}

func newSQLiteOutbox(t *testing.T) *sqliteOutbox {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "outbox.db") + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	db.SetMaxOpenConns(1) // one writer, as SQLite wants
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE outbox (
		seq          INTEGER PRIMARY KEY AUTOINCREMENT,
		event_id     TEXT NOT NULL UNIQUE,
		body         TEXT NOT NULL,
		published_at TEXT
	)`)
	if err != nil {
		t.Fatalf("create outbox: %v", err)
	}
	return &sqliteOutbox{db: db}
}

// write inserts e in a transaction and commits it, or rolls it back.
func (o *sqliteOutbox) write(ctx context.Context, e event.Event, commit bool) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (event_id, body) VALUES (?, ?)`, e.ID, string(body)); err != nil {
		tx.Rollback()
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}

func (o *sqliteOutbox) Pending(ctx context.Context, limit int) ([]Pending, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT seq, body FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		var p Pending
		var body string
		if err := rows.Scan(&p.Seq, &body); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &p.Event); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (o *sqliteOutbox) MarkPublished(ctx context.Context, seqs []int64) error {
	args := make([]any, len(seqs))
	for i, s := range seqs {
		args[i] = s
	}
	q := `UPDATE outbox SET published_at = datetime('now') WHERE seq IN (?` + strings.Repeat(",?", len(seqs)-1) + `)`
	_, err := o.db.ExecContext(ctx, q, args...)
	return err
}

func (o *sqliteOutbox) unpublished(t *testing.T) map[string]bool {
	t.Helper()
	rows, err := o.db.Query(`SELECT event_id FROM outbox WHERE published_at IS NULL`)
	if err != nil {
		t.Fatalf("query unpublished: %v", err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	return ids
}

// crashingPublisher publishes through inner and, right after its n-th
// acknowledged publish, cancels the relay's context: the relay dies with
// events acknowledged by the stream but not yet marked in the outbox.
type crashingPublisher struct {
	inner     Publisher
	n         int
	crash     context.CancelFunc
	published []string
}

func (p *crashingPublisher) Publish(ctx context.Context, e event.Event) error {
	if err := p.inner.Publish(ctx, e); err != nil {
		return err
	}
	p.published = append(p.published, e.ID)
	if len(p.published) == p.n {
		p.crash()
	}
	return nil
}

// runRelay runs r until ctx ends and fails the test if Run does not return nil.
func runRelay(t *testing.T, ctx context.Context, r *Relay) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
	}()
	return done
}

func waitDone(t *testing.T, ctx context.Context, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("relay did not stop")
	}
}

func metricValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestRelayPublishesEachCommittedEventOnceAcrossCrashes(t *testing.T) {
	t.Parallel()
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			b := eng.open(t)
			outbox := newSQLiteOutbox(t)
			reg := prometheus.NewRegistry()

			var committed []string
			rolledBack := map[string]bool{}
			n := 0
			write := func(commits int) {
				t.Helper()
				for range commits {
					n++
					e := newEvent(t, "loads.posted.v1", n)
					if err := outbox.write(ctx, e, true); err != nil {
						t.Fatalf("commit: %v", err)
					}
					committed = append(committed, e.ID)
				}
				n++
				e := newEvent(t, "loads.cancelled.v1", n)
				if err := outbox.write(ctx, e, false); err != nil {
					t.Fatalf("rollback: %v", err)
				}
				rolledBack[e.ID] = true
			}

			// Two crashes, each right after an acknowledged publish and
			// before the relay could mark it.
			for _, crashAfter := range []int{3, 4} {
				write(5)
				rctx, crash := context.WithCancel(ctx)
				pub := &crashingPublisher{inner: b, n: crashAfter, crash: crash}
				r, err := NewRelay(outbox, pub, RelayConfig{BatchSize: 2}, testLogger(t), reg)
				if err != nil {
					t.Fatal(err)
				}
				waitDone(t, ctx, runRelay(t, rctx, r))
				if len(pub.published) < crashAfter {
					t.Fatalf("relay published %d events before the crash, want at least %d", len(pub.published), crashAfter)
				}
				unpublished := outbox.unpublished(t)
				if last := pub.published[len(pub.published)-1]; !unpublished[last] {
					t.Fatalf("event %s acknowledged before the crash was marked published: the crash came too late to test anything", last)
				}
			}

			// A healthy relay, woken by Notify while services keep committing.
			write(5)
			rctx, stop := context.WithCancel(ctx)
			r, err := NewRelay(outbox, b, RelayConfig{Interval: time.Hour}, testLogger(t), reg)
			if err != nil {
				t.Fatal(err)
			}
			done := runRelay(t, rctx, r)
			for range 3 {
				write(2)
				for range 100 {
					r.Notify() // never blocks, however often it is called
				}
			}
			// With an hour between polls, only Notify can drain the outbox.
			eventually(t, ctx, "outbox drained", func() (bool, string) {
				left := len(outbox.unpublished(t))
				return left == 0, fmt.Sprintf("%d events unpublished", left)
			})
			stop()
			waitDone(t, ctx, done)

			stored := storedEvents(t, ctx, b)
			got := make([]string, len(stored))
			for i, e := range stored {
				got[i] = e.ID
				if rolledBack[e.ID] {
					t.Errorf("rolled-back event %s reached the stream", e.ID)
				}
			}
			if strings.Join(got, ",") != strings.Join(committed, ",") {
				t.Fatalf("stream holds %d events:\n got %v\nwant %v (each committed event once, in commit order)", len(got), got, committed)
			}
			if got, want := metricValue(t, reg, "backhaul_outbox_published_total"), float64(len(committed)); got <= want {
				t.Errorf("backhaul_outbox_published_total: got %v, want more than %v (events re-published after the crashes count too)", got, want)
			}
			if got := metricValue(t, reg, "backhaul_outbox_lag_seconds"); got != 0 {
				t.Errorf("backhaul_outbox_lag_seconds with an empty outbox: got %v, want 0", got)
			}
		})
	}
}

// flakyPublisher fails the first attempt at one event.
type flakyPublisher struct {
	inner  Publisher
	failID string
	mu     sync.Mutex
	failed bool
}

func (p *flakyPublisher) Publish(ctx context.Context, e event.Event) error {
	p.mu.Lock()
	fail := e.ID == p.failID && !p.failed
	if fail {
		p.failed = true
	}
	p.mu.Unlock()
	if fail {
		return errors.New("stream unavailable")
	}
	return p.inner.Publish(ctx, e)
}

func TestRelayStopsBatchAtFirstFailure(t *testing.T) {
	t.Parallel()
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			b := eng.open(t)
			outbox := newSQLiteOutbox(t)
			var committed []string
			for i := range 6 {
				e := newEvent(t, "matching.suggested.v1", i)
				if err := outbox.write(ctx, e, true); err != nil {
					t.Fatal(err)
				}
				committed = append(committed, e.ID)
			}
			reg := prometheus.NewRegistry()
			pub := &flakyPublisher{inner: b, failID: committed[2]}
			r, err := NewRelay(outbox, pub, RelayConfig{MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, testLogger(t), reg)
			if err != nil {
				t.Fatal(err)
			}
			rctx, stop := context.WithCancel(ctx)
			done := runRelay(t, rctx, r)
			eventually(t, ctx, "outbox drained", func() (bool, string) {
				left := len(outbox.unpublished(t))
				return left == 0, fmt.Sprintf("%d events unpublished", left)
			})
			stop()
			waitDone(t, ctx, done)

			stored := storedEvents(t, ctx, b)
			got := make([]string, len(stored))
			for i, e := range stored {
				got[i] = e.ID
			}
			if strings.Join(got, ",") != strings.Join(committed, ",") {
				t.Fatalf("stream order:\n got %v\nwant %v", got, committed)
			}
			if got, want := metricValue(t, reg, "backhaul_outbox_publish_errors_total"), 1.0; got != want {
				t.Errorf("backhaul_outbox_publish_errors_total: got %v, want %v", got, want)
			}
		})
	}
}

type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, event.Event) error {
	return errors.New("stream unavailable")
}

func TestRelayLagIsAgeOfOldestPendingEvent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	outbox := newSQLiteOutbox(t)
	committedAt := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{committedAt, committedAt.Add(time.Minute)} {
		e, err := event.New("notify.sent.v1", "org", "n", at, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := outbox.write(ctx, e, true); err != nil {
			t.Fatal(err)
		}
	}
	now := committedAt.Add(90 * time.Second)
	reg := prometheus.NewRegistry()
	r, err := NewRelay(outbox, failingPublisher{}, RelayConfig{MinBackoff: time.Millisecond, Now: func() time.Time { return now }}, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := runRelay(t, rctx, r)
	eventually(t, ctx, "publish errors counted", func() (bool, string) {
		n := metricValue(t, reg, "backhaul_outbox_publish_errors_total")
		return n >= 2, fmt.Sprintf("%v errors", n)
	})
	stop()
	waitDone(t, ctx, done)
	if got, want := metricValue(t, reg, "backhaul_outbox_lag_seconds"), 90.0; got != want {
		t.Errorf("backhaul_outbox_lag_seconds: got %v, want %v", got, want)
	}
	if got := metricValue(t, reg, "backhaul_outbox_published_total"); got != 0 {
		t.Errorf("backhaul_outbox_published_total: got %v, want 0", got)
	}
	if got, want := len(outbox.unpublished(t)), 2; got != want {
		t.Errorf("unpublished after failures: got %d, want %d", got, want)
	}
}

func TestNewRelayRejectsConflictingMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "backhaul_outbox_published_total", Help: "not a counter"}))
	if _, err := NewRelay(nil, nil, RelayConfig{}, nil, reg); err == nil {
		t.Fatalf("got no error, want one for a metric name taken by another type")
	}
}

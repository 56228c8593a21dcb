package store_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in   string
		want store.LSN
		ok   bool
	}{
		{"0/0", 0, true},
		{"16/B374D848", 0x16_B374D848, true},
		{"FFFFFFFF/FFFFFFFF", math.MaxUint64, true},
		{"", 0, false},
		{"16", 0, false},
		{"1/2/3", 0, false},
		{"G/0", 0, false},
		{"100000000/0", 0, false},
	}
	for _, tt := range tests {
		got, err := store.ParseLSN(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseLSN(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != strings.ToUpper(tt.in) {
			t.Errorf("LSN(%q).String() = %q", tt.in, got.String())
		}
	}
}

func FuzzParseLSN(f *testing.F) {
	for _, s := range []string{"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF", "", "/", "a/b/c", "-1/0", "+1/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := store.ParseLSN(s)
		if err != nil {
			return
		}
		back, err := store.ParseLSN(l.String())
		if err != nil || back != l {
			t.Fatalf("ParseLSN(%q) = %v, whose text %q parses to %v, %v", s, l, l.String(), back, err)
		}
	})
}

// Without replicas every read runs on the primary, on both engines.
func TestReaderWithoutReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := store.WithSession(context.Background(), "user:a")
		reg := prometheus.NewRegistry()
		if err := db.RegisterMetrics(reg); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)`, "c", "e1", db.Now()); err != nil {
			t.Fatal(err)
		}
		r := db.Reader(ctx)
		if r.Target() != store.TargetPrimary {
			t.Errorf("target = %s, want primary", r.Target())
		}
		var n int
		if err := r.QueryRow(ctx, `SELECT COUNT(*) FROM processed_events WHERE consumer = ?`, "c").Scan(&n); err != nil || n != 1 {
			t.Fatalf("count = %d, %v; want 1", n, err)
		}
		if err := db.ReadQueryRow(ctx, `SELECT event_id FROM processed_events WHERE consumer = ?`, "none").Scan(new(string)); err == nil {
			t.Error("QueryRow of no row: want sql.ErrNoRows")
		}
		if got := counter(t, reg, "backhaul_db_reads_total", "primary"); got != 2 {
			t.Errorf("primary reads = %v, want 2", got)
		}
	})
}

// counter reads the value of a metric with one label value.
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{%s} not found", name, label)
	return 0
}

// gauge reads an unlabelled gauge.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("gauge %s not found", name)
	return 0
}

// waitFor checks the replicas until cond holds (a replica replays
// asynchronously), failing after a minute.
func waitFor(t *testing.T, db *store.DB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s; replicas %+v", what, db.Replicas())
		}
		time.Sleep(50 * time.Millisecond)
		db.CheckReplicas(context.Background())
	}
}

// TestReadReplicas runs against a real streaming replica: stale-tolerant
// reads go to it, a principal reads its own writes, and a replica that dies
// or lags is taken out and comes back.
func TestReadReplicas(t *testing.T) {
	c := storetest.StartCluster(t)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{
		URL: c.Primary.URL, ReplicaURLs: []string{c.Replica.URL},
		ReplicaMaxLagBytes: 256 << 10, ReplicaMaxLag: time.Hour,
		// The test drives the checks itself.
		ReplicaCheckInterval: time.Hour,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	if err := db.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	insert := func(ctx context.Context, id string) {
		t.Helper()
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)`, "r", id, tx.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	has := func(r *store.Reader, ctx context.Context, id string) bool {
		t.Helper()
		var n int
		if err := r.QueryRow(ctx, `SELECT COUNT(*) FROM processed_events WHERE event_id = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	inRecovery := func(r *store.Reader) bool {
		t.Helper()
		var rec bool
		if err := r.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}

	t.Run("reads go to the replica", func(t *testing.T) {
		insert(ctx, "anon")
		waitFor(t, db, "the replica has the migrations and the row", func() bool {
			r := db.Reader(ctx)
			return r.Target() == store.TargetReplica && has(r, ctx, "anon")
		})
		for range 4 {
			r := db.Reader(ctx)
			if r.Target() != store.TargetReplica || r.Replica() != c.Replica.URL[len("postgres://postgres@"):strings.LastIndex(c.Replica.URL, "/")] {
				t.Fatalf("reader on %s %s, want the replica", r.Target(), r.Replica())
			}
			if !inRecovery(r) {
				t.Fatal("a replica read ran on a server not in recovery")
			}
		}
		if got := gauge(t, reg, "backhaul_db_replicas_healthy"); got != 1 {
			t.Errorf("healthy replicas = %v, want 1", got)
		}
	})

	t.Run("a principal reads its own writes", func(t *testing.T) {
		alice := store.WithSession(ctx, "user:alice")
		bob := store.WithSession(ctx, "user:bob")
		// Hold replay so that the write cannot reach the replica before
		// the first read: the read must then go to the primary.
		c.Replica.Exec(`SELECT pg_wal_replay_pause()`)
		insert(alice, "alice-1")
		lsn, err := store.ParseLSN(db.LastWriteLSN(alice))
		if err != nil || lsn == 0 {
			t.Fatalf("LastWriteLSN = %v, %v; want the commit's position", lsn, err)
		}
		db.CheckReplicas(ctx)
		r := db.Reader(alice)
		if r.Target() != store.TargetPrimary || !has(r, alice, "alice-1") || inRecovery(r) {
			t.Fatalf("alice's read after her write ran on %s; want the primary, seeing the write", r.Target())
		}
		if r := db.Reader(bob); r.Target() != store.TargetReplica || has(r, bob, "alice-1") {
			t.Fatalf("bob's read ran on %s; want the paused replica, not yet seeing the write", r.Target())
		}
		c.Replica.Exec(`SELECT pg_wal_replay_resume()`)
		waitFor(t, db, "the replica replays past alice's write", func() bool {
			return db.Replicas()[0].Replay >= lsn
		})
		r = db.Reader(alice)
		if r.Target() != store.TargetReplica || !has(r, alice, "alice-1") {
			t.Fatalf("alice's read after catch-up ran on %s; want the replica, seeing the write", r.Target())
		}
	})

	t.Run("a lagging replica is taken out", func(t *testing.T) {
		c.Replica.Exec(`SELECT pg_wal_replay_pause()`)
		// About 1 MiB of WAL, beyond the 256 KiB bound.
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at)
				SELECT 'lag', 'lag-' || g, now() FROM generate_series(1, 5000) g`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		db.CheckReplicas(ctx)
		if st := db.Replicas()[0]; st.Healthy {
			t.Fatalf("replica %+v still healthy while 1 MiB behind", st)
		}
		if r := db.Reader(ctx); r.Target() != store.TargetPrimary || !has(r, ctx, "lag-5000") {
			t.Fatalf("read while the replica lags ran on %s", r.Target())
		}
		c.Replica.Exec(`SELECT pg_wal_replay_resume()`)
		waitFor(t, db, "the replica catches up", func() bool { return db.Reader(ctx).Target() == store.TargetReplica })
	})

	t.Run("a stopped replica is taken out and comes back", func(t *testing.T) {
		c.Replica.Stop()
		// The cached state still says healthy: the read fails over.
		r := db.Reader(ctx)
		if r.Target() != store.TargetReplica {
			t.Fatalf("reader on %s before the check noticed, want the replica", r.Target())
		}
		if !has(r, ctx, "alice-1") {
			t.Fatal("read after the replica stopped lost the row")
		}
		if db.Replicas()[0].Healthy {
			t.Fatal("a failed replica read left the replica in rotation")
		}
		db.CheckReplicas(ctx)
		for range 3 {
			if r := db.Reader(ctx); r.Target() != store.TargetPrimary || !has(r, ctx, "anon") {
				t.Fatalf("read with the replica down ran on %s", r.Target())
			}
		}
		if got := gauge(t, reg, "backhaul_db_replicas_healthy"); got != 0 {
			t.Errorf("healthy replicas = %v, want 0", got)
		}
		insert(ctx, "while-down")
		c.Replica.Start()
		waitFor(t, db, "the restarted replica is back", func() bool { return db.Reader(ctx).Target() == store.TargetReplica })
		waitFor(t, db, "the restarted replica has the write made while it was down", func() bool {
			r := db.Reader(ctx)
			return r.Target() == store.TargetReplica && has(r, ctx, "while-down")
		})
	})

	if got := counter(t, reg, "backhaul_db_reads_total", "replica"); got == 0 {
		t.Error("no replica reads counted")
	}
}

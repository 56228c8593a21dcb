package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// boardQuery mirrors the load board's default page (internal/loads,
// board.go): open loads of one equipment type, newest first.
const boardQuery = `SELECT id, org_id, reference, origin_city, origin_state, origin_lat, origin_lon, dest_city, dest_state,
	dest_lat, dest_lon, pickup_start, pickup_end, delivery_start, delivery_end, equipment, weight_lbs, rate_cents, miles,
	status, carrier_id, driver_id, created_at, updated_at, version
	FROM loads WHERE status = 'posted' AND equipment = ? ORDER BY id DESC LIMIT 26`

var equipment = []string{"van", "reefer", "flatbed", "step_deck"}

func seedBoard(b *testing.B, db *store.DB) {
	b.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO organizations (id, name, kind, created_at) VALUES ('s1', 'Shipper', 'shipper', now())`,
		`INSERT INTO loads (id, org_id, origin_lat, origin_lon, dest_lat, dest_lon, pickup_start, pickup_end,
			delivery_start, delivery_end, equipment, weight_lbs, rate_cents, miles, status, carrier_id, driver_id,
			created_by, created_at, updated_at)
		SELECT 'L' || lpad(g::text, 6, '0'), 's1', 30 + (g % 17), -100 + (g % 23), 35 + (g % 13), -90 + (g % 19),
			now() + make_interval(hours => g % 500), now() + make_interval(hours => g % 500 + 4),
			now() + make_interval(hours => g % 500 + 24), now() + make_interval(hours => g % 500 + 30),
			(ARRAY['van', 'reefer', 'flatbed', 'step_deck'])[1 + (g / 10) % 4], 30000, 250000, 500,
			CASE WHEN g % 10 = 0 THEN 'posted' ELSE 'delivered' END, '', '', 'u', now(), now()
		FROM generate_series(1, 40000) g`,
		`ANALYZE loads`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

func timeQuery(b *testing.B, r *store.Reader, ctx context.Context, eq string) time.Duration {
	b.Helper()
	start := time.Now()
	rows, err := r.Query(ctx, boardQuery, eq)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n == 0 {
		b.Fatalf("board read %d rows: %v", n, err)
	}
	rows.Close()
	return time.Since(start)
}

func quantile(d []time.Duration, q float64) float64 {
	slices.Sort(d)
	return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
}

// BenchmarkReadRouting measures, on a primary and a streaming replica made
// for it, with 40,000 loads of which 4,000 are open: the load-board query's
// latency on each (interleaved, 2,000 runs each, one client), then a load
// test of 16 principals who read the board and, one request in 20, write,
// each reading its own write back at once. It reports the share of reads
// the router sent to the replica and the reads that missed the reader's own
// write (must be 0). Sub-benchmarks vary the replica check interval, which
// bounds how soon a writer's reads return to the replica.
//
//	go test ./internal/store -run '^$' -bench ReadRouting -benchtime 1x
func BenchmarkReadRouting(b *testing.B) {
	c := storetest.StartCluster(b)
	ctx := context.Background()
	for _, check := range []time.Duration{2 * time.Second, 250 * time.Millisecond} {
		b.Run(fmt.Sprintf("check=%v", check), func(b *testing.B) {
			db, err := store.Open(ctx, store.Config{URL: c.Primary.URL, ReplicaURLs: []string{c.Replica.URL},
				MaxOpenConns: 32, ReplicaCheckInterval: check}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for _, q := range []string{`DROP SCHEMA public CASCADE`, `CREATE SCHEMA public`} {
				if _, err := db.Exec(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			seedBoard(b, db)
			deadline := time.Now().Add(time.Minute)
			for {
				db.CheckReplicas(ctx)
				var n int
				if r := db.Reader(ctx); r.Target() == store.TargetReplica {
					if err := r.QueryRow(ctx, `SELECT COUNT(*) FROM loads`).Scan(&n); err == nil && n == 40000 {
						break
					}
				}
				if time.Now().After(deadline) {
					b.Fatal("replica did not catch up with the seed")
				}
				time.Sleep(100 * time.Millisecond)
			}
			for b.Loop() {
				var onPrimary, onReplica []time.Duration
				for i := range 4000 {
					eq := equipment[i%4]
					if i%2 == 0 {
						onPrimary = append(onPrimary, timeQuery(b, db.Primary(), ctx, eq))
					} else if r := db.Reader(ctx); r.Target() == store.TargetReplica {
						onReplica = append(onReplica, timeQuery(b, r, ctx, eq))
					}
				}
				b.ReportMetric(quantile(onPrimary, 0.5), "primary-p50-ms")
				b.ReportMetric(quantile(onPrimary, 0.99), "primary-p99-ms")
				b.ReportMetric(quantile(onReplica, 0.5), "replica-p50-ms")
				b.ReportMetric(quantile(onReplica, 0.99), "replica-p99-ms")

				share, stale, reads := loadTest(b, db, 16, 10*time.Second)
				b.ReportMetric(share, "replica-share")
				b.ReportMetric(float64(stale), "stale-own-reads")
				b.ReportMetric(float64(reads)/10, "reads/s")
			}
		})
	}
}

// loadTest runs clients principals for d: each writes its own load's notes
// one request in 20 and reads them straight back, and otherwise reads the
// board. It returns the share of reads on the replica, the own-write reads
// that came back stale, and the number of reads.
func loadTest(b *testing.B, db *store.DB, clients int, d time.Duration) (share float64, stale, reads int64) {
	b.Helper()
	var replica, total, staleN atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx := store.WithSession(ctx, fmt.Sprintf("user:%d", i))
			own := fmt.Sprintf("L%06d", i*10+10) // a posted load per client
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for v := 0; ctx.Err() == nil; {
				if rng.IntN(20) == 0 {
					v++
					want := fmt.Sprintf("v%d", v)
					if _, err := db.Exec(sctx, `UPDATE loads SET notes = ? WHERE id = ?`, want, own); err != nil {
						return
					}
					r := db.Reader(sctx)
					var got string
					if err := r.QueryRow(sctx, `SELECT notes FROM loads WHERE id = ?`, own).Scan(&got); err != nil {
						return
					}
					count(r, &replica, &total)
					if got != want {
						staleN.Add(1)
					}
					continue
				}
				r := db.Reader(sctx)
				rows, err := r.Query(sctx, boardQuery, equipment[rng.IntN(4)])
				if err != nil {
					return
				}
				for rows.Next() {
				}
				rows.Close()
				count(r, &replica, &total)
			}
		}()
	}
	wg.Wait()
	if total.Load() == 0 {
		b.Fatal("no reads")
	}
	return float64(replica.Load()) / float64(total.Load()), staleN.Load(), total.Load()
}

func count(r *store.Reader, replica, total *atomic.Int64) {
	total.Add(1)
	if r.Target() == store.TargetReplica {
		replica.Add(1)
	}
}

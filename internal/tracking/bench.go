package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/backhaul/backhaul/internal/accounts"
	"github.com/backhaul/backhaul/internal/auth"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// BenchResult is the summary `backhaul bench tracking` prints last.
type BenchResult struct {
	Machine            string  `json:"machine"`
	Engine             string  `json:"engine"`
	Date               string  `json:"date"`
	Duration           string  `json:"duration"`
	Concurrency        int     `json:"concurrency"`
	BatchPoints        int     `json:"batch_points"`
	Drivers            int     `json:"drivers"`
	Positions          int     `json:"positions"`
	PositionsPerSec    float64 `json:"positions_per_sec"`
	BatchP50Millis     float64 `json:"batch_p50_ms"`
	BatchP99Millis     float64 `json:"batch_p99_ms"`
	CopyBaseline       string  `json:"copy_baseline"`
	CopyBaselinePerSec float64 `json:"copy_baseline_per_sec"`
	RatioToCopy        float64 `json:"ratio_to_copy"`
	PacedRate          int     `json:"paced_positions_per_sec"`
	PacedBatch         int     `json:"paced_batch_points"`
	PacedAchieved      float64 `json:"paced_achieved_per_sec"`
	P50AckMillis       float64 `json:"p50_ack_ms"`
	P99AckMillis       float64 `json:"p99_ack_ms"`
	Errors             int     `json:"errors"`
}

// NewBenchCommand returns `bench tracking`: the real ingest path (HTTP
// batches through the service behind the real API-key authentication,
// filters, durable write, latest positions) at full speed, then paced at
// the scaling guide's per-pod rate for the acknowledgement latency, and a
// raw COPY of the same rows into the same table as the baseline.
func NewBenchCommand() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "tracking",
		Short: "Position ingest through the tracking service against a raw COPY of the same rows",
		Long: `Start the tracking service on its own HTTP listener with the real API-key
authentication, create a carrier with drivers and a dispatcher key, post at
a paced --paced-rate positions per second in batches of --paced-batch for
--duration and report the acknowledgement latency, measured from when each
batch was due. Then post batches of --batch positions (JSON arrays) from
--concurrency clients as fast as they are acknowledged for --duration,
counting only acknowledged (durable) positions. Finally empty the table and write the same rows
with a raw COPY (PostgreSQL) or a raw batched INSERT (SQLite) as the
baseline. On PostgreSQL everything happens in a schema of its own, dropped
at the end. Prints a table and, as its last line, a JSON summary.`,
		Example: `  backhaul bench tracking --database-url postgres://postgres@127.0.0.1:5432/test --duration 10s
  backhaul bench tracking --duration 5s   # embedded SQLite`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (default: embedded SQLite in a temporary directory)")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of the full-speed run and of the paced run")
	f.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients in the full-speed run")
	f.IntVar(&o.batch, "batch", 500, "positions per batch in the full-speed run")
	f.IntVar(&o.drivers, "drivers", 1000, "drivers reporting")
	f.IntVar(&o.pacedRate, "paced-rate", 5000, "positions per second of the paced run")
	f.IntVar(&o.pacedBatch, "paced-batch", 10, "positions per batch of the paced run")
	return cmd
}

type benchOptions struct {
	databaseURL                      string
	duration                         time.Duration
	concurrency, batch, drivers      int
	pacedRate, pacedBatch            int
	progress, out                    io.Writer
	schemaURL                        string
	schema                           string
	adminPool                        *pgxpool.Pool
	dispatchKey, carrierID, endpoint string
}

func runBench(ctx context.Context, o benchOptions, out, progress io.Writer) error {
	if o.concurrency < 1 || o.batch < 1 || o.drivers < o.concurrency || o.pacedRate < 1 || o.pacedBatch < 1 || o.duration <= 0 {
		return errors.New("bench: concurrency, batch, paced rate and batch, and duration must be positive, with at least one driver per client")
	}
	o.progress, o.out = progress, out
	log := slog.New(slog.DiscardHandler)
	res := BenchResult{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		Date: time.Now().UTC().Format(time.DateOnly), Duration: o.duration.String(), Concurrency: o.concurrency,
		BatchPoints: o.batch, Drivers: o.drivers, PacedRate: o.pacedRate, PacedBatch: o.pacedBatch}

	// The store: a schema of its own on PostgreSQL, a temporary file otherwise.
	scfg := store.Config{MaxOpenConns: 16}
	if o.databaseURL != "" {
		res.Engine, res.CopyBaseline = "PostgreSQL", "COPY (one connection, 50,000 rows per statement)"
		if err := o.createSchema(ctx); err != nil {
			return err
		}
		defer o.dropSchema()
		scfg.URL = o.schemaURL
	} else {
		res.Engine, res.CopyBaseline = "SQLite (embedded)", "batched INSERT, 500 rows per statement, 50,000 per transaction"
		dir, err := os.MkdirTemp("", "backhaul-bench-tracking-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		scfg.DataDir = dir
	}
	db, err := store.Open(ctx, scfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}

	fmt.Fprintf(progress, "creating a carrier with %d drivers...\n", o.drivers)
	tokens, err := auth.NewTokens([]byte(strings.Repeat("b", 48)), time.Hour, nil)
	if err != nil {
		return err
	}
	drv := drivers.New(db, nil, log)
	acc := accounts.New(db, tokens, drv, log)
	ids, err := o.fixtures(ctx, acc, drv)
	if err != nil {
		return err
	}
	svc, err := New(db, Config{DatabaseURL: o.schemaURL}, Deps{Drivers: drv}, log, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	defer svc.Close()
	mux := http.NewServeMux()
	svc.Routes(mux)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go func() { _ = svc.Run(runCtx) }() // the background work runs as in production
	handler := httpapi.Instrument(httpapi.RequireAuth(mux, acc), log, httpapi.NewMetrics(prometheus.NewRegistry()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	o.endpoint = "http://" + ln.Addr().String() + "/api/v1/positions"

	gen := newGenerator(ids, time.Now().Add(-6*24*time.Hour))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}, Timeout: time.Minute}

	// The paced run goes first, on a quiet store: the latency at the
	// guide's per-pod rate, not in the wake of the full-speed run.
	fmt.Fprintf(progress, "paced: %d positions/s in batches of %d, %s...\n", o.pacedRate, o.pacedBatch, o.duration)
	paced, err := o.paced(ctx, client, gen)
	if err != nil {
		return err
	}
	res.PacedAchieved, res.P50AckMillis, res.P99AckMillis = paced.rate, paced.p50, paced.p99
	res.Errors += paced.errors

	fmt.Fprintf(progress, "full speed: %d clients, %d positions per batch, %s...\n", o.concurrency, o.batch, o.duration)
	full, err := o.fullSpeed(ctx, client, gen)
	if err != nil {
		return err
	}
	res.Positions, res.PositionsPerSec = full.positions, full.rate
	res.BatchP50Millis, res.BatchP99Millis = full.p50, full.p99
	res.Errors += full.errors

	fmt.Fprintf(progress, "baseline: the same %d rows again, raw...\n", len(gen.rows))
	stopRun()
	svc.Close()
	if res.CopyBaselinePerSec, err = o.baseline(ctx, db, gen.rows); err != nil {
		return err
	}
	res.RatioToCopy = res.PositionsPerSec / res.CopyBaselinePerSec

	fmt.Fprintf(out, "%-34s %14s %10s %10s\n", "path", "positions/s", "p50 ms", "p99 ms")
	fmt.Fprintf(out, "%-34s %14.0f %10.2f %10.2f\n", "HTTP ingest, full speed (batch)", res.PositionsPerSec, res.BatchP50Millis, res.BatchP99Millis)
	fmt.Fprintf(out, "%-34s %14.0f %10.2f %10.2f\n", fmt.Sprintf("HTTP ingest, paced at %d/s (ack)", o.pacedRate), res.PacedAchieved, res.P50AckMillis, res.P99AckMillis)
	fmt.Fprintf(out, "%-34s %14.0f %10s %10s\n", "raw baseline", res.CopyBaselinePerSec, "", "")
	fmt.Fprintf(out, "ingest keeps %.1f%% of the raw baseline on %s (%s); %d errors\n", 100*res.RatioToCopy, res.Engine, res.Machine, res.Errors)
	b, _ := json.Marshal(res)
	fmt.Fprintln(out, string(b))
	if res.Errors > 0 {
		return fmt.Errorf("bench: %d batches failed or had rejected positions", res.Errors)
	}
	return nil
}

func (o *benchOptions) createSchema(ctx context.Context) error {
	pool, err := pgxpool.New(ctx, o.databaseURL)
	if err != nil {
		return fmt.Errorf("bench: connect: %w", err)
	}
	o.adminPool = pool
	o.schema = fmt.Sprintf("bench_tracking_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+o.schema); err != nil {
		pool.Close()
		return fmt.Errorf("bench: create schema: %w", err)
	}
	u, err := url.Parse(o.databaseURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("search_path", o.schema)
	u.RawQuery = q.Encode()
	o.schemaURL = u.String()
	return nil
}

func (o *benchOptions) dropSchema() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := o.adminPool.Exec(ctx, "DROP SCHEMA "+o.schema+" CASCADE"); err != nil {
		fmt.Fprintf(o.progress, "drop schema %s: %v\n", o.schema, err)
	}
	o.adminPool.Close()
}

// fixtures creates the carrier, its drivers and a dispatcher key.
func (o *benchOptions) fixtures(ctx context.Context, acc *accounts.Service, drv *drivers.Service) ([]string, error) {
	sess, err := acc.Signup(ctx, accounts.SignupInput{OrgName: "Bench Freight", OrgKind: freight.OrgCarrier, Name: "Bench Admin",
		Email: fmt.Sprintf("bench-%d@example.com", time.Now().UnixNano()), Password: "bench-password-1"})
	if err != nil {
		return nil, err
	}
	admin := freight.Principal{OrgID: sess.Org.ID, OrgKind: freight.OrgCarrier, UserID: sess.User.ID, Role: freight.RoleAdmin}
	o.carrierID = admin.OrgID
	key, err := acc.CreateAPIKey(ctx, admin, accounts.APIKeyInput{Name: "telematics", Role: freight.RoleDispatcher})
	if err != nil {
		return nil, err
	}
	o.dispatchKey = key.Secret
	ids := make([]string, o.drivers)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range ids {
		g.Go(func() error {
			d, err := drv.CreateDriver(gctx, admin, freight.DriverInput{Name: fmt.Sprintf("Driver %d", i),
				HomeBase: freight.Location{Lat: 25 + float64(i%24), Lon: -120 + float64(i%50)}, Equipment: "van", CapacityLbs: 40000})
			ids[i] = d.ID
			return err
		})
	}
	return ids, g.Wait()
}

// generator makes valid, ever newer fixes: each driver moves north-east at
// about 30 mph, one fix a second.
type generator struct {
	mu      sync.Mutex
	drivers []benchDriver
	rows    []row // every acknowledged fix, for the baseline
}

// The readings every generated fix carries, shared so that the rows kept
// for the baseline add no garbage for the collector to trace.
var benchSpeed, benchHeading, benchAccuracy = 30.0, 45.0, 6.0

type benchDriver struct {
	id       string
	at       time.Time
	lat, lon float64
}

func newGenerator(ids []string, start time.Time) *generator {
	g := &generator{}
	start = start.UTC().Truncate(time.Second)
	for i, id := range ids {
		g.drivers = append(g.drivers, benchDriver{id: id, at: start, lat: 25 + float64(i%24) + 0.5, lon: -120 + float64(i%50) + 0.5})
	}
	return g
}

// batch writes n fixes of the drivers at idx (in turn) as a JSON array
// into buf and returns the rows it describes.
func (g *generator) batch(buf *bytes.Buffer, idx []int, n int, rows []row) []row {
	buf.Reset()
	buf.WriteByte('[')
	var b []byte
	for k := range n {
		d := &g.drivers[idx[k%len(idx)]]
		d.at = d.at.Add(time.Second)
		d.lat += 0.0003
		d.lon += 0.0003
		rows = append(rows, row{driverID: d.id, recordedAt: d.at, lat: d.lat, lon: d.lon, speed: &benchSpeed, heading: &benchHeading, acc: &benchAccuracy})
		if k > 0 {
			buf.WriteByte(',')
		}
		b = append(b[:0], `{"driver_id":"`...)
		b = append(b, d.id...)
		b = append(b, `","time":"`...)
		b = d.at.AppendFormat(b, time.RFC3339)
		b = append(b, `","lat":`...)
		b = strconv.AppendFloat(b, d.lat, 'f', 6, 64)
		b = append(b, `,"lon":`...)
		b = strconv.AppendFloat(b, d.lon, 'f', 6, 64)
		b = append(b, `,"speed_mph":30,"heading_deg":45,"accuracy_m":6}`...)
		buf.Write(b)
	}
	buf.WriteByte(']')
	return rows
}

func (g *generator) keep(rows []row) {
	g.mu.Lock()
	g.rows = append(g.rows, rows...)
	g.mu.Unlock()
}

type phase struct {
	positions, errors int
	rate, p50, p99    float64
}

// post sends one batch and reports whether every position was accepted.
func (o *benchOptions) post(ctx context.Context, client *http.Client, body []byte, n int) error {
	req, err := http.NewRequestWithContext(ctx, "POST", o.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", o.dispatchKey)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if r.Accepted != n {
		return fmt.Errorf("%d of %d accepted: %v", r.Accepted, n, r.Rejected[:min(3, len(r.Rejected))])
	}
	return nil
}

func percentiles(lat []time.Duration) (p50, p99 float64) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	return ms(0.50), ms(0.99)
}

// fullSpeed runs a closed loop: each client owns a share of the drivers
// (a device's batches are sequential) and posts batches of ten drivers.
func (o *benchOptions) fullSpeed(ctx context.Context, client *http.Client, gen *generator) (phase, error) {
	var (
		p        phase
		mu       sync.Mutex
		lats     []time.Duration
		accepted atomic.Int64
		failed   atomic.Int64
		wg       sync.WaitGroup
	)
	warmup := min(o.duration/5, 2*time.Second)
	startAt := time.Now().Add(warmup)
	deadline := startAt.Add(o.duration)
	for c := range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var own []int
			for i := c; i < len(gen.drivers); i += o.concurrency {
				own = append(own, i)
			}
			var buf bytes.Buffer
			var local []time.Duration
			var kept []row
			for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				k := min(10, len(own))
				idx := make([]int, k)
				for j := range idx {
					idx[j] = own[(n*k+j)%len(own)]
				}
				rows := gen.batch(&buf, idx, o.batch, nil)
				t := time.Now()
				err := o.post(ctx, client, buf.Bytes(), len(rows))
				d := time.Since(t)
				if err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintf(o.progress, "batch failed: %v\n", err)
					}
					continue
				}
				kept = append(kept, rows...)
				if t.After(startAt) && time.Now().Before(deadline) {
					accepted.Add(int64(len(rows)))
					local = append(local, d)
				}
			}
			gen.keep(kept)
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	p.positions, p.errors = int(accepted.Load()), int(failed.Load())
	p.rate = float64(p.positions) / o.duration.Seconds()
	p.p50, p.p99 = percentiles(lats)
	return p, ctx.Err()
}

// paced sends batches on a fixed schedule (an open loop), each for the
// next driver in turn, and measures each acknowledgement from the moment
// the batch was due, so a slow answer cannot hide the ones queued behind.
func (o *benchOptions) paced(ctx context.Context, client *http.Client, gen *generator) (phase, error) {
	var (
		p      phase
		mu     sync.Mutex
		lats   []time.Duration
		failed atomic.Int64
		done   atomic.Int64
		wg     sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) * float64(o.pacedBatch) / float64(o.pacedRate))
	total := int(o.duration / interval)
	start := time.Now()
	// A device sends its next batch once the last is acknowledged, so a
	// driver whose batch is in flight is skipped for the next one free.
	busy := make([]atomic.Bool, len(gen.drivers))
	next := 0
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return p, ctx.Err()
			}
		}
		d := -1
		for range len(gen.drivers) {
			next = (next + 1) % len(gen.drivers)
			if busy[next].CompareAndSwap(false, true) {
				d = next
				break
			}
		}
		if d < 0 {
			failed.Add(1) // every driver is waiting for an answer
			continue
		}
		var buf bytes.Buffer
		rows := gen.batch(&buf, []int{d}, o.pacedBatch, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer busy[d].Store(false)
			if err := o.post(ctx, client, buf.Bytes(), len(rows)); err != nil {
				if failed.Add(1) == 1 {
					fmt.Fprintf(o.progress, "paced batch failed: %v\n", err)
				}
				return
			}
			d := time.Since(due)
			gen.keep(rows)
			done.Add(int64(len(rows)))
			mu.Lock()
			lats = append(lats, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	p.positions, p.errors = int(done.Load()), int(failed.Load())
	p.rate = float64(p.positions) / time.Since(start).Seconds()
	p.p50, p.p99 = percentiles(lats)
	return p, ctx.Err()
}

// baseline empties the table and writes the same rows raw, timed.
func (o *benchOptions) baseline(ctx context.Context, db *store.DB, rows []row) (float64, error) {
	for i := range rows {
		rows[i].carrierID, rows[i].receivedAt = o.carrierID, time.Now().UTC()
	}
	const chunk = 50_000
	if db.Dialect() == store.Postgres {
		conn, err := pgx.Connect(ctx, o.schemaURL)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "TRUNCATE positions"); err != nil {
			return 0, err
		}
		start := time.Now()
		for i := 0; i < len(rows); i += chunk {
			j := &job{rows: rows[i:min(i+chunk, len(rows))]}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"positions"}, positionCols,
				&copySource{jobs: []*job{j}, values: make([]any, 0, len(positionCols))}); err != nil {
				return 0, fmt.Errorf("baseline copy: %w", err)
			}
		}
		return float64(len(rows)) / time.Since(start).Seconds(), nil
	}
	if _, err := db.Exec(ctx, "DELETE FROM positions"); err != nil {
		return 0, err
	}
	write := sqliteWrite(db)
	start := time.Now()
	for i := 0; i < len(rows); i += chunk {
		if err := write(ctx, []*job{{rows: rows[i:min(i+chunk, len(rows))]}}); err != nil {
			return 0, fmt.Errorf("baseline insert: %w", err)
		}
	}
	return float64(len(rows)) / time.Since(start).Seconds(), nil
}

package tracking

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/backhaul/backhaul/internal/store"
)

// row is one accepted position as stored.
type row struct {
	driverID, carrierID    string
	recordedAt, receivedAt time.Time
	lat, lon               float64
	speed, heading, acc    *float64
}

var positionCols = []string{"driver_id", "carrier_id", "recorded_at", "received_at", "lat", "lon", "speed_mph", "heading_deg", "accuracy_m"}

// job is one request's rows waiting for their commit.
type job struct {
	rows []row
	done chan error
}

// writer commits positions in groups: while one write is in flight, the
// rows of every request that arrives queue up and go in the next one, so
// the number of commits stays small at any load and no request waits for a
// timer. A request is answered only after the commit that holds its rows.
type writer struct {
	jobs    chan *job
	write   func(ctx context.Context, jobs []*job) error
	maxRows int
	wg      sync.WaitGroup
	stop    chan struct{}
	// mu orders submissions against close: once closed is set no job is
	// queued, so the queue can be drained completely.
	mu     sync.RWMutex
	closed bool
	// observe reports each commit's rows and duration for the metrics.
	observe func(rows int, d time.Duration)
}

var errClosed = errors.New("tracking: ingest is shutting down")

func newWriter(n, maxRows int, write func(context.Context, []*job) error, observe func(int, time.Duration)) *writer {
	w := &writer{jobs: make(chan *job, 4096), write: write, maxRows: maxRows, stop: make(chan struct{}), observe: observe}
	for range n {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

// submit queues rows and waits for their commit.
func (w *writer) submit(ctx context.Context, rows []row) error {
	j := &job{rows: rows, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return errClosed
	}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	// Once queued the rows may commit whatever the caller does, so wait for
	// the outcome even when the client goes away: the answer is the ack.
	return <-j.done
}

func (w *writer) loop() {
	defer w.wg.Done()
	for {
		var first *job
		select {
		case first = <-w.jobs:
		case <-w.stop:
			// Finish what was queued before stopping.
			for {
				select {
				case j := <-w.jobs:
					w.commit([]*job{j})
				default:
					return
				}
			}
		}
		group, n := []*job{first}, len(first.rows)
	gather:
		for n < w.maxRows {
			select {
			case j := <-w.jobs:
				group, n = append(group, j), n+len(j.rows)
			default:
				break gather
			}
		}
		w.commit(group)
	}
}

func (w *writer) commit(group []*job) {
	start := time.Now()
	// A write must not be cut short by one request's context: its rows
	// belong to many requests.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := w.write(ctx, group)
	cancel()
	if w.observe != nil {
		n := 0
		for _, j := range group {
			n += len(j.rows)
		}
		w.observe(n, time.Since(start))
	}
	for _, j := range group {
		j.done <- err
	}
}

// close commits what is queued and stops the loops.
func (w *writer) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	w.wg.Wait()
}

// sqliteWrite inserts the rows in one transaction, in multi-row INSERTs.
// A fix already stored (a retried batch after a lost answer) is skipped.
func sqliteWrite(db *store.DB) func(context.Context, []*job) error {
	const chunk = 500
	return func(ctx context.Context, jobs []*job) error {
		return db.InTx(ctx, func(tx *store.Tx) error {
			buf := make([]row, 0, chunk)
			flush := func() error {
				if len(buf) == 0 {
					return nil
				}
				var b strings.Builder
				b.WriteString(`INSERT INTO positions (` + strings.Join(positionCols, ", ") + `) VALUES `)
				args := make([]any, 0, len(buf)*len(positionCols))
				for i, r := range buf {
					if i > 0 {
						b.WriteString(", ")
					}
					b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
					args = append(args, r.driverID, r.carrierID, r.recordedAt, r.receivedAt, r.lat, r.lon, r.speed, r.heading, r.acc)
				}
				b.WriteString(" ON CONFLICT (driver_id, recorded_at) DO NOTHING")
				if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
					return fmt.Errorf("insert positions: %w", err)
				}
				buf = buf[:0]
				return nil
			}
			for _, j := range jobs {
				for _, r := range j.rows {
					buf = append(buf, r)
					if len(buf) == chunk {
						if err := flush(); err != nil {
							return err
						}
					}
				}
			}
			return flush()
		})
	}
}

// copySource feeds the rows of a group of jobs to COPY without copying them.
type copySource struct {
	jobs   []*job
	j, i   int
	values []any
}

func (c *copySource) Next() bool {
	for c.j < len(c.jobs) {
		if c.i < len(c.jobs[c.j].rows) {
			c.i++
			return true
		}
		c.j, c.i = c.j+1, 0
	}
	return false
}

func (c *copySource) Values() ([]any, error) {
	r := &c.jobs[c.j].rows[c.i-1]
	// COPY encodes a row before asking for the next, so the slice is reused.
	v := c.values[:0]
	v = append(v, r.driverID, r.carrierID, r.recordedAt, r.receivedAt, r.lat, r.lon, r.speed, r.heading, r.acc)
	c.values = v
	return v, nil
}

func (c *copySource) Err() error { return nil }

// postgresWrite copies the rows into the partitioned table. COPY has no ON
// CONFLICT, so a group that holds a fix already stored (a retry, or a
// replica racing this one) is written again with INSERT ... ON CONFLICT DO
// NOTHING from arrays: rare, and still one statement.
func postgresWrite(pool *pgxpool.Pool) func(context.Context, []*job) error {
	return func(ctx context.Context, jobs []*job) error {
		_, err := pool.CopyFrom(ctx, pgx.Identifier{"positions"}, positionCols, &copySource{jobs: jobs, values: make([]any, 0, len(positionCols))})
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			err = insertArrays(ctx, pool, jobs)
		}
		if err != nil {
			return fmt.Errorf("copy positions: %w", err)
		}
		return nil
	}
}

func insertArrays(ctx context.Context, pool *pgxpool.Pool, jobs []*job) error {
	var (
		drivers, carriers  []string
		recorded, received []time.Time
		lats, lons         []float64
		speeds, headings   []*float64
		accs               []*float64
	)
	for _, j := range jobs {
		for _, r := range j.rows {
			drivers, carriers = append(drivers, r.driverID), append(carriers, r.carrierID)
			recorded, received = append(recorded, r.recordedAt), append(received, r.receivedAt)
			lats, lons = append(lats, r.lat), append(lons, r.lon)
			speeds, headings, accs = append(speeds, r.speed), append(headings, r.heading), append(accs, r.acc)
		}
	}
	_, err := pool.Exec(ctx, `INSERT INTO positions (`+strings.Join(positionCols, ", ")+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[])
		ON CONFLICT (driver_id, recorded_at) DO NOTHING`,
		drivers, carriers, recorded, received, lats, lons, speeds, headings, accs)
	return err
}

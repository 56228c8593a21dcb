package optimize

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/solver/routing"
	"github.com/backhaul/backhaul/internal/store"
)

// Run runs the sweeper and Options.Workers workers until ctx ends. Several
// processes may run it against one queue and one store.
//
// Ending ctx abandons the jobs in progress as a crash would: nothing is
// acknowledged or stored, and the queue hands each job to another worker
// once AckWait has passed, where it starts again.
func (s *Service) Run(ctx context.Context) error {
	wakes := make([]chan struct{}, s.opts.Workers)
	for i := range wakes {
		wakes[i] = make(chan struct{}, 1)
	}
	// A core subscription to the queue subjects sees every job published by
	// any replica and wakes the idle workers at once.
	sub, err := s.bus.Conn().Subscribe(s.bus.Subject("jobs.optimize.>"), func(*nats.Msg) {
		for _, w := range wakes {
			select {
			case w <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return fmt.Errorf("optimize: subscribe to the queue: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	var wg sync.WaitGroup
	wg.Go(func() { s.sweeper(ctx) })
	for i, wake := range wakes {
		name := s.opts.Name + "/" + strconv.Itoa(i+1)
		wg.Go(func() { s.work(ctx, name, wake) })
	}
	s.log.Info("optimization workers running", "workers", s.opts.Workers, "name", s.opts.Name)
	wg.Wait()
	return nil
}

func (s *Service) work(ctx context.Context, name string, wake <-chan struct{}) {
	log := s.log.With("worker", name)
	for {
		msg := s.next(ctx, wake)
		if msg == nil {
			return
		}
		s.handle(ctx, log, name, msg)
	}
}

// claimed is the part of a job row a worker needs.
type claimed struct {
	id        string
	org       string
	attempt   int
	timeLimit time.Duration
	seed      int64
	problem   string
	points    int
}

// verdict says what to do with a delivered message.
type verdict int

const (
	verdictRun  verdict = iota // the job is claimed: solve it
	verdictDrop                // finished, cancelled or unknown: acknowledge and forget
	verdictWait                // another worker holds a live lease: redeliver later
)

func (s *Service) handle(ctx context.Context, log *slog.Logger, worker string, msg jetstream.Msg) {
	var qm queueMessage
	if err := json.Unmarshal(msg.Data(), &qm); err != nil || qm.JobID == "" {
		log.Error("undecodable queue message terminated", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	log = log.With("job", qm.JobID)
	v, job, wait, err := s.claim(ctx, worker, qm.JobID)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		log.Warn("claim job", "err", err)
		_ = msg.NakWithDelay(s.opts.RetryDelay)
		return
	}
	switch v {
	case verdictDrop:
		if err := msg.Ack(); err != nil {
			log.Warn("ack dropped job", "err", err)
		}
		return
	case verdictWait:
		_ = msg.NakWithDelay(wait)
		return
	}
	s.run(ctx, log, worker, msg, job)
}

// claim decides, in one transaction, what a delivery of job id means, and
// takes the job when it should run. A live lease held by another worker
// means the delivery is a duplicate or came early; an expired one means the
// worker died.
func (s *Service) claim(ctx context.Context, worker, id string) (verdict, claimed, time.Duration, error) {
	var (
		v     verdict
		c     = claimed{id: id}
		wait  time.Duration
		event *FinishedEvent
	)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		event = nil
		var (
			st        string
			attempts  int
			limitMS   int64
			lease     *time.Time
			cancelAt  *time.Time
			lastError string
		)
		err := tx.QueryRow(ctx, `SELECT org_id, status, attempts, time_limit_ms, seed, problem, points, lease_until,
			cancel_requested_at, error FROM optimize_jobs WHERE id = ?`+tx.ForUpdate(), id).
			Scan(&c.org, &st, &attempts, &limitMS, &c.seed, &c.problem, &c.points, store.NullTime(&lease),
				store.NullTime(&cancelAt), &lastError)
		if errors.Is(err, sql.ErrNoRows) {
			v = verdictDrop
			return nil
		}
		if err != nil {
			return fmt.Errorf("read job: %w", err)
		}
		now := tx.Now()
		switch {
		case Status(st).Done():
			v = verdictDrop
			return nil
		case Status(st) == StatusRunning && lease != nil && lease.After(now):
			v, wait = verdictWait, lease.Sub(now)+100*time.Millisecond
			return nil
		case cancelAt != nil:
			// Cancelled while its worker was dying: there is no solution to keep.
			e := finishedEvent(id, StatusCancelled, attempts, nil, "")
			event = &e
		case attempts >= s.opts.MaxAttempts:
			msg := fmt.Sprintf("gave up after %d attempts", attempts)
			if lastError != "" {
				msg += "; the last failed with: " + lastError
			} else {
				msg += "; every worker stopped before finishing"
			}
			e := finishedEvent(id, StatusFailed, attempts, nil, msg)
			event = &e
		}
		if event != nil {
			v = verdictDrop
			if _, err := tx.Exec(ctx, `UPDATE optimize_jobs SET status = ?, error = ?, finished_at = ?, updated_at = ?,
				lease_until = NULL WHERE id = ?`, string(event.Status), event.Error, now, now, id); err != nil {
				return fmt.Errorf("finish job: %w", err)
			}
			return tx.EmitNew(ctx, EventJobFinished, c.org, id, *event)
		}
		c.attempt, c.timeLimit = attempts+1, time.Duration(limitMS)*time.Millisecond
		v = verdictRun
		// The best solution belongs to the attempt that found it; a new
		// attempt starts from nothing, its progress points follow the old.
		_, err = tx.Exec(ctx, `UPDATE optimize_jobs SET status = 'running', attempts = ?, worker = ?, started_at = ?,
			finished_at = NULL, lease_until = ?, updated_at = ?, best_vehicles = NULL, best_distance = NULL,
			best_elapsed_ms = NULL WHERE id = ?`, c.attempt, worker, now, now.Add(s.opts.AckWait), now, id)
		if err != nil {
			return fmt.Errorf("claim job: %w", err)
		}
		return nil
	})
	if err == nil && event != nil {
		s.finished(event.Status)
	}
	return v, c, wait, err
}

// Why a solve stopped early.
var (
	errCancelled = errors.New("job cancelled")
	errLost      = errors.New("job taken over by another worker")
)

// run solves a claimed job, saving progress and heartbeating meanwhile,
// and stores the outcome.
func (s *Service) run(ctx context.Context, log *slog.Logger, worker string, msg jetstream.Msg, job claimed) {
	s.running.Inc()
	defer s.running.Dec()
	started := time.Now()
	log = log.With("attempt", job.attempt)
	log.Info("job started")

	solveCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	rec := &recorder{attempt: job.attempt, seq: job.points}
	hb := &heartbeat{s: s, msg: msg, job: job, rec: rec, stop: stop, log: log}
	var wg sync.WaitGroup
	wg.Go(func() { hb.loop(solveCtx) })

	res, solveErr := s.solve(solveCtx, job, rec)
	stop(nil)
	wg.Wait()

	if ctx.Err() != nil {
		// Shutting down: leave the job to the queue's redelivery, exactly
		// as a crash would.
		log.Info("job abandoned at shutdown")
		return
	}
	cause := context.Cause(solveCtx)
	if errors.Is(cause, errLost) {
		// Another worker holds the job and its message now: touch neither.
		log.Warn("job lost its lease; another worker runs it")
		return
	}
	elapsed := time.Since(started)
	res.ElapsedMS = elapsed.Milliseconds()
	out, err := s.finish(ctx, job, rec, res, solveErr)
	if errors.Is(err, errLost) {
		log.Warn("job lost its lease before its outcome was stored; another worker runs it")
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("store job outcome", "err", err)
			_ = msg.NakWithDelay(s.opts.RetryDelay)
		}
		return
	}
	s.runTime.Observe(elapsed.Seconds())
	if out == "" {
		// The attempt failed and will be tried again.
		_ = msg.NakWithDelay(s.opts.RetryDelay)
		return
	}
	if err := msg.Ack(); err != nil {
		log.Warn("ack finished job", "err", err)
	}
	log.Info("job finished", "status", out, "vehicles", res.Vehicles, "distance", res.Distance, "elapsed", elapsed)
}

// solve compiles and solves the job's problem; a panic is an error of the
// attempt rather than of the process.
func (s *Service) solve(ctx context.Context, job claimed, rec *recorder) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &transientError{fmt.Errorf("solver panic: %v", p)}
			s.log.Error("solver panic", "job", job.id, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	p, err := decodeProblem(job.problem)
	if err != nil {
		return Result{}, err
	}
	f, ok := formats[p.Format]
	if !ok {
		return Result{}, fmt.Errorf("unknown problem format %q", p.Format)
	}
	c, err := f.compile(p)
	if err != nil {
		return Result{}, fmt.Errorf("compile problem: %w", err)
	}
	return c.solve(ctx, solveOptions{timeLimit: job.timeLimit, seed: uint64(job.seed), progress: rec.add})
}

// transientError marks a failure that another attempt may not repeat.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// finish stores the outcome of an attempt, fenced by its attempt number,
// and returns the job's final status, or "" when the attempt failed and
// the job returns to the queue for another.
func (s *Service) finish(ctx context.Context, job claimed, rec *recorder, res Result, solveErr error) (Status, error) {
	var (
		out   Status
		event FinishedEvent
	)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var cancelAt *time.Time
		err := tx.QueryRow(ctx, `SELECT cancel_requested_at FROM optimize_jobs WHERE id = ? AND attempts = ? AND status = 'running'`+
			tx.ForUpdate(), job.id, job.attempt).Scan(store.NullTime(&cancelAt))
		if errors.Is(err, sql.ErrNoRows) {
			return errLost
		}
		if err != nil {
			return fmt.Errorf("read job: %w", err)
		}
		if err := s.flush(ctx, tx, job, rec, true); err != nil {
			return err
		}
		now := tx.Now()
		var transient *transientError
		if solveErr != nil && errors.As(solveErr, &transient) && job.attempt < s.opts.MaxAttempts && cancelAt == nil {
			out = ""
			_, err := tx.Exec(ctx, `UPDATE optimize_jobs SET status = 'queued', worker = '', lease_until = NULL, error = ?,
				updated_at = ? WHERE id = ?`, solveErr.Error(), now, job.id)
			return err
		}
		var (
			result *Result
			msg    string
		)
		switch {
		case cancelAt != nil:
			out = StatusCancelled
			if solveErr == nil && len(res.Routes) > 0 {
				result = &res
			}
		case solveErr != nil:
			out, msg = StatusFailed, solveErr.Error()
		case !res.Feasible:
			out, result = StatusFailed, &res
			msg = "the best solution found is not feasible"
			if len(res.Violations) > 0 {
				msg += ": " + res.Violations[0]
			}
		default:
			out, result = StatusSucceeded, &res
		}
		var resultJSON any
		if result != nil {
			b, err := json.Marshal(result)
			if err != nil {
				return fmt.Errorf("encode result: %w", err)
			}
			resultJSON = string(b)
		}
		_, err = tx.Exec(ctx, `UPDATE optimize_jobs SET status = ?, result = ?, error = ?, finished_at = ?, updated_at = ?,
			lease_until = NULL WHERE id = ?`, string(out), resultJSON, msg, now, now, job.id)
		if err != nil {
			return fmt.Errorf("store job outcome: %w", err)
		}
		event = finishedEvent(job.id, out, job.attempt, result, msg)
		return tx.EmitNew(ctx, EventJobFinished, job.org, job.id, event)
	})
	if err != nil {
		return "", err
	}
	if out != "" {
		s.finished(out)
	}
	return out, nil
}

// recorder collects the solver's improvements between saves. The solver
// calls add from its own goroutine.
type recorder struct {
	mu      sync.Mutex
	attempt int
	seq     int // the last point's number, saved or not
	pending []Point
	best    *Point
	kept    int // points recorded in this attempt
	lastAt  time.Duration
}

// Points beyond maxPoints per attempt are kept at most one per second, so
// a long run on a large instance keeps a bounded curve.
const maxPoints = 2000

func (r *recorder) add(p routing.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pt := Point{Attempt: r.attempt, ElapsedMS: p.Elapsed.Milliseconds(), Vehicles: p.Vehicles, Distance: p.Distance,
		Iteration: p.Iteration, At: store.Now(time.Now())}
	r.best = &pt
	if r.kept >= maxPoints && p.Elapsed-r.lastAt < time.Second {
		return
	}
	r.keep(pt)
	r.lastAt = p.Elapsed
}

func (r *recorder) keep(pt Point) {
	r.seq++
	r.kept++
	pt.Seq = r.seq
	r.pending = append(r.pending, pt)
	b := pt
	r.best = &b
}

// take returns the points to save and the best so far. With final, the
// best point is kept even when thinning skipped it, so the curve ends at
// the result.
func (r *recorder) take(final bool) ([]Point, *Point) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if final && r.best != nil && r.best.Seq == 0 {
		r.keep(*r.best)
	}
	out := r.pending
	r.pending = nil
	var best *Point
	if r.best != nil {
		b := *r.best
		best = &b
	}
	return out, best
}

func (r *recorder) hasPending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending) > 0
}

// putBack returns points whose save failed, to be saved with the next.
func (r *recorder) putBack(pts []Point) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(pts, r.pending...)
}

// flush saves the pending points and the best so far in tx, fenced by the
// attempt.
func (s *Service) flush(ctx context.Context, tx *store.Tx, job claimed, rec *recorder, final bool) error {
	pts, best := rec.take(final)
	err := func() error {
		for _, pt := range pts {
			if _, err := tx.Exec(ctx, `INSERT INTO optimize_job_progress (job_id, seq, attempt, elapsed_ms, vehicles, distance, iteration, at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, job.id, pt.Seq, pt.Attempt, pt.ElapsedMS, pt.Vehicles, pt.Distance, pt.Iteration, pt.At); err != nil {
				return fmt.Errorf("save progress: %w", err)
			}
		}
		if best == nil || len(pts) == 0 {
			return nil
		}
		res, err := tx.Exec(ctx, `UPDATE optimize_jobs SET best_vehicles = ?, best_distance = ?, best_elapsed_ms = ?, points = ?
			WHERE id = ? AND attempts = ? AND status = 'running'`, best.Vehicles, best.Distance, best.ElapsedMS, pts[len(pts)-1].Seq,
			job.id, job.attempt)
		if err != nil {
			return fmt.Errorf("save best: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errLost
		}
		return nil
	}()
	if err != nil {
		rec.putBack(pts)
	}
	return err
}

// heartbeat keeps a running job's lease and message alive, saves its
// progress, and stops the solve when the job is cancelled or lost.
type heartbeat struct {
	s    *Service
	msg  jetstream.Msg
	job  claimed
	rec  *recorder
	stop context.CancelCauseFunc
	log  *slog.Logger
}

func (h *heartbeat) loop(ctx context.Context) {
	every := h.s.opts.AckWait / 3
	t := time.NewTicker(min(h.s.opts.CheckInterval, every))
	defer t.Stop()
	lastLease, lastBeat := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		renew := time.Since(lastLease) >= every
		cancelled, err := h.check(ctx, renew)
		switch {
		case errors.Is(err, errLost):
			h.stop(errLost)
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			h.log.Warn("job heartbeat", "err", err)
		case cancelled:
			h.stop(errCancelled)
			return
		case renew:
			lastLease = time.Now()
		}
		// The queue hears from a live worker even while the store does not
		// answer; the lease in the store is renewed first, so it ends
		// before the queue would redeliver and the next worker never waits
		// on a lease the queue has given up on.
		if time.Since(lastBeat) >= every {
			if err := h.msg.InProgress(); err != nil {
				h.log.Warn("job in-progress signal", "err", err)
			}
			lastBeat = time.Now()
		}
	}
}

// check saves progress, renews the lease when asked, and reports whether
// the job was cancelled.
func (h *heartbeat) check(ctx context.Context, renew bool) (bool, error) {
	var cancelAt *time.Time
	if !renew && !h.rec.hasPending() {
		// Nothing to write: a read is enough, and leaves SQLite's single
		// writer to others.
		err := h.s.db.QueryRow(ctx, `SELECT cancel_requested_at FROM optimize_jobs WHERE id = ? AND attempts = ? AND status = 'running'`,
			h.job.id, h.job.attempt).Scan(store.NullTime(&cancelAt))
		if errors.Is(err, sql.ErrNoRows) {
			return false, errLost
		}
		return cancelAt != nil, err
	}
	err := h.s.db.InTx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRow(ctx, `SELECT cancel_requested_at FROM optimize_jobs WHERE id = ? AND attempts = ? AND status = 'running'`,
			h.job.id, h.job.attempt).Scan(store.NullTime(&cancelAt))
		if errors.Is(err, sql.ErrNoRows) {
			return errLost
		}
		if err != nil {
			return fmt.Errorf("read job: %w", err)
		}
		if err := h.s.flush(ctx, tx, h.job, h.rec, false); err != nil {
			return err
		}
		if renew {
			_, err := tx.Exec(ctx, `UPDATE optimize_jobs SET lease_until = ?, updated_at = ? WHERE id = ?`,
				tx.Now().Add(h.s.opts.AckWait), tx.Now(), h.job.id)
			return err
		}
		return nil
	})
	return cancelAt != nil, err
}

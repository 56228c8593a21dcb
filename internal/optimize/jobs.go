package optimize

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// Event types this service publishes.
const (
	EventJobSubmitted = "optimize.job_submitted.v1"
	EventJobFinished  = "optimize.job_finished.v1"
)

// SubmittedEvent is the data of optimize.job_submitted.v1.
type SubmittedEvent struct {
	JobID      string         `json:"job_id"`
	Name       string         `json:"name"`
	Priority   Priority       `json:"priority"`
	TimeLimitS int            `json:"time_limit_s"`
	Seed       int64          `json:"seed"`
	Problem    ProblemSummary `json:"problem"`
	CreatedBy  string         `json:"created_by"`
}

// FinishedEvent is the data of optimize.job_finished.v1.
type FinishedEvent struct {
	JobID    string   `json:"job_id"`
	Status   Status   `json:"status"`
	Attempts int      `json:"attempts"`
	Vehicles *int     `json:"vehicles,omitempty"`
	Distance *float64 `json:"distance,omitempty"`
	Feasible *bool    `json:"feasible,omitempty"`
	Error    string   `json:"error,omitempty"`
}

func finishedEvent(id string, st Status, attempts int, r *Result, msg string) FinishedEvent {
	e := FinishedEvent{JobID: id, Status: st, Attempts: attempts, Error: msg}
	if r != nil {
		e.Vehicles, e.Distance, e.Feasible = &r.Vehicles, &r.Distance, &r.Feasible
	}
	return e
}

// Submit validates a job request and queues the job for the caller's
// organization.
func (s *Service) Submit(ctx context.Context, p freight.Principal, req JobRequest) (Job, error) {
	if !submitter(p) {
		return Job{}, forbidden()
	}
	sp, err := req.validate()
	if err != nil {
		return Job{}, err
	}
	return s.submit(ctx, p, sp)
}

func (s *Service) submit(ctx context.Context, p freight.Principal, sp spec) (Job, error) {
	j, err := s.insertJob(ctx, p, sp)
	if err != nil {
		return Job{}, err
	}
	// The job is committed; its message follows. Should this publish fail
	// or the process die first, the sweeper publishes it.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := s.enqueue(pctx, j.ID, j.Priority); err != nil {
		s.log.Warn("job queued in the store, message deferred to the sweeper", "job", j.ID, "err", err)
	}
	return j, nil
}

// insertJob stores a queued job and its submission event.
func (s *Service) insertJob(ctx context.Context, p freight.Principal, sp spec) (Job, error) {
	problem, err := encodeProblem(sp.problem)
	if err != nil {
		return Job{}, err
	}
	j := Job{ID: newID(), OrgID: p.OrgID, Name: sp.name, Priority: sp.priority, Status: StatusQueued,
		TimeLimitS: int(sp.timeLimit / time.Second), Seed: sp.seed, Problem: sp.summary, CreatedBy: p.Subject()}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		j.CreatedAt, j.UpdatedAt = tx.Now(), tx.Now()
		_, err := tx.Exec(ctx, `INSERT INTO optimize_jobs (id, org_id, name, priority, status, time_limit_ms, seed,
			format, kind, instance_name, nodes, problem, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.OrgID, j.Name, string(j.Priority), string(j.Status), sp.timeLimit.Milliseconds(), j.Seed,
			j.Problem.Format, j.Problem.Kind, j.Problem.Instance, j.Problem.Nodes, problem, j.CreatedBy, j.CreatedAt, j.UpdatedAt)
		if err != nil {
			return fmt.Errorf("insert job: %w", err)
		}
		return tx.EmitNew(ctx, EventJobSubmitted, j.OrgID, j.ID, SubmittedEvent{JobID: j.ID, Name: j.Name,
			Priority: j.Priority, TimeLimitS: j.TimeLimitS, Seed: j.Seed, Problem: j.Problem, CreatedBy: j.CreatedBy})
	})
	if err != nil {
		return Job{}, err
	}
	return j, nil
}

// jobCols are the columns scanJob reads, the result excepted.
const jobCols = `id, org_id, name, priority, status, time_limit_ms, seed, format, kind, instance_name, nodes,
	created_by, created_at, updated_at, attempts, worker, started_at, finished_at, cancel_requested_at,
	best_vehicles, best_distance, best_elapsed_ms, points, error`

type scanner interface{ Scan(...any) error }

func (s *Service) scanJob(row scanner, withResult bool) (Job, error) {
	var (
		j           Job
		limitMS     int64
		cancelAt    *time.Time
		vehicles    sql.NullInt64
		distance    sql.NullFloat64
		foundAfter  sql.NullInt64
		result      sql.NullString
		dest        []any
		priority    string
		status      string
		problemKind string
	)
	dest = []any{&j.ID, &j.OrgID, &j.Name, &priority, &status, &limitMS, &j.Seed, &j.Problem.Format, &problemKind,
		&j.Problem.Instance, &j.Problem.Nodes, &j.CreatedBy, store.Time(&j.CreatedAt), store.Time(&j.UpdatedAt),
		&j.Attempts, &j.Worker, store.NullTime(&j.StartedAt), store.NullTime(&j.FinishedAt), store.NullTime(&cancelAt),
		&vehicles, &distance, &foundAfter, &j.Progress.Points, &j.Error}
	if withResult {
		dest = append(dest, &result)
	}
	if err := row.Scan(dest...); err != nil {
		return j, err
	}
	j.Priority, j.Status, j.Problem.Kind = Priority(priority), Status(status), problemKind
	j.TimeLimitS = int(limitMS / 1000)
	j.CancelRequested = cancelAt != nil && j.Status == StatusRunning
	if vehicles.Valid && distance.Valid {
		v, d := int(vehicles.Int64), distance.Float64
		j.Progress.Vehicles, j.Progress.Distance = &v, &d
	}
	if foundAfter.Valid {
		ms := foundAfter.Int64
		j.Progress.FoundAfterMS = &ms
	}
	if j.StartedAt != nil {
		switch {
		case j.FinishedAt != nil:
			j.Progress.ElapsedMS = j.FinishedAt.Sub(*j.StartedAt).Milliseconds()
		case j.Status == StatusRunning:
			j.Progress.ElapsedMS = max(0, s.db.Now().Sub(*j.StartedAt).Milliseconds())
		}
	}
	if result.Valid && result.String != "" {
		var r Result
		if err := json.Unmarshal([]byte(result.String), &r); err != nil {
			return j, fmt.Errorf("decode result of job %s: %w", j.ID, err)
		}
		j.Result = &r
	}
	return j, nil
}

// Get returns a job the caller may see, with its result.
func (s *Service) Get(ctx context.Context, p freight.Principal, id string) (Job, error) {
	if !submitter(p) {
		return Job{}, forbidden()
	}
	where, args := visible(p)
	j, err := s.scanJob(s.db.QueryRow(ctx, `SELECT `+jobCols+`, result FROM optimize_jobs WHERE id = ? AND `+where,
		append([]any{id}, args...)...), true)
	if errors.Is(err, sql.ErrNoRows) {
		return j, freight.NotFound("job")
	}
	if err != nil {
		return j, fmt.Errorf("job: %w", err)
	}
	return j, nil
}

// ListFilter selects a page of jobs.
type ListFilter struct {
	Status Status // empty for every status
	Cursor string
	Limit  int
}

// List returns the caller's jobs (every job for an operator), newest first.
func (s *Service) List(ctx context.Context, p freight.Principal, f ListFilter) (httpapi.Page[Job], error) {
	page := httpapi.Page[Job]{Items: []Job{}}
	if !submitter(p) {
		return page, forbidden()
	}
	where, args := visible(p)
	if f.Status != "" {
		if !f.Status.Valid() {
			return page, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
				Fields: []freight.FieldError{{Field: "status", Detail: "want queued, running, succeeded, failed or cancelled"}}}
		}
		where += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.Cursor != "" {
		k, err := httpapi.DecodeCursor(f.Cursor, 1)
		if err != nil {
			return page, err
		}
		where += " AND id < ?"
		args = append(args, k[0])
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	// IDs are UUIDv7, so their order is the order of creation.
	rows, err := s.db.Query(ctx, `SELECT `+jobCols+` FROM optimize_jobs WHERE `+where+` ORDER BY id DESC LIMIT ?`,
		append(args, f.Limit+1)...)
	if err != nil {
		return page, fmt.Errorf("jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		j, err := s.scanJob(rows, false)
		if err != nil {
			return page, fmt.Errorf("jobs: %w", err)
		}
		page.Items = append(page.Items, j)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("jobs: %w", err)
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		page.NextCursor = httpapi.EncodeCursor(page.Items[f.Limit-1].ID)
	}
	return page, nil
}

// Progress returns every recorded improvement of a job's best solution,
// oldest first.
func (s *Service) Progress(ctx context.Context, p freight.Principal, id string) ([]Point, error) {
	if _, err := s.status(ctx, p, id); err != nil {
		return nil, err
	}
	return s.pointsAfter(ctx, id, 0)
}

// status returns the status of a job the caller may see.
func (s *Service) status(ctx context.Context, p freight.Principal, id string) (Status, error) {
	if !submitter(p) {
		return "", forbidden()
	}
	where, args := visible(p)
	var st string
	err := s.db.QueryRow(ctx, `SELECT status FROM optimize_jobs WHERE id = ? AND `+where, append([]any{id}, args...)...).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", freight.NotFound("job")
	}
	if err != nil {
		return "", fmt.Errorf("job status: %w", err)
	}
	return Status(st), nil
}

func (s *Service) pointsAfter(ctx context.Context, id string, seq int) ([]Point, error) {
	rows, err := s.db.Query(ctx, `SELECT seq, attempt, elapsed_ms, vehicles, distance, iteration, at
		FROM optimize_job_progress WHERE job_id = ? AND seq > ? ORDER BY seq`, id, seq)
	if err != nil {
		return nil, fmt.Errorf("job progress: %w", err)
	}
	defer rows.Close()
	out := []Point{}
	for rows.Next() {
		var pt Point
		if err := rows.Scan(&pt.Seq, &pt.Attempt, &pt.ElapsedMS, &pt.Vehicles, &pt.Distance, &pt.Iteration, store.Time(&pt.At)); err != nil {
			return nil, fmt.Errorf("job progress: %w", err)
		}
		out = append(out, pt)
	}
	return out, rows.Err()
}

// Cancel cancels a queued job at once, or asks the worker of a running job
// to stop; the worker then stores its best solution so far with the status
// cancelled. Operators may read every job but cancel only their own.
func (s *Service) Cancel(ctx context.Context, p freight.Principal, id string) (Job, error) {
	if !submitter(p) {
		return Job{}, forbidden()
	}
	cancelled := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		where, args := visible(p)
		var (
			org, st  string
			attempts int
		)
		err := tx.QueryRow(ctx, `SELECT org_id, status, attempts FROM optimize_jobs WHERE id = ? AND `+where+tx.ForUpdate(),
			append([]any{id}, args...)...).Scan(&org, &st, &attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return freight.NotFound("job")
		}
		if err != nil {
			return fmt.Errorf("job: %w", err)
		}
		if org != p.OrgID {
			return freight.Errorf(freight.EFORBIDDEN, "only the organization that submitted a job may cancel it")
		}
		switch Status(st) {
		case StatusQueued:
			// Its message stays in the queue; the worker that takes it finds
			// the job cancelled and drops it.
			if _, err := tx.Exec(ctx, `UPDATE optimize_jobs SET status = 'cancelled', cancel_requested_at = ?, finished_at = ?,
				updated_at = ?, lease_until = NULL WHERE id = ?`, tx.Now(), tx.Now(), tx.Now(), id); err != nil {
				return fmt.Errorf("cancel job: %w", err)
			}
			cancelled = true
			return tx.EmitNew(ctx, EventJobFinished, org, id, finishedEvent(id, StatusCancelled, attempts, nil, ""))
		case StatusRunning:
			_, err := tx.Exec(ctx, `UPDATE optimize_jobs SET cancel_requested_at = COALESCE(cancel_requested_at, ?), updated_at = ?
				WHERE id = ?`, tx.Now(), tx.Now(), id)
			if err != nil {
				return fmt.Errorf("cancel job: %w", err)
			}
			return nil
		}
		return freight.Errorf(freight.ECONFLICT, "the job is already %s", st)
	})
	if err != nil {
		return Job{}, err
	}
	if cancelled {
		s.finished(StatusCancelled)
	}
	return s.Get(ctx, p, id)
}

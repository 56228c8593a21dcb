package market

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/market/ratemodel"
	"github.com/backhaul/backhaul/internal/store"
)

// Statuses of a retraining run.
const (
	RunQueued   = "queued"
	RunRunning  = "running"
	RunAccepted = "accepted" // the new model went into service
	RunRejected = "rejected" // it did not score better than the rates in service
	RunFailed   = "failed"
)

// Triggers of a retraining run.
const (
	TriggerOperator = "operator"
	TriggerSchedule = "schedule"
	TriggerImport   = "import"
)

// TrainingRun is one retraining job.
type TrainingRun struct {
	ID          int64      `json:"id"`
	Trigger     string     `json:"trigger"`
	RequestedBy string     `json:"requested_by,omitempty"`
	Status      string     `json:"status"`
	RequestedAt time.Time  `json:"requested_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Worker      string     `json:"worker,omitempty"`
	Message     string     `json:"message,omitempty"`
	Report      *RunReport `json:"report,omitempty"`
	ModelID     int64      `json:"model_id,omitempty"` // the model it put into service
}

// RunReport is what a retraining run did.
type RunReport struct {
	Bookings     int     `json:"bookings"`  // history read
	Trained      int     `json:"trained"`   // offered to training
	HeldBack     int     `json:"held_back"` // kept for scoring
	Invalid      int     `json:"invalid"`   // no quote could be asked for them
	Outliers     int     `json:"outliers"`  // kept out of training as data errors
	Trees        int     `json:"trees"`
	TrainSeconds float64 `json:"train_seconds"`
	// Candidate is the new model's score on the held-back bookings,
	// Incumbent that of the rates in service (a model, or the rate table)
	// on the same bookings.
	Candidate     ratemodel.Metrics  `json:"candidate"`
	Incumbent     *ratemodel.Metrics `json:"incumbent,omitempty"`
	IncumbentName string             `json:"incumbent_name,omitempty"`
}

const runCols = `id, trigger, requested_by, status, requested_at, started_at, finished_at, worker, message, report, model_id`

func scanRun(row interface{ Scan(...any) error }) (TrainingRun, error) {
	var r TrainingRun
	var report sql.NullString
	var model sql.NullInt64
	err := row.Scan(&r.ID, &r.Trigger, &r.RequestedBy, &r.Status, store.Time(&r.RequestedAt), store.NullTime(&r.StartedAt),
		store.NullTime(&r.FinishedAt), &r.Worker, &r.Message, &report, &model)
	if err != nil {
		return r, err
	}
	if report.Valid && report.String != "" {
		r.Report = new(RunReport)
		if err := json.Unmarshal([]byte(report.String), r.Report); err != nil {
			return r, fmt.Errorf("run %d report: %w", r.ID, err)
		}
	}
	r.ModelID = model.Int64
	return r, nil
}

// QueueRetrain asks for a retraining run. A run already queued and not yet
// started covers the request and is returned instead (created is false).
// Any replica running Service.Run picks the run up within its poll
// interval; Service.Retrain also wakes this one.
func QueueRetrain(ctx context.Context, db *store.DB, trigger, by string) (run TrainingRun, created bool, err error) {
	err = db.InTx(ctx, func(tx *store.Tx) error {
		r, err := scanRun(tx.QueryRow(ctx, `SELECT `+runCols+` FROM market_training_runs WHERE status = 'queued' ORDER BY id LIMIT 1`))
		if err == nil {
			run = r
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO market_training_runs (trigger, requested_by, status, requested_at) VALUES (?, ?, 'queued', ?) RETURNING id`,
			trigger, by, tx.Now()).Scan(&id); err != nil {
			return err
		}
		created = true
		run = TrainingRun{ID: id, Trigger: trigger, RequestedBy: by, Status: RunQueued, RequestedAt: tx.Now()}
		return nil
	})
	if err != nil {
		return TrainingRun{}, false, fmt.Errorf("queue retraining: %w", err)
	}
	return run, created, nil
}

// Retrain queues a retraining run on behalf of by (an operator) and wakes
// Run.
func (s *Service) Retrain(ctx context.Context, by string) (TrainingRun, error) {
	run, _, err := QueueRetrain(ctx, s.db, TriggerOperator, by)
	if err == nil {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return run, err
}

// TrainingRun returns one retraining run.
func (s *Service) TrainingRun(ctx context.Context, id int64) (TrainingRun, bool, error) {
	r, err := scanRun(s.db.QueryRow(ctx, `SELECT `+runCols+` FROM market_training_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// TrainingRuns lists the latest retraining runs, newest first.
func (s *Service) TrainingRuns(ctx context.Context, limit int) ([]TrainingRun, error) {
	rows, err := s.db.Query(ctx, `SELECT `+runCols+` FROM market_training_runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TrainingRun{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// schedule queues today's retraining once the time of day has come. The
// slot makes it one run a day however many replicas try; a run already
// queued becomes today's instead of a second one.
func (s *Service) schedule(ctx context.Context) error {
	if s.opts.RetrainAt < 0 {
		return nil
	}
	now := s.opts.Now().UTC()
	day := now.Truncate(24 * time.Hour)
	if now.Before(day.Add(s.opts.RetrainAt)) {
		return nil
	}
	slot := "daily:" + day.Format(time.DateOnly)
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM market_training_runs WHERE slot = ?`, slot).Scan(&n); err != nil || n > 0 {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE market_training_runs SET slot = ? WHERE id = (SELECT MIN(id) FROM market_training_runs WHERE status = 'queued') AND slot IS NULL`, slot)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO market_training_runs (trigger, slot, status, requested_at) VALUES ('schedule', ?, 'queued', ?) ON CONFLICT (slot) DO NOTHING`, slot, tx.Now())
		return err
	})
}

// RunQueued runs queued retraining runs one after another until none is
// left, and returns how many it ran. Only one replica trains at a time:
// while another's run is in progress, it returns at once.
func (s *Service) RunQueued(ctx context.Context) (int, error) {
	n := 0
	for {
		run, ok, err := s.claim(ctx)
		if err != nil || !ok {
			return n, err
		}
		n++
		if err := s.process(ctx, run); err != nil {
			return n, err
		}
	}
}

func (s *Service) claim(ctx context.Context) (TrainingRun, bool, error) {
	var run TrainingRun
	claimed := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		if _, err := tx.Exec(ctx, `UPDATE market_training_runs SET status = 'failed', finished_at = ?, message = ?
			WHERE status = 'running' AND started_at < ?`, now, "abandoned: its replica stopped while training", now.Add(-s.opts.TrainTimeout)); err != nil {
			return err
		}
		var running int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM market_training_runs WHERE status = 'running'`).Scan(&running); err != nil || running > 0 {
			return err
		}
		r, err := scanRun(tx.QueryRow(ctx, `SELECT `+runCols+` FROM market_training_runs WHERE status = 'queued' ORDER BY id LIMIT 1`+tx.ForUpdate()))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE market_training_runs SET status = 'running', started_at = ?, worker = ? WHERE id = ? AND status = 'queued'`,
			now, s.opts.Worker, r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			r.Status, r.StartedAt, r.Worker = RunRunning, &now, s.opts.Worker
			run, claimed = r, true
		}
		return nil
	})
	if err != nil {
		return run, false, fmt.Errorf("claim a retraining run: %w", err)
	}
	return run, claimed, nil
}

// process trains, scores and, when the candidate is better, puts it into
// service, then records the outcome. A run interrupted by shutdown goes
// back to the queue for the next replica.
func (s *Service) process(ctx context.Context, run TrainingRun) error {
	start := time.Now()
	rep, modelID, status, msg, err := s.train(ctx, run)
	dctx := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		_, uerr := s.db.Exec(dctx, `UPDATE market_training_runs SET status = 'queued', started_at = NULL, worker = '' WHERE id = ?`, run.ID)
		return errors.Join(ctx.Err(), uerr)
	}
	if err != nil {
		status, msg = RunFailed, err.Error()
		s.log.Error("market: retraining failed", "run", run.ID, "err", err)
	} else {
		s.log.Info("market: retraining finished", "run", run.ID, "status", status, "model", modelID, "message", msg)
	}
	s.met.runs.WithLabelValues(status).Inc()
	s.met.trainSeconds.Observe(time.Since(start).Seconds())
	var report any
	if rep != nil {
		b, _ := json.Marshal(rep)
		report = string(b)
	}
	var model any
	if modelID > 0 {
		model = modelID
	}
	// An accepted run was finished in the transaction that stored its
	// model; the rest are finished here.
	if status != RunAccepted {
		if _, uerr := s.db.Exec(dctx, `UPDATE market_training_runs SET status = ?, finished_at = ?, message = ?, report = ?, model_id = ? WHERE id = ?`,
			status, s.db.Now(), msg, report, model, run.ID); uerr != nil {
			return fmt.Errorf("record retraining run %d: %w", run.ID, uerr)
		}
	}
	if status == RunAccepted {
		return s.refresh(dctx)
	}
	return nil
}

// errModelChanged says another replica put a model into service while this
// run was comparing against the previous one.
var errModelChanged = errors.New("the model in service changed")

func (s *Service) train(ctx context.Context, run TrainingRun) (*RunReport, int64, string, string, error) {
	all, err := history(ctx, s.db, time.Time{})
	if err != nil {
		return nil, 0, "", "", err
	}
	train, held := splitHeldBack(all)
	rep := &RunReport{Bookings: len(all), Trained: len(train), HeldBack: len(held)}
	if len(held) < minHeldBack || len(train) < ratemodel.MinHistory {
		return rep, 0, RunFailed, fmt.Sprintf("too little history to retrain: %d bookings to learn from and %d held back for scoring (need %d and %d)",
			len(train), len(held), ratemodel.MinHistory, minHeldBack), nil
	}
	t0 := time.Now()
	model, trep, err := ratemodel.Train(ctx, train, ratemodel.Options{Seed: s.opts.Seed, Areas: s.opts.Areas})
	if err != nil {
		return rep, 0, "", "", fmt.Errorf("train: %w", err)
	}
	rep.TrainSeconds = time.Since(t0).Seconds()
	rep.Invalid, rep.Outliers, rep.Trees = trep.Invalid, trep.Outliers(), trep.Trees
	cand, err := ratemodel.Evaluate(model, held)
	if err != nil {
		return rep, 0, "", "", fmt.Errorf("score the new model: %w", err)
	}
	rep.Candidate = cand
	blob, err := json.Marshal(model)
	if err != nil {
		return rep, 0, "", "", fmt.Errorf("encode the new model: %w", err)
	}
	through := all[len(all)-1].BookedAt
	for range 3 {
		incID, inc, name, err := s.incumbent(ctx, train, held)
		if err != nil {
			return rep, 0, "", "", err
		}
		rep.Incumbent, rep.IncumbentName = &inc, name
		if !ratemodel.Better(cand, inc) {
			s.rescore(incID, inc)
			return rep, 0, RunRejected, fmt.Sprintf("not better than the %s in service: MAPE %.2f%% against %.2f%%, coverage %.1f%% against %.1f%%",
				name, 100*cand.MAPE, 100*inc.MAPE, 100*cand.Coverage, 100*inc.Coverage), nil
		}
		msg := fmt.Sprintf("better than the %s in service: MAPE %.2f%% against %.2f%%, coverage %.1f%% against %.1f%%",
			name, 100*cand.MAPE, 100*inc.MAPE, 100*cand.Coverage, 100*inc.Coverage)
		id, err := s.accept(ctx, run, rep, incID, string(blob), through, msg)
		if errors.Is(err, errModelChanged) {
			continue
		}
		if err != nil {
			return rep, 0, "", "", err
		}
		s.setScore(cand)
		return rep, id, RunAccepted, msg, nil
	}
	return rep, 0, "", "", errModelChanged
}

// minHeldBack is the fewest held-back bookings worth comparing models on.
const minHeldBack = 20

// incumbent scores the rates in service on the held-back bookings: the
// newest stored model, or, when there is none, the rate table fitted on the
// training bookings (a new model must beat the rule of thumb to replace it).
func (s *Service) incumbent(ctx context.Context, train, held []ratemodel.Booking) (int64, ratemodel.Metrics, string, error) {
	id, err := latestModelID(ctx, s.db)
	if err != nil {
		return 0, ratemodel.Metrics{}, "", err
	}
	if id == 0 {
		m, err := ratemodel.Evaluate(ratemodel.FitTable(train), held)
		return 0, m, "rate table", err
	}
	p := s.pricer.Load()
	if p == nil || p.modelID != id {
		if p, err = s.loadModel(ctx, id); err != nil {
			return 0, ratemodel.Metrics{}, "", err
		}
	}
	m, err := ratemodel.Evaluate(p.model, held)
	return id, m, "model " + strconv.FormatInt(id, 10), err
}

// accept stores the model and finishes the run in one transaction, unless
// another model went into service since the comparison.
func (s *Service) accept(ctx context.Context, run TrainingRun, rep *RunReport, incID int64, blob string, through time.Time, msg string) (int64, error) {
	var id int64
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		// Two replicas accepting at once must not both win: PostgreSQL
		// takes the table's write lock (readers carry on), SQLite's single
		// writer already serialises.
		if tx.Dialect() == store.Postgres {
			if _, err := tx.Exec(ctx, `LOCK TABLE market_models IN EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		var latest int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM market_models`).Scan(&latest); err != nil {
			return err
		}
		if latest != incID {
			return errModelChanged
		}
		metrics, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO market_models (run_id, area_scheme, trained_at, history_through, bookings, mape, coverage, metrics, model)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			run.ID, s.opts.Areas.Name(), tx.Now(), through, rep.Trained, rep.Candidate.MAPE, rep.Candidate.Coverage, string(metrics), blob).Scan(&id); err != nil {
			return fmt.Errorf("store the model: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE market_training_runs SET status = 'accepted', finished_at = ?, message = ?, report = ?, model_id = ? WHERE id = ?`,
			tx.Now(), msg, string(metrics), id, run.ID); err != nil {
			return err
		}
		return tx.EmitNew(ctx, "market.model_accepted.v1", "", strconv.FormatInt(id, 10), map[string]any{
			"model_id": id, "run_id": run.ID, "mape": rep.Candidate.MAPE, "coverage": rep.Candidate.Coverage,
			"area_scheme": s.opts.Areas.Name(), "history_through": through,
		})
	})
	if err != nil {
		if errors.Is(err, errModelChanged) {
			return 0, err
		}
		return 0, fmt.Errorf("put the model into service: %w", err)
	}
	return id, nil
}

func latestModelID(ctx context.Context, db *store.DB) (int64, error) {
	var id int64
	if err := db.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM market_models`).Scan(&id); err != nil {
		return 0, fmt.Errorf("find the model in service: %w", err)
	}
	return id, nil
}

// pricer is what quotes come from: a trained model, or the rate table
// while there is none.
type pricer struct {
	modelID   int64
	model     *ratemodel.Model // as trained: what candidates are scored against
	quoting   *ratemodel.Model // model, its market index brought up to date
	table     *ratemodel.Table
	trainedAt time.Time
	through   time.Time // latest booking it learned from
	scheme    string
	score     ratemodel.Metrics // on the held-back bookings, when it was last measured
	// bookings and latest describe the history the table was fitted on,
	// or the bookings since training folded into quoting.
	bookings int64
	latest   time.Time
}

// Kinds of pricer, as quotes report them.
const (
	KindModel = "model"
	KindTable = "table"
)

func (p *pricer) kind() string {
	if p.model != nil {
		return KindModel
	}
	return KindTable
}

func (p *pricer) version() string {
	if p.model != nil {
		return strconv.FormatInt(p.modelID, 10)
	}
	return KindTable
}

func (p *pricer) quote(l ratemodel.Load) (ratemodel.Quote, error) {
	if p.quoting != nil {
		return p.quoting.Quote(l)
	}
	pr, err := p.table.Predict(l)
	return ratemodel.Quote{Prediction: pr}, err
}

func (s *Service) loadModel(ctx context.Context, id int64) (*pricer, error) {
	var blob, metrics string
	p := &pricer{modelID: id}
	err := s.db.QueryRow(ctx, `SELECT area_scheme, trained_at, history_through, metrics, model FROM market_models WHERE id = ?`, id).
		Scan(&p.scheme, store.Time(&p.trainedAt), store.Time(&p.through), &metrics, &blob)
	if err != nil {
		return nil, fmt.Errorf("read model %d: %w", id, err)
	}
	areas, ok := s.schemes[p.scheme]
	if !ok {
		return nil, fmt.Errorf("model %d was trained with market areas %q, which this version does not have", id, p.scheme)
	}
	if p.model, err = ratemodel.LoadModel(strings.NewReader(blob), areas); err != nil {
		return nil, fmt.Errorf("model %d: %w", id, err)
	}
	var rep RunReport
	if err := json.Unmarshal([]byte(metrics), &rep); err == nil {
		p.score = rep.Candidate
	}
	p.quoting = p.model
	return p, nil
}

// refresh puts into service the newest stored model (loaded, never
// trained), folds the bookings made since its training into its market
// index, or, with no model, fits the rate table on the history.
func (s *Service) refresh(ctx context.Context) error {
	s.reload.Lock()
	defer s.reload.Unlock()
	cur := s.pricer.Load()
	id, err := latestModelID(ctx, s.db)
	if err != nil {
		return err
	}
	if id > 0 {
		p := cur
		if p == nil || p.modelID != id {
			if p, err = s.loadModel(ctx, id); err != nil {
				return err
			}
			s.setScore(p.score)
			s.met.version.Set(float64(id))
			s.log.Info("market: rate model in service", "model", id, "trained_at", p.trainedAt, "mape", p.score.MAPE, "coverage", p.score.Coverage)
		}
		recent, err := history(ctx, s.db, p.through.Add(time.Microsecond))
		if err != nil {
			return err
		}
		if n, last := int64(len(recent)), latestOf(recent); n != p.bookings || !last.Equal(p.latest) {
			q := *p
			q.quoting, _ = p.model.WithBookings(recent)
			q.bookings, q.latest = n, last
			p = &q
		}
		s.pricer.Store(p)
		return nil
	}
	n, latest, err := historySize(ctx, s.db)
	if err != nil {
		return err
	}
	s.met.version.Set(0)
	if n == 0 {
		s.pricer.Store(nil)
		s.setScore(ratemodel.Metrics{})
		return nil
	}
	if cur != nil && cur.model == nil && cur.bookings == n && cur.latest.Equal(latest) {
		return nil
	}
	all, err := history(ctx, s.db, time.Time{})
	if err != nil {
		return err
	}
	p := &pricer{table: ratemodel.FitTable(all), bookings: n, latest: latest}
	if train, held := splitHeldBack(all); len(train) > 0 && len(held) > 0 {
		if m, err := ratemodel.Evaluate(ratemodel.FitTable(train), held); err == nil {
			p.score = m
		}
	}
	s.setScore(p.score)
	s.pricer.Store(p)
	return nil
}

func latestOf(bs []ratemodel.Booking) time.Time {
	var t time.Time
	for _, b := range bs {
		if b.BookedAt.After(t) {
			t = b.BookedAt
		}
	}
	return t
}

// rescore records a new measurement of the rates in service, taken on
// today's held-back bookings.
func (s *Service) rescore(modelID int64, m ratemodel.Metrics) {
	s.reload.Lock()
	defer s.reload.Unlock()
	if p := s.pricer.Load(); p != nil && p.modelID == modelID {
		q := *p
		q.score = m
		s.pricer.Store(&q)
		s.setScore(m)
	}
}

func (s *Service) setScore(m ratemodel.Metrics) {
	s.met.mape.Set(m.MAPE)
	s.met.coverage.Set(m.Coverage)
}

// Model describes the rates in service.
type Model struct {
	Kind       string             `json:"kind"`    // "model" or "table"
	Version    string             `json:"version"` // the model's ID, or "table"
	TrainedAt  *time.Time         `json:"trained_at,omitempty"`
	Through    *time.Time         `json:"history_through,omitempty"` // latest booking it learned from
	AreaScheme string             `json:"area_scheme,omitempty"`
	Holdout    *ratemodel.Metrics `json:"holdout,omitempty"` // its score on held-back bookings
}

// InService describes the rates quotes come from, or reports false when
// there is no market data at all.
func (s *Service) InService() (Model, bool) {
	p := s.pricer.Load()
	if p == nil {
		return Model{}, false
	}
	m := Model{Kind: p.kind(), Version: p.version()}
	if p.score.N > 0 {
		sc := p.score
		m.Holdout = &sc
	}
	if p.model != nil {
		t, th := p.trainedAt, p.through
		m.TrainedAt, m.Through, m.AreaScheme = &t, &th, p.scheme
	}
	return m, true
}

package matching

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// Kinds of match requests.
const (
	KindDriver = "driver" // the best loads for a driver
	KindLoad   = "load"   // the best drivers for a load
)

// Statuses of match requests.
const (
	RequestQueued = "queued"
	RequestDone   = "done"
	RequestFailed = "failed"
)

// EventRecommended carries a match request's result to the notification
// service.
const EventRecommended = "matching.recommended.v1"

// request is a match request's record.
type request struct {
	ID           string
	OrgID        string // the organization that may read it
	Kind         string
	SubjectID    string
	Source       string
	CarrierScope string // for a carrier's load requests: only its drivers
	TopN         int
	CreatedBy    string
}

// MatchRequest is a match request as the API shows it.
type MatchRequest struct {
	ID         string       `json:"id"`
	Kind       string       `json:"kind"`
	SubjectID  string       `json:"subject_id"`
	Source     string       `json:"source"`
	Status     string       `json:"status"`
	TopN       int          `json:"top_n"`
	Scope      string       `json:"scope"` // "carrier": the requesting carrier's drivers; "all"
	Anonymised bool         `json:"anonymised,omitempty"`
	CreatedBy  string       `json:"created_by"`
	CreatedAt  time.Time    `json:"created_at"`
	FinishedAt *time.Time   `json:"finished_at,omitempty"`
	HandledBy  string       `json:"handled_by,omitempty"`
	Attempts   int          `json:"attempts"`
	Result     *MatchResult `json:"result,omitempty"`
	Error      string       `json:"error,omitempty"`
}

// MatchResult is what a match request found.
type MatchResult struct {
	Note       string      `json:"note,omitempty"`
	Considered int         `json:"considered"`
	Items      []MatchItem `json:"items"`
}

// MatchItem is one match of a request's result.
type MatchItem struct {
	Rank      int     `json:"rank"`
	Score     float64 `json:"score"`
	LoadID    string  `json:"load_id"`
	DriverID  string  `json:"driver_id,omitempty"`
	CarrierID string  `json:"carrier_id,omitempty"`
	Factors   Factors `json:"factors"`
}

// RecommendedEvent is the data of a matching.recommended.v1 event.
type RecommendedEvent struct {
	RequestID string      `json:"request_id"`
	Kind      string      `json:"kind"`
	SubjectID string      `json:"subject_id"`
	Source    string      `json:"source"`
	OrgID     string      `json:"org_id"`
	Items     []MatchItem `json:"items"`
}

// MatchRequestInput asks for the best loads of a driver or the best
// drivers of a load.
type MatchRequestInput struct {
	DriverID string `json:"driver_id"`
	LoadID   string `json:"load_id"`
	TopN     int    `json:"top_n"`
}

// maxTopN bounds every ranked list.
const maxTopN = 50

// Validate checks the input's shape.
func (in MatchRequestInput) Validate() error {
	var fs freight.Fields
	switch {
	case in.DriverID == "" && in.LoadID == "":
		fs.Add("driver_id", "give driver_id or load_id")
	case in.DriverID != "" && in.LoadID != "":
		fs.Add("load_id", "give driver_id or load_id, not both")
	}
	checkID(&fs, "driver_id", in.DriverID)
	checkID(&fs, "load_id", in.LoadID)
	if in.TopN < 0 || in.TopN > maxTopN {
		fs.Add("top_n", "must be between 1 and %d (0 or absent takes the default)", maxTopN)
	}
	return fs.Err()
}

func checkID(fs *freight.Fields, field, id string) {
	if len(id) > 128 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		fs.Add(field, "not an ID")
	}
}

const requestCols = `id, org_id, kind, subject_id, source, carrier_scope, top_n, status, created_by, created_at, finished_at,
	handled_by, attempts, result, error`

func insertRequest(ctx context.Context, tx *store.Tx, r *request) error {
	_, err := tx.Exec(ctx, `INSERT INTO match_requests (id, org_id, kind, subject_id, source, carrier_scope, top_n, status,
		created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.OrgID, r.Kind, r.SubjectID, r.Source, r.CarrierScope, r.TopN, r.CreatedBy, tx.Now(), tx.Now())
	if err != nil {
		return fmt.Errorf("insert match request: %w", err)
	}
	return nil
}

func scanRequest(row interface{ Scan(...any) error }) (MatchRequest, request, error) {
	var m MatchRequest
	var r request
	var result sql.NullString
	err := row.Scan(&r.ID, &r.OrgID, &r.Kind, &r.SubjectID, &r.Source, &r.CarrierScope, &r.TopN, &m.Status, &r.CreatedBy,
		store.Time(&m.CreatedAt), store.NullTime(&m.FinishedAt), &m.HandledBy, &m.Attempts, &result, &m.Error)
	if err != nil {
		return m, r, err
	}
	m.ID, m.Kind, m.SubjectID, m.Source, m.TopN, m.CreatedBy = r.ID, r.Kind, r.SubjectID, r.Source, r.TopN, r.CreatedBy
	m.Scope = "all"
	if r.CarrierScope != "" {
		m.Scope = "carrier"
	}
	if result.Valid && result.String != "" {
		m.Result = &MatchResult{}
		if err := json.Unmarshal([]byte(result.String), m.Result); err != nil {
			return m, r, fmt.Errorf("match request %s result: %w", r.ID, err)
		}
	}
	return m, r, nil
}

// ensureQueue creates the work queue and the consumer the replicas share.
func (s *Service) ensureQueue(ctx context.Context) error {
	if err := s.bus.EnsureWorkQueue(ctx, queueStream, []string{"jobs.match.>"}); err != nil {
		return err
	}
	c, err := s.bus.JetStream().CreateOrUpdateConsumer(ctx, s.bus.StreamName(queueStream), jetstream.ConsumerConfig{
		Durable:       queueConsumer,
		Description:   "match requests, shared by the load-matching replicas",
		FilterSubject: s.bus.Subject(queueSubject),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       s.opts.AckWait,
		// The store counts failed attempts; the queue never gives up, so a
		// request cannot be stranded as queued.
		MaxDeliver: -1,
	})
	if err != nil {
		return fmt.Errorf("matching: consumer %s: %w", queueConsumer, err)
	}
	s.queue = c
	return nil
}

// queueMessage is the body of a queue message; the store holds the rest.
type queueMessage struct {
	RequestID string `json:"request_id"`
}

// publishTimeout bounds one publication to the queue.
const publishTimeout = 5 * time.Second

// enqueue publishes a request's message and records that the queue has it.
// The request ID is the message ID, so publishing twice within the
// queue's duplicate window stores one message.
func (s *Service) enqueue(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	data, _ := json.Marshal(queueMessage{RequestID: id})
	msg := &nats.Msg{Subject: s.bus.Subject(queueSubject), Data: data}
	if _, err := s.bus.JetStream().PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish match request %s: %w", id, err)
	}
	if _, err := s.db.Exec(ctx, `UPDATE match_requests SET enqueued_at = ? WHERE id = ? AND enqueued_at IS NULL`, s.db.Now(), id); err != nil {
		return fmt.Errorf("mark match request %s enqueued: %w", id, err)
	}
	return nil
}

// sweeper publishes the queued requests whose message the queue never
// acknowledged (a crash between commit and publish), once they are older
// than a sweep interval.
func (s *Service) sweeper(ctx context.Context) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := queryAll(ctx, s.db, `SELECT id FROM match_requests WHERE status = 'queued' AND enqueued_at IS NULL
			AND created_at < ? ORDER BY created_at LIMIT 100`,
			func(r interface{ Scan(...any) error }) (string, error) {
				var id string
				return id, r.Scan(&id)
			}, s.db.Now().Add(-s.opts.SweepInterval))
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("sweep match requests", "err", err)
			}
			continue
		}
		for _, id := range ids {
			if err := s.enqueue(ctx, id); err != nil {
				s.log.Warn("publish match request left unpublished", "request", id, "err", err)
			}
		}
	}
}

// work handles match requests until ctx ends.
func (s *Service) work(ctx context.Context, name string) error {
	it, err := s.queue.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return fmt.Errorf("matching: worker %s: %w", name, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return fmt.Errorf("matching: worker %s: %w", name, err)
			}
			s.log.Warn("next match request", "worker", name, "err", err)
			continue
		}
		s.handle(ctx, name, msg)
	}
}

func (s *Service) handle(ctx context.Context, worker string, msg jetstream.Msg) {
	var qm queueMessage
	if err := json.Unmarshal(msg.Data(), &qm); err != nil || qm.RequestID == "" {
		s.log.Error("undecodable match request terminated", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	log := s.log.With("request", qm.RequestID, "worker", worker)
	outcome, err := s.process(ctx, worker, qm.RequestID)
	if err != nil {
		if ctx.Err() != nil {
			return // redelivered elsewhere after AckWait, as if this process died
		}
		log.Warn("match request failed", "err", err)
		failed, ferr := s.failAttempt(ctx, qm.RequestID, err)
		switch {
		case ferr != nil:
			log.Warn("record failed attempt", "err", ferr)
			_ = msg.NakWithDelay(s.opts.RetryDelay)
		case failed:
			s.requests.WithLabelValues("failed").Inc()
			_ = msg.Ack()
		default:
			s.requests.WithLabelValues("retried").Inc()
			_ = msg.NakWithDelay(s.opts.RetryDelay)
		}
		return
	}
	s.requests.WithLabelValues(outcome).Inc()
	if err := msg.Ack(); err != nil {
		log.Warn("ack match request", "err", err)
	}
}

// process answers one request and stores the result, unless another
// delivery already did: the update only applies to a queued request, and
// the event commits with it, so both happen once.
func (s *Service) process(ctx context.Context, worker, id string) (string, error) {
	m, r, err := scanRequest(s.db.QueryRow(ctx, `SELECT `+requestCols+` FROM match_requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return "duplicate", nil
	}
	if err != nil {
		return "", fmt.Errorf("read match request: %w", err)
	}
	if m.Status != RequestQueued {
		return "duplicate", nil
	}
	res, err := s.match(ctx, r)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(res)
	if err != nil {
		return "", err
	}
	won := false
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		out, err := tx.Exec(ctx, `UPDATE match_requests SET status = 'done', result = ?, handled_by = ?, attempts = attempts + 1,
			finished_at = ?, updated_at = ? WHERE id = ? AND status = 'queued'`, string(body), worker, tx.Now(), tx.Now(), id)
		if err != nil {
			return fmt.Errorf("store match result: %w", err)
		}
		if n, _ := out.RowsAffected(); n != 1 {
			won = false
			return nil
		}
		won = true
		return tx.EmitNew(ctx, EventRecommended, r.OrgID, r.ID, RecommendedEvent{RequestID: r.ID, Kind: r.Kind,
			SubjectID: r.SubjectID, Source: r.Source, OrgID: r.OrgID, Items: res.Items})
	})
	if err != nil {
		return "", err
	}
	if !won {
		return "duplicate", nil
	}
	return "done", nil
}

// failAttempt counts a failed attempt and fails the request after the last.
func (s *Service) failAttempt(ctx context.Context, id string, cause error) (bool, error) {
	failed := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var attempts int
		var status string
		err := tx.QueryRow(ctx, `SELECT attempts, status FROM match_requests WHERE id = ?`+tx.ForUpdate(), id).Scan(&attempts, &status)
		if errors.Is(err, sql.ErrNoRows) {
			failed = true
			return nil
		}
		if err != nil {
			return err
		}
		if status != RequestQueued {
			failed = true
			return nil
		}
		attempts++
		st := RequestQueued
		var finished any
		if attempts >= s.opts.MaxAttempts {
			st, finished, failed = RequestFailed, tx.Now(), true
		}
		_, err = tx.Exec(ctx, `UPDATE match_requests SET attempts = ?, status = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ?`,
			attempts, st, clipError(cause), finished, tx.Now(), id)
		return err
	})
	return failed, err
}

func clipError(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// match answers a request from the index, reading its subject from the
// store first when this replica has not seen it yet.
func (s *Service) match(ctx context.Context, r request) (MatchResult, error) {
	res := MatchResult{Items: []MatchItem{}}
	now := s.now()
	top := r.TopN
	if top <= 0 || top > maxTopN {
		top = s.opts.TopN
	}
	switch r.Kind {
	case KindDriver:
		s.idx.mu.RLock()
		_, ok := s.idx.drivers[r.SubjectID]
		s.idx.mu.RUnlock()
		if !ok {
			if err := s.idx.refreshDriver(ctx, s.db, r.SubjectID); err != nil {
				return res, err
			}
		}
		live := s.eng.live(ctx, r.SubjectID, now)
		started := time.Now()
		s.idx.mu.RLock()
		defer s.idx.mu.RUnlock()
		rec, ok := s.idx.drivers[r.SubjectID]
		if !ok {
			res.Note = "the driver no longer exists"
			return res, nil
		}
		org := s.eng.originOf(rec, now, live)
		trips, st := s.eng.loadsFor(ctx, rec, &org, top)
		s.latency.WithLabelValues("loads_for_driver").Observe(time.Since(started).Seconds())
		res.Considered = st.Considered
		for i, t := range trips {
			res.Items = append(res.Items, MatchItem{Rank: i + 1, Score: round3(t.score), LoadID: t.load.ID, DriverID: rec.ID,
				CarrierID: rec.CarrierID, Factors: t.factors})
		}
	case KindLoad:
		ld, err := s.openLoad(ctx, r.SubjectID)
		if err != nil {
			return res, err
		}
		if ld == nil {
			res.Note = "the load is no longer open"
			return res, nil
		}
		started := time.Now()
		s.idx.mu.RLock()
		defer s.idx.mu.RUnlock()
		trips, st := s.eng.driversFor(ctx, ld, r.CarrierScope, now, top)
		s.latency.WithLabelValues("drivers_for_load").Observe(time.Since(started).Seconds())
		res.Considered = st.Considered
		for i, t := range trips {
			res.Items = append(res.Items, MatchItem{Rank: i + 1, Score: round3(t.score), LoadID: ld.ID, DriverID: t.driver.ID,
				CarrierID: t.driver.CarrierID, Factors: t.factors})
		}
	default:
		res.Note = "unknown kind " + r.Kind
	}
	return res, nil
}

// openLoad returns an open load from the index, reading it from the store
// when this replica has not seen it yet; nil when it is not open.
func (s *Service) openLoad(ctx context.Context, id string) (*openLoad, error) {
	s.idx.mu.RLock()
	ld, ok := s.idx.loads[id]
	s.idx.mu.RUnlock()
	if ok {
		return ld, nil
	}
	if err := s.idx.refreshLoad(ctx, s.db, s.miles, id); err != nil {
		return nil, err
	}
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	return s.idx.loads[id], nil
}

// Submit queues a dispatcher's match request. Carriers' dispatchers and
// admins ask about their own drivers, or about an open load for their own
// drivers; a poster asks about its own load (the result is anonymised);
// operators ask anything.
func (s *Service) Submit(ctx context.Context, p freight.Principal, in MatchRequestInput) (MatchRequest, error) {
	if !fleetManager(p) && !poster(p) && !p.Is(freight.RoleOperator) {
		return MatchRequest{}, freight.Errorf(freight.EFORBIDDEN, "match requests are for dispatchers, admins, shippers and operators")
	}
	if err := in.Validate(); err != nil {
		return MatchRequest{}, err
	}
	r := request{ID: uuid.Must(uuid.NewV7()).String(), OrgID: p.OrgID, Source: SourceDispatcher, TopN: in.TopN, CreatedBy: p.Subject()}
	if r.TopN == 0 {
		r.TopN = s.opts.TopN
	}
	if in.DriverID != "" {
		d, err := s.visibleDriver(ctx, p, in.DriverID)
		if err != nil {
			return MatchRequest{}, err
		}
		r.Kind, r.SubjectID = KindDriver, d.ID
	} else {
		l, scope, err := s.loadScope(ctx, p, in.LoadID)
		if err != nil {
			return MatchRequest{}, err
		}
		r.Kind, r.SubjectID, r.CarrierScope = KindLoad, l.ID, scope
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error { return insertRequest(ctx, tx, &r) })
	if err != nil {
		return MatchRequest{}, err
	}
	if err := s.enqueue(ctx, r.ID); err != nil {
		s.log.Warn("publish match request", "request", r.ID, "err", err)
	}
	return s.GetRequest(ctx, p, r.ID)
}

// visibleRequest is the WHERE clause of the requests p may read.
func visibleRequest(p freight.Principal) (string, []any) {
	switch {
	case p.Is(freight.RoleOperator):
		return "1=1", nil
	case fleetManager(p) || poster(p):
		return "org_id = ?", []any{p.OrgID}
	case p.Is(freight.RoleDriver):
		return "org_id = ? AND kind = 'driver' AND subject_id = ?", []any{p.OrgID, p.DriverID}
	}
	return "1=0", nil
}

// anonymise hides the drivers and carriers of a load request's matches
// from everyone but operators and the carrier whose drivers they are.
func anonymise(p freight.Principal, m *MatchRequest) {
	if m.Kind != KindLoad || m.Scope == "carrier" || p.Is(freight.RoleOperator) || m.Result == nil {
		return
	}
	m.Anonymised = true
	for i := range m.Result.Items {
		m.Result.Items[i].DriverID, m.Result.Items[i].CarrierID = "", ""
	}
}

// GetRequest returns a match request the caller may see.
func (s *Service) GetRequest(ctx context.Context, p freight.Principal, id string) (MatchRequest, error) {
	where, args := visibleRequest(p)
	m, _, err := scanRequest(s.db.QueryRow(ctx, `SELECT `+requestCols+` FROM match_requests WHERE id = ? AND `+where, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return MatchRequest{}, freight.NotFound("match request")
	}
	if err != nil {
		return MatchRequest{}, fmt.Errorf("match request: %w", err)
	}
	anonymise(p, &m)
	return m, nil
}

// ListRequests lists the match requests the caller may see, newest first.
func (s *Service) ListRequests(ctx context.Context, p freight.Principal, cursor string, limit int) (httpapi.Page[MatchRequest], error) {
	page := httpapi.Page[MatchRequest]{Items: []MatchRequest{}}
	where, args := visibleRequest(p)
	if cursor != "" {
		keys, err := httpapi.DecodeCursor(cursor, 2)
		if err != nil {
			return page, err
		}
		at, err := time.Parse(time.RFC3339Nano, keys[0])
		if err != nil {
			return page, freight.Errorf(freight.EINVALID, "malformed cursor")
		}
		where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
		args = append(args, at, at, keys[1])
	}
	rows, err := s.db.Query(ctx, `SELECT `+requestCols+` FROM match_requests WHERE `+where+` ORDER BY created_at DESC, id DESC LIMIT ?`,
		append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("match requests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, _, err := scanRequest(rows)
		if err != nil {
			return page, err
		}
		anonymise(p, &m)
		page.Items = append(page.Items, m)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = httpapi.EncodeCursor(last.CreatedAt.Format(time.RFC3339Nano), last.ID)
	}
	return page, rows.Err()
}

package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/store"
)

// deliverySpec is one delivery to create.
type deliverySpec struct {
	channel    Channel
	lane       string
	orgID      string
	userID     string
	endpointID string
	to         string
	n          Notification
	prefs      *Preferences // nil for webhooks: organizations' machines keep no quiet hours
}

// deliveryPayload is what a delivery stores: the notification and, for
// email and SMS, the address it goes to.
type deliveryPayload struct {
	To           string       `json:"to,omitempty"`
	Notification Notification `json:"notification"`
}

// addDelivery adds a delivery to those the event's transaction stores
// (flushDeliveries), once per event, kind, channel and target. A delivery
// due now is queued after the commit; one held for quiet hours or a digest
// is queued by the sweeper when it falls due.
func (s *Service) addDelivery(_ context.Context, tx *store.Tx, d deliverySpec, out *fanoutResult) error {
	now := tx.Now()
	next, digest := now, false
	if d.prefs != nil && !d.n.Urgent {
		next, digest = d.prefs.digestAt(now)
		next = d.prefs.holdUntil(next)
	}
	payload, err := json.Marshal(deliveryPayload{To: d.to, Notification: d.n})
	if err != nil {
		return err
	}
	target := d.userID
	if d.channel == ChannelWebhook {
		target = d.endpointID
	}
	id := newID()
	out.rows = append(out.rows, []any{id, d.n.EventID + "/" + string(d.n.Kind) + "/" + string(d.channel) + "/" + target, d.lane,
		string(d.channel), d.orgID, d.userID, d.endpointID, string(d.n.Kind), boolInt(d.n.Urgent), boolInt(digest), d.n.EventID,
		d.n.OccurredAt, string(payload), next, now, now})
	if !next.After(now) {
		out.due = append(out.due, queued{lane: d.lane, id: id})
	}
	return nil
}

// maxInsertRows bounds the rows of one INSERT (16 parameters each), well
// within the engines' limits on parameters.
const maxInsertRows = 200

// flushDeliveries stores the deliveries added so far, many rows a statement;
// those whose key exists already (the event was handled before) are left
// out, and only the new ones that are due are queued.
func (s *Service) flushDeliveries(ctx context.Context, tx *store.Tx, out *fanoutResult) error {
	inserted := map[string]bool{}
	for chunk := range slices.Chunk(out.rows, maxInsertRows) {
		var args []any
		for _, r := range chunk {
			args = append(args, r...)
		}
		row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)"
		rows, err := tx.Query(ctx, `INSERT INTO notify_deliveries (id, dedup_key, lane, channel, org_id, user_id, endpoint_id, kind, urgent, digest,
			event_id, occurred_at, payload, status, next_at, created_at, updated_at)
			VALUES `+row+strings.Repeat(", "+row, len(chunk)-1)+` ON CONFLICT (dedup_key) DO NOTHING RETURNING id`, args...)
		if err != nil {
			return fmt.Errorf("store deliveries: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("store deliveries: %w", err)
			}
			inserted[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store deliveries: %w", err)
		}
	}
	for _, q := range out.due {
		if inserted[q.id] {
			out.lanes = append(out.lanes, q)
		}
	}
	out.rows, out.due = nil, nil
	return nil
}

// laneMessage is the body of a queue message: a lane with work. What to
// send is read from the store.
type laneMessage struct {
	Lane string `json:"lane"`
}

// ensureQueue creates the work queue and its durable consumer, shared by
// every replica.
func (s *Service) ensureQueue(ctx context.Context) error {
	if err := s.bus.EnsureWorkQueue(ctx, queueStream, []string{"jobs.notify.>"}); err != nil {
		return err
	}
	c, err := s.bus.JetStream().CreateOrUpdateConsumer(ctx, s.bus.StreamName(queueStream), jetstream.ConsumerConfig{
		Durable:       queueDurable,
		Description:   "notification lanes with deliveries due",
		FilterSubject: s.bus.Subject(queueSubject),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       s.opts.AckWait,
		// The store counts attempts and dead-letters deliveries; the
		// queue never gives up on a lane.
		MaxDeliver:    -1,
		MaxAckPending: 10000,
	})
	if err != nil {
		return fmt.Errorf("notify: consumer %s: %w", queueDurable, err)
	}
	s.cons = c
	return nil
}

// publishTimeout bounds one publication to the queue.
const publishTimeout = 5 * time.Second

// enqueue says the lane has work. msgID de-duplicates within the queue's
// window: the delivery ID for new deliveries, the lane's head for the
// sweeper.
func (s *Service) enqueue(ctx context.Context, lane, msgID string) error {
	data, err := json.Marshal(laneMessage{Lane: lane})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	msg := &nats.Msg{Subject: s.bus.Subject(queueSubject), Data: data}
	if _, err := s.bus.JetStream().PublishMsg(ctx, msg, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("queue lane %s: %w", lane, err)
	}
	return nil
}

// enqueueAll queues several lanes at once: the publications go out
// together and their acknowledgements are awaited together. It returns the
// lanes that could not be queued (the sweeper queues them later).
func (s *Service) enqueueAll(ctx context.Context, lanes []queued) []error {
	if len(lanes) == 1 {
		if err := s.enqueue(ctx, lanes[0].lane, lanes[0].id); err != nil {
			return []error{err}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	var errs []error
	futures := make([]jetstream.PubAckFuture, 0, len(lanes))
	for _, l := range lanes {
		data, _ := json.Marshal(laneMessage{Lane: l.lane})
		f, err := s.bus.JetStream().PublishMsgAsync(&nats.Msg{Subject: s.bus.Subject(queueSubject), Data: data}, jetstream.WithMsgID(l.id))
		if err != nil {
			errs = append(errs, fmt.Errorf("queue lane %s: %w", l.lane, err))
			continue
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("queue lane: %w", err))
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("queue lane: %w", ctx.Err()))
		}
	}
	return errs
}

// deliver feeds the queue's messages to the workers until ctx is done.
func (s *Service) deliver(ctx context.Context) error {
	it, err := s.cons.Messages(jetstream.PullMaxMessages(s.opts.Workers))
	if err != nil {
		return fmt.Errorf("notify: queue messages: %w", err)
	}
	defer it.Stop()
	work := make(chan jetstream.Msg)
	done := make(chan struct{})
	for range s.opts.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for msg := range work {
				s.handleMessage(ctx, msg)
			}
		}()
	}
	defer func() {
		close(work)
		for range s.opts.Workers {
			<-done
		}
	}()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return fmt.Errorf("notify: queue: %w", err)
			}
			s.log.Warn("queue: next message", "err", err)
			continue
		}
		select {
		case work <- msg:
		case <-ctx.Done():
			_ = msg.Nak()
			return nil
		}
	}
}

func (s *Service) handleMessage(ctx context.Context, msg jetstream.Msg) {
	var m laneMessage
	if err := json.Unmarshal(msg.Data(), &m); err != nil || m.Lane == "" {
		s.log.Error("queue: undecodable message terminated", "err", err)
		_ = msg.Term()
		return
	}
	delay, err := s.runLane(ctx, m.Lane, func() { _ = msg.InProgress() })
	switch {
	case ctx.Err() != nil:
		// Shutting down: another replica takes the lane now.
		_ = msg.Nak()
	case err != nil:
		s.log.Warn("notification lane", "lane", m.Lane, "err", err)
		_ = msg.NakWithDelay(time.Second)
	case delay > 0:
		// This message is the lane's timer: it comes back when the head
		// of the lane is due again.
		_ = msg.NakWithDelay(delay)
	default:
		_ = msg.Ack()
	}
}

// runLane sends what is due on a lane while holding its lease. It returns
// a positive delay when the lane must be looked at again later (a retry is
// scheduled, or the recipient's rate limit is spent), zero when the lane is
// done or another worker holds it.
func (s *Service) runLane(ctx context.Context, lane string, progress func()) (time.Duration, error) {
	for {
		// A worker of this replica on the lane will see what this message
		// announces (it looks again after letting the lane go), so the
		// message needs no claim of its own.
		if !s.active.add(lane) {
			return 0, nil
		}
		token := newID()
		ok, err := s.claim(ctx, lane, token)
		if err != nil || !ok {
			s.active.remove(lane)
			return 0, err
		}
		delay, err := s.drain(ctx, lane, token, progress)
		s.release(lane, token)
		s.active.remove(lane)
		if err != nil || delay > 0 || ctx.Err() != nil {
			return delay, err
		}
		// A delivery committed while the lane was held may have been
		// queued to a worker that saw the lease (or this worker) and let
		// it go: look once more now that the lane is released.
		if _, found, err := s.head(ctx, lane, true); err != nil || !found {
			return 0, err
		}
	}
}

// lanes is the set of lanes a worker of this replica is on.
type lanes struct {
	mu sync.Mutex
	m  map[string]bool
}

func (l *lanes) add(lane string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]bool{}
	}
	if l.m[lane] {
		return false
	}
	l.m[lane] = true
	return true
}

func (l *lanes) remove(lane string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, lane)
}

// claim takes the lane's lease when nobody holds a live one.
func (s *Service) claim(ctx context.Context, lane, token string) (bool, error) {
	now := s.opts.Now()
	res, err := s.db.Exec(ctx, `INSERT INTO notify_lanes (lane, owner, lease_until) VALUES (?, ?, ?)
		ON CONFLICT (lane) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
		WHERE notify_lanes.lease_until < ?`, lane, token, now.Add(s.opts.AckWait), now)
	if err != nil {
		return false, fmt.Errorf("claim lane: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s *Service) renew(ctx context.Context, lane, token string) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE notify_lanes SET lease_until = ? WHERE lane = ? AND owner = ?`,
		s.opts.Now().Add(s.opts.AckWait), lane, token)
	if err != nil {
		return false, fmt.Errorf("renew lane: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// release gives the lease up; it runs even when the worker's context is
// cancelled, so the next replica need not wait for the lease to expire.
func (s *Service) release(lane, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.db.Exec(ctx, `DELETE FROM notify_lanes WHERE lane = ? AND owner = ?`, lane, token); err != nil {
		s.log.Warn("release lane", "lane", lane, "err", err)
	}
}

// delivery is a stored delivery.
type delivery struct {
	Seq        int64
	ID         string
	Lane       string
	Channel    Channel
	OrgID      string
	UserID     string
	EndpointID string
	Kind       Kind
	Digest     bool
	EventID    string
	OccurredAt time.Time
	Payload    deliveryPayload
	Status     string
	Attempts   int
	NextAt     time.Time
	LastError  string
	ReplayOf   string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Delivered  *time.Time

	// What sending learnt about the endpoint, for record.
	endpointFailing    bool
	endpointSuccess    time.Time
	endpointSuccessPtr *time.Time
}

const deliveryCols = `seq, id, lane, channel, org_id, user_id, endpoint_id, kind, digest, event_id, occurred_at, payload, status,
	attempts, next_at, last_error, replay_of, created_at, updated_at, delivered_at`

func scanDelivery(sc interface{ Scan(...any) error }) (delivery, error) {
	var d delivery
	var digest int
	var payload string
	err := sc.Scan(&d.Seq, &d.ID, &d.Lane, &d.Channel, &d.OrgID, &d.UserID, &d.EndpointID, &d.Kind, &digest, &d.EventID,
		store.Time(&d.OccurredAt), &payload, &d.Status, &d.Attempts, store.Time(&d.NextAt), &d.LastError, &d.ReplayOf,
		store.Time(&d.CreatedAt), store.Time(&d.UpdatedAt), store.NullTime(&d.Delivered))
	if err != nil {
		return d, err
	}
	d.Digest = digest != 0
	if err := json.Unmarshal([]byte(payload), &d.Payload); err != nil {
		return d, fmt.Errorf("delivery %s payload: %w", d.ID, err)
	}
	return d, nil
}

// head returns the delivery that goes next on a lane: the oldest pending
// one that is due or already being retried. A delivery being retried holds
// back the lane behind it (ordering); one held for quiet hours or a digest
// lets later urgent ones pass. With dueOnly, a head waiting for its retry
// counts as none.
func (s *Service) head(ctx context.Context, lane string, dueOnly bool) (delivery, bool, error) {
	now := s.opts.Now()
	d, err := scanDelivery(s.db.QueryRow(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries
		WHERE lane = ? AND status = 'pending' AND (attempts > 0 OR next_at <= ?) ORDER BY seq LIMIT 1`, lane, now))
	if errors.Is(err, sql.ErrNoRows) {
		return d, false, nil
	}
	if err != nil {
		return d, false, fmt.Errorf("lane head: %w", err)
	}
	if dueOnly && d.NextAt.After(now) {
		return d, false, nil
	}
	return d, true, nil
}

// maxDigest bounds the notifications one digest carries.
const maxDigest = 50

// sendAhead is how many deliveries of a lane are read at once. They are
// still sent one at a time, in order; their successes are recorded
// together, so a lane costs a read and a write per batch rather than per
// delivery. A crash before the record sends them again (at least once).
const sendAhead = 32

// drain sends the lane's due deliveries in order.
func (s *Service) drain(ctx context.Context, lane, token string, progress func()) (time.Duration, error) {
	renewed := s.opts.Now()
	for ctx.Err() == nil {
		// The lease is renewed once half of it is gone: a send takes at
		// most the webhook timeout, well under half the lease.
		if s.opts.Now().Sub(renewed) > s.opts.AckWait/2 {
			if ok, err := s.renew(ctx, lane, token); err != nil || !ok {
				return 0, err
			}
			renewed = s.opts.Now()
		}
		run, err := s.upNext(ctx, lane)
		if err != nil || len(run) == 0 {
			return 0, err
		}
		now := s.opts.Now()
		if run[0].NextAt.After(now) {
			// Waiting for a retry; the message that scheduled it wakes
			// the lane.
			return 0, nil
		}
		var sent []delivery
		for i, d := range run {
			if ctx.Err() != nil || (i > 0 && (d.Digest || d.NextAt.After(now))) {
				break
			}
			if wait := s.limited(ctx, d); wait > 0 {
				return wait, s.recordSent(ctx, sent)
			}
			batch := []delivery{d}
			if d.Digest {
				if batch, err = s.digestBatch(ctx, d); err != nil {
					return 0, errors.Join(err, s.recordSent(ctx, sent))
				}
			}
			progress()
			sendErr := s.send(ctx, batch)
			if sendErr == nil {
				sent = append(sent, batch...)
				if d.Digest {
					break // the digest took rows of the run: read again
				}
				continue
			}
			if err := s.recordSent(ctx, sent); err != nil {
				return 0, err
			}
			if ctx.Err() != nil {
				return 0, nil // shutting down mid-send: the delivery stays pending
			}
			retryIn, err := s.recordFailed(ctx, batch, sendErr)
			if err != nil || retryIn > 0 {
				return retryIn, err
			}
			sent = nil
			break // dead-lettered: the lane moves on
		}
		if err := s.recordSent(ctx, sent); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// limited applies the recipient's rate limit: it returns how long to wait
// before sending d, zero to send now.
func (s *Service) limited(ctx context.Context, d delivery) time.Duration {
	limit := s.opts.RecipientLimit
	if d.Channel == ChannelWebhook {
		limit = s.opts.EndpointLimit
	}
	dec, err := s.deps.Limiter.Allow(ctx, "notify:"+d.Lane, limit)
	if err != nil {
		s.log.Warn("recipient rate limit unavailable; sending", "lane", d.Lane, "err", err)
		return 0
	}
	if dec.Allowed {
		return 0
	}
	s.m.sent.WithLabelValues(string(d.Channel), "deferred").Inc()
	return max(dec.RetryAfter, 10*time.Millisecond)
}

// upNext returns the lane's next deliveries in order, starting with the
// head (see head).
func (s *Service) upNext(ctx context.Context, lane string) ([]delivery, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries
		WHERE lane = ? AND status = 'pending' AND (attempts > 0 OR next_at <= ?) ORDER BY seq LIMIT ?`, lane, s.opts.Now(), sendAhead)
	if err != nil {
		return nil, fmt.Errorf("lane deliveries: %w", err)
	}
	defer rows.Close()
	var out []delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Service) digestBatch(ctx context.Context, head delivery) ([]delivery, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries
		WHERE lane = ? AND status = 'pending' AND digest = 1 AND next_at <= ? ORDER BY seq LIMIT ?`, head.Lane, s.opts.Now(), maxDigest)
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	defer rows.Close()
	out := []delivery{head}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		if d.ID != head.ID {
			out = append(out, d)
		}
	}
	return out, rows.Err()
}

// backoff is the wait before retry number attempt (1 for the first):
// exponential, capped, with equal jitter so that a burst of failures does
// not come back at once.
func backoff(base, ceiling time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// recordSent records deliveries that were sent, in one statement.
func (s *Service) recordSent(ctx context.Context, sent []delivery) error {
	if len(sent) == 0 {
		return nil
	}
	now := s.opts.Now()
	args := []any{now, now}
	for _, d := range sent {
		args = append(args, d.ID)
	}
	q := `UPDATE notify_deliveries SET status = 'delivered', attempts = attempts + 1, last_error = '', delivered_at = ?, updated_at = ?
		WHERE status = 'pending' AND id IN (?` + strings.Repeat(",?", len(sent)-1) + `)`
	if _, err := s.db.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("record deliveries: %w", err)
	}
	for _, d := range sent {
		s.m.latency.WithLabelValues(string(d.Channel)).Observe(now.Sub(d.OccurredAt).Seconds())
		s.m.sent.WithLabelValues(string(d.Channel), "delivered").Inc()
	}
	// An endpoint's health is written when it changes, and its last
	// success at most once a minute, not on every delivery.
	last := sent[len(sent)-1]
	if last.Channel == ChannelWebhook && (last.endpointFailing || now.Sub(last.endpointSuccess) > time.Minute) {
		if _, err := s.db.Exec(ctx, `UPDATE notify_endpoints SET failing_since = NULL, last_success_at = ? WHERE id = ?`, now, last.EndpointID); err != nil {
			return fmt.Errorf("record endpoint success: %w", err)
		}
	}
	return nil
}

// recordFailed records a failed attempt and returns the retry delay when
// one is scheduled, zero when the deliveries are dead-lettered.
func (s *Service) recordFailed(ctx context.Context, batch []delivery, sendErr error) (time.Duration, error) {
	now := s.opts.Now()
	head := batch[0]
	ch := string(head.Channel)
	msg := truncate(sendErr.Error(), 500)
	attempts := head.Attempts + 1
	dead := errors.Is(sendErr, errPermanent) || attempts >= s.opts.MaxAttempts
	var retryIn time.Duration
	if !dead {
		retryIn = backoff(s.opts.RetryBase, s.opts.RetryMax, attempts)
	}
	for _, d := range batch {
		q := `UPDATE notify_deliveries SET attempts = attempts + 1, last_error = ?, next_at = ?, updated_at = ? WHERE id = ? AND status = 'pending'`
		args := []any{msg, now.Add(retryIn), now, d.ID}
		if dead {
			q = `UPDATE notify_deliveries SET status = 'dead', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? AND status = 'pending'`
			args = []any{msg, now, d.ID}
		}
		if _, err := s.db.Exec(ctx, q, args...); err != nil {
			return 0, fmt.Errorf("record failed attempt: %w", err)
		}
	}
	if dead {
		s.m.sent.WithLabelValues(ch, "dead").Add(float64(len(batch)))
		s.log.Warn("notification dead-lettered", "delivery", head.ID, "channel", ch, "attempts", attempts, "err", msg)
	} else {
		s.m.sent.WithLabelValues(ch, "retry").Add(float64(len(batch)))
	}
	if head.Channel == ChannelWebhook {
		disabled, err := s.endpointFailed(ctx, head.EndpointID, now)
		if err != nil || disabled {
			return 0, err
		}
	}
	if retryIn > 0 {
		return retryIn + 50*time.Millisecond, nil
	}
	return 0, nil
}

// endpointFailed notes a failure of an endpoint and disables it when it
// has failed without a success for DisableAfter; its pending deliveries
// are dead-lettered then, to be replayed once it is fixed.
func (s *Service) endpointFailed(ctx context.Context, endpointID string, now time.Time) (bool, error) {
	if _, err := s.db.Exec(ctx, `UPDATE notify_endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL`, now, endpointID); err != nil {
		return false, fmt.Errorf("record endpoint failure: %w", err)
	}
	var disabled bool
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		reason := fmt.Sprintf("failing without a success for %s", s.opts.DisableAfter)
		res, err := tx.Exec(ctx, `UPDATE notify_endpoints SET status = 'disabled', disabled_reason = ?, updated_at = ?
			WHERE id = ? AND status = 'active' AND failing_since <= ?`, reason, now, endpointID, now.Add(-s.opts.DisableAfter))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		disabled = true
		_, err = tx.Exec(ctx, `UPDATE notify_deliveries SET status = 'dead', last_error = ?, updated_at = ?
			WHERE endpoint_id = ? AND status = 'pending'`, "endpoint disabled: "+reason, now, endpointID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("disable endpoint: %w", err)
	}
	if disabled {
		s.log.Warn("webhook endpoint disabled", "endpoint", endpointID, "after", s.opts.DisableAfter)
	}
	return disabled, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// sweep queues the lanes that have a due delivery and no live lease: held
// deliveries that fell due, lanes whose message was lost or whose worker
// died. The message ID names the lane's head and the sweep period, so the
// replicas sweeping at once queue a lane once.
func (s *Service) sweep(ctx context.Context) error {
	now := s.opts.Now()
	rows, err := s.db.Query(ctx, `SELECT d.lane, MIN(d.seq) FROM notify_deliveries d
		WHERE d.status = 'pending' AND d.next_at <= ?
		AND NOT EXISTS (SELECT 1 FROM notify_lanes l WHERE l.lane = d.lane AND l.lease_until >= ?)
		GROUP BY d.lane LIMIT 1000`, now, now)
	if err != nil {
		return fmt.Errorf("sweep lanes: %w", err)
	}
	type laneHead struct {
		lane string
		seq  int64
	}
	var lanes []laneHead
	for rows.Next() {
		var l laneHead
		if err := rows.Scan(&l.lane, &l.seq); err != nil {
			rows.Close()
			return err
		}
		lanes = append(lanes, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	period := strconv.FormatInt(now.UnixNano()/int64(s.opts.SweepInterval), 10)
	var errs []error
	for _, l := range lanes {
		id := strings.Join([]string{"sweep", l.lane, strconv.FormatInt(l.seq, 10), period}, "/")
		if err := s.enqueue(ctx, l.lane, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) sweeper(ctx context.Context) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep notification lanes", "err", err)
		}
	}
}

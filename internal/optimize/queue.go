package optimize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishTimeout bounds one publication to the queue.
const publishTimeout = 5 * time.Second

// queueMessage is the body of a queue message: the job's ID. Everything
// else is read from the store, which is the record of the job.
type queueMessage struct {
	JobID string `json:"job_id"`
}

// ensureQueue creates the work queue and one durable consumer per
// priority. Replicas share the consumers, so each message goes to one
// worker. NATS servers before 2.10 take one filter subject per consumer,
// which is why priorities are separate consumers rather than one.
func (s *Service) ensureQueue(ctx context.Context) error {
	if err := s.bus.EnsureWorkQueue(ctx, queueStream, []string{"jobs.optimize.>"}); err != nil {
		return err
	}
	stream := s.bus.StreamName(queueStream)
	s.consumers = s.consumers[:0]
	for _, p := range Priorities {
		c, err := s.bus.JetStream().CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable:       consumerName(p),
			Description:   string(p) + " priority optimization jobs",
			FilterSubject: s.bus.Subject(queueSubject(p)),
			AckPolicy:     jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckWait:       s.opts.AckWait,
			// The store counts attempts and fails a job after
			// MaxAttempts; the queue never gives up on a message, so a
			// job cannot be stranded as running.
			MaxDeliver: -1,
		})
		if err != nil {
			return fmt.Errorf("optimize: consumer %s: %w", consumerName(p), err)
		}
		s.consumers = append(s.consumers, c)
	}
	return nil
}

// enqueue publishes a job's message and records that the queue has it. The
// job ID is the message ID, so the queue stores a job published twice
// within its duplicate window once.
func (s *Service) enqueue(ctx context.Context, id string, p Priority) error {
	data, err := json.Marshal(queueMessage{JobID: id})
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: s.bus.Subject(queueSubject(p)), Data: data}
	if _, err := s.bus.JetStream().PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish job %s: %w", id, err)
	}
	if _, err := s.db.Exec(ctx, `UPDATE optimize_jobs SET enqueued_at = ? WHERE id = ? AND enqueued_at IS NULL`, s.db.Now(), id); err != nil {
		return fmt.Errorf("mark job %s enqueued: %w", id, err)
	}
	return nil
}

// sweep publishes the queued jobs whose message the queue never
// acknowledged and that are older than one sweep interval, so that the
// submitting request had its chance first.
func (s *Service) sweep(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT id, priority FROM optimize_jobs WHERE status = 'queued' AND enqueued_at IS NULL
		AND created_at < ? ORDER BY created_at LIMIT 100`, s.db.Now().Add(-s.opts.SweepInterval))
	if err != nil {
		return fmt.Errorf("unpublished jobs: %w", err)
	}
	type job struct {
		id string
		p  Priority
	}
	var jobs []job
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.id, &j.p); err != nil {
			rows.Close()
			return fmt.Errorf("unpublished jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("unpublished jobs: %w", err)
	}
	var errs []error
	for _, j := range jobs {
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		err := s.enqueue(pctx, j.id, j.p)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.log.Info("published a job left unpublished", "job", j.id)
	}
	return errors.Join(errs...)
}

func (s *Service) sweeper(ctx context.Context) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep unpublished jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// next returns the next job message, taking every pending high job before
// a normal one and every normal one before a low one. It waits for a wake-up
// (a job published anywhere) or the poll interval (redeliveries announce
// nothing) when the queue is empty, and returns nil when ctx ends.
func (s *Service) next(ctx context.Context, wake <-chan struct{}) jetstream.Msg {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		for i, c := range s.consumers {
			msg, err := fetchOne(c)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Warn("fetch job", "priority", Priorities[i], "err", err)
				continue
			}
			if msg != nil {
				return msg
			}
		}
		t.Reset(s.opts.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-t.C:
		}
	}
}

// fetchOne takes one message that is available now, or none.
func fetchOne(c jetstream.Consumer) (jetstream.Msg, error) {
	batch, err := c.FetchNoWait(1)
	if err != nil {
		return nil, err
	}
	var msg jetstream.Msg
	for m := range batch.Messages() {
		msg = m
	}
	if err := batch.Error(); err != nil && msg == nil {
		return nil, err
	}
	return msg, nil
}

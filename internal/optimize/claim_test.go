package optimize

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// TestClaim checks what a worker does with each delivery of a job, by the
// job's state in the store.
func TestClaim(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seedOrgs(t, db)
		s, _ := newService(t, db, embeddedBus(t), testOptions("claim"))
		ctx := context.Background()
		now := db.Now()
		tests := []struct {
			name     string
			set      string // an UPDATE's SET clause putting the job in its state
			args     []any
			want     verdict
			status   Status
			attempts int
			errText  string
		}{
			{"queued", "status = 'queued'", nil, verdictRun, StatusRunning, 1, ""},
			{"running under a live lease", "status = 'running', attempts = 1, lease_until = ?", []any{now.Add(time.Minute)}, verdictWait, StatusRunning, 1, ""},
			{"running under an expired lease", "status = 'running', attempts = 1, lease_until = ?", []any{now.Add(-time.Second)}, verdictRun, StatusRunning, 2, ""},
			{"succeeded", "status = 'succeeded', attempts = 1", nil, verdictDrop, StatusSucceeded, 1, ""},
			{"cancelled", "status = 'cancelled'", nil, verdictDrop, StatusCancelled, 0, ""},
			{"cancel asked of a dead worker", "status = 'running', attempts = 1, lease_until = ?, cancel_requested_at = ?",
				[]any{now.Add(-time.Second), now}, verdictDrop, StatusCancelled, 1, ""},
			{"out of attempts", "status = 'running', attempts = 3, lease_until = ?", []any{now.Add(-time.Second)}, verdictDrop, StatusFailed, 3, "gave up after 3 attempts"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				j := submit(t, s, carrierA, JobRequest{Problem: solomon(t)})
				if _, err := db.Exec(ctx, `UPDATE optimize_jobs SET `+tt.set+` WHERE id = ?`, append(tt.args, j.ID)...); err != nil {
					t.Fatal(err)
				}
				v, c, wait, err := s.claim(ctx, "claimer/1", j.ID)
				if err != nil {
					t.Fatal(err)
				}
				if v != tt.want {
					t.Fatalf("verdict: got %d, want %d", v, tt.want)
				}
				if v == verdictWait && (wait <= 0 || wait > time.Minute+time.Second) {
					t.Errorf("wait: got %s, want the rest of the lease", wait)
				}
				got := getJob(t, s, j.ID)
				if got.Status != tt.status || got.Attempts != tt.attempts || !strings.Contains(got.Error, tt.errText) {
					t.Errorf("job: got %s, %d attempts, error %q; want %s, %d, %q", got.Status, got.Attempts, got.Error, tt.status, tt.attempts, tt.errText)
				}
				if v == verdictRun && (c.attempt != tt.attempts || got.Worker != "claimer/1" || c.timeLimit != DefaultTimeLimit) {
					t.Errorf("claimed: got attempt %d, worker %s, limit %s", c.attempt, got.Worker, c.timeLimit)
				}
			})
		}
		if v, _, _, err := s.claim(ctx, "claimer/1", "no-such-job"); err != nil || v != verdictDrop {
			t.Errorf("unknown job: got verdict %d, %v; want drop", v, err)
		}
	})
}

// TestFinishAttempt checks how an attempt's outcome is stored: a transient
// failure returns the job to the queue until its last attempt, and a
// worker whose attempt was superseded writes nothing.
func TestFinishAttempt(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite")
	s, _ := newService(t, db, embeddedBus(t), testOptions("finish"))
	ctx := context.Background()
	j := submit(t, s, carrierA, JobRequest{Problem: solomon(t)})
	boom := &transientError{errors.New("solver panic: boom")}

	for attempt := 1; attempt <= 3; attempt++ {
		v, c, _, err := s.claim(ctx, "w/1", j.ID)
		if err != nil || v != verdictRun || c.attempt != attempt {
			t.Fatalf("claim %d: got verdict %d, attempt %d, %v", attempt, v, c.attempt, err)
		}
		out, err := s.finish(ctx, c, &recorder{attempt: attempt}, Result{}, boom)
		if err != nil {
			t.Fatal(err)
		}
		got := getJob(t, s, j.ID)
		want := Status("")
		wantStatus := StatusQueued
		if attempt == 3 {
			want, wantStatus = StatusFailed, StatusFailed
		}
		if out != want || got.Status != wantStatus || got.Error != boom.Error() {
			t.Errorf("attempt %d: got outcome %q, status %s, error %q; want %q, %s, %q", attempt, out, got.Status, got.Error, want, wantStatus, boom.Error())
		}
	}

	k := submit(t, s, carrierA, JobRequest{Problem: solomon(t)})
	_, stale, _, _ := s.claim(ctx, "w/1", k.ID)
	if _, err := db.Exec(ctx, `UPDATE optimize_jobs SET lease_until = ? WHERE id = ?`, db.Now().Add(-time.Second), k.ID); err != nil {
		t.Fatal(err)
	}
	if v, _, _, _ := s.claim(ctx, "w/2", k.ID); v != verdictRun {
		t.Fatalf("second claim: got verdict %d, want run", v)
	}
	if _, err := s.finish(ctx, stale, &recorder{attempt: 1}, Result{Feasible: true, Routes: [][]int{{1}}}, nil); !errors.Is(err, errLost) {
		t.Errorf("stale worker's finish: got %v, want errLost", err)
	}
	if got := getJob(t, s, k.ID); got.Status != StatusRunning || got.Attempts != 2 || got.Worker != "w/2" {
		t.Errorf("after the stale finish: got %s, %d attempts, worker %s; want running, 2, w/2", got.Status, got.Attempts, got.Worker)
	}
}

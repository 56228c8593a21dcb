package optimize

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/backhaul/backhaul/internal/solver/check"
	"github.com/backhaul/backhaul/internal/solver/instance"
	"github.com/backhaul/backhaul/internal/store"
)

func itoa(n int) string { return strconv.Itoa(n) }

func readAll(res *http.Response) (string, error) {
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

// verifyResult checks a stored result against its instance with the
// independent checker.
func verifyResult(t *testing.T, j Job, p *Problem) {
	t.Helper()
	if j.Result == nil {
		t.Fatalf("job %s (%s): no result", j.ID, j.Status)
	}
	in, err := instance.Parse("", strings.NewReader(p.Instance))
	if err != nil {
		t.Fatal(err)
	}
	v := check.Solution(in, j.Result.Routes)
	if !v.Feasible || !j.Result.Feasible {
		t.Fatalf("job %s: stored feasible %v, checker %v: %v", j.ID, j.Result.Feasible, v.Feasible, v.Violations)
	}
	if v.Vehicles != j.Result.Vehicles {
		t.Errorf("job %s: got %d vehicles, checker counts %d", j.ID, j.Result.Vehicles, v.Vehicles)
	}
	if j.Progress.Vehicles == nil || *j.Progress.Vehicles != j.Result.Vehicles {
		t.Errorf("job %s: best so far %v, want the result's %d vehicles", j.ID, j.Progress.Vehicles, j.Result.Vehicles)
	}
}

// TestPriorityOrder queues a low, a normal and a high job while no worker
// runs; one worker then takes them high first, low last.
func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		s, _ := newService(t, db, buses[0], testOptions("prio"))
		var ids []string
		for _, pr := range []Priority{PriorityLow, PriorityNormal, PriorityHigh} {
			ids = append(ids, submit(t, s, carrierA, JobRequest{Name: string(pr), Priority: pr, TimeLimitS: ptr(1), Problem: solomon(t)}).ID)
		}
		run(t, s)
		var started []time.Time
		for _, id := range ids {
			j := waitStatus(t, s, id, StatusSucceeded)
			verifyResult(t, j, solomon(t))
			started = append(started, *j.StartedAt)
		}
		low, normal, high := started[0], started[1], started[2]
		if !high.Before(normal) || !normal.Before(low) {
			t.Errorf("pickup order: got high %s, normal %s, low %s; want high, normal, low",
				high.Format(time.StampMicro), normal.Format(time.StampMicro), low.Format(time.StampMicro))
		}
	})
}

// TestReplicasShareQueue runs two services on one store and one queue, as
// two replicas: every job runs exactly once, and both replicas work.
func TestReplicasShareQueue(t *testing.T) {
	t.Parallel()
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 2)
		a, _ := newService(t, db, buses[0], testOptions("replica-a"))
		b, _ := newService(t, db, buses[1], testOptions("replica-b"))
		run(t, a)
		run(t, b)
		var ids []string
		for i := range 4 {
			p := lilim(t)
			if i%2 == 1 {
				p = solomon(t)
			}
			ids = append(ids, submit(t, a, carrierA, JobRequest{TimeLimitS: ptr(1), Seed: ptr(int64(i)), Problem: p}).ID)
		}
		workers := map[string]int{}
		for i, id := range ids {
			j := waitStatus(t, a, id, StatusSucceeded, StatusFailed)
			if j.Status != StatusSucceeded || j.Attempts != 1 {
				t.Errorf("job %d: got %s after %d attempts (%s), want succeeded after 1", i, j.Status, j.Attempts, j.Error)
			}
			workers[strings.Split(j.Worker, "/")[0]]++
		}
		if workers["replica-a"] == 0 || workers["replica-b"] == 0 {
			t.Errorf("jobs per replica: got %v, want both replicas to run jobs", workers)
		}
		if got := outboxTypes(t, db); got[EventJobFinished+"/succeeded"] != 4 || got[EventJobFinished] != 4 {
			t.Errorf("finished events: got %v, want 4, all succeeded", got)
		}
	})
}

// TestWorkerCrash kills a worker mid-job without letting it acknowledge
// anything; the other replica takes the job after AckWait and finishes it.
func TestWorkerCrash(t *testing.T) {
	t.Parallel()
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 2)
		opts := func(name string) Options {
			o := testOptions(name)
			o.AckWait = 2 * time.Second
			return o
		}
		a, _ := newService(t, db, buses[0], opts("doomed"))
		b, _ := newService(t, db, buses[1], opts("survivor"))
		crash := run(t, a)
		j := submit(t, a, carrierA, JobRequest{TimeLimitS: ptr(3), Problem: lilim(t)})
		waitFor(t, "the first worker to report progress", func() bool {
			got := getJob(t, a, j.ID)
			return got.Status == StatusRunning && got.Progress.Points > 0
		})
		run(t, b)
		crash()

		got := waitStatus(t, b, j.ID, StatusSucceeded, StatusFailed)
		if got.Status != StatusSucceeded || got.Attempts != 2 || !strings.HasPrefix(got.Worker, "survivor/") {
			t.Fatalf("after the crash: got %s, %d attempts, worker %s (%s); want succeeded, 2 attempts, survivor",
				got.Status, got.Attempts, got.Worker, got.Error)
		}
		verifyResult(t, got, lilim(t))
		pts, err := b.Progress(t.Context(), carrierA, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		attempts := map[int]bool{}
		for i, p := range pts {
			attempts[p.Attempt] = true
			if p.Seq != i+1 {
				t.Errorf("progress point %d: got seq %d, want %d", i, p.Seq, i+1)
			}
		}
		if !attempts[1] || !attempts[2] {
			t.Errorf("progress attempts: got %v, want points of attempts 1 and 2", attempts)
		}
	})
}

// TestCancelRunning cancels a job in the middle of a long time limit: its
// worker stops and stores the best solution so far.
func TestCancelRunning(t *testing.T) {
	t.Parallel()
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 2)
		// The worker runs in one replica and the cancellation arrives at
		// the other.
		worker, _ := newService(t, db, buses[0], testOptions("worker"))
		front, _ := newService(t, db, buses[1], testOptions("front"))
		a := newAPI(t, front)
		run(t, worker)
		j := submit(t, front, carrierA, JobRequest{TimeLimitS: ptr(600), Problem: lilim(t)})
		waitFor(t, "progress", func() bool { return getJob(t, front, j.ID).Progress.Points > 0 })

		code, out := a.do("POST", "/api/v1/jobs/"+j.ID+"/cancel", "carrierA", nil)
		if code != http.StatusAccepted {
			t.Fatalf("cancel a running job: got %d %s, want 202", code, out)
		}
		if got := decode[Job](t, out); !got.CancelRequested || got.Status != StatusRunning {
			t.Errorf("cancel answer: got status %s, cancel requested %v", got.Status, got.CancelRequested)
		}
		// A 600 s job that ends well within the test's timeout stopped early.
		got := waitStatus(t, front, j.ID, StatusCancelled, StatusSucceeded, StatusFailed)
		if got.Status != StatusCancelled {
			t.Fatalf("got %s (%s), want cancelled", got.Status, got.Error)
		}
		verifyResult(t, got, lilim(t))
		if code, _ := a.do("POST", "/api/v1/jobs/"+j.ID+"/cancel", "carrierA", nil); code != http.StatusConflict {
			t.Errorf("cancel a cancelled job: got %d, want 409", code)
		}
		if got := outboxTypes(t, db); got[EventJobFinished+"/cancelled"] != 1 {
			t.Errorf("finished events: got %v, want one cancelled", got)
		}
	})
}

// TestQueueLengthMetric follows job_queue_length as jobs queue, are
// cancelled and are taken, and the job counters as they finish.
func TestQueueLengthMetric(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite")
	s, reg := newService(t, db, embeddedBus(t), testOptions("metrics"))
	if got := metric(t, reg, "job_queue_length", nil); got != 0 {
		t.Errorf("empty queue: got job_queue_length %v, want 0", got)
	}
	var ids []string
	for range 3 {
		ids = append(ids, submit(t, s, carrierA, JobRequest{TimeLimitS: ptr(1), Problem: solomon(t)}).ID)
	}
	if got := metric(t, reg, "job_queue_length", nil); got != 3 {
		t.Errorf("three queued: got job_queue_length %v, want 3", got)
	}
	if _, err := s.Cancel(t.Context(), carrierA, ids[0]); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, reg, "job_queue_length", nil); got != 2 {
		t.Errorf("one cancelled: got job_queue_length %v, want 2", got)
	}
	run(t, s)
	for _, id := range ids[1:] {
		waitStatus(t, s, id, StatusSucceeded)
	}
	if got := metric(t, reg, "job_queue_length", nil); got != 0 {
		t.Errorf("all taken: got job_queue_length %v, want 0", got)
	}
	for st, want := range map[string]float64{"succeeded": 2, "cancelled": 1, "failed": 0} {
		if got := metric(t, reg, "backhaul_optimize_jobs_total", map[string]string{"status": st}); got != want {
			t.Errorf("jobs_total{status=%s}: got %v, want %v", st, got, want)
		}
	}
	if got := metric(t, reg, "backhaul_optimize_job_run_seconds", nil); got != 2 {
		t.Errorf("run time observations: got %v, want 2", got)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, id, data string }

// TestEventsStream follows a job from another replica's stream: progress
// events, then done, then the end of the stream.
func TestEventsStream(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite")
	b := embeddedBus(t)
	worker, _ := newService(t, db, b, testOptions("worker"))
	front, _ := newService(t, db, b, testOptions("front"))
	a := newAPI(t, front)
	j := submit(t, front, carrierA, JobRequest{TimeLimitS: ptr(1), Problem: lilim(t)})

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/api/v1/jobs/"+j.ID+"/events", nil)
	req.Header.Set("X-Test-As", "carrierA")
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("events: got %d %s, want 200 text/event-stream", res.StatusCode, ct)
	}
	run(t, worker) // after the stream opened, so it sees the job queued

	var events []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				events = append(events, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read stream: %v", err)
	}
	if len(events) < 2 || events[len(events)-1].name != "done" {
		t.Fatalf("events: got %v, want progress events then done", events)
	}
	last := 0
	for _, e := range events[:len(events)-1] {
		if e.name != "progress" {
			t.Fatalf("got event %q before done, want progress", e.name)
		}
		var p Point
		if err := json.Unmarshal([]byte(e.data), &p); err != nil {
			t.Fatal(err)
		}
		if p.Seq != last+1 || e.id != itoa(p.Seq) || p.Vehicles <= 0 {
			t.Errorf("progress event: got id %s, %+v after seq %d", e.id, p, last)
		}
		last = p.Seq
	}
	var done Job
	if err := json.Unmarshal([]byte(events[len(events)-1].data), &done); err != nil {
		t.Fatal(err)
	}
	if done.Status != StatusSucceeded || done.Result == nil || done.Progress.Points != last {
		t.Errorf("done: got status %s, result %v, %d points; want succeeded with a result and %d points",
			done.Status, done.Result != nil, done.Progress.Points, last)
	}

	// A client that reconnects after the end gets the rest, then done.
	req, _ = http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/api/v1/jobs/"+j.ID+"/events", nil)
	req.Header.Set("X-Test-As", "carrierA")
	req.Header.Set("Last-Event-ID", itoa(last-1))
	res2, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	body, err := readAll(res2)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(body, "event: progress"); n != 1 || !strings.Contains(body, "event: done") {
		t.Errorf("resumed stream: got %d progress events (want 1) in %q", n, body)
	}
}

// TestSweeperPublishesUnsentJobs stores a job whose message was never
// published, as a crash between commit and publish leaves it.
func TestSweeperPublishesUnsentJobs(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite")
	s, _ := newService(t, db, embeddedBus(t), testOptions("sweeper"))
	sp, err := JobRequest{TimeLimitS: ptr(1), Problem: solomon(t)}.validate()
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.insertJob(t.Context(), carrierA, sp)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	got := waitStatus(t, s, j.ID, StatusSucceeded)
	verifyResult(t, got, solomon(t))
	var enqueued *time.Time
	if err := db.QueryRow(t.Context(), `SELECT enqueued_at FROM optimize_jobs WHERE id = ?`, j.ID).Scan(store.NullTime(&enqueued)); err != nil {
		t.Fatal(err)
	}
	if enqueued == nil {
		t.Error("enqueued_at: got NULL after the sweeper published the job")
	}
}

// TestRedeliveryOfFinishedJob publishes a finished job's message again: the
// worker drops it without running the job.
func TestRedeliveryOfFinishedJob(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite")
	b := embeddedBus(t)
	s, _ := newService(t, db, b, testOptions("redeliver"))
	run(t, s)
	j := submit(t, s, carrierA, JobRequest{TimeLimitS: ptr(1), Problem: solomon(t)})
	first := waitStatus(t, s, j.ID, StatusSucceeded)

	data, _ := json.Marshal(queueMessage{JobID: j.ID})
	if _, err := b.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: b.Subject(queueSubject(PriorityNormal)), Data: data},
		jetstream.WithMsgID(j.ID+"-again")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to drain", func() bool {
		info, err := s.consumers[1].Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer >= 2
	})
	again := getJob(t, s, j.ID)
	if again.Attempts != 1 || again.Status != StatusSucceeded || !again.FinishedAt.Equal(*first.FinishedAt) {
		t.Errorf("after redelivery: got %s, %d attempts, finished %v; want unchanged (succeeded, 1, %v)",
			again.Status, again.Attempts, again.FinishedAt, first.FinishedAt)
	}
}

package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/backhaul/backhaul/internal/event"
	"github.com/backhaul/backhaul/internal/freight"
)

// A load status change published on the events stream reaches the inboxes
// of both parties' staff and a webhook of the shipper, signed; handling the
// same event again (a redelivery, or another consumer) notifies nobody
// twice; other organizations see nothing.
func TestEventReachesInboxAndWebhook(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		s, _ := newService(t, db, buses[0], Deps{}, testOptions())
		h := newHook(t)
		ep := h.register(s, shipAdmin, "load.delivered")
		run(t, s)

		e := statusEvent(t, "load-1", freight.StatusDelivered)
		if err := buses[0].Publish(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the webhook", func() bool { return len(h.received()) == 1 })
		got := h.received()[0]
		if got.Type != KindLoadDelivered || got.EventID != e.ID || got.Data["load_id"] != "load-1" {
			t.Errorf("webhook body = %+v", got)
		}
		waitFor(t, "the inboxes", func() bool {
			return len(inbox(t, s, shipAdmin).Items) == 1 && len(inbox(t, s, carrierDisp).Items) == 1
		})
		for _, p := range []freight.Principal{shipUser, carrierAdm} {
			if n := len(inbox(t, s, p).Items); n != 1 {
				t.Errorf("inbox of %s has %d items, want 1", p.UserID, n)
			}
		}
		// A delivered load is not news for the driver; other tenants hear
		// nothing.
		for _, p := range []freight.Principal{driver, otherAdmin} {
			if n := len(inbox(t, s, p).Items); n != 0 {
				t.Errorf("inbox of %s has %d items, want 0", p.UserID, n)
			}
		}
		it := inbox(t, s, shipAdmin).Items[0]
		if it.Title != "Load load-1 is delivered" || it.Kind != KindLoadDelivered || inbox(t, s, shipAdmin).Unread != 1 {
			t.Errorf("inbox item = %+v", it)
		}

		// At least once in, exactly once out.
		handle(t, s, e)
		if err := s.HandleEvent(context.Background(), "another-consumer", e); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // a second webhook would have come by now
		if n := len(h.received()); n != 1 {
			t.Errorf("webhook received %d times, want 1", n)
		}
		if n := len(inbox(t, s, shipAdmin).Items); n != 1 {
			t.Errorf("inbox has %d items after redelivery, want 1", n)
		}
		if d := deliveries(t, s, shipAdmin, ep.ID, ""); len(d) != 1 || d[0].Status != "delivered" {
			t.Errorf("deliveries = %+v", d)
		}
		h.mu.Lock()
		bad := h.bad
		h.mu.Unlock()
		if bad != 0 {
			t.Errorf("%d requests failed signature verification", bad)
		}
	})
}

// A failing endpoint is retried with backoff, and the deliveries queued
// behind the failing one wait for it: the receiver sees them in order.
func TestWebhookRetriesKeepOrder(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		s, _ := newService(t, db, buses[0], Deps{}, testOptions())
		h := newHook(t)
		h.status = func(call int) int {
			if call <= 3 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}
		ep := h.register(s, shipAdmin, "*")
		for i := range 5 {
			handle(t, s, statusEvent(t, fmt.Sprintf("load-%d", i), freight.StatusDelivered))
		}
		run(t, s)
		waitFor(t, "five webhooks", func() bool { return len(h.received()) == 5 })
		for i, b := range h.received() {
			if want := fmt.Sprintf("load-%d", i); b.Data["load_id"] != want {
				t.Errorf("webhook %d is about %v, want %s", i, b.Data["load_id"], want)
			}
		}
		waitFor(t, "five recorded deliveries", func() bool { return len(deliveries(t, s, shipAdmin, ep.ID, "delivered")) == 5 })
		ds := deliveries(t, s, shipAdmin, ep.ID, "delivered")
		if len(ds) != 5 || ds[len(ds)-1].Attempts != 4 {
			t.Errorf("deliveries = %+v; want 5 delivered, the first after 4 attempts", ds)
		}
		if got := counter(s.m.sent.WithLabelValues("webhook", "retry")); got != 3 {
			t.Errorf("retries = %v, want 3", got)
		}
	})
}

// A permanent refusal dead-letters at once, repeated failures after
// MaxAttempts; dead deliveries are listed and replayed by hand.
func TestDeadLetterAndReplay(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		opts := testOptions()
		opts.MaxAttempts = 3
		s, _ := newService(t, db, buses[0], Deps{}, opts)
		h := newHook(t)
		var mu sync.Mutex
		answer := http.StatusBadRequest
		h.status = func(int) int { mu.Lock(); defer mu.Unlock(); return answer }
		ep := h.register(s, shipAdmin, "load.delivered", "load.cancelled")
		run(t, s)

		handle(t, s, statusEvent(t, "load-1", freight.StatusDelivered))
		waitFor(t, "a dead delivery", func() bool { return len(deliveries(t, s, shipAdmin, ep.ID, "dead")) == 1 })
		dead := deliveries(t, s, shipAdmin, ep.ID, "dead")[0]
		if dead.Attempts != 1 || !strings.Contains(dead.LastError, "400") {
			t.Errorf("dead delivery = %+v; want one attempt and the 400 recorded", dead)
		}

		mu.Lock()
		answer = http.StatusInternalServerError
		mu.Unlock()
		handle(t, s, statusEvent(t, "load-2", freight.StatusCancelled))
		waitFor(t, "a second dead delivery", func() bool { return len(deliveries(t, s, shipAdmin, ep.ID, "dead")) == 2 })
		if d := deliveries(t, s, shipAdmin, ep.ID, "dead")[0]; d.Attempts != 3 {
			t.Errorf("attempts = %d, want MaxAttempts (3)", d.Attempts)
		}

		// Another organization cannot see or replay them.
		if _, err := s.Replay(context.Background(), otherAdmin, ep.ID, dead.ID); freight.ErrorCode(err) != freight.ENOTFOUND {
			t.Errorf("replay by another organization: %v, want not found", err)
		}
		mu.Lock()
		answer = http.StatusOK
		mu.Unlock()
		fresh, err := s.Replay(context.Background(), shipAdmin, ep.ID, dead.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.ReplayOf != dead.ID {
			t.Errorf("replay_of = %q, want %q", fresh.ReplayOf, dead.ID)
		}
		waitFor(t, "the replay", func() bool { return len(h.received()) == 1 })
		if _, err := s.Replay(context.Background(), shipAdmin, ep.ID, dead.ID); freight.ErrorCode(err) != freight.ECONFLICT {
			t.Errorf("second replay: %v, want conflict", err)
		}
		if n := len(deliveries(t, s, shipAdmin, ep.ID, "replayed")); n != 1 {
			t.Errorf("%d replayed deliveries, want 1", n)
		}
	})
}

// An endpoint that keeps failing longer than DisableAfter is disabled, and
// what waited for it is dead-lettered for replay.
func TestFailingEndpointIsDisabled(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		opts := testOptions()
		opts.DisableAfter = 50 * time.Millisecond
		opts.MaxAttempts = 100
		s, _ := newService(t, db, buses[0], Deps{}, opts)
		h := newHook(t)
		h.status = func(int) int { return http.StatusBadGateway }
		ep := h.register(s, shipAdmin, "*")
		handle(t, s, statusEvent(t, "load-1", freight.StatusDelivered))
		handle(t, s, statusEvent(t, "load-2", freight.StatusDelivered))
		run(t, s)
		waitFor(t, "the endpoint to be disabled", func() bool {
			got, err := s.Endpoint(context.Background(), shipAdmin, ep.ID)
			return err == nil && got.Status == "disabled"
		})
		waitFor(t, "both deliveries dead", func() bool { return len(deliveries(t, s, shipAdmin, ep.ID, "dead")) == 2 })
		// New events no longer go to it.
		handle(t, s, statusEvent(t, "load-3", freight.StatusDelivered))
		if n := len(deliveries(t, s, shipAdmin, ep.ID, "")); n != 2 {
			t.Errorf("%d deliveries after disabling, want 2", n)
		}
		if _, err := s.Replay(context.Background(), shipAdmin, ep.ID, deliveries(t, s, shipAdmin, ep.ID, "dead")[0].ID); freight.ErrorCode(err) != freight.ECONFLICT {
			t.Errorf("replay to a disabled endpoint: %v, want conflict", err)
		}
	})
}

// Two replicas share the queue: every endpoint receives every event once,
// in order.
func TestReplicasShareTheQueue(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 2)
		a, _ := newService(t, db, buses[0], Deps{}, testOptions())
		b, _ := newService(t, db, buses[1], Deps{}, testOptions())
		hooks := []*hook{newHook(t), newHook(t), newHook(t)}
		for _, h := range hooks {
			h.register(a, shipAdmin, "load.delivered")
		}
		run(t, a)
		run(t, b)
		const n = 30
		for i := range n {
			e := statusEvent(t, fmt.Sprintf("load-%02d", i), freight.StatusDelivered)
			if err := buses[i%2].Publish(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		for i, h := range hooks {
			waitFor(t, fmt.Sprintf("hook %d", i), func() bool { return len(h.received()) >= n })
		}
		time.Sleep(200 * time.Millisecond)
		for i, h := range hooks {
			got := h.received()
			if len(got) != n {
				t.Errorf("hook %d received %d, want %d", i, len(got), n)
			}
			seen := map[string]bool{}
			for _, body := range got {
				if seen[body.ID] {
					t.Errorf("hook %d received delivery %s twice", i, body.ID)
				}
				seen[body.ID] = true
			}
		}
		if n := len(inbox(t, a, shipAdmin).Items); n != 30 {
			t.Errorf("inbox has %d items, want 30", n)
		}
	})
}

// pending_notifications counts the deliveries due and not sent.
func TestPendingGauge(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		s, reg := newService(t, db, buses[0], Deps{}, testOptions())
		h1, h2 := newHook(t), newHook(t)
		h1.register(s, shipAdmin, "*")
		h2.register(s, carrierAdm, "*")
		for i := range 3 {
			handle(t, s, statusEvent(t, fmt.Sprintf("load-%d", i), freight.StatusDelivered))
		}
		if got := gauge(t, reg); got != 6 {
			t.Errorf("pending_notifications = %v, want 6 (3 events, 2 endpoints)", got)
		}
		run(t, s)
		waitFor(t, "the backlog to drain", func() bool { return gauge(t, reg) == 0 })
	})
}

// gauge reads pending_notifications from the registry, as Prometheus would.
func gauge(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "pending_notifications" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("pending_notifications is not registered")
	return 0
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func asError(err error, target **freight.Error) bool { return errors.As(err, target) }

// Webhook URLs must be http(s) and, unless private networks are allowed,
// public; the dial-time check catches a name that resolves elsewhere
// later, and a receiver that hangs is cut off at the timeout.
func TestWebhookSSRFAndTimeout(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	opts := testOptions()
	opts.AllowPrivateWebhooks = false
	opts.WebhookTimeout = 200 * time.Millisecond
	s, _ := newService(t, db, buses[0], Deps{}, opts)
	for _, u := range []string{"ftp://example.com/x", "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://169.254.169.254/latest",
		"http://[::1]/x", "http://10.1.2.3/x", "https://user:pw@example.com/x", "/relative", "http://192.168.1.1/"} {
		_, err := s.CreateEndpoint(context.Background(), shipAdmin, EndpointInput{URL: u, EventTypes: []string{"*"}})
		var fe *freight.Error
		if !asError(err, &fe) || fe.Code != freight.EINVALID || len(fe.Fields) == 0 || fe.Fields[0].Field != "url" {
			t.Errorf("CreateEndpoint(%q) = %v, want invalid url", u, err)
		}
	}
	// Stored before the policy changed, or resolving elsewhere now: the
	// dial refuses it and the delivery is dead, not retried for ever.
	h := newHook(t)
	if _, err := db.Exec(context.Background(), `INSERT INTO notify_endpoints (id, org_id, url, event_types, secret, status, created_by, created_at, updated_at)
		VALUES ('ep-loop', 'org-ship', ?, '["*"]', 's', 'active', 'test', ?, ?)`, h.srv.URL, db.Now(), db.Now()); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	handle(t, s, statusEvent(t, "load-1", freight.StatusDelivered))
	waitFor(t, "the loopback delivery to die", func() bool { return len(deliveries(t, s, shipAdmin, "ep-loop", "dead")) == 1 })
	if d := deliveries(t, s, shipAdmin, "ep-loop", "dead")[0]; !strings.Contains(d.LastError, "not allowed") {
		t.Errorf("last error = %q", d.LastError)
	}
	if len(h.received()) != 0 {
		t.Error("the loopback receiver was reached")
	}
}

// A receiver slower than the timeout fails the attempt; the lane is retried,
// not stuck.
func TestWebhookTimeoutIsContained(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	opts := testOptions()
	opts.WebhookTimeout = 150 * time.Millisecond
	s, _ := newService(t, db, buses[0], Deps{}, opts)
	h := newHook(t)
	h.delay = time.Second
	ep := h.register(s, shipAdmin, "*")
	run(t, s)
	handle(t, s, statusEvent(t, "load-1", freight.StatusDelivered))
	waitFor(t, "a timed-out attempt", func() bool {
		ds := deliveries(t, s, shipAdmin, ep.ID, "pending")
		return len(ds) == 1 && ds[0].Attempts >= 1 && strings.Contains(ds[0].LastError, "Timeout")
	})
	h.mu.Lock()
	h.delay = 0
	h.mu.Unlock()
	waitFor(t, "the retry to succeed", func() bool { return len(h.received()) == 1 })
}

// A batch of events is handled in one transaction, in order, each once
// even when it comes twice.
func TestBatchOfEvents(t *testing.T) {
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		s, _ := newService(t, db, buses[0], Deps{}, testOptions())
		h := newHook(t)
		h.register(s, carrierAdm, "*")
		e1, e2 := statusEvent(t, "load-1", freight.StatusDispatched), statusEvent(t, "load-2", freight.StatusDelivered)
		if err := s.HandleEvents(context.Background(), "batch", []event.Event{e1, e2, e1}); err != nil {
			t.Fatal(err)
		}
		if n := len(inbox(t, s, carrierDisp).Items); n != 2 {
			t.Errorf("dispatcher's inbox has %d items, want 2", n)
		}
		// Dispatch concerns the driver; delivery does not.
		if items := inbox(t, s, driver).Items; len(items) != 1 || items[0].Kind != KindLoadDispatched {
			t.Errorf("driver's inbox = %+v", items)
		}
		run(t, s)
		waitFor(t, "two webhooks", func() bool { return len(h.received()) == 2 })
		if got := h.received(); got[0].EventID != e1.ID || got[1].EventID != e2.ID {
			t.Errorf("webhooks out of order: %s, %s", got[0].EventID, got[1].EventID)
		}
	})
}

package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/notify"
	"github.com/backhaul/backhaul/internal/notify/webhook"
)

func withWebhookNetworks(v string) setting {
	return func(c *appConfig) { c.NotifyWebhookNetworks = v }
}

// receiver is an organization's webhook receiver: it checks each
// signature with the secret it was given and keeps what it accepted.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret []byte
	got    []notify.WebhookBody
	bad    int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), 0) != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var b notify.WebhookBody
		if err := json.Unmarshal(body, &b); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.got = append(r.got, b)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) find(kind notify.Kind, loadID string) (notify.WebhookBody, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.got {
		if b.Type == kind && b.Data["load_id"] == loadID {
			return b, true
		}
	}
	return notify.WebhookBody{}, false
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type inboxPage struct {
	Items []struct {
		ID        string         `json:"id"`
		Kind      string         `json:"kind"`
		Title     string         `json:"title"`
		SubjectID string         `json:"subject_id"`
		Data      map[string]any `json:"data"`
	} `json:"items"`
	Unread int `json:"unread"`
}

func (p *platform) inbox(a account) inboxPage {
	p.t.Helper()
	var page inboxPage
	r := p.call("GET", "/api/v1/notifications", a.Token, nil)
	if r.Status != 200 {
		p.t.Fatalf("inbox = %d %s", r.Status, r.Body)
	}
	r.Decode(p.t, &page)
	return page
}

// A load booked by a carrier reaches the shipper's inbox and the
// shipper's webhook receiver, signed, through the outbox, the events
// stream, the notification triggers and the delivery queue; the carrier
// hears of its booking; another organization sees nothing of either.
func TestNotificationsEndToEnd(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine, withWebhookNetworks("any")))
			w := newWorld(t, p)
			other := p.signup("shipper", "Other Foods", "admin@other.test")
			rcv := newReceiver(t)
			ep := p.must(201, "POST", "/api/v1/webhooks", w.shipper.Token, map[string]any{
				"url": rcv.srv.URL + "/backhaul", "event_types": []string{"load.booked", "load.delivered"}, "description": "ERP"})
			rcv.mu.Lock()
			rcv.secret = []byte(str(ep, "secret"))
			rcv.mu.Unlock()

			id := str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id")
			p.must(201, "POST", "/api/v1/bookings", w.dispatcher.Token, map[string]any{"load_id": id})

			eventually(t, "the booking in the shipper's inbox", func() bool {
				for _, it := range p.inbox(w.shipper).Items {
					if it.Kind == "load.booked" && it.SubjectID == id {
						return true
					}
				}
				return false
			})
			eventually(t, "the booking at the shipper's webhook", func() bool { _, ok := rcv.find(notify.KindLoadBooked, id); return ok })
			b, _ := rcv.find(notify.KindLoadBooked, id)
			if b.OrgID != w.shipper.OrgID || b.EventType != "loads.status.v1" || b.Title != "Load PO-1 is booked" {
				t.Errorf("webhook body = %+v", b)
			}
			eventually(t, "the booking confirmation in the dispatcher's inbox", func() bool {
				for _, it := range p.inbox(w.dispatcher).Items {
					if it.Kind == "booking.confirmed" && it.Data["load_id"] == id {
						return true
					}
				}
				return false
			})

			// The shipper reads it; the count follows.
			page := p.inbox(w.shipper)
			before := page.Unread
			nid := page.Items[0].ID
			p.must(200, "POST", "/api/v1/notifications/"+nid+"/read", w.shipper.Token, nil)
			if n := p.must(200, "GET", "/api/v1/notifications/unread-count", w.shipper.Token, nil)["unread"].(float64); int(n) != before-1 {
				t.Errorf("unread = %v, want %d", n, before-1)
			}

			// Another tenant: an empty inbox, no access to the webhook or
			// the notification.
			if got := p.inbox(other); len(got.Items) != 0 {
				t.Errorf("another organization's inbox = %+v", got.Items)
			}
			p.must(404, "GET", "/api/v1/webhooks/"+str(ep, "id"), other.Token, nil)
			p.must(404, "GET", "/api/v1/webhooks/"+str(ep, "id")+"/deliveries", other.Token, nil)
			p.must(404, "POST", "/api/v1/notifications/"+nid+"/read", other.Token, nil)
			if items := p.must(200, "GET", "/api/v1/webhooks", other.Token, nil)["items"].([]any); len(items) != 0 {
				t.Errorf("another organization lists webhooks %v", items)
			}

			// The delivery is on record for the shipper's admin.
			d := p.must(200, "GET", "/api/v1/webhooks/"+str(ep, "id")+"/deliveries?status=delivered", w.shipper.Token, nil)
			if items := d["items"].([]any); len(items) == 0 {
				t.Errorf("no delivered deliveries listed: %v", d)
			}
			rcv.mu.Lock()
			bad := rcv.bad
			rcv.mu.Unlock()
			if bad != 0 {
				t.Errorf("%d webhook requests failed verification", bad)
			}
			metrics := p.call("GET", "/metrics", "", nil)
			if !strings.Contains(string(metrics.Body), "\npending_notifications ") {
				t.Error("/metrics lacks pending_notifications")
			}
		})
	}
}

// With PostgreSQL the default webhook policy refuses loopback and private
// addresses (server-side request forgery); the embedded default, a single
// machine, allows them.
func TestWebhookPolicyByMode(t *testing.T) {
	for engine, want := range map[string]int{"production": 422, "embedded": 201} {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine, withTargets("api-gateway", "notification-service")))
			admin := p.signup("shipper", "Acme Foods", "admin@acme.test")
			r := p.call("POST", "/api/v1/webhooks", admin.Token, map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"*"}})
			if r.Status != want {
				t.Fatalf("loopback webhook = %d, want %d: %s", r.Status, want, r.Body)
			}
			if want == 422 && !strings.Contains(string(r.Body), `"field":"url"`) {
				t.Errorf("problem does not name the url: %s", r.Body)
			}
		})
	}
}

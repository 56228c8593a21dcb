package notify

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, b)
	}
	return v
}

type problem struct {
	Code   string               `json:"code"`
	Errors []freight.FieldError `json:"errors"`
}

func wantProblem(t *testing.T, status int, body []byte, wantStatus int, field string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	if field == "" {
		return
	}
	p := decode[problem](t, body)
	for _, f := range p.Errors {
		if f.Field == field {
			return
		}
	}
	t.Errorf("problem %s does not name %q", body, field)
}

func TestInboxAPI(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	s, _ := newService(t, db, buses[0], Deps{}, testOptions())
	a := newAPI(t, s)
	handle(t, s, statusEvent(t, "load-1", freight.StatusDelivered))
	handle(t, s, statusEvent(t, "load-2", freight.StatusInTransit))

	st, b := a.do("GET", "/api/v1/notifications", "shipAdmin", nil)
	page := decode[InboxPage](t, b)
	if st != 200 || len(page.Items) != 2 || page.Unread != 2 || page.Items[0].Data["load_id"] != "load-2" {
		t.Fatalf("inbox = %d %s", st, b)
	}
	st, b = a.do("GET", "/api/v1/notifications?limit=1", "shipAdmin", nil)
	if first := decode[InboxPage](t, b); st != 200 || len(first.Items) != 1 || first.NextCursor == "" {
		t.Fatalf("first page = %d %s", st, b)
	} else {
		_, b = a.do("GET", "/api/v1/notifications?limit=1&cursor="+first.NextCursor, "shipAdmin", nil)
		if next := decode[InboxPage](t, b); len(next.Items) != 1 || next.Items[0].ID == first.Items[0].ID {
			t.Errorf("second page = %s", b)
		}
	}
	id := page.Items[0].ID

	// Another user's notification does not exist for the caller.
	st, b = a.do("POST", "/api/v1/notifications/"+id+"/read", "otherAdmin", nil)
	wantProblem(t, st, b, 404, "")
	st, b = a.do("POST", "/api/v1/notifications/"+id+"/read", "shipUser", nil)
	wantProblem(t, st, b, 404, "")

	st, b = a.do("POST", "/api/v1/notifications/"+id+"/read", "shipAdmin", nil)
	if it := decode[InboxItem](t, b); st != 200 || it.ReadAt == nil {
		t.Errorf("mark read = %d %s", st, b)
	}
	_, b = a.do("GET", "/api/v1/notifications/unread-count", "shipAdmin", nil)
	if n := decode[map[string]int](t, b)["unread"]; n != 1 {
		t.Errorf("unread = %d, want 1", n)
	}
	_, b = a.do("GET", "/api/v1/notifications?unread=true", "shipAdmin", nil)
	if p := decode[InboxPage](t, b); len(p.Items) != 1 || p.Items[0].ID == id {
		t.Errorf("unread page = %s", b)
	}
	st, b = a.do("POST", "/api/v1/notifications/read-all", "shipAdmin", nil)
	if m := decode[map[string]int](t, b); st != 200 || m["marked"] != 1 {
		t.Errorf("read-all = %d %s", st, b)
	}
	// shipUser's own copies are untouched.
	_, b = a.do("GET", "/api/v1/notifications/unread-count", "shipUser", nil)
	if n := decode[map[string]int](t, b)["unread"]; n != 2 {
		t.Errorf("unread of another user = %d, want 2", n)
	}

	for _, bad := range []struct{ path, field string }{
		{"/api/v1/notifications?unread=maybe", "unread"},
		{"/api/v1/notifications?limit=0", "limit"},
		{"/api/v1/notifications?cursor=%25%25", "cursor"},
	} {
		st, b := a.do("GET", bad.path, "shipAdmin", nil)
		wantProblem(t, st, b, 422, bad.field)
	}
	st, b = a.do("POST", "/api/v1/notifications/read-all", "shipAdmin", map[string]any{"up_to_seq": -1})
	wantProblem(t, st, b, 422, "up_to_seq")
	st, b = a.do("GET", "/api/v1/notifications", "apiKey", nil)
	wantProblem(t, st, b, 403, "")
}

func TestPreferencesAPI(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	s, _ := newService(t, db, buses[0], Deps{}, testOptions())
	a := newAPI(t, s)
	st, b := a.do("PUT", "/api/v1/notifications/preferences", "shipUser", map[string]any{
		"time_zone": "Nowhere/Special", "quiet_hours": map[string]string{"start": "9pm", "end": "07:00"}, "events": map[string]any{"load.booked": []string{"fax"}}})
	wantProblem(t, st, b, 422, "time_zone")
	wantProblem(t, st, b, 422, "quiet_hours.start")
	wantProblem(t, st, b, 422, "events.load.booked[0]")
	st, b = a.do("PUT", "/api/v1/notifications/preferences", "shipUser", []byte(`{"time_zone": 5}`))
	wantProblem(t, st, b, 422, "time_zone")

	st, b = a.do("PUT", "/api/v1/notifications/preferences/organization", "shipUser", map[string]any{"time_zone": "America/Chicago"})
	wantProblem(t, st, b, 403, "")
	st, b = a.do("PUT", "/api/v1/notifications/preferences/organization", "shipAdmin", map[string]any{
		"time_zone": "America/Chicago", "events": map[string]any{"load.posted": []string{}}})
	if st != 200 {
		t.Fatalf("org preferences = %d %s", st, b)
	}
	st, b = a.do("PUT", "/api/v1/notifications/preferences", "shipUser", map[string]any{
		"events": map[string]any{"load.booked": []string{"email", "in_app"}}, "quiet_hours": map[string]string{"start": "22:00", "end": "06:30"}})
	v := decode[PreferencesView](t, b)
	if st != 200 || v.Effective.TimeZone != "America/Chicago" || len(v.Effective.Events[KindLoadPosted]) != 0 ||
		len(v.Effective.Events[KindLoadBooked]) != 2 || v.Preferences.TimeZone != "" {
		t.Errorf("preferences = %d %s", st, b)
	}
	// Another organization's defaults do not leak.
	_, b = a.do("GET", "/api/v1/notifications/preferences", "otherAdmin", nil)
	if v := decode[PreferencesView](t, b); v.Effective.TimeZone != "UTC" {
		t.Errorf("other organization's preferences = %s", b)
	}
}

func TestWebhookAPI(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	s, _ := newService(t, db, buses[0], Deps{}, testOptions())
	a := newAPI(t, s)
	h := newHook(t)
	in := map[string]any{"url": h.srv.URL + "/hook", "event_types": []string{"load.delivered"}, "description": "ERP"}

	st, b := a.do("POST", "/api/v1/webhooks", "shipUser", in)
	wantProblem(t, st, b, 403, "")
	st, b = a.do("POST", "/api/v1/webhooks", "shipAdmin", map[string]any{"url": "gopher://x", "event_types": []string{"load.nope"}})
	wantProblem(t, st, b, 422, "url")
	wantProblem(t, st, b, 422, "event_types[0]")
	st, b = a.do("POST", "/api/v1/webhooks", "shipAdmin", map[string]any{"url": h.srv.URL, "event_types": []string{}})
	wantProblem(t, st, b, 422, "event_types")

	st, b = a.do("POST", "/api/v1/webhooks", "shipAdmin", in)
	ep := decode[Endpoint](t, b)
	if st != 201 || !strings.HasPrefix(ep.Secret, "whsec_") || ep.Status != "active" {
		t.Fatalf("create = %d %s", st, b)
	}
	st, b = a.do("GET", "/api/v1/webhooks/"+ep.ID, "shipAdmin", nil)
	if got := decode[Endpoint](t, b); st != 200 || got.Secret != "" || got.Description != "ERP" {
		t.Errorf("get = %d %s; the secret is shown once", st, b)
	}
	for _, path := range []string{"/api/v1/webhooks/" + ep.ID, "/api/v1/webhooks/" + ep.ID + "/deliveries"} {
		st, b = a.do("GET", path, "otherAdmin", nil)
		wantProblem(t, st, b, 404, "")
	}
	st, b = a.do("DELETE", "/api/v1/webhooks/"+ep.ID, "otherAdmin", nil)
	wantProblem(t, st, b, 404, "")
	st, b = a.do("POST", "/api/v1/webhooks/"+ep.ID+"/deliveries/nope/replay", "otherAdmin", nil)
	wantProblem(t, st, b, 404, "")
	_, b = a.do("GET", "/api/v1/webhooks", "otherAdmin", nil)
	if l := decode[map[string][]Endpoint](t, b); len(l["items"]) != 0 {
		t.Errorf("another organization lists %s", b)
	}
	_, b = a.do("GET", "/api/v1/webhooks", "shipAdmin", nil)
	if l := decode[map[string][]Endpoint](t, b); len(l["items"]) != 1 {
		t.Errorf("list = %s", b)
	}
	st, b = a.do("GET", "/api/v1/webhooks/"+ep.ID+"/deliveries?status=lost", "shipAdmin", nil)
	wantProblem(t, st, b, 422, "status")
	st, b = a.do("POST", "/api/v1/webhooks/"+ep.ID+"/deliveries/nope/replay", "shipAdmin", nil)
	wantProblem(t, st, b, 404, "")

	in["enabled"] = false
	st, b = a.do("PUT", "/api/v1/webhooks/"+ep.ID, "shipAdmin", in)
	if got := decode[Endpoint](t, b); st != 200 || got.Status != "disabled" {
		t.Errorf("disable = %d %s", st, b)
	}
	st, _ = a.do("DELETE", "/api/v1/webhooks/"+ep.ID, "shipAdmin", nil)
	if st != http.StatusNoContent {
		t.Errorf("delete = %d", st)
	}
	st, b = a.do("GET", "/api/v1/webhooks/"+ep.ID, "shipAdmin", nil)
	wantProblem(t, st, b, 404, "")
}

// The inbox stream sends the unread count, then each new notification as it
// is written.
func TestInboxStream(t *testing.T) {
	db, buses := setups[0].open(t, 1)
	s, _ := newService(t, db, buses[0], Deps{}, testOptions())
	run(t, s)
	a := newAPI(t, s)
	handle(t, s, statusEvent(t, "load-0", freight.StatusDelivered))

	req, _ := http.NewRequest("GET", a.srv.URL+"/api/v1/notifications/stream", nil)
	req.Header.Set("X-Test-As", "carrierDisp")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("stream = %d %s", res.StatusCode, ct)
	}
	events := make(chan [2]string, 16)
	go func() {
		sc := bufio.NewScanner(res.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{name, strings.TrimPrefix(line, "data: ")}
			}
		}
		close(events)
	}()
	next := func() [2]string {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(testTimeout):
			t.Fatal("no event on the stream")
		}
		return [2]string{}
	}
	if e := next(); e[0] != "unread" || e[1] != `{"unread":1}` {
		t.Errorf("first event = %v", e)
	}
	handle(t, s, statusEvent(t, "load-1", freight.StatusInTransit))
	e := next()
	if e[0] != "notification" || !strings.Contains(e[1], `"title":"Load load-1 is in transit"`) {
		t.Errorf("event = %v", e)
	}
	if e := next(); e[0] != "unread" || e[1] != `{"unread":2}` {
		t.Errorf("count after = %v", e)
	}
}

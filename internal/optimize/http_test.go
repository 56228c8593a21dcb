package optimize

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// TestJobsAPI submits, reads, lists and cancels jobs over HTTP on both store
// engines; no worker runs, so the jobs stay queued until cancelled.
func TestJobsAPI(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seedOrgs(t, db)
		s, _ := newService(t, db, embeddedBus(t), testOptions("api"))
		a := newAPI(t, s)

		var ids []string
		for i, pr := range []Priority{PriorityLow, PriorityNormal, PriorityHigh} {
			body := map[string]any{"name": fmt.Sprintf("plan %d", i), "priority": pr, "time_limit_s": 5, "seed": 7,
				"problem": map[string]any{"format": "lilim", "instance": instanceText(t, "lr101_12.txt")}}
			code, out := a.do("POST", "/api/v1/jobs", "carrierA", body)
			if code != http.StatusCreated {
				t.Fatalf("submit: got %d %s, want 201", code, out)
			}
			j := decode[Job](t, out)
			if j.Status != StatusQueued || j.Priority != pr || j.TimeLimitS != 5 || j.Seed != 7 || j.OrgID != carrierA.OrgID {
				t.Errorf("submitted job: got %+v", j)
			}
			if j.Problem.Kind != "pdptw" || j.Problem.Nodes != 25 || j.Problem.Format != "lilim" {
				t.Errorf("problem summary: got %+v, want pdptw with 25 nodes", j.Problem)
			}
			ids = append(ids, j.ID)
		}
		// Defaults: normal priority, 30 s, seed 1, the instance's name.
		code, out := a.do("POST", "/api/v1/jobs", "adminA", map[string]any{"problem": map[string]any{"format": "solomon", "instance": instanceText(t, "r101_25.txt")}})
		if code != http.StatusCreated {
			t.Fatalf("submit with defaults: got %d %s", code, out)
		}
		def := decode[Job](t, out)
		if def.Priority != PriorityNormal || def.TimeLimitS != 30 || def.Seed != DefaultSeed || def.Name != "R101_25" || def.Problem.Kind != "vrptw" {
			t.Errorf("defaults: got priority %s, limit %d, seed %d, name %q, kind %s; want normal, 30, 1, R101_25, vrptw",
				def.Priority, def.TimeLimitS, def.Seed, def.Name, def.Problem.Kind)
		}
		ids = append(ids, def.ID)

		code, out = a.do("GET", "/api/v1/jobs/"+ids[0], "carrierA", nil)
		if code != http.StatusOK {
			t.Fatalf("get: got %d %s", code, out)
		}
		if got := decode[Job](t, out); got.ID != ids[0] || got.Name != "plan 0" || got.Attempts != 0 || got.Result != nil {
			t.Errorf("get: got %+v", got)
		}

		// Newest first, two per page.
		var listed []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("pagination does not end")
			}
			path := "/api/v1/jobs?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			code, out := a.do("GET", path, "carrierA", nil)
			if code != http.StatusOK {
				t.Fatalf("list: got %d %s", code, out)
			}
			page := decode[httpapi.Page[Job]](t, out)
			for _, j := range page.Items {
				listed = append(listed, j.ID)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		want := []string{ids[3], ids[2], ids[1], ids[0]}
		if strings.Join(listed, ",") != strings.Join(want, ",") {
			t.Errorf("list: got %v, want %v", listed, want)
		}

		// Cancelling a queued job ends it at once; a second time conflicts.
		code, out = a.do("POST", "/api/v1/jobs/"+ids[1]+"/cancel", "carrierA", nil)
		if code != http.StatusOK {
			t.Fatalf("cancel: got %d %s, want 200", code, out)
		}
		if j := decode[Job](t, out); j.Status != StatusCancelled || j.FinishedAt == nil {
			t.Errorf("cancelled job: got status %s, finished %v", j.Status, j.FinishedAt)
		}
		if code, out := a.do("POST", "/api/v1/jobs/"+ids[1]+"/cancel", "carrierA", nil); code != http.StatusConflict {
			t.Errorf("second cancel: got %d %s, want 409", code, out)
		}
		code, out = a.do("GET", "/api/v1/jobs?status=cancelled", "carrierA", nil)
		if page := decode[httpapi.Page[Job]](t, out); code != http.StatusOK || len(page.Items) != 1 || page.Items[0].ID != ids[1] {
			t.Errorf("list cancelled: got %d %s, want just %s", code, out, ids[1])
		}
		code, out = a.do("GET", "/api/v1/jobs?status=queued", "carrierA", nil)
		if page := decode[httpapi.Page[Job]](t, out); code != http.StatusOK || len(page.Items) != 3 {
			t.Errorf("list queued: got %d, %d items, want 3", code, len(page.Items))
		}
		if code, _ := a.do("GET", "/api/v1/jobs?status=lost", "carrierA", nil); code != http.StatusUnprocessableEntity {
			t.Errorf("list with unknown status: got %d, want 422", code)
		}
		code, out = a.do("GET", "/api/v1/jobs/"+ids[0]+"/progress", "carrierA", nil)
		if code != http.StatusOK || strings.TrimSpace(string(out)) != `{"items":[]}` {
			t.Errorf("progress of a queued job: got %d %s, want an empty list", code, out)
		}

		got := outboxTypes(t, db)
		if got[EventJobSubmitted] != 4 || got[EventJobFinished+"/cancelled"] != 1 || got[EventJobFinished] != 1 {
			t.Errorf("outbox events: got %v, want 4 submitted and 1 finished (cancelled)", got)
		}
	})
}

// TestRoleMatrix walks every endpoint with every kind of caller against a
// job of carrier A: another tenant gets 404, roles the service is not for
// get 403.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite")
	s, _ := newService(t, db, embeddedBus(t), testOptions("roles"))
	a := newAPI(t, s)
	own := submit(t, s, carrierA, JobRequest{Problem: lilim(t), TimeLimitS: ptr(1)})
	body := map[string]any{"problem": map[string]any{"format": "lilim", "instance": instanceText(t, "lr101_12.txt")}}

	type call struct{ method, path string }
	calls := map[string]call{
		"submit":   {"POST", "/api/v1/jobs"},
		"list":     {"GET", "/api/v1/jobs"},
		"get":      {"GET", "/api/v1/jobs/" + own.ID},
		"progress": {"GET", "/api/v1/jobs/" + own.ID + "/progress"},
		"cancel":   {"POST", "/api/v1/jobs/" + own.ID + "/cancel"},
	}
	tests := []struct {
		who  string
		want map[string]int
		// sees is whether carrier A's job appears in the caller's list.
		sees bool
	}{
		{"adminA", map[string]int{"submit": 201, "list": 200, "get": 200, "progress": 200}, true},
		{"carrierA", map[string]int{"submit": 201, "list": 200, "get": 200, "progress": 200}, true},
		{"broker", map[string]int{"submit": 201, "list": 200, "get": 404, "progress": 404, "cancel": 404}, false},
		{"carrierB", map[string]int{"submit": 201, "list": 200, "get": 404, "progress": 404, "cancel": 404}, false},
		{"operator", map[string]int{"submit": 201, "list": 200, "get": 200, "progress": 200, "cancel": 403}, true},
		{"driverA", map[string]int{"submit": 403, "list": 403, "get": 403, "progress": 403, "cancel": 403}, false},
		{"shipper", map[string]int{"submit": 403, "list": 403, "get": 403, "progress": 403, "cancel": 403}, false},
		{"shipAdm", map[string]int{"submit": 403, "list": 403, "get": 403, "progress": 403, "cancel": 403}, false},
		{"nobody", map[string]int{"submit": 403, "list": 403, "get": 403, "progress": 403, "cancel": 403}, false},
	}
	for _, tt := range tests {
		t.Run(tt.who, func(t *testing.T) {
			for name, c := range calls {
				want, ok := tt.want[name]
				if !ok {
					continue
				}
				var b any
				if name == "submit" {
					b = body
				}
				if code, out := a.do(c.method, c.path, tt.who, b); code != want {
					t.Errorf("%s %s: got %d %s, want %d", c.method, c.path, code, out, want)
				}
			}
			if tt.want["list"] == 200 {
				_, out := a.do("GET", "/api/v1/jobs", tt.who, nil)
				seen := false
				for _, j := range decode[httpapi.Page[Job]](t, out).Items {
					seen = seen || j.ID == own.ID
					if tt.who != "operator" && j.OrgID != principals[tt.who].OrgID {
						t.Errorf("list shows job %s of %s", j.ID, j.OrgID)
					}
				}
				if seen != tt.sees {
					t.Errorf("list shows carrier A's job: got %v, want %v", seen, tt.sees)
				}
			}
		})
	}
	// The events stream checks visibility before it starts.
	if code, _ := a.do("GET", "/api/v1/jobs/"+own.ID+"/events", "carrierB", nil); code != http.StatusNotFound {
		t.Errorf("events of another tenant's job: got %d, want 404", code)
	}
	if code, _ := a.do("GET", "/api/v1/jobs/no-such-job", "operator", nil); code != http.StatusNotFound {
		t.Errorf("unknown job: got %d, want 404", code)
	}
	// The owner may cancel; the operator could not.
	if code, out := a.do("POST", "/api/v1/jobs/"+own.ID+"/cancel", "adminA", nil); code != http.StatusOK {
		t.Errorf("owner cancels: got %d %s, want 200", code, out)
	}
}

// TestSubmitRefusals checks that bad submissions name the field at fault.
func TestSubmitRefusals(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite")
	s, _ := newService(t, db, embeddedBus(t), testOptions("refusals"))
	a := newAPI(t, s)
	lr := instanceText(t, "lr101_12.txt")
	tests := []struct {
		name  string
		body  string
		code  int
		field string // the field the problem names, if any
		text  string // a fragment of its detail
	}{
		{"malformed instance", `{"problem":{"format":"lilim","instance":"25 200 1\n0 1 2"}}`, 422, "problem.instance", "malformed"},
		{"instance in the wrong format", fmt.Sprintf(`{"problem":{"format":"solomon","instance":%q}}`, lr), 422, "problem.instance", ""},
		{"unknown format", `{"problem":{"format":"tsplib","instance":"x"}}`, 422, "problem.format", "freight, lilim, solomon"},
		{"freight fields on a benchmark", fmt.Sprintf(`{"problem":{"format":"lilim","instance":%q,"trucks":[]}}`, lr), 422, "problem.trucks", "only for the freight format"},
		{"no problem", `{"name":"x"}`, 422, "problem", "required"},
		{"bad priority", fmt.Sprintf(`{"priority":"urgent","problem":{"format":"lilim","instance":%q}}`, lr), 422, "priority", ""},
		{"time limit too long", fmt.Sprintf(`{"time_limit_s":601,"problem":{"format":"lilim","instance":%q}}`, lr), 422, "time_limit_s", ""},
		{"time limit zero", fmt.Sprintf(`{"time_limit_s":0,"problem":{"format":"lilim","instance":%q}}`, lr), 422, "time_limit_s", ""},
		{"fractional time limit", `{"time_limit_s":1.5}`, 422, "time_limit_s", ""},
		{"negative seed", fmt.Sprintf(`{"seed":-1,"problem":{"format":"lilim","instance":%q}}`, lr), 422, "seed", ""},
		{"unknown field", `{"problem":{"format":"lilim","instance":"x","depot":1}}`, 422, "depot", "unknown"},
		{"not JSON", `{"problem":`, 400, "", ""},
		{"instance over 2 MiB", `{"problem":{"format":"lilim","instance":"` + strings.Repeat("1 ", MaxInstanceBytes/2+1) + `"}}`, 422, "problem.instance", "larger than"},
		{"body over 3 MiB", `{"name":"` + strings.Repeat("x", MaxRequestBytes) + `"}`, 413, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := a.do("POST", "/api/v1/jobs", "carrierA", []byte(tt.body))
			if code != tt.code {
				t.Fatalf("got %d %.300s, want %d", code, out, tt.code)
			}
			if tt.field == "" {
				return
			}
			p := decode[httpapi.Problem](t, out)
			for _, f := range p.Errors {
				if f.Field == tt.field && strings.Contains(f.Detail, tt.text) {
					return
				}
			}
			t.Errorf("got errors %+v, want one on %s mentioning %q", p.Errors, tt.field, tt.text)
		})
	}
	page, err := s.List(t.Context(), operator, ListFilter{})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("refused submissions stored jobs: got %d, %v", len(page.Items), err)
	}
}

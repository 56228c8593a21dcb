package geocode

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestSuggestHandler(t *testing.T) {
	mux := http.NewServeMux()
	Default().Routes(mux)
	get := func(query string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/places?"+query, nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: body %q: %v", query, rec.Body, err)
		}
		return rec.Code, body
	}
	code, body := get("q=" + url.QueryEscape("chica") + "&limit=3")
	items, _ := body["items"].([]any)
	if code != 200 || len(items) == 0 || len(items) > 3 {
		t.Fatalf("chica: %d %v", code, body)
	}
	if first := items[0].(map[string]any); first["city"] != "Chicago" || first["state"] != "IL" {
		t.Errorf("chica: first %v, want Chicago, IL", first)
	}
	if code, body = get("q=606"); code != 200 || !strings.HasPrefix(body["items"].([]any)[0].(map[string]any)["zip"].(string), "606") {
		t.Errorf("606: %d %v", code, body)
	}
	if code, body = get("q=zzzzqx"); code != 200 || len(body["items"].([]any)) != 0 {
		t.Errorf("no match: %d %v, want 200 and an empty list", code, body)
	}
	for _, bad := range []string{"q=a&limit=0", "q=a&limit=51", "q=a&limit=x", "q=" + strings.Repeat("a", 300)} {
		code, body := get(bad)
		if code != 422 && code != 400 {
			t.Errorf("%.30s: status %d, want a problem", bad, code)
		}
		if errs, _ := body["errors"].([]any); len(errs) == 0 {
			t.Errorf("%.30s: no field named: %v", bad, body)
		}
	}
}

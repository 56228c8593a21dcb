package scaleapi

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

func TestSimulationEndpoint(t *testing.T) {
	s := NewServer()
	mux := http.NewServeMux()
	s.Routes(mux)
	call := func(role freight.Role, query string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/scaling/simulations?"+query, nil)
		req = req.WithContext(httpapi.WithPrincipal(req.Context(), freight.Principal{OrgID: "o", UserID: "u", Role: role}))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}

	rec := call(freight.RoleOperator, "scenario=spike")
	if rec.Code != 200 {
		t.Fatalf("json: %d %s", rec.Code, rec.Body)
	}
	var runs []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &runs); err != nil {
		var one map[string]any
		if err2 := json.Unmarshal(rec.Body.Bytes(), &one); err2 != nil {
			t.Fatalf("json body: %v", err)
		}
	}
	if !strings.Contains(rec.Body.String(), "predictive") || !strings.Contains(rec.Body.String(), "api-gateway") {
		t.Errorf("json lacks the predictive run or a service: %.200s", rec.Body)
	}

	svg := call(freight.RoleOperator, "scenario=spike&format=svg&compare=predictive")
	if svg.Code != 200 || svg.Header().Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("svg: %d %q", svg.Code, svg.Header().Get("Content-Type"))
	}
	dec := xml.NewDecoder(svg.Body)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "script" || se.Name.Local == "foreignObject") {
			t.Fatalf("svg carries a <%s>", se.Name.Local)
		}
	}
	if text := call(freight.RoleOperator, "scenario=spike&format=text"); text.Code != 200 || !strings.Contains(text.Body.String(), "minutes above target latency") {
		t.Errorf("text: %d %.200s", text.Code, text.Body)
	}

	if r := call(freight.RoleShipper, "scenario=spike"); r.Code != 403 {
		t.Errorf("shipper: %d, want 403", r.Code)
	}
	for query, field := range map[string]string{
		"scenario=nope":                "scenario",
		"":                             "scenario",
		"scenario=daily&format=pdf":    "format",
		"scenario=daily&compare=other": "compare",
	} {
		r := call(freight.RoleOperator, query)
		if r.Code != 422 || !strings.Contains(r.Body.String(), `"field":"`+field+`"`) {
			t.Errorf("%q: %d %s, want 422 naming %s", query, r.Code, r.Body, field)
		}
	}
}

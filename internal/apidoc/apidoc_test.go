package apidoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/accounts"
	"github.com/backhaul/backhaul/internal/auth"
	"github.com/backhaul/backhaul/internal/documents"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/market"
	"github.com/backhaul/backhaul/internal/market/areas"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
	"github.com/backhaul/backhaul/internal/matching"
	"github.com/backhaul/backhaul/internal/optimize"
	"github.com/backhaul/backhaul/internal/reports"
	"github.com/backhaul/backhaul/internal/tracking"
	"github.com/backhaul/backhaul/internal/tracking/ingest"
	"github.com/backhaul/backhaul/internal/tracking/latest"
)

func mustParse(t testing.TB) *document {
	t.Helper()
	d, err := parse(spec)
	if err != nil {
		t.Fatalf("parse embedded document: %v", err)
	}
	return d
}

// pathOp is one operation with its path.
type pathOp struct {
	Path string
	methodOp
}

func allOps(d *document) []pathOp {
	var out []pathOp
	for _, p := range d.Paths.Keys {
		for _, mo := range d.Paths.Values[p].operations() {
			out = append(out, pathOp{p, mo})
		}
	}
	return out
}

func TestDocumentBasics(t *testing.T) {
	if !json.Valid(spec) {
		t.Fatal("openapi.json is not valid JSON")
	}
	d := mustParse(t)
	checks := []struct {
		name      string
		got, want string
	}{
		{"openapi", d.OpenAPI, "3.1.0"},
		{"info.title", d.Info.Title, "Backhaul API"},
		{"info.version", d.Info.Version, "1"},
		{"servers[0].url", func() string {
			if len(d.Servers) == 0 {
				return ""
			}
			return d.Servers[0].URL
		}(), "/"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if d.Info.License == nil || d.Info.License.Identifier != "Apache-2.0" || d.Info.License.Name != "Apache-2.0" {
		t.Errorf("info.license: got %+v, want Apache-2.0", d.Info.License)
	}

	schemes := d.Components.SecuritySchemes.Values
	if s := schemes["bearerAuth"]; s == nil || s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("securitySchemes.bearerAuth: got %+v, want an http bearer scheme", s)
	}
	if s := schemes["apiKeyHeader"]; s == nil || s.Type != "apiKey" || s.In != "header" || s.Name != "X-API-Key" {
		t.Errorf("securitySchemes.apiKeyHeader: got %+v, want an apiKey in header X-API-Key", s)
	}
	var gotTags []string
	for _, tg := range d.Tags {
		gotTags = append(gotTags, tg.Name)
		if tg.Description == "" {
			t.Errorf("tag %s has no description", tg.Name)
		}
	}
	wantTags := []string{"accounts", "loads", "bookings", "board", "documents", "carriers", "drivers", "trucks",
		"optimization-engine", "tracking-service", "market-intelligence", "load-matching", "notification-service", "reports", "operations"}
	if !slices.Equal(gotTags, wantTags) {
		t.Errorf("tags: got %v, want %v", gotTags, wantTags)
	}
}

// TestDocumentFormatting keeps the hand-written file canonical: two-space
// indentation as json.Indent writes it (so any formatter reproduces it) and
// no key written twice in one object, which a JSON map would silently drop.
func TestDocumentFormatting(t *testing.T) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, spec); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	want.WriteByte('\n')
	if !bytes.Equal(spec, want.Bytes()) {
		got, exp := strings.Split(string(spec), "\n"), strings.Split(want.String(), "\n")
		for i := range min(len(got), len(exp)) {
			if got[i] != exp[i] {
				t.Fatalf("openapi.json line %d: got %q, want %q (format it with two-space JSON indentation)", i+1, got[i], exp[i])
			}
		}
		t.Fatalf("openapi.json: got %d lines, want %d", len(got), len(exp))
	}
	if err := noDuplicateKeys(spec); err != nil {
		t.Fatal(err)
	}
}

// noDuplicateKeys walks every object of a JSON text.
func noDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{object: v == '{', keys: map[string]bool{}, expect: v == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.object && top.expect {
				if top.keys[v] {
					return fmt.Errorf("duplicate key %q at offset %d", v, dec.InputOffset())
				}
				top.keys[v] = true
				top.expect = false
				continue
			}
			if top != nil && top.object {
				top.expect = true
			}
		default:
			if top != nil && top.object {
				top.expect = true
			}
		}
	}
}

// TestRefsResolve follows every $ref of the document as a JSON Pointer, and
// requires every component to be used, so that none rots unnoticed.
func TestRefsResolve(t *testing.T) {
	var root any
	if err := json.Unmarshal(spec, &root); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	n := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok {
				s, _ := ref.(string)
				n++
				if _, err := resolvePointer(root, s); err != nil {
					t.Errorf("%s: $ref %q: %v", at, ref, err)
				}
				used[s] = true
			}
			for k, e := range v {
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range v {
				walk(e, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(root, "#")
	if n < 100 {
		t.Errorf("got %d references, want the document's many (is the walk broken?)", n)
	}
	comps, _ := root.(map[string]any)["components"].(map[string]any)
	for section, v := range comps {
		if section == "securitySchemes" {
			continue // used by name in security requirements
		}
		for name := range v.(map[string]any) {
			ref := "#/components/" + section + "/" + name
			if !used[ref] {
				t.Errorf("%s is never referenced", ref)
			}
		}
	}
}

func resolvePointer(root any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, errors.New("not a local JSON Pointer")
	}
	cur := root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q: parent is not an object", tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("no %q", tok)
		}
	}
	return cur, nil
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func TestOperations(t *testing.T) {
	d := mustParse(t)
	tags := map[string]bool{}
	for _, tg := range d.Tags {
		tags[tg.Name] = true
	}
	ids := map[string]string{}
	roleWords := regexp.MustCompile(`(?i)\b(admins?|shippers?|dispatchers?|drivers?|operators?|public|any authenticated|every role|whoever)\b`)
	ops := allOps(d)
	if len(ops) < 30 {
		t.Fatalf("got %d operations, want the whole API", len(ops))
	}
	for _, o := range ops {
		name := o.Method + " " + o.Path
		op := o.Op
		t.Run(name, func(t *testing.T) {
			if op.OperationID == "" {
				t.Error("no operationId")
			} else if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %q also used by %s", op.OperationID, prev)
			}
			ids[op.OperationID] = name
			if op.Summary == "" {
				t.Error("no summary")
			}
			if !roleWords.MatchString(op.Description) {
				t.Errorf("description %q does not say who may call it", op.Description)
			}
			if len(op.Tags) == 0 {
				t.Error("no tag")
			}
			for _, tg := range op.Tags {
				if !tags[tg] {
					t.Errorf("tag %q is not declared", tg)
				}
			}
			success := false
			for _, status := range op.Responses.Keys {
				success = success || strings.HasPrefix(status, "2")
			}
			if !success {
				t.Errorf("no 2xx response among %v", op.Responses.Keys)
			}

			// Path template and path parameters agree.
			params, err := d.opParameters(d.Paths.Values[o.Path], op)
			if err != nil {
				t.Fatal(err)
			}
			declared := map[string]bool{}
			for _, p := range params {
				if p.In == "path" {
					declared[p.Name] = true
					if !p.Required {
						t.Errorf("path parameter %s is not required", p.Name)
					}
				}
				if p.Schema == nil {
					t.Errorf("parameter %s has no schema", p.Name)
				}
			}
			for _, m := range pathParam.FindAllStringSubmatch(o.Path, -1) {
				if !declared[m[1]] {
					t.Errorf("path parameter {%s} is not declared", m[1])
				}
				delete(declared, m[1])
			}
			for name := range declared {
				t.Errorf("path parameter %s is not in the path", name)
			}

			public := op.Security != nil && len(*op.Security) == 0
			has := func(status string) bool { _, ok := op.Responses.Values[status]; return ok }
			if !public && !has("401") {
				t.Error("authenticated operation without a 401 response")
			}
			if strings.HasPrefix(o.Path, "/api/v1/") && !has("429") && (!public || strings.HasPrefix(o.Path, "/api/v1/auth/")) {
				t.Error("rate-limited operation without a 429 response")
			}
			if op.RequestBody != nil {
				for _, status := range []string{"400", "413", "422"} {
					if !has(status) {
						t.Errorf("operation with a request body without a %s response", status)
					}
				}
			}
			// Every error response is a problem.
			for _, status := range op.Responses.Keys {
				if !strings.HasPrefix(status, "4") && status != "default" {
					continue
				}
				r, err := d.responseOf(op.Responses.Values[status])
				if err != nil {
					t.Fatalf("response %s: %v", status, err)
				}
				mt := r.Content.Values["application/problem+json"]
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Problem" {
					t.Errorf("response %s is not application/problem+json with the Problem schema", status)
				}
			}
		})
	}
}

// route is one "METHOD /path" pattern.
type route struct{ method, path string }

func (r route) String() string { return r.method + " " + r.path }

var handleFunc = regexp.MustCompile(`mux\.HandleFunc\("([A-Z]+) (/[^"]*)"`)

// registeredRoutes reads the patterns a Go source file registers.
func registeredRoutes(t *testing.T, file string, re *regexp.Regexp) []route {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	var out []route
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		path := strings.TrimSuffix(m[2], "{$}")
		if path != "/" {
			path = strings.TrimSuffix(path, "/")
		}
		out = append(out, route{m[1], path})
	}
	if len(out) == 0 {
		t.Fatalf("%s: found no routes; has the registration style changed?", file)
	}
	return out
}

// TestDocumentMatchesRoutes is the check that keeps the reference true: every
// route the services register is documented with the same path template,
// and every documented /api/v1 operation is registered.
func TestDocumentMatchesRoutes(t *testing.T) {
	d := mustParse(t)
	documented := map[route]bool{}
	for _, o := range allOps(d) {
		documented[route{o.Method, o.Path}] = true
	}

	registered := map[route]string{}
	// The tracking service registers its per-load views and live streams
	// in live.go.
	for _, file := range []string{"../accounts/http.go", "../drivers/http.go", "../loads/http.go",
		"../optimize/http.go", "../tracking/http.go", "../tracking/live.go", "../market/http.go", "../matching/http.go", "../geocode/http.go", "../documents/http.go", "../reports/http.go", "../notify/http.go", "../scalesim/scaleapi/http.go", "apidoc.go"} {
		for _, r := range registeredRoutes(t, file, handleFunc) {
			registered[r] = file
		}
	}
	if len(registered) < 30 {
		t.Fatalf("got %d registered routes, want the whole API", len(registered))
	}
	for r, file := range registered {
		if !documented[r] {
			t.Errorf("%s (registered in %s) is not in openapi.json", r, file)
		}
	}
	for r := range documented {
		if strings.HasPrefix(r.path, "/api/v1/") && registered[r] == "" {
			t.Errorf("%s is in openapi.json but no service registers it", r)
		}
	}

	// The operational endpoints are registered by the process itself.
	files, err := filepath.Glob("../app/*.go")
	if err != nil {
		t.Fatal(err)
	}
	rootRoute := regexp.MustCompile(`\.Handle(?:Func)?\("([A-Z]+) (/[^"]*)"`)
	ops := map[route]bool{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if rootRoute.Match(src) {
			for _, r := range registeredRoutes(t, file, rootRoute) {
				ops[r] = true
			}
		}
	}
	for r := range documented {
		if !strings.HasPrefix(r.path, "/api/v1/") && !ops[r] {
			t.Errorf("%s is in openapi.json but the process does not register it", r)
		}
	}
}

// TestRoutesServeBoth checks the two routes this package registers.
func TestRoutesServeBoth(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	cases := []struct {
		path, contentType string
	}{
		{"/api/v1/openapi.json", "application/json"},
		{"/api/v1/docs", "text/html; charset=utf-8"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: got status %d, want 200", c.path, rec.Code)
		}
		if got := rec.Header().Get("Content-Type"); got != c.contentType {
			t.Errorf("GET %s: got Content-Type %q, want %q", c.path, got, c.contentType)
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if !bytes.Equal(rec.Body.Bytes(), spec) {
		t.Error("GET /api/v1/openapi.json: body differs from the embedded document")
	}
}

func TestReferencePage(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/api/v1/docs")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200: %s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("got Content-Type %q, want text/html", ct)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("got Content-Security-Policy %q, want one that forbids scripts and remote resources", csp)
	}
	page := string(body)

	d := mustParse(t)
	for _, o := range allOps(d) {
		if !strings.Contains(page, `<span class="path">`+o.Path+`</span>`) {
			t.Errorf("page does not show the path of %s %s", o.Method, o.Path)
		}
		if !strings.Contains(page, `id="`+anchor("op", o.Op.OperationID)+`"`) {
			t.Errorf("page has no section for operation %s", o.Op.OperationID)
		}
	}
	for _, name := range d.Components.Schemas.Keys {
		if !strings.Contains(page, `id="`+anchor("schema", name)+`"`) {
			t.Errorf("page has no section for schema %s", name)
		}
	}
	for _, bad := range []string{"<no value>", "{{", "}}", "ZgotmplZ", "%!", "<script", "<link", "<img", "<iframe", "@import", "url(", " src="} {
		if strings.Contains(page, bad) {
			i := strings.Index(page, bad)
			t.Errorf("page contains %q: …%s…", bad, page[max(0, i-80):min(len(page), i+80)])
		}
	}
	// Every in-page link leads somewhere.
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if ids[m[1]] {
			t.Errorf("id %q is used twice", m[1])
		}
		ids[m[1]] = true
	}
	links := regexp.MustCompile(`href="#([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(links) < len(allOps(d)) {
		t.Errorf("got %d in-page links, want at least one per operation", len(links))
	}
	for _, m := range links {
		if !ids[m[1]] {
			t.Errorf("link to #%s leads nowhere", m[1])
		}
	}
}

// goFields lists the JSON fields of a struct type as encoding/json sees
// them, with whether each is always present (neither omitempty nor
// omitzero).
func goFields(t reflect.Type) (names []string, always map[string]bool, types map[string]reflect.Type) {
	always, types = map[string]bool{}, map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				walk(ft)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			names = append(names, name)
			always[name] = !slices.ContainsFunc(strings.Split(opts, ","), func(o string) bool { return o == "omitempty" || o == "omitzero" })
			types[name] = f.Type
		}
	}
	walk(t)
	return names, always, types
}

// jsonType is the JSON Schema type encoding/json gives a Go type, or "" for
// types marshalled their own way that the test does not know.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[time.Time]():
		return "string"
	case reflect.TypeFor[freight.Money]():
		return "number"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return ""
}

// TestSchemasMatchGoTypes compares each schema with the Go type the API
// encodes or decodes: the same JSON field names, the same JSON types,
// references to the schemas of nested types, and, for responses, required
// exactly when the field is always present.
func TestSchemasMatchGoTypes(t *testing.T) {
	d := mustParse(t)
	type mapping struct {
		schema   string
		goType   reflect.Type
		response bool
		extra    []string // Go fields the schema leaves out on purpose
	}
	mappings := []mapping{
		{"Problem", reflect.TypeFor[httpapi.Problem](), true, nil},
		{"FieldError", reflect.TypeFor[freight.FieldError](), true, nil},
		{"Organization", reflect.TypeFor[freight.Organization](), true, nil},
		{"User", reflect.TypeFor[freight.User](), true, nil},
		{"Session", reflect.TypeFor[accounts.Session](), true, nil},
		{"Me", reflect.TypeFor[accounts.Me](), true, nil},
		{"APIKey", reflect.TypeFor[freight.APIKey](), true, nil},
		{"NewAPIKey", reflect.TypeFor[accounts.NewAPIKey](), true, nil},
		{"Location", reflect.TypeFor[freight.Location](), true, nil},
		{"Window", reflect.TypeFor[freight.Window](), true, nil},
		{"Load", reflect.TypeFor[freight.Load](), true, nil},
		{"LoadPage", reflect.TypeFor[httpapi.Page[freight.Load]](), true, nil},
		{"LoadTransition", reflect.TypeFor[freight.LoadTransition](), true, nil},
		{"BoardItem", reflect.TypeFor[loads.BoardItem](), true, nil},
		{"BoardPage", reflect.TypeFor[httpapi.Page[loads.BoardItem]](), true, nil},
		{"Booking", reflect.TypeFor[freight.Booking](), true, nil},
		{"BookingPage", reflect.TypeFor[httpapi.Page[freight.Booking]](), true, nil},
		{"HOSClock", reflect.TypeFor[freight.HOSClock](), true, nil},
		{"Driver", reflect.TypeFor[freight.Driver](), true, nil},
		{"DriverPage", reflect.TypeFor[httpapi.Page[freight.Driver]](), true, nil},
		{"Truck", reflect.TypeFor[freight.Truck](), true, nil},

		{"JobProblemSummary", reflect.TypeFor[optimize.ProblemSummary](), true, nil},
		{"JobProgress", reflect.TypeFor[optimize.JobProgress](), true, nil},
		{"JobResult", reflect.TypeFor[optimize.Result](), true, nil},
		{"Job", reflect.TypeFor[optimize.Job](), true, nil},
		{"JobPage", reflect.TypeFor[httpapi.Page[optimize.Job]](), true, nil},
		{"JobProgressPoint", reflect.TypeFor[optimize.Point](), true, nil},

		{"PositionRejection", reflect.TypeFor[ingest.Rejection](), true, nil},
		{"PositionBatchResult", reflect.TypeFor[tracking.Result](), true, nil},
		{"DriverPosition", reflect.TypeFor[latest.Fix](), true, nil},
		{"NearbyDriver", reflect.TypeFor[latest.Near](), true, nil},
		{"TrackPoint", reflect.TypeFor[tracking.TrackPoint](), true, nil},
		{"Track", reflect.TypeFor[tracking.Track](), true, nil},
		{"Rollup", reflect.TypeFor[tracking.Rollup](), true, nil},
		{"ETA", reflect.TypeFor[tracking.ETA](), true, nil},
		{"Visit", reflect.TypeFor[tracking.Visit](), true, nil},
		{"LoadTracking", reflect.TypeFor[tracking.LoadTracking](), true, nil},

		{"AreaRef", reflect.TypeFor[market.AreaRef](), true, nil},
		{"MoneyRange", reflect.TypeFor[market.Range[freight.Money]](), true, nil},
		{"RatePerMileRange", reflect.TypeFor[market.Range[float64]](), true, nil},
		{"RateFactor", reflect.TypeFor[ratemodel.Factor](), true, nil},
		{"ModelMetrics", reflect.TypeFor[ratemodel.Metrics](), true, nil},
		{"RateModel", reflect.TypeFor[market.Model](), true, nil},
		{"RateQuote", reflect.TypeFor[market.RateQuote](), true, nil},
		{"GeoPoint", reflect.TypeFor[geo.Point](), true, nil},
		{"MarketArea", reflect.TypeFor[areas.Area](), true, nil},
		{"MarketLive", reflect.TypeFor[market.Live](), true, nil},
		{"AreaSummary", reflect.TypeFor[market.AreaSummary](), true, nil},
		{"IndexWindow", reflect.TypeFor[market.IndexWindow](), true, nil},
		{"RateIndex", reflect.TypeFor[market.RateIndex](), true, nil},
		{"DayForecast", reflect.TypeFor[market.DayForecast](), true, nil},
		{"EquipmentMarket", reflect.TypeFor[market.EquipmentMarket](), true, nil},
		{"AreaMarket", reflect.TypeFor[market.AreaMarket](), true, nil},
		{"HeatItem", reflect.TypeFor[market.HeatItem](), true, nil},
		{"HotMarkets", reflect.TypeFor[market.HotMarkets](), true, nil},
		{"ReloadOutlook", reflect.TypeFor[market.Outlook](), true, nil},
		{"LaneWeek", reflect.TypeFor[market.LaneWeek](), true, nil},
		{"LaneHistory", reflect.TypeFor[market.LaneHistory](), true, nil},
		{"TrainingRun", reflect.TypeFor[market.TrainingRun](), true, nil},
		{"RunReport", reflect.TypeFor[market.RunReport](), true, nil},

		{"MatchDriver", reflect.TypeFor[matching.DriverView](), true, nil},
		{"MatchStart", reflect.TypeFor[matching.StartView](), true, nil},
		{"MatchFactors", reflect.TypeFor[matching.Factors](), true, nil},
		{"ScoreContribution", reflect.TypeFor[matching.Contribution](), true, nil},
		{"RankChange", reflect.TypeFor[matching.Change](), true, nil},
		{"ScheduleStep", reflect.TypeFor[hos.Step](), true, nil},
		{"MatchSearch", reflect.TypeFor[matching.Search](), true, nil},
		{"Recommendation", reflect.TypeFor[matching.Recommendation](), true, nil},
		{"LoadsForDriver", reflect.TypeFor[matching.LoadsForDriver](), true, nil},
		{"DriversForLoad", reflect.TypeFor[matching.DriversForLoad](), true, nil},
		{"ChainLeg", reflect.TypeFor[matching.ChainLeg](), true, nil},
		{"Chain", reflect.TypeFor[matching.Chain](), true, nil},
		{"ChainsForDriver", reflect.TypeFor[matching.ChainsForDriver](), true, nil},
		{"PreferredLane", reflect.TypeFor[matching.Lane](), true, nil},
		{"NoGoArea", reflect.TypeFor[matching.Area](), true, nil},
		{"DriverPreferences", reflect.TypeFor[matching.Preferences](), true, nil},
		{"FleetAssignment", reflect.TypeFor[matching.Assignment](), true, nil},
		{"GreedyBaseline", reflect.TypeFor[matching.Baseline](), true, nil},
		{"FleetAssignResult", reflect.TypeFor[matching.AssignResult](), true, nil},
		{"MatchItem", reflect.TypeFor[matching.MatchItem](), true, nil},
		{"MatchResult", reflect.TypeFor[matching.MatchResult](), true, nil},
		{"MatchRequest", reflect.TypeFor[matching.MatchRequest](), true, nil},
		{"MatchRequestPage", reflect.TypeFor[httpapi.Page[matching.MatchRequest]](), true, nil},
		{"Document", reflect.TypeFor[documents.Document](), true, nil},
		{"DocumentList", reflect.TypeFor[struct {
			Items []documents.Document `json:"items"`
		}](), true, nil},
		{"LaneReportRow", reflect.TypeFor[reports.LaneRow](), true, nil},
		{"LaneReport", reflect.TypeFor[reports.Report[reports.LaneRow]](), true, nil},
		{"PerformanceReportRow", reflect.TypeFor[reports.PerformanceRow](), true, nil},
		{"PerformanceReport", reflect.TypeFor[reports.Report[reports.PerformanceRow]](), true, nil},

		{"SignupInput", reflect.TypeFor[accounts.SignupInput](), false, nil},
		{"LoginInput", reflect.TypeFor[accounts.LoginInput](), false, nil},
		{"UserInput", reflect.TypeFor[accounts.UserInput](), false, nil},
		{"APIKeyInput", reflect.TypeFor[accounts.APIKeyInput](), false, nil},
		{"LocationInput", reflect.TypeFor[freight.Location](), false, nil},
		{"LoadInput", reflect.TypeFor[freight.LoadInput](), false, nil},
		{"LoadStatusInput", reflect.TypeFor[loads.StatusInput](), false, nil},
		{"BookingInput", reflect.TypeFor[loads.BookingInput](), false, nil},
		{"AssignInput", reflect.TypeFor[loads.AssignInput](), false, nil},
		{"DriverInput", reflect.TypeFor[freight.DriverInput](), false, nil},
		{"DriverStatusInput", reflect.TypeFor[drivers.StatusInput](), false, nil},
		// The server stamps the time a clock is reported; a client's is ignored.
		{"HOSClockInput", reflect.TypeFor[freight.HOSClock](), false, []string{"updated_at"}},
		{"TruckInput", reflect.TypeFor[freight.TruckInput](), false, nil},
		{"JobInput", reflect.TypeFor[optimize.JobRequest](), false, nil},
		{"JobProblem", reflect.TypeFor[optimize.Problem](), false, nil},
		{"PositionReport", reflect.TypeFor[ingest.Point](), false, nil},
		{"QuoteInput", reflect.TypeFor[market.QuoteRequest](), false, nil},
		{"PreferencesInput", reflect.TypeFor[matching.PreferencesInput](), false, nil},
		{"FleetAssignInput", reflect.TypeFor[matching.AssignInput](), false, nil},
		{"MatchRequestInput", reflect.TypeFor[matching.MatchRequestInput](), false, nil},
	}
	// The schema each nested Go type is documented by, in responses and in
	// requests.
	named := map[bool]map[reflect.Type]string{true: {}, false: {}}
	for _, m := range mappings {
		named[m.response][m.goType] = m.schema
	}
	named[false][reflect.TypeFor[freight.Window]()] = "Window"
	// Preferences are written with the lanes and areas they are read with.
	named[false][reflect.TypeFor[matching.Lane]()] = "PreferredLane"
	named[false][reflect.TypeFor[matching.Area]()] = "NoGoArea"
	for _, side := range []bool{true, false} {
		for name, typ := range map[string]reflect.Type{
			"Equipment": reflect.TypeFor[freight.Equipment](), "LoadStatus": reflect.TypeFor[freight.LoadStatus](),
			"DriverStatus": reflect.TypeFor[freight.DriverStatus](), "Role": reflect.TypeFor[freight.Role](),
			"OrgKind": reflect.TypeFor[freight.OrgKind](), "JobPriority": reflect.TypeFor[optimize.Priority](),
			"JobStatus": reflect.TypeFor[optimize.Status](), "RejectionReason": reflect.TypeFor[ingest.Reason](),
		} {
			named[side][typ] = name
		}
	}

	for _, m := range mappings {
		t.Run(m.schema, func(t *testing.T) {
			s, ok := d.Components.Schemas.Values[m.schema]
			if !ok {
				t.Fatalf("no schema %s", m.schema)
			}
			specNames, props, required, err := d.properties(s)
			if err != nil {
				t.Fatal(err)
			}
			goNames, always, goTypes := goFields(m.goType)
			goNames = slices.DeleteFunc(goNames, func(n string) bool { return slices.Contains(m.extra, n) })
			a, b := slices.Sorted(slices.Values(specNames)), slices.Sorted(slices.Values(goNames))
			if !slices.Equal(a, b) {
				t.Errorf("properties: got %v, want the JSON fields of %v: %v", a, m.goType, b)
			}
			for _, name := range specNames {
				gt, ok := goTypes[name]
				if !ok {
					continue
				}
				p := props[name]
				if m.response && required[name] != always[name] {
					t.Errorf("%s: required is %v, want %v (required exactly when the Go field has neither omitempty nor omitzero)", name, required[name], always[name])
				}
				bare := gt
				for bare.Kind() == reflect.Pointer {
					bare = bare.Elem()
				}
				elem := bare
				if bare.Kind() == reflect.Slice {
					elem = bare.Elem()
				}
				for elem.Kind() == reflect.Pointer {
					elem = elem.Elem()
				}
				want := named[m.response][elem]
				ref := p.Ref
				if ref == "" && p.Items != nil {
					ref = p.Items.Ref
				}
				switch {
				case elem.Kind() == reflect.Interface:
					// Encoded as whatever it holds; the schema says what that is.
				case ref != "" && want == "":
					// A plain Go type documented by a named schema (a
					// string with a fixed set of values) must agree in type.
					target, _, err := d.schemaOf(&schema{Ref: ref})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if jt := jsonType(elem); jt == "object" || !slices.Contains(target.Type, jt) {
						t.Errorf("%s: refers to %s of type %v, but Go encodes %v as %s", name, ref, target.Type, elem, jt)
					}
				case ref != "" && ref != "#/components/schemas/"+want:
					t.Errorf("%s: refers to %s, want the schema of %v (%q)", name, ref, elem, want)
				case ref == "" && want != "" && elem.Kind() == reflect.Struct:
					t.Errorf("%s: inline schema, want a reference to %s", name, want)
				}
				if p.Ref == "" && len(p.Type) > 0 {
					if jt := jsonType(gt); jt != "" && !slices.Contains(p.Type, jt) {
						t.Errorf("%s: type %v, but Go encodes %v as %s", name, p.Type, gt, jt)
					}
				}
			}
		})
	}
}

func enumOf(t *testing.T, s *schema) []string {
	t.Helper()
	var out []string
	for _, raw := range s.Enum {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("enum value %s: %v", raw, err)
		}
		out = append(out, v)
	}
	return out
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func TestEnumsMatchDomain(t *testing.T) {
	d := mustParse(t)
	sc := d.Components.Schemas.Values
	var board *operation
	if p := d.Paths.Values["/api/v1/board"]; p != nil {
		board = p.Get
	}
	if board == nil {
		t.Fatal("no GET /api/v1/board")
	}
	boardParam := func(name string) *schema {
		for _, p := range board.Parameters {
			if p.Name == name {
				return p.Schema
			}
		}
		t.Fatalf("board has no parameter %s", name)
		return nil
	}
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"Equipment", enumOf(t, sc["Equipment"]), strs(freight.EquipmentTypes)},
		{"LoadStatus", enumOf(t, sc["LoadStatus"]), strs(freight.LoadStatuses)},
		{"DriverStatus", enumOf(t, sc["DriverStatus"]), strs(freight.DriverStatuses)},
		{"Role", enumOf(t, sc["Role"]), strs(freight.Roles)},
		{"OrgKind", enumOf(t, sc["OrgKind"]), strs([]freight.OrgKind{freight.OrgShipper, freight.OrgCarrier, freight.OrgBroker, freight.OrgPlatform})},
		{"SignupInput.org_kind", enumOf(t, sc["SignupInput"].Properties.Values["org_kind"]), strs(freight.SignupKinds)},
		{"APIKeyInput.role", enumOf(t, sc["APIKeyInput"].Properties.Values["role"]), strs(slices.DeleteFunc(slices.Clone(freight.Roles), func(r freight.Role) bool { return r == freight.RoleAdmin }))},
		{"BookingStatus", enumOf(t, sc["BookingStatus"]), []string{freight.BookingActive, freight.BookingCancelled}},
		{"JobStatus", enumOf(t, sc["JobStatus"]), strs(optimize.Statuses)},
		{"JobPriority", enumOf(t, sc["JobPriority"]), strs(optimize.Priorities)},
		{"RejectionReason", enumOf(t, sc["RejectionReason"]), strs(ingest.Reasons)},
		{"Stop", enumOf(t, sc["Stop"]), []string{tracking.StopPickup, tracking.StopDelivery}},
		{"TrainingRun.status", enumOf(t, sc["TrainingRun"].Properties.Values["status"]), []string{market.RunQueued, market.RunRunning, market.RunAccepted, market.RunRejected, market.RunFailed}},
		{"TrainingRun.trigger", enumOf(t, sc["TrainingRun"].Properties.Values["trigger"]), []string{market.TriggerOperator, market.TriggerSchedule, market.TriggerImport}},
		{"MatchRequest.kind", enumOf(t, sc["MatchRequest"].Properties.Values["kind"]), []string{matching.KindDriver, matching.KindLoad}},
		{"MatchRequest.status", enumOf(t, sc["MatchRequest"].Properties.Values["status"]), []string{matching.RequestQueued, matching.RequestDone, matching.RequestFailed}},
		{"MatchRequest.source", enumOf(t, sc["MatchRequest"].Properties.Values["source"]), []string{matching.SourceLoadPosted, matching.SourceDriverAvailable, matching.SourceDispatcher}},
		{"ScheduleStep.kind", enumOf(t, sc["ScheduleStep"].Properties.Values["kind"]), strs([]hos.StepKind{hos.StepDrive, hos.StepWork, hos.StepWait, hos.StepBreak, hos.StepRest, hos.StepRestart})},
		{"Problem.code", enumOf(t, sc["Problem"].Properties.Values["code"]), []string{freight.EINVALID, freight.ENOTFOUND, freight.ECONFLICT,
			freight.EUNAUTHORIZED, freight.EFORBIDDEN, freight.ETOOLARGE, freight.ERATELIMIT, freight.EUNAVAILABLE, freight.EINTERNAL, "bad_gateway"}},
	}
	for _, c := range cases {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}

	// The board's sorts: each documented one is accepted, and an unknown
	// one is refused, by the validation the service runs.
	sorts := enumOf(t, boardParam("sort"))
	if len(sorts) == 0 {
		t.Fatal("board sort has no enum")
	}
	for _, sort := range append(sorts, "cheapest") {
		q := loads.BoardQuery{Sort: sort, Origin: &freight.Location{Lat: 32.7, Lon: -97.3}, Limit: 50}
		err := q.Validate()
		if documented := sort != "cheapest"; (err == nil) != documented {
			t.Errorf("board sort %q: Validate() = %v, documented %v", sort, err, documented)
		}
	}
	q := loads.BoardQuery{}
	if err := q.Validate(); err != nil || q.Sort != plainValue(boardParam("sort").Default) {
		t.Errorf("board sort default: Validate gives %q (%v), documented %s", q.Sort, err, boardParam("sort").Default)
	}
}

func TestLimitsMatchDomain(t *testing.T) {
	d := mustParse(t)
	sc := d.Components.Schemas.Values
	prop := func(schemaName, field string) *schema {
		s := sc[schemaName]
		if s == nil || s.Properties.Values[field] == nil {
			t.Fatalf("no %s.%s", schemaName, field)
		}
		return s.Properties.Values[field]
	}
	minutes := func(d time.Duration) float64 { return d.Minutes() }
	maxima := []struct {
		name string
		s    *schema
		want float64
	}{
		{"LoadInput.weight_lbs", prop("LoadInput", "weight_lbs"), freight.MaxLoadLbs},
		{"Load.weight_lbs", prop("Load", "weight_lbs"), freight.MaxLoadLbs},
		{"DriverInput.capacity_lbs", prop("DriverInput", "capacity_lbs"), freight.MaxLoadLbs},
		{"TruckInput.capacity_lbs", prop("TruckInput", "capacity_lbs"), freight.MaxLoadLbs},
		{"HOSClockInput.driving_left_min", prop("HOSClockInput", "driving_left_min"), minutes(freight.MaxDriving)},
		{"HOSClockInput.window_left_min", prop("HOSClockInput", "window_left_min"), minutes(freight.MaxWindow)},
		{"HOSClockInput.cycle_left_min", prop("HOSClockInput", "cycle_left_min"), minutes(freight.MaxCycle70)},
		{"HOSClockInput.until_break_min", prop("HOSClockInput", "until_break_min"), minutes(freight.BreakAfter)},
		{"JobInput.time_limit_s", prop("JobInput", "time_limit_s"), optimize.MaxTimeLimit.Seconds()},
		{"QuoteInput.weight_lbs", prop("QuoteInput", "weight_lbs"), freight.MaxLoadLbs},
		{"RateQuote.weight_lbs", prop("RateQuote", "weight_lbs"), freight.MaxLoadLbs},
	}
	for _, c := range maxima {
		switch {
		case c.s.Maximum == nil:
			t.Errorf("%s: no maximum, want %v", c.name, c.want)
		case *c.s.Maximum != c.want:
			t.Errorf("%s: maximum %v, want %v", c.name, *c.s.Maximum, c.want)
		}
	}
	if p := prop("JobProblem", "instance"); p.MaxLength == nil || *p.MaxLength != optimize.MaxInstanceBytes {
		t.Errorf("JobProblem.instance: maxLength %s, want %d", ptrText(p.MaxLength), optimize.MaxInstanceBytes)
	}
	defaults := []struct {
		name string
		s    *schema
		want string
	}{
		{"JobInput.priority", prop("JobInput", "priority"), string(optimize.PriorityNormal)},
		{"JobInput.time_limit_s", prop("JobInput", "time_limit_s"), fmt.Sprint(optimize.DefaultTimeLimit.Seconds())},
		{"JobInput.seed", prop("JobInput", "seed"), fmt.Sprint(optimize.DefaultSeed)},
	}
	for _, c := range defaults {
		if got := plainValue(c.s.Default); got != c.want {
			t.Errorf("%s: default %s, want %s", c.name, got, c.want)
		}
	}
	for _, name := range []string{"SignupInput", "UserInput"} {
		p := prop(name, "password")
		if p.MinLength == nil || *p.MinLength != auth.MinPasswordLen {
			got := "none"
			if p.MinLength != nil {
				got = fmt.Sprint(*p.MinLength)
			}
			t.Errorf("%s.password: minLength %s, want %d", name, got, auth.MinPasswordLen)
		}
	}
}

// TestBoardParametersMatchParser checks the board's query parameters against
// the parser the service runs: each documented number or date is read (a
// malformed value is reported under its name), and each name the parser
// reads is documented.
func TestBoardParametersMatchParser(t *testing.T) {
	d := mustParse(t)
	documented := map[string]*parameter{}
	params, err := d.opParameters(d.Paths.Values["/api/v1/board"], d.Paths.Values["/api/v1/board"].Get)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		documented[p.Name] = p
	}
	svc := new(loads.Service) // parsing numbers and dates needs no geocoder
	tested := 0
	for name, p := range documented {
		if p.Schema == nil || p.Schema.Ref != "" || name == "cursor" {
			continue
		}
		typ := strings.Join(p.Schema.Type, "")
		if typ != "number" && typ != "integer" && !strings.HasPrefix(name, "pickup_") {
			continue
		}
		tested++
		_, err := svc.ParseBoardQuery(url.Values{name: {"not-a-value"}})
		var fe *freight.Error
		if !errors.As(err, &fe) || len(fe.Fields) != 1 || fe.Fields[0].Field != name {
			t.Errorf("%s=not-a-value: got %v, want one error on field %s", name, err, name)
		}
	}
	if tested < 8 {
		t.Errorf("checked %d numeric and date parameters, want all of them", tested)
	}

	src, err := os.ReadFile("../loads/http.go")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	start := strings.Index(body, "func (s *Service) ParseBoardQuery(")
	if start < 0 {
		t.Fatal("ParseBoardQuery not found in ../loads/http.go")
	}
	body = body[start:]
	if end := strings.Index(body, "\n}\n"); end > 0 {
		body = body[:end]
	}
	var read []string
	for _, m := range regexp.MustCompile(`(?:v\.Get|num|date)\("([a-z_]+)"`).FindAllStringSubmatch(body, -1) {
		read = append(read, m[1])
	}
	for _, m := range regexp.MustCompile(`place\("([a-z_]+)"\)`).FindAllStringSubmatch(body, -1) {
		read = append(read, m[1], m[1]+"_lat", m[1]+"_lon")
	}
	if len(read) < 10 {
		t.Fatalf("found %d parameters in ParseBoardQuery, want all of them; has its style changed?", len(read))
	}
	for _, name := range read {
		if documented[name] == nil {
			t.Errorf("ParseBoardQuery reads %q, which is not documented", name)
		}
	}
	for name := range documented {
		if !slices.Contains(read, name) {
			t.Errorf("parameter %q is documented but ParseBoardQuery does not read it", name)
		}
	}
}

func TestProse(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"paragraphs", "One.\n\nTwo\nlines.", "<p>One.</p><p>Two lines.</p>"},
		{"code", "Send `X-API-Key`.", "<p>Send <code>X-API-Key</code>.</p>"},
		{"list", "Roles:\n- `admin`: all\n- driver", "<p>Roles:</p><ul><li><code>admin</code>: all</li><li>driver</li></ul>"},
		{"list then text", "- a\nafter", "<ul><li>a</li></ul><p>after</p>"},
		{"escaped", `<script>alert("x")</script> & ` + "`<b>`", "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; <code>&lt;b&gt;</code></p>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(prose(c.in)); got != c.want {
				t.Errorf("prose(%q): got %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// TestBrokenDocuments makes sure a document the page cannot show gives an
// error naming the problem, never a panic or a half page.
func TestBrokenDocuments(t *testing.T) {
	const head = `{"openapi": "3.1.0", "info": {"title": "T", "version": "1"}, `
	op := func(inner string) string {
		return head + `"paths": {"/x": {"get": {"operationId": "x", "responses": {` + inner + `}}}}}`
	}
	cases := []struct {
		name, doc, want string
	}{
		{"not json", `{`, "parse"},
		{"old version", `{"openapi": "3.0.3", "info": {}, "paths": {}}`, "3.1"},
		{"duplicate path", head + `"paths": {"/x": {}, "/x": {}}}`, "duplicate key"},
		{"duplicate property", head + `"paths": {}, "components": {"schemas": {"A": {"properties": {"a": {}, "a": {}}}}}}`, "duplicate key"},
		{"unresolved response", op(`"200": {"$ref": "#/components/responses/Missing"}`), "unresolved"},
		{"unresolved schema", op(`"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}}`), "unresolved"},
		{"foreign reference", op(`"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "other.json#/A"}}}}`), "not under"},
		{"reference cycle", head + `"paths": {}, "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}}}`, "too long"},
		{"bad type", head + `"paths": {}, "components": {"schemas": {"A": {"type": 7}}}}`, "type must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := parse([]byte(c.doc))
			if err == nil {
				_, err = render(d)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestRenderSmallDocument pins down the page's parts on a document small
// enough to reason about.
func TestRenderSmallDocument(t *testing.T) {
	doc := `{"openapi": "3.1.0", "info": {"title": "Tiny <API>", "version": "2"},
	  "tags": [{"name": "things", "description": "All the things."}, {"name": "unused"}],
	  "paths": {"/things/{id}": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
	    "put": {"operationId": "putThing", "tags": ["things"], "summary": "Replace a thing", "security": [],
	      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}, "example": {"name": "a"}}}},
	      "responses": {"200": {"description": "Done.", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}}}}}}}}},
	  "components": {"schemas": {"Thing": {"type": "object", "required": ["name"], "properties": {
	    "name": {"type": "string", "maxLength": 9},
	    "size": {"type": "string", "enum": ["s", "m"]},
	    "owner": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1}}}}}}}}`
	d, err := parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	out, err := render(d)
	if err != nil {
		t.Fatal(err)
	}
	page := string(out)
	for _, want := range []string{
		"Tiny &lt;API&gt;",
		`<span class="badge put">PUT</span> <span class="path">/things/{id}</span>`,
		`id="op-putThing"`,
		"Public: no credentials.",
		`<td class="name">id</td><td class="in">path</td><td>string (uuid)</td><td><span class="req">required</span>`,
		`<a href="#schema-Thing">Thing</a>`,
		`array of <a href="#schema-Thing">Thing</a>`,
		`<td class="name d0">name</td><td>string</td><td><span class="req">required</span>`,
		"at most 9 characters",
		"one of: s, m",
		`<td class="name d1">owner.id</td>`,
		"at least 1",
		"&#34;name&#34;: &#34;a&#34;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="tag-unused"`) {
		t.Error("page shows a tag that has no operations")
	}
}

func FuzzParseRender(f *testing.F) {
	f.Add(spec)
	f.Add([]byte(`{"openapi": "3.1.0", "info": {"title": "T", "version": "1"}, "paths": {"/a": {"get": {"responses": {"200": {"description": "x"}}}}}}`))
	f.Add([]byte(`{"openapi": "3.1.0", "paths": {}, "components": {"schemas": {"A": {"allOf": [{"$ref": "#/components/schemas/A"}]}}}}`))
	f.Add([]byte(`{"openapi": "3.1.0", "paths": {"/a": {"get": {"responses": {"200": {"content": {"x": {"schema": {"type": ["array", "null"], "items": {"properties": {"b": {"type": "object", "properties": {"c": {}}}}}}}}}}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parse(data)
		if err != nil {
			return
		}
		out, err := render(d)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(out, []byte("<!doctype html>")) {
			t.Errorf("rendered page does not start with a doctype: %.40q", out)
		}
	})
}

func BenchmarkRender(b *testing.B) {
	d := mustParse(b)
	for b.Loop() {
		if _, err := render(d); err != nil {
			b.Fatal(err)
		}
	}
}

// ptrText prints an optional number of the document, "none" when absent.
func ptrText[T int | float64](p *T) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

// handlerBodies maps each route a Go file registers with
// mux.HandleFunc("METHOD /path", s.handleX) to the source of handleX. Each
// service is a package of its own, given as the list of its files,
// so that two services may name a handler alike.
func handlerBodies(t *testing.T, services ...[]string) map[route]string {
	t.Helper()
	out := map[route]string{}
	for _, files := range services {
		var all strings.Builder
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all.Write(src)
		}
		src := all.String()
		for _, m := range regexp.MustCompile(`mux\.HandleFunc\("([A-Z]+) (/[^"]*)", s\.(\w+)\)`).FindAllStringSubmatch(src, -1) {
			body := funcBody(src, "func (s *Service) "+m[3]+"(")
			if body == "" {
				t.Fatalf("handler %s of %s %s not found in %v", m[3], m[1], m[2], files)
			}
			out[route{m[1], m[2]}] = body
		}
	}
	return out
}

// funcBody is the source of the function whose declaration starts with
// head, or "" when there is none.
func funcBody(src, head string) string {
	start := strings.Index(src, head)
	if start < 0 {
		return ""
	}
	body := src[start:]
	if end := strings.Index(body, "\n}\n"); end > 0 {
		body = body[:end]
	}
	return body
}

// TestQueryParametersMatchHandlers reads the handlers of the services whose
// query parameters are parsed inline: every query parameter a handler reads
// is documented on its operation and every documented one is read, a page
// size bounded with httpapi.Limit has the documented default and maximum,
// and a number a query parser bounds has the documented minimum and
// maximum. A handler that hands the query to a parser of its package
// (ParseXxxQuery(r.URL.Query())) reads what that parser reads.
func TestQueryParametersMatchHandlers(t *testing.T) {
	d := mustParse(t)
	handlers := handlerBodies(t, []string{"../optimize/http.go"}, []string{"../tracking/http.go", "../tracking/live.go"},
		[]string{"../market/http.go"}, []string{"../matching/http.go"})
	if len(handlers) < 29 {
		t.Fatalf("found %d handlers, want every route of the four services; has the registration style changed?", len(handlers))
	}
	parserSrc, err := os.ReadFile("../matching/recommend.go")
	if err != nil {
		t.Fatal(err)
	}
	parserCall := regexp.MustCompile(`\b(Parse\w+Query)\(r\.URL\.Query\(\)\)`)
	boundedNum := regexp.MustCompile(`\bnum\("([a-z_0-9]+)", (\d+), (\d+),`)
	parsers := 0
	reads := []*regexp.Regexp{
		regexp.MustCompile(`Query\(\)\.Get\("([a-z_0-9]+)"\)`),
		regexp.MustCompile(`\bq\.Get\("([a-z_0-9]+)"\)`),
		regexp.MustCompile(`floatParam\(r, "([a-z_0-9]+)"`),
		regexp.MustCompile(`place\("([a-z_0-9]+)"\)`),
	}
	limitCall := regexp.MustCompile(`httpapi\.Limit\(r, (\d+), (\d+)\)`)
	for r, body := range handlers {
		t.Run(r.String(), func(t *testing.T) {
			item := d.Paths.Values[r.path]
			if item == nil {
				t.Fatal("not documented")
			}
			var op *operation
			for _, mo := range item.operations() {
				if mo.Method == r.method {
					op = mo.Op
				}
			}
			if op == nil {
				t.Fatal("not documented")
			}
			params, err := d.opParameters(item, op)
			if err != nil {
				t.Fatal(err)
			}
			documented := map[string]*parameter{}
			for _, p := range params {
				if p.In == "query" {
					documented[p.Name] = p
				}
			}
			for _, m := range parserCall.FindAllStringSubmatch(body, -1) {
				parser := funcBody(string(parserSrc), "func "+m[1]+"(")
				if parser == "" {
					t.Fatalf("the handler calls %s, which is not in ../matching/recommend.go", m[1])
				}
				parsers++
				body += "\n" + parser
			}
			read := map[string]bool{}
			for _, m := range boundedNum.FindAllStringSubmatch(body, -1) {
				read[m[1]] = true
				p := documented[m[1]]
				if p == nil || p.Schema == nil {
					continue
				}
				if got := ptrText(p.Schema.Minimum); got != m[2] {
					t.Errorf("%s: minimum %s, want %s", m[1], got, m[2])
				}
				if got := ptrText(p.Schema.Maximum); got != m[3] {
					t.Errorf("%s: maximum %s, want %s", m[1], got, m[3])
				}
			}
			for _, re := range reads {
				for _, m := range re.FindAllStringSubmatch(body, -1) {
					read[m[1]] = true
				}
			}
			if strings.Contains(body, "s.rangeParams(r,") {
				read["from"], read["to"] = true, true
			}
			if m := limitCall.FindStringSubmatch(body); m != nil {
				read["limit"] = true
				if p := documented["limit"]; p != nil && p.Schema != nil {
					if got := plainValue(p.Schema.Default); got != m[1] {
						t.Errorf("limit: default %s, want %s", got, m[1])
					}
					if got := ptrText(p.Schema.Maximum); got != m[2] {
						t.Errorf("limit: maximum %s, want %s", got, m[2])
					}
				}
			}
			for name := range read {
				if documented[name] == nil {
					t.Errorf("the handler reads query parameter %q, which is not documented", name)
				}
			}
			for name := range documented {
				if !read[name] {
					t.Errorf("query parameter %q is documented but the handler does not read it", name)
				}
			}
		})
	}
	if parsers < 3 {
		t.Errorf("followed %d calls of a query parser, want the three of the load-matching service; has its style changed?", parsers)
	}
}

// TestEventStreamsMatchHandlers checks the server-sent event names
// documented for each stream against the names the handlers write.
func TestEventStreamsMatchHandlers(t *testing.T) {
	d := mustParse(t)
	// documentedEvents lists the "event" constants of a stream's schema,
	// whether one event or a oneOf of them.
	documentedEvents := func(name string) []string {
		s := d.Components.Schemas.Values[name]
		if s == nil {
			t.Fatalf("no schema %s", name)
		}
		parts := s.OneOf
		if len(parts) == 0 {
			parts = []*schema{s}
		}
		var out []string
		for _, part := range parts {
			p, _, err := d.schemaOf(part)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ev := p.Properties.Values["event"]
			if ev == nil || ev.Const == nil {
				t.Fatalf("%s: an event without a constant name", name)
			}
			out = append(out, plainValue(ev.Const))
		}
		return slices.Sorted(slices.Values(out))
	}
	written := func(file string, re *regexp.Regexp) []string {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
		return slices.Sorted(slices.Values(out))
	}
	cases := []struct {
		schema string
		got    []string
		paths  []string
	}{
		{"JobEvent", written("../optimize/http.go", regexp.MustCompile(`WriteEvent\(w, "([a-z_]+)"`)), []string{"/api/v1/jobs/{id}/events"}},
		{"PositionEvent", written("../tracking/live.go", regexp.MustCompile(`"event: ([a-z_]+)\\n`)),
			[]string{"/api/v1/tracking/loads/{id}/stream", "/api/v1/tracking/fleet/stream", "/api/v1/tracking/network/stream"}},
	}
	for _, c := range cases {
		want := documentedEvents(c.schema)
		if len(c.got) == 0 || !slices.Equal(c.got, want) {
			t.Errorf("%s: the handlers write events %v, the document has %v", c.schema, c.got, want)
		}
		for _, path := range c.paths {
			item := d.Paths.Values[path]
			if item == nil || item.Get == nil {
				t.Errorf("no GET %s", path)
				continue
			}
			r, err := d.responseOf(item.Get.Responses.Values["200"])
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			mt := r.Content.Values["text/event-stream"]
			if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/"+c.schema {
				t.Errorf("GET %s: 200 is not text/event-stream with the %s schema", path, c.schema)
			}
		}
	}
}

// TestPositionContentTypes checks that each media type documented for a
// batch of positions is one the ingest handler accepts.
func TestPositionContentTypes(t *testing.T) {
	d := mustParse(t)
	src, err := os.ReadFile("../tracking/http.go")
	if err != nil {
		t.Fatal(err)
	}
	var accepted []string
	for _, m := range regexp.MustCompile(`mt == "([a-z/+.-]+)"`).FindAllStringSubmatch(string(src), -1) {
		accepted = append(accepted, m[1])
	}
	if len(accepted) < 2 {
		t.Fatalf("found %d accepted media types in ../tracking/http.go; has its style changed?", len(accepted))
	}
	item := d.Paths.Values["/api/v1/positions"]
	if item == nil || item.Post == nil || item.Post.RequestBody == nil {
		t.Fatal("no POST /api/v1/positions with a request body")
	}
	b, err := d.requestBodyOf(item.Post.RequestBody)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"application/json", "application/x-ndjson"}
	if !slices.Equal(b.Content.Keys, want) {
		t.Errorf("media types: got %v, want %v", b.Content.Keys, want)
	}
	for _, mt := range b.Content.Keys {
		if !slices.Contains(accepted, mt) {
			t.Errorf("%s is documented, but the handler accepts only %v", mt, accepted)
		}
	}
}

// sourceValues lists, sorted and once each, the first group of every match
// of re in a Go source file, failing when there is none so that a change of
// style cannot pass unnoticed.
func sourceValues(t *testing.T, file string, re *regexp.Regexp) []string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no match of %s; has its style changed?", file, re)
	}
	return slices.Sorted(slices.Values(out))
}

// TestMatchingNamesMatchCode checks the fixed names of the load-matching
// answers that the service keeps in unexported constants and literals
// against its source: score factors, exclusion reasons, where a driver's
// trip starts, where a reload outlook comes from, and scopes.
func TestMatchingNamesMatchCode(t *testing.T) {
	d := mustParse(t)
	sc := d.Components.Schemas.Values
	prop := func(schemaName, field string) *schema {
		s := sc[schemaName]
		if s == nil || s.Properties.Values[field] == nil {
			t.Fatalf("no %s.%s", schemaName, field)
		}
		return s.Properties.Values[field]
	}
	sorted := func(vs []string) []string { return slices.Sorted(slices.Values(vs)) }
	factors := sourceValues(t, "../matching/score.go", regexp.MustCompile(`(?m)^\s*factor\w+\s*=\s*"([a-z_]+)"`))
	starts := sourceValues(t, "../matching/engine.go", regexp.MustCompile(`o\.source = [^\n]*"([a-z_]+)"\n`))
	engine, err := os.ReadFile("../matching/engine.go")
	if err != nil {
		t.Fatal(err)
	}
	var reloads []string
	for _, m := range regexp.MustCompile(`return "([a-z]+)"`).FindAllStringSubmatch(funcBody(string(engine), "func sourceName("), -1) {
		reloads = append(reloads, m[1])
	}
	if len(reloads) < 2 {
		t.Fatalf("found reload sources %v in sourceName of ../matching/engine.go; has its style changed?", reloads)
	}
	reloads = sorted(reloads)
	scopes := sourceValues(t, "../matching/recommend.go", regexp.MustCompile(`\bScope(?: =|:) "([a-z]+)"`))
	requestScopes := sourceValues(t, "../matching/requests.go", regexp.MustCompile(`\.Scope = "([a-z]+)"`))
	cases := []struct {
		name      string
		got, want []string
	}{
		{"ScoreContribution.factor", sorted(enumOf(t, prop("ScoreContribution", "factor"))), factors},
		{"RankChange.factor", sorted(enumOf(t, prop("RankChange", "factor"))), factors},
		{"MatchStart.source", sorted(enumOf(t, prop("MatchStart", "source"))), starts},
		{"MatchFactors.reload_source", sorted(enumOf(t, prop("MatchFactors", "reload_source"))), reloads},
		{"DriversForLoad.scope", sorted(enumOf(t, prop("DriversForLoad", "scope"))), scopes},
		{"MatchRequest.scope", sorted(enumOf(t, prop("MatchRequest", "scope"))), requestScopes},
	}
	for _, c := range cases {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}

	// The reasons a search excludes a match are keys of a map, so the
	// document names them in prose: every one, and only those.
	reasons := sourceValues(t, "../matching/engine.go", regexp.MustCompile(`(?m)^\s*why\w+\s*=\s*"([a-z_]+)"`))
	var named []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(prop("MatchSearch", "excluded").Description, -1) {
		named = append(named, m[1])
	}
	if got := sorted(named); !slices.Equal(got, reasons) {
		t.Errorf("MatchSearch.excluded names reasons %v, want %v", got, reasons)
	}
}

// TestMatchingLimitsMatchCode checks each bound the document gives the
// load-matching inputs against the validation the service runs, since the
// bounds are unexported: a value at the bound is accepted and one just past
// it is refused with an error on that field, and a documented default is
// what an absent value becomes.
func TestMatchingLimitsMatchCode(t *testing.T) {
	d := mustParse(t)
	sc := d.Components.Schemas.Values
	prop := func(schemaName, field string) *schema {
		s := sc[schemaName]
		if s == nil || s.Properties.Values[field] == nil {
			t.Fatalf("no %s.%s", schemaName, field)
		}
		return s.Properties.Values[field]
	}
	param := func(path, name string) *schema {
		item := d.Paths.Values[path]
		if item == nil || item.Get == nil {
			t.Fatalf("no GET %s", path)
		}
		for _, p := range item.Get.Parameters {
			if p.Name == name && p.Schema != nil {
				return p.Schema
			}
		}
		t.Fatalf("GET %s has no parameter %s", path, name)
		return nil
	}
	num := func(name string, p *float64) int {
		if p == nil {
			t.Fatalf("%s: no bound documented", name)
		}
		return int(*p)
	}
	count := func(name string, p *int) int {
		if p == nil {
			t.Fatalf("%s: no bound documented", name)
		}
		return *p
	}
	// fieldErr reports whether err is a validation error on field.
	fieldErr := func(err error, field string) bool {
		var fe *freight.Error
		if !errors.As(err, &fe) {
			return false
		}
		for _, f := range fe.Fields {
			if f.Field == field {
				return true
			}
		}
		return false
	}
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("id-%d", i)
		}
		return out
	}
	now := time.Date(2026, 12, 8, 19, 10, 0, 0, time.UTC)
	floatp := func(v float64) *float64 { return &v }
	timep := func(v time.Time) *time.Time { return &v }

	recLimit := param("/api/v1/recommendations/drivers/{id}/loads", "limit")
	if other := param("/api/v1/recommendations/loads/{id}/drivers", "limit"); !reflect.DeepEqual(other, recLimit) {
		t.Errorf("the two recommendation limits differ: %+v and %+v", other, recLimit)
	}
	recParse := func(v int) error {
		_, err := matching.ParseRecommendQuery(url.Values{"limit": {fmt.Sprint(v)}})
		return err
	}
	chainParse := func(name string) func(int) error {
		return func(v int) error {
			_, err := matching.ParseChainQuery(url.Values{name: {fmt.Sprint(v)}})
			return err
		}
	}
	chainPath := "/api/v1/recommendations/drivers/{id}/chains"
	area := func(radius float64) error {
		_, err := matching.PreferencesInput{NoGoAreas: []matching.Area{{Lat: 41.88, Lon: -87.63, RadiusMiles: radius}}}.Normalize(now)
		return err
	}
	assignDrivers := func(n int) error { return matching.AssignInput{DriverIDs: ids(n)}.Validate() }
	assignLoads := func(n int) error { return matching.AssignInput{LoadIDs: ids(n)}.Validate() }
	assignItem := func(n int) error { return matching.AssignInput{DriverIDs: []string{strings.Repeat("a", n)}}.Validate() }
	requestTopN := func(n int) error { return matching.MatchRequestInput{DriverID: "d", TopN: n}.Validate() }

	bounds := []struct {
		name     string
		field    string // the field an out-of-bound value is reported on
		lo, hi   int
		hasLo    bool
		validate func(int) error
	}{
		{"limit of recommendations", "limit", num("limit", recLimit.Minimum), num("limit", recLimit.Maximum), true, recParse},
		{"legs of chains", "legs", num("legs", param(chainPath, "legs").Minimum), num("legs", param(chainPath, "legs").Maximum), true, chainParse("legs")},
		{"limit of chains", "limit", num("limit", param(chainPath, "limit").Minimum), num("limit", param(chainPath, "limit").Maximum), true, chainParse("limit")},
		{"horizon_hours of chains", "horizon_hours", num("horizon_hours", param(chainPath, "horizon_hours").Minimum),
			num("horizon_hours", param(chainPath, "horizon_hours").Maximum), true, chainParse("horizon_hours")},
		{"MatchRequestInput.top_n", "top_n", num("top_n", prop("MatchRequestInput", "top_n").Minimum), num("top_n", prop("MatchRequestInput", "top_n").Maximum), true, requestTopN},
		{"MatchRequestInput.driver_id", "driver_id", 0, count("driver_id", prop("MatchRequestInput", "driver_id").MaxLength), false,
			func(n int) error {
				return matching.MatchRequestInput{DriverID: strings.Repeat("d", max(n, 1))}.Validate()
			}},
		{"FleetAssignInput.driver_ids", "driver_ids", count("driver_ids", prop("FleetAssignInput", "driver_ids").MinItems),
			count("driver_ids", prop("FleetAssignInput", "driver_ids").MaxItems), true, assignDrivers},
		{"FleetAssignInput.load_ids", "load_ids", count("load_ids", prop("FleetAssignInput", "load_ids").MinItems),
			count("load_ids", prop("FleetAssignInput", "load_ids").MaxItems), true, assignLoads},
		{"FleetAssignInput.driver_ids[]", "driver_ids[0]", count("driver_ids[]", prop("FleetAssignInput", "driver_ids").Items.MinLength),
			count("driver_ids[]", prop("FleetAssignInput", "driver_ids").Items.MaxLength), true, assignItem},
		{"PreferencesInput.lanes", "lanes", 0, count("lanes", prop("PreferencesInput", "lanes").MaxItems), false, func(n int) error {
			lanes := make([]matching.Lane, n)
			for i := range lanes {
				lanes[i] = matching.Lane{Destination: "TX"}
			}
			_, err := matching.PreferencesInput{Lanes: lanes}.Normalize(now)
			return err
		}},
		{"PreferencesInput.no_go_states", "no_go_states", 0, count("no_go_states", prop("PreferencesInput", "no_go_states").MaxItems), false, func(n int) error {
			_, err := matching.PreferencesInput{NoGoStates: slices.Repeat([]string{"NY"}, n)}.Normalize(now)
			return err
		}},
		{"PreferencesInput.no_go_areas", "no_go_areas", 0, count("no_go_areas", prop("PreferencesInput", "no_go_areas").MaxItems), false, func(n int) error {
			_, err := matching.PreferencesInput{NoGoAreas: slices.Repeat([]matching.Area{{Lat: 41.88, Lon: -87.63, RadiusMiles: 40}}, n)}.Normalize(now)
			return err
		}},
		{"PreferencesInput.max_deadhead_miles", "max_deadhead_miles", num("max_deadhead_miles", prop("PreferencesInput", "max_deadhead_miles").Minimum),
			num("max_deadhead_miles", prop("PreferencesInput", "max_deadhead_miles").Maximum), true, func(n int) error {
				_, err := matching.PreferencesInput{MaxDeadheadMiles: floatp(float64(n))}.Normalize(now)
				return err
			}},
		{"NoGoArea.radius_miles", "no_go_areas[0].radius_miles", 0, num("radius_miles", prop("NoGoArea", "radius_miles").Maximum), false,
			func(n int) error { return area(float64(n)) }},
	}
	for _, b := range bounds {
		t.Run(b.name, func(t *testing.T) {
			if err := b.validate(b.hi); err != nil {
				t.Errorf("at the documented maximum %d: got %v, want no error", b.hi, err)
			}
			if err := b.validate(b.hi + 1); !fieldErr(err, b.field) {
				t.Errorf("past the documented maximum, %d: got %v, want an error on %s", b.hi+1, err, b.field)
			}
			if !b.hasLo {
				return
			}
			if err := b.validate(b.lo); err != nil {
				t.Errorf("at the documented minimum %d: got %v, want no error", b.lo, err)
			}
			if err := b.validate(b.lo - 1); !fieldErr(err, b.field) {
				t.Errorf("below the documented minimum, %d: got %v, want an error on %s", b.lo-1, err, b.field)
			}
		})
	}

	// Bounds that are not whole numbers.
	if r := prop("NoGoArea", "radius_miles"); r.ExclusiveMinimum == nil || *r.ExclusiveMinimum != 0 {
		t.Errorf("NoGoArea.radius_miles: exclusiveMinimum %s, want 0", ptrText(r.ExclusiveMinimum))
	} else if err := area(0); !fieldErr(err, "no_go_areas[0].radius_miles") {
		t.Errorf("NoGoArea.radius_miles 0: got %v, want an error", err)
	} else if err := area(0.1); err != nil {
		t.Errorf("NoGoArea.radius_miles 0.1: got %v, want no error", err)
	}
	if hi := num("radius_miles", prop("NoGoArea", "radius_miles").Maximum); area(float64(hi)+0.01) == nil {
		t.Errorf("NoGoArea.radius_miles %v: accepted past the documented maximum", float64(hi)+0.01)
	}
	homeBy := prop("PreferencesInput", "home_by")
	m := regexp.MustCompile(`at most (\d+) days ahead`).FindStringSubmatch(homeBy.Description)
	if m == nil {
		t.Fatalf("PreferencesInput.home_by: description %q does not say how far ahead", homeBy.Description)
	}
	var days int
	fmt.Sscan(m[1], &days)
	ahead := time.Duration(days) * 24 * time.Hour
	for _, c := range []struct {
		at time.Time
		ok bool
	}{{now.Add(time.Minute), true}, {now.Add(ahead), true}, {now.Add(ahead + time.Minute), false}, {now, false}} {
		_, err := matching.PreferencesInput{HomeBy: timep(c.at)}.Normalize(now)
		if (err == nil) != c.ok {
			t.Errorf("home_by %s ahead: got %v, documented accepted %v", c.at.Sub(now), err, c.ok)
		}
	}
	if got, want := ptrText(prop("MatchRequest", "top_n").Maximum), ptrText(prop("MatchRequestInput", "top_n").Maximum); got != want {
		t.Errorf("MatchRequest.top_n: maximum %s, want that of the input, %s", got, want)
	}

	// Defaults: what an absent parameter becomes.
	rq, err := matching.ParseRecommendQuery(url.Values{})
	if err != nil || fmt.Sprint(rq.Limit) != plainValue(recLimit.Default) {
		t.Errorf("recommendation limit default: got %d (%v), documented %s", rq.Limit, err, recLimit.Default)
	}
	cq, err := matching.ParseChainQuery(url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]int{"legs": cq.Legs, "limit": cq.Limit, "horizon_hours": int(cq.Horizon / time.Hour)} {
		if want := plainValue(param(chainPath, name).Default); fmt.Sprint(got) != want {
			t.Errorf("chain %s default: got %d, documented %s", name, got, want)
		}
	}
	// A top_n of 0 is the documented default, which the service turns into
	// its configured number.
	if err := requestTopN(0); err != nil || plainValue(prop("MatchRequestInput", "top_n").Default) != "0" {
		t.Errorf("MatchRequestInput.top_n 0: got %v, documented default %s", err, prop("MatchRequestInput", "top_n").Default)
	}
}

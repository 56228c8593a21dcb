package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/backhaul/backhaul/internal/testenv"
)

func newMux(t *testing.T) *http.ServeMux {
	t.Helper()
	p, err := New(Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Routes(mux)
	mux.HandleFunc("GET /{$}", p.Landing)
	return mux
}

func get(t *testing.T, mux http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

var pagePaths = map[string]string{
	"index": "/", "login": "/login", "shipper": "/shipper", "shipment": "/shipper/loads/0199",
	"carrier": "/carrier", "driver": "/driver", "ops": "/ops", "platform": "/ops/platform",
}

// TestPages renders every page and checks what a browser and an assistive
// technology rely on: the security headers, scripts only from files, every
// form control labelled, every linked asset served.
func TestPages(t *testing.T) {
	mux := newMux(t)
	if len(pagePaths) != len(pages) {
		t.Fatalf("test covers %d pages, the portal has %d", len(pagePaths), len(pages))
	}
	for _, pg := range pages {
		path := pagePaths[pg.name]
		t.Run(pg.name, func(t *testing.T) {
			rec := get(t, mux, path)
			if rec.Code != 200 {
				t.Fatalf("GET %s: %d", path, rec.Code)
			}
			h := rec.Header()
			if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline code: %q", csp)
			}
			doc, err := html.Parse(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			checkDocument(t, mux, doc)
		})
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func checkDocument(t *testing.T, mux http.Handler, doc *html.Node) {
	t.Helper()
	labels := map[string]bool{}
	ids := map[string]bool{}
	var controls []*html.Node
	var title, h1, mainEl bool
	modules := 0
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		if id, ok := attr(n, "id"); ok {
			if ids[id] {
				t.Errorf("duplicate id %q", id)
			}
			ids[id] = true
		}
		switch n.Data {
		case "title":
			title = true
		case "h1":
			h1 = true
		case "main":
			mainEl = true
		case "label":
			if f, ok := attr(n, "for"); ok {
				labels[f] = true
			}
		case "input", "select", "textarea":
			controls = append(controls, n)
		case "script":
			if typ, _ := attr(n, "type"); typ == "module" {
				modules++
			}
			src, ok := attr(n, "src")
			if !ok || n.FirstChild != nil {
				t.Errorf("inline script: every script must be a file (CSP)")
			}
			assetServed(t, mux, src)
		case "link":
			if rel, _ := attr(n, "rel"); rel == "stylesheet" || rel == "icon" || rel == "preload" || rel == "manifest" {
				href, _ := attr(n, "href")
				assetServed(t, mux, href)
			}
		}
		if _, ok := attr(n, "style"); ok {
			t.Errorf("inline style on <%s> (CSP forbids it)", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("inline handler %s on <%s>", a.Key, n.Data)
			}
		}
	})
	// One entry module: a module reached under two URLs (one versioned, one
	// imported plainly) runs twice.
	if modules != 1 {
		t.Errorf("%d module scripts, want the page's one entry module", modules)
	}
	if !title || !mainEl {
		t.Error("page lacks a <title> or <main>")
	}
	_ = h1 // some pages name themselves in a script-filled heading
	for _, c := range controls {
		if typ, _ := attr(c, "type"); typ == "hidden" {
			continue
		}
		id, _ := attr(c, "id")
		_, aria := attr(c, "aria-label")
		if !labels[id] && !aria {
			t.Errorf("<%s id=%q> has no label", c.Data, id)
		}
	}
	for f := range labels {
		if !ids[f] {
			t.Errorf("label for=%q names no element", f)
		}
	}
}

func assetServed(t *testing.T, mux http.Handler, url string) {
	t.Helper()
	if url == "" || !strings.HasPrefix(url, "/") {
		t.Errorf("asset %q is not a local path", url)
		return
	}
	if rec := get(t, mux, url); rec.Code != 200 {
		t.Errorf("asset %s: %d", url, rec.Code)
	}
}

func TestAssets(t *testing.T) {
	mux := newMux(t)
	p, _ := New(Options{})
	versioned, err := p.assetURL("js/api.js")
	if err != nil {
		t.Fatal(err)
	}
	rec := get(t, mux, versioned)
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("versioned asset Cache-Control %q, want immutable", cc)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("js Content-Type %q", ct)
	}
	plain := get(t, mux, "/assets/js/api.js")
	if cc := plain.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("unversioned asset Cache-Control %q, want no-cache", cc)
	}
	if !bytes.Equal(plain.Body.Bytes(), rec.Body.Bytes()) {
		t.Error("versioned and plain asset differ")
	}
	etag := plain.Header().Get("ETag")
	if r := get(t, mux, "/assets/js/api.js", "If-None-Match", etag); r.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d, want 304", etag, r.Code)
	}

	gz := get(t, mux, "/assets/vendor/states-10m.json", "Accept-Encoding", "gzip")
	if gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatal("map data not compressed for a gzip client")
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || !bytes.HasPrefix(body, []byte(`{"type":"Topology"`)) {
		t.Errorf("decompressed map data: %v %.40q", err, body)
	}

	for _, path := range []string{"/assets/nope.js", "/assets/../web.go", "/assets/js/", "/assets/templates/layout.html"} {
		if r := get(t, mux, path); r.Code != 404 && r.Code != 301 && r.Code != 307 {
			t.Errorf("GET %s: %d, want 404", path, r.Code)
		}
	}
	if r := get(t, mux, "/manifest.webmanifest"); r.Code != 200 || r.Header().Get("Content-Type") != "application/manifest+json" {
		t.Errorf("manifest: %d %q", r.Code, r.Header().Get("Content-Type"))
	}
	if r := get(t, mux, "/sw.js"); r.Code != 200 || !strings.Contains(r.Body.String(), "addEventListener(\"fetch\"") {
		t.Errorf("service worker: %d", r.Code)
	}
}

// TestScriptsUseOnlyTheAPI keeps the pages clients of the public API: no
// script reaches another origin.
func TestScriptsUseOnlyTheAPI(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	remote := regexp.MustCompile(`(fetch|import)\(\s*["'` + "`" + `]https?://`)
	for name, a := range p.assets {
		if !strings.HasPrefix(name, "js/") {
			continue
		}
		if remote.Match(a.body) {
			t.Errorf("%s fetches from another origin", name)
		}
	}
}

func TestWantsHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"text/html,application/xhtml+xml,*/*;q=0.8": true,
		"application/json":                          false,
		"":                                          false,
		"*/*":                                       false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", accept)
		if got := WantsHTML(r); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
}

func TestImports(t *testing.T) {
	// The portal talks to the platform only through the API: it imports no
	// service or store package.
	testenv.ForbidImports(t, func(path string) bool {
		return !strings.HasPrefix(path, "github.com/backhaul/backhaul/") || path == "github.com/backhaul/backhaul/internal/web"
	})
}

// Package web is the portal: server-rendered pages for shippers, carriers
// and dispatchers, drivers and operations, with their scripts, styles and
// map data embedded in the binary.
//
// The pages hold no data of their own: each is an HTML shell with its
// forms, labels and empty states rendered on the server, and a script that
// reads and writes through the public /api/v1 with the signed-in user's
// token, exactly as any other client. Live views read the API's
// server-sent event streams. Tenancy is therefore the API's, checked in one
// place; a page a user may not use says so and links to the right one.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed templates assets
var files embed.FS

// Options configure the portal.
type Options struct {
	Version string
	Log     *slog.Logger
}

// Portal serves the pages and their assets.
type Portal struct {
	opts   Options
	pages  map[string]*template.Template
	assets map[string]*asset
}

// asset is one embedded file, kept in memory with its gzip form and a
// content hash that versions its URL.
type asset struct {
	body, gz []byte
	ctype    string
	hash     string
}

// page describes one page: its template, title, the audience it serves,
// and its script, an ES module that imports what it needs (api.js, map.js,
// chart.js) by relative URL, so each module is loaded once.
type page struct {
	name, title, audience string
	script                string
	usesMap               bool // loads d3-geo, topojson and the state outlines
}

var pages = []page{
	{name: "index", title: "Backhaul", script: "js/api.js"},
	{name: "login", title: "Sign in", script: "js/login.js"},
	{name: "shipper", title: "Shipper", audience: "shipper", script: "js/shipper.js", usesMap: true},
	{name: "shipment", title: "Shipment", audience: "shipper", script: "js/shipment.js", usesMap: true},
	{name: "carrier", title: "Carrier", audience: "carrier", script: "js/carrier.js", usesMap: true},
	{name: "driver", title: "Driver", audience: "driver", script: "js/driver.js"},
	{name: "ops", title: "Operations", audience: "ops", script: "js/ops.js", usesMap: true},
	{name: "platform", title: "Platform", audience: "ops", script: "js/platform.js"},
}

// New loads the embedded templates and assets; it fails only when the
// binary was built with broken ones.
func New(opts Options) (*Portal, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	p := &Portal{opts: opts, pages: map[string]*template.Template{}, assets: map[string]*asset{}}
	if err := p.loadAssets(); err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"asset": p.assetURL}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	for _, pg := range pages {
		t, err := template.Must(layout.Clone()).ParseFS(files, "templates/"+pg.name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", pg.name, err)
		}
		if _, ok := p.assets[pg.script]; !ok {
			return nil, fmt.Errorf("web: page %s: no asset %s", pg.name, pg.script)
		}
		p.pages[pg.name] = t
	}
	return p, nil
}

func (p *Portal) loadAssets() error {
	return fs.WalkDir(files, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(name, "assets/")
		sum := sha256.Sum256(body)
		a := &asset{body: body, hash: hex.EncodeToString(sum[:6]), ctype: contentType(rel)}
		if compressible(a.ctype) {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			if buf.Len() < len(body) {
				a.gz = buf.Bytes()
			}
		}
		p.assets[rel] = a
		return nil
	})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".json":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".svg":
		return "image/svg+xml"
	case "":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

// assetURL is the versioned address of an asset: the hash changes with
// the content, so browsers may cache it for good.
func (p *Portal) assetURL(name string) (string, error) {
	a, ok := p.assets[name]
	if !ok {
		return "", fmt.Errorf("web: no asset %q", name)
	}
	return "/assets/" + name + "?v=" + a.hash, nil
}

// Routes registers the pages and assets.
func (p *Portal) Routes(mux *http.ServeMux) {
	for _, pg := range pages {
		switch pg.name {
		case "index":
			// The root is shared with the machine-readable index; the
			// server sends browsers here (see Landing).
		case "shipment":
			mux.HandleFunc("GET /shipper/loads/{id}", p.render(pg))
		case "platform":
			mux.HandleFunc("GET /ops/platform", p.render(pg))
		default:
			mux.HandleFunc("GET /"+pg.name, p.render(pg))
		}
	}
	mux.HandleFunc("GET /assets/{file...}", p.serveAsset)
	// The driver app is installable: its manifest and service worker live
	// at the root so the worker may control /driver.
	mux.HandleFunc("GET /manifest.webmanifest", p.serveRootAsset("manifest.webmanifest"))
	mux.HandleFunc("GET /sw.js", p.serveRootAsset("js/sw.js"))
}

// Landing renders the landing page.
func (p *Portal) Landing(w http.ResponseWriter, r *http.Request) { p.render(pages[0])(w, r) }

// WantsHTML reports whether a request for the root comes from a browser.
func WantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

type view struct {
	Title, Audience, Version string
	// Script is the page's module; modules import one another by plain
	// URL (no version), so the page names it plainly too: a module loaded
	// under two URLs would run twice.
	Script string
	PathID string
	Map    bool
}

func (p *Portal) render(pg page) http.HandlerFunc {
	t := p.pages[pg.name]
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		v := view{Title: pg.title, Audience: pg.audience, Version: p.opts.Version, Script: "/assets/" + pg.script, PathID: r.PathValue("id"),
			Map: pg.usesMap}
		if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
			p.opts.Log.Error("web: render", "page", pg.name, "err", err)
			http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		securityHeaders(h)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		w.Write(buf.Bytes())
	}
}

// securityHeaders keep every script and style our own: no inline code, no
// third-party origin, no framing.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "+
		"connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

func (p *Portal) serveAsset(w http.ResponseWriter, r *http.Request) {
	p.writeAsset(w, r, r.PathValue("file"))
}

func (p *Portal) serveRootAsset(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { p.writeAsset(w, r, name) }
}

func (p *Portal) writeAsset(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := p.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", `"`+a.hash+`"`)
	h.Add("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match == `"`+a.hash+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	w.Write(body)
}

// Package apidoc serves the OpenAPI 3.1 description of the HTTP API and a
// readable reference page rendered from it.
package apidoc

import (
	_ "embed"
	"fmt"
	"net/http"
	"sync"

	"github.com/backhaul/backhaul/internal/httpapi"
)

//go:embed openapi.json
var spec []byte

// Spec returns the OpenAPI document.
func Spec() []byte { return spec }

// reference renders the page once: the document is embedded and never
// changes while the process runs.
var reference = sync.OnceValues(func() ([]byte, error) {
	d, err := parse(spec)
	if err != nil {
		return nil, err
	}
	return render(d)
})

// Routes registers the document and the reference page. Both are public:
// the API's shape is no secret, and clients need it before they sign in.
func Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(spec)
	})
	mux.HandleFunc("GET /api/v1/docs", func(w http.ResponseWriter, r *http.Request) {
		page, err := reference()
		if err != nil {
			httpapi.Error(w, r, fmt.Errorf("api reference: %w", err))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		// The page is static HTML with inline styles: forbid everything else.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(page)
	})
}

// Package apidoc serves the OpenAPI 3.1 description of the HTTP API and a
// readable reference page rendered from it.
package apidoc

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var spec []byte

// Spec returns the OpenAPI document.
func Spec() []byte { return spec }

// Routes registers the document and the reference page.
func Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(spec)
	})
}

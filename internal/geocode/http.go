package geocode

import (
	"net/http"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// Prefixes are the API paths the place lookup owns.
var Prefixes = []string{"/api/v1/places"}

// Routes registers GET /api/v1/places?q=&limit=: completions of a partly
// typed city or ZIP code, for address fields.
func (g *Geocoder) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/places", g.handleSuggest)
}

func (g *Geocoder) handleSuggest(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 10, 50)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q := r.URL.Query().Get("q")
	if len(q) > maxParseLen {
		httpapi.Error(w, r, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "q", Detail: "at most 256 bytes"}}})
		return
	}
	items := g.Suggest(q, limit)
	if items == nil {
		items = []Place{}
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"items": items})
}

package market

import (
	"net/http"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/market/areas"
)

// Routes registers the service's authenticated endpoints. Quotes and the
// market dashboard are for every signed-in role (market figures are
// aggregates, no tenant's data); the model's management is for operators.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/quotes", s.handleQuote)
	mux.HandleFunc("GET /api/v1/market/areas", s.handleAreas)
	mux.HandleFunc("GET /api/v1/market/areas/{id}", s.handleArea)
	mux.HandleFunc("GET /api/v1/market/areas/{id}/outlook", s.handleOutlook)
	mux.HandleFunc("GET /api/v1/market/lanes", s.handleLane)
	mux.HandleFunc("GET /api/v1/market/hot", s.handleHot)
	mux.HandleFunc("GET /api/v1/market/model", s.handleModel)
	mux.HandleFunc("POST /api/v1/market/model/retrain", s.handleRetrain)
	mux.HandleFunc("GET /api/v1/market/model/runs/{id}", s.handleRun)
}

// maxQuoteBody bounds a quote request.
const maxQuoteBody = 16 << 10

func (s *Service) handleQuote(w http.ResponseWriter, r *http.Request) {
	var req QuoteRequest
	if err := httpapi.Decode(r, &req, maxQuoteBody); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q, err := s.QuoteLane(r.Context(), req)
	httpapi.Respond(w, r, http.StatusOK, q, err)
}

func (s *Service) handleAreas(w http.ResponseWriter, r *http.Request) {
	items, at, err := s.Areas(r.Context())
	httpapi.Respond(w, r, http.StatusOK, struct {
		LiveAt time.Time     `json:"live_at"`
		Items  []AreaSummary `json:"items"`
	}{at, items}, err)
}

func (s *Service) handleArea(w http.ResponseWriter, r *http.Request) {
	a, err := s.Area(r.Context(), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, a, err)
}

func (s *Service) handleOutlook(w http.ResponseWriter, r *http.Request) {
	o, err := s.ReloadOutlook(r.Context(), r.PathValue("id"), freight.Equipment(r.URL.Query().Get("equipment")))
	httpapi.Respond(w, r, http.StatusOK, o, err)
}

func (s *Service) handleLane(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var fs freight.Fields
	place := func(name string) areas.Area {
		v := q.Get(name)
		if v == "" {
			fs.Add(name, "required: a market area ID, a ZIP code, \"City, ST\" or \"lat,lon\"")
			return areas.Area{}
		}
		a, ok := s.parseArea(v)
		if !ok {
			fs.Add(name, "unknown place %q; give a market area ID, a US ZIP code, \"City, ST\" or \"lat,lon\" in the US", v)
		}
		return a
	}
	origin, dest := place("origin"), place("destination")
	eq := freight.Equipment(q.Get("equipment"))
	if eq != "" && !eq.Valid() {
		fs.Add("equipment", "must be one of van, reefer, flatbed")
	}
	weeks := 26
	if v := q.Get("weeks"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 52 {
			fs.Add("weeks", "must be an integer between 1 and 52")
		}
		weeks = n
	}
	if err := fs.Err(); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	h, err := s.Lane(r.Context(), origin, dest, eq, weeks)
	httpapi.Respond(w, r, http.StatusOK, h, err)
}

func (s *Service) handleHot(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 10, 100)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	eq := freight.Equipment(r.URL.Query().Get("equipment"))
	if eq != "" && !eq.Valid() {
		httpapi.Error(w, r, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "equipment", Detail: "must be one of van, reefer, flatbed"}}})
		return
	}
	h, err := s.Hot(r.Context(), eq, limit)
	httpapi.Respond(w, r, http.StatusOK, h, err)
}

// operator reports whether p runs the marketplace.
func operator(p freight.Principal) bool {
	return p.Is(freight.RoleOperator) || p.Role == freight.RoleAdmin && p.OrgKind == freight.OrgPlatform
}

func requireOperator(p freight.Principal) error {
	if operator(p) {
		return nil
	}
	return freight.Errorf(freight.EFORBIDDEN, "the rate model is managed by the marketplace's operators")
}

func (s *Service) handleModel(w http.ResponseWriter, r *http.Request) {
	if err := requireOperator(httpapi.Principal(r)); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	runs, err := s.TrainingRuns(r.Context(), 10)
	m, ok := s.InService()
	var inService *Model
	if ok {
		inService = &m
	}
	httpapi.Respond(w, r, http.StatusOK, struct {
		InService *Model        `json:"in_service"` // null: no market data
		Runs      []TrainingRun `json:"runs"`       // newest first
	}{inService, runs}, err)
}

func (s *Service) handleRetrain(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	if err := requireOperator(p); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	run, err := s.Retrain(r.Context(), p.Subject())
	if err == nil {
		w.Header().Set("Location", "/api/v1/market/model/runs/"+strconv.FormatInt(run.ID, 10))
	}
	httpapi.Respond(w, r, http.StatusAccepted, run, err)
}

func (s *Service) handleRun(w http.ResponseWriter, r *http.Request) {
	if err := requireOperator(httpapi.Principal(r)); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		httpapi.Error(w, r, freight.NotFound("retraining run"))
		return
	}
	run, ok, err := s.TrainingRun(r.Context(), id)
	if err == nil && !ok {
		err = freight.NotFound("retraining run")
	}
	httpapi.Respond(w, r, http.StatusOK, run, err)
}

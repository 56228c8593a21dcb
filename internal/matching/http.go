package matching

import (
	"net/http"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// Body limits of the service's requests.
const (
	maxAssignBody  = 1 << 20
	maxRequestBody = 4 << 10
)

// Routes registers the service's authenticated endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/recommendations/drivers/{id}/loads", s.handleLoadsFor)
	mux.HandleFunc("GET /api/v1/recommendations/drivers/{id}/chains", s.handleChains)
	mux.HandleFunc("GET /api/v1/recommendations/drivers/{id}/preferences", s.handleGetPreferences)
	mux.HandleFunc("PUT /api/v1/recommendations/drivers/{id}/preferences", s.handlePutPreferences)
	mux.HandleFunc("GET /api/v1/recommendations/loads/{id}/drivers", s.handleDriversFor)
	mux.HandleFunc("POST /api/v1/matches/assign", s.handleAssign)
	mux.HandleFunc("POST /api/v1/matches/requests", s.handleSubmit)
	mux.HandleFunc("GET /api/v1/matches/requests", s.handleListRequests)
	mux.HandleFunc("GET /api/v1/matches/requests/{id}", s.handleGetRequest)
}

func (s *Service) handleLoadsFor(w http.ResponseWriter, r *http.Request) {
	q, err := ParseRecommendQuery(r.URL.Query())
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out, err := s.LoadsFor(r.Context(), httpapi.Principal(r), r.PathValue("id"), q)
	httpapi.Respond(w, r, http.StatusOK, out, err)
}

func (s *Service) handleChains(w http.ResponseWriter, r *http.Request) {
	q, err := ParseChainQuery(r.URL.Query())
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out, err := s.Chains(r.Context(), httpapi.Principal(r), r.PathValue("id"), q)
	httpapi.Respond(w, r, http.StatusOK, out, err)
}

func (s *Service) handleDriversFor(w http.ResponseWriter, r *http.Request) {
	q, err := ParseRecommendQuery(r.URL.Query())
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out, err := s.DriversFor(r.Context(), httpapi.Principal(r), r.PathValue("id"), q)
	httpapi.Respond(w, r, http.StatusOK, out, err)
}

func (s *Service) handleGetPreferences(w http.ResponseWriter, r *http.Request) {
	out, err := s.GetPreferences(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, out, err)
}

func (s *Service) handlePutPreferences(w http.ResponseWriter, r *http.Request) {
	var in PreferencesInput
	if err := httpapi.Decode(r, &in, maxPreferenceBody); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out, err := s.SetPreferences(r.Context(), httpapi.Principal(r), r.PathValue("id"), in)
	httpapi.Respond(w, r, http.StatusOK, out, err)
}

func (s *Service) handleAssign(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	// The role is checked before the body is read: a long list is not
	// worth parsing for a caller who may not assign.
	if !fleetManager(p) {
		httpapi.Error(w, r, freight.Errorf(freight.EFORBIDDEN, "fleet assignment is for a carrier's dispatchers and admins"))
		return
	}
	var in AssignInput
	if err := httpapi.Decode(r, &in, maxAssignBody); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out, err := s.Assign(r.Context(), p, in)
	httpapi.Respond(w, r, http.StatusOK, out, err)
}

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var in MatchRequestInput
	if err := httpapi.Decode(r, &in, maxRequestBody); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	m, err := s.Submit(r.Context(), httpapi.Principal(r), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/matches/requests/"+m.ID)
	}
	httpapi.Respond(w, r, http.StatusAccepted, m, err)
}

func (s *Service) handleGetRequest(w http.ResponseWriter, r *http.Request) {
	m, err := s.GetRequest(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, m, err)
}

func (s *Service) handleListRequests(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 20, 100)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	page, err := s.ListRequests(r.Context(), httpapi.Principal(r), r.URL.Query().Get("cursor"), limit)
	httpapi.Respond(w, r, http.StatusOK, page, err)
}

package drivers

import (
	"net/http"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// Prefixes are the API paths this service owns (the gateway routes them).
var Prefixes = []string{"/api/v1/carriers", "/api/v1/drivers", "/api/v1/trucks"}

// Routes registers the service's authenticated endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/carriers", s.track(s.handleCarriers))
	mux.HandleFunc("GET /api/v1/carriers/{id}", s.track(s.handleCarrier))
	mux.HandleFunc("GET /api/v1/drivers", s.track(s.handleDrivers))
	mux.HandleFunc("POST /api/v1/drivers", s.track(s.handleCreateDriver))
	mux.HandleFunc("GET /api/v1/drivers/{id}", s.track(s.handleDriver))
	mux.HandleFunc("PUT /api/v1/drivers/{id}", s.track(s.handleUpdateDriver))
	mux.HandleFunc("POST /api/v1/drivers/{id}/status", s.track(s.handleStatus))
	mux.HandleFunc("GET /api/v1/trucks", s.track(s.handleTrucks))
	mux.HandleFunc("POST /api/v1/trucks", s.track(s.handleCreateTruck))
	mux.HandleFunc("GET /api/v1/trucks/{id}", s.track(s.handleTruck))
}

// track counts the caller of every driver-service request as a session.
func (s *Service) track(fn http.HandlerFunc) http.HandlerFunc { return s.sessions.Track(fn).ServeHTTP }

// Sessions are the callers this process served lately (active_sessions).
func (s *Service) Sessions() *Sessions { return s.sessions }

func (s *Service) handleCarriers(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Carriers(r.Context())
	httpapi.Respond(w, r, http.StatusOK, map[string]any{"items": cs}, err)
}

func (s *Service) handleCarrier(w http.ResponseWriter, r *http.Request) {
	c, err := s.Carrier(r.Context(), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, c, err)
}

func (s *Service) handleDrivers(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 50, 500)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	page, err := s.Drivers(r.Context(), httpapi.Principal(r), DriverFilter{Status: freight.DriverStatus(q.Get("status")), Cursor: q.Get("cursor"), Limit: limit})
	httpapi.Respond(w, r, http.StatusOK, page, err)
}

func (s *Service) handleCreateDriver(w http.ResponseWriter, r *http.Request) {
	var in freight.DriverInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	d, err := s.CreateDriver(r.Context(), httpapi.Principal(r), in)
	httpapi.Respond(w, r, http.StatusCreated, d, err)
}

func (s *Service) handleDriver(w http.ResponseWriter, r *http.Request) {
	d, err := s.Driver(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, d, err)
}

func (s *Service) handleUpdateDriver(w http.ResponseWriter, r *http.Request) {
	var in freight.DriverInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	d, err := s.UpdateDriver(r.Context(), httpapi.Principal(r), r.PathValue("id"), in)
	httpapi.Respond(w, r, http.StatusOK, d, err)
}

func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request) {
	var in StatusInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	d, err := s.SetStatus(r.Context(), httpapi.Principal(r), r.PathValue("id"), in)
	httpapi.Respond(w, r, http.StatusOK, d, err)
}

func (s *Service) handleTrucks(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Trucks(r.Context(), httpapi.Principal(r))
	httpapi.Respond(w, r, http.StatusOK, map[string]any{"items": ts}, err)
}

func (s *Service) handleCreateTruck(w http.ResponseWriter, r *http.Request) {
	var in freight.TruckInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	t, err := s.CreateTruck(r.Context(), httpapi.Principal(r), in)
	httpapi.Respond(w, r, http.StatusCreated, t, err)
}

func (s *Service) handleTruck(w http.ResponseWriter, r *http.Request) {
	t, err := s.Truck(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, t, err)
}

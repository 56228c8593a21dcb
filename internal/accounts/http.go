package accounts

import (
	"net/http"

	"github.com/backhaul/backhaul/internal/httpapi"
)

// PublicRoutes registers the endpoints that need no credentials.
func (s *Service) PublicRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/auth/signup", s.handleSignup)
	mux.HandleFunc("POST /api/v1/auth/login", s.handleLogin)
}

// Routes registers the authenticated endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/me", s.handleMe)
	mux.HandleFunc("GET /api/v1/users", s.handleUsers)
	mux.HandleFunc("POST /api/v1/users", s.handleCreateUser)
	mux.HandleFunc("GET /api/v1/api-keys", s.handleKeys)
	mux.HandleFunc("POST /api/v1/api-keys", s.handleCreateKey)
	mux.HandleFunc("DELETE /api/v1/api-keys/{id}", s.handleRevokeKey)
}

func (s *Service) handleSignup(w http.ResponseWriter, r *http.Request) {
	var in SignupInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	sess, err := s.Signup(r.Context(), in)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusCreated, sess)
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in LoginInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	sess, err := s.Login(r.Context(), in)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, sess)
}

// Me is who the caller is.
type Me struct {
	User     *httpUser `json:"user,omitempty"`
	KeyID    string    `json:"api_key_id,omitempty"`
	Org      any       `json:"organization"`
	Role     string    `json:"role"`
	DriverID string    `json:"driver_id,omitempty"`
}

type httpUser = struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	org, err := s.Org(r.Context(), p.OrgID)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	me := Me{KeyID: p.KeyID, Org: org, Role: string(p.Role), DriverID: p.DriverID}
	if p.UserID != "" {
		u, err := s.User(r.Context(), p.UserID)
		if err != nil {
			httpapi.Error(w, r, err)
			return
		}
		me.User = &httpUser{ID: u.ID, Email: u.Email, Name: u.Name}
	}
	httpapi.JSON(w, http.StatusOK, me)
}

func (s *Service) handleUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.Users(r.Context(), httpapi.Principal(r))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"items": users})
}

func (s *Service) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	var in UserInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	u, err := s.CreateUser(r.Context(), httpapi.Principal(r), in)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusCreated, u)
}

func (s *Service) handleKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.APIKeys(r.Context(), httpapi.Principal(r))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"items": keys})
}

func (s *Service) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	var in APIKeyInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	k, err := s.CreateAPIKey(r.Context(), httpapi.Principal(r), in)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusCreated, k)
}

func (s *Service) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	if err := s.RevokeAPIKey(r.Context(), httpapi.Principal(r), r.PathValue("id")); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

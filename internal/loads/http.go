package loads

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// Prefixes are the API paths this service owns (the gateway routes them).
var Prefixes = []string{"/api/v1/loads", "/api/v1/bookings", "/api/v1/board"}

// Routes registers the service's authenticated endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/loads", s.handleCreate)
	mux.HandleFunc("GET /api/v1/loads", s.handleList)
	mux.HandleFunc("GET /api/v1/loads/{id}", s.handleGet)
	mux.HandleFunc("POST /api/v1/loads/{id}/status", s.handleStatus)
	mux.HandleFunc("GET /api/v1/loads/{id}/history", s.handleHistory)
	mux.HandleFunc("GET /api/v1/board", s.handleBoard)
	mux.HandleFunc("POST /api/v1/bookings", s.handleBook)
	mux.HandleFunc("GET /api/v1/bookings", s.handleBookings)
	mux.HandleFunc("GET /api/v1/bookings/{id}", s.handleBooking)
	mux.HandleFunc("POST /api/v1/bookings/{id}/assign", s.handleAssign)
	mux.HandleFunc("POST /api/v1/bookings/{id}/cancel", s.handleCancelBooking)
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var in freight.LoadInput
	if err := httpapi.Decode(r, &in, 64<<10); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	l, err := s.Create(r.Context(), httpapi.Principal(r), in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/loads/"+l.ID)
	}
	httpapi.Respond(w, r, http.StatusCreated, l, err)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 50, 500)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	page, err := s.List(r.Context(), httpapi.Principal(r), ListFilter{Status: freight.LoadStatus(q.Get("status")), Cursor: q.Get("cursor"), Limit: limit})
	httpapi.Respond(w, r, http.StatusOK, page, err)
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	l, err := s.Get(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, l, err)
}

func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request) {
	var in StatusInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	l, err := s.SetStatus(r.Context(), httpapi.Principal(r), r.PathValue("id"), in)
	httpapi.Respond(w, r, http.StatusOK, l, err)
}

func (s *Service) handleHistory(w http.ResponseWriter, r *http.Request) {
	h, err := s.History(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, map[string]any{"items": h}, err)
}

func (s *Service) handleBook(w http.ResponseWriter, r *http.Request) {
	var in BookingInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	b, err := s.Book(r.Context(), httpapi.Principal(r), in)
	httpapi.Respond(w, r, http.StatusCreated, b, err)
}

func (s *Service) handleBookings(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 50, 500)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	page, err := s.Bookings(r.Context(), httpapi.Principal(r), r.URL.Query().Get("cursor"), limit)
	httpapi.Respond(w, r, http.StatusOK, page, err)
}

func (s *Service) handleBooking(w http.ResponseWriter, r *http.Request) {
	b, err := s.Booking(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, b, err)
}

func (s *Service) handleAssign(w http.ResponseWriter, r *http.Request) {
	var in AssignInput
	if err := httpapi.Decode(r, &in, 0); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	b, err := s.Assign(r.Context(), httpapi.Principal(r), r.PathValue("id"), in)
	httpapi.Respond(w, r, http.StatusOK, b, err)
}

func (s *Service) handleCancelBooking(w http.ResponseWriter, r *http.Request) {
	b, err := s.CancelBooking(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, b, err)
}

func (s *Service) handleBoard(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	if !hauler(p) && !p.Is(freight.RoleOperator) {
		httpapi.Error(w, r, freight.Errorf(freight.EFORBIDDEN, "the load board is for carriers, brokers and operators"))
		return
	}
	// The board is the same for every caller allowed to see it, so pages
	// are cached by query alone.
	values := r.URL.Query()
	key := strconv.FormatUint(s.gen.Load(), 10) + "?" + values.Encode()
	if b, ok, _ := s.board.Get(r.Context(), key); ok && s.boardTTL > 0 {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
		return
	}
	q, err := s.ParseBoardQuery(values)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	page, err := s.Board(r.Context(), p, q)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	b, err := json.Marshal(page)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	b = append(b, '\n')
	if s.boardTTL > 0 {
		_ = s.board.Set(r.Context(), key, b, s.boardTTL)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// ParseBoardQuery reads the board's query parameters. Origins and
// destinations are lat/lon pairs or free text ("Dallas, TX", "75201").
func (s *Service) ParseBoardQuery(v url.Values) (BoardQuery, error) {
	var fs freight.Fields
	q := BoardQuery{Equipment: freight.Equipment(v.Get("equipment")), Sort: v.Get("sort"), Cursor: v.Get("cursor"),
		DestState: strings.ToUpper(v.Get("dest_state"))}
	num := func(name string) float64 {
		s := v.Get(name)
		if s == "" {
			return 0
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			fs.Add(name, "must be a finite number")
			return 0
		}
		return f
	}
	place := func(prefix string) *freight.Location {
		lat, lon := v.Get(prefix+"_lat"), v.Get(prefix+"_lon")
		text := v.Get(prefix)
		switch {
		case lat != "" || lon != "":
			before := len(fs)
			l := freight.Location{Lat: num(prefix + "_lat"), Lon: num(prefix + "_lon")}
			if len(fs) > before {
				return nil
			}
			if lat == "" {
				fs.Add(prefix+"_lat", "required with %s_lon", prefix)
				return nil
			}
			if lon == "" {
				fs.Add(prefix+"_lon", "required with %s_lat", prefix)
				return nil
			}
			return &l
		case text != "":
			if len(text) > 200 {
				fs.Add(prefix, "too long")
				return nil
			}
			l, ok := s.geo.Resolve(parsePlace(text))
			if !ok {
				fs.Add(prefix, "unknown place %q; give a US ZIP code or \"City, ST\"", text)
				return nil
			}
			return &l
		}
		return nil
	}
	q.Origin = place("origin")
	q.Dest = place("dest")
	q.RadiusMiles = num("radius_mi")
	q.DestRadius = num("dest_radius_mi")
	q.MinRPM = num("min_rpm")
	if mr := num("min_rate"); mr != 0 {
		q.MinRate = freight.FromDollars(mr)
	}
	date := func(name string, endOfDay bool) time.Time {
		s := v.Get(name)
		if s == "" {
			return time.Time{}
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			fs.Add(name, "want an RFC 3339 time or a YYYY-MM-DD date")
			return time.Time{}
		}
		if endOfDay {
			t = t.Add(24*time.Hour - time.Microsecond)
		}
		return t
	}
	q.PickupFrom = date("pickup_from", false)
	q.PickupTo = date("pickup_to", true)
	limit := 50
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			fs.Add("limit", "must be an integer between 1 and 200")
		}
		limit = n
	}
	q.Limit = limit
	return q, fs.Err()
}

// parsePlace reads "City, ST" or a ZIP code into a location to geocode.
func parsePlace(text string) freight.Location {
	text = strings.TrimSpace(text)
	if len(text) >= 5 && strings.Trim(text[:5], "0123456789") == "" {
		return freight.Location{ZIP: text[:5]}
	}
	city, state, _ := strings.Cut(text, ",")
	return freight.Location{City: strings.TrimSpace(city), State: strings.ToUpper(strings.TrimSpace(state))}
}

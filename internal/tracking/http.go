package tracking

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/tracking/ingest"
	"github.com/backhaul/backhaul/internal/tracking/latest"
)

// Routes registers the service's authenticated endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/positions", s.handleIngest)
	mux.HandleFunc("GET /api/v1/tracking/nearby", s.handleNearby)
	mux.HandleFunc("GET /api/v1/tracking/drivers/{id}/latest", s.handleLatest)
	mux.HandleFunc("GET /api/v1/tracking/drivers/{id}/track", s.handleTrack)
	mux.HandleFunc("GET /api/v1/tracking/drivers/{id}/rollups", s.handleRollups)
	s.loadRoutes(mux)
}

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *Service) handleIngest(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			httpapi.Error(w, r, freight.Errorf(freight.EINVALID, "malformed Content-Type"))
			return
		case mt == "application/json", mt == "application/x-ndjson", mt == "application/ndjson", mt == "application/jsonl", mt == "application/x-jsonlines":
		default:
			httpapi.Error(w, r, freight.Errorf(freight.EINVALID, "Content-Type must be application/json (an array) or application/x-ndjson"))
			return
		}
	}
	limit := s.cfg.MaxBatchBytes
	if r.ContentLength > limit {
		httpapi.Error(w, r, freight.Errorf(freight.ETOOLARGE, "batch larger than %d bytes; split it", limit))
		return
	}
	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 4<<20 {
			bodies.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpapi.Error(w, r, freight.Errorf(freight.ETOOLARGE, "batch larger than %d bytes; split it", mbe.Limit))
			return
		}
		httpapi.Error(w, r, freight.Errorf(freight.EINVALID, "reading the batch: %v", err))
		return
	}
	if int64(buf.Len()) > limit {
		httpapi.Error(w, r, freight.Errorf(freight.ETOOLARGE, "batch larger than %d bytes; split it", limit))
		return
	}
	points, indexes, rejected, err := ingest.Decode(buf.Bytes(), s.cfg.MaxBatchPoints)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	res, err := s.Ingest(r.Context(), httpapi.Principal(r), points, indexes, rejected)
	httpapi.Respond(w, r, http.StatusOK, res, err)
}

// readScope says whose fixes p may read about driverID: every carrier's
// for an operator (""), else the caller's own carrier. Drivers read only
// themselves; shippers follow drivers through their loads only.
func (s *Service) readScope(r *http.Request, driverID string) (string, error) {
	p := httpapi.Principal(r)
	switch {
	case p.Is(freight.RoleOperator):
		return "", nil
	case p.Is(freight.RoleDriver):
		if p.DriverID == "" || p.DriverID != driverID {
			return "", freight.NotFound("driver")
		}
		return p.OrgID, nil
	case p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin):
		ok, err := s.driverBelongs(r.Context(), p.OrgID, driverID)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", freight.NotFound("driver")
		}
		return p.OrgID, nil
	}
	return "", freight.Errorf(freight.EFORBIDDEN, "a shipper follows positions through its loads")
}

func (s *Service) handleLatest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	carrier, err := s.readScope(r, id)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	f, ok, err := s.latest.Get(r.Context(), id)
	if err == nil && (!ok || carrier != "" && f.CarrierID != carrier) {
		err = freight.NotFound("position")
	}
	httpapi.Respond(w, r, http.StatusOK, f, err)
}

func timeParam(r *http.Request, name string, def time.Time, fs *freight.Fields) time.Time {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		fs.Add(name, "must be an RFC 3339 time")
	}
	return t
}

func (s *Service) rangeParams(r *http.Request, defSpan, maxSpan time.Duration) (from, to time.Time, fs freight.Fields) {
	now := s.now()
	to = timeParam(r, "to", now, &fs)
	from = timeParam(r, "from", to.Add(-defSpan), &fs)
	if len(fs) == 0 {
		switch {
		case !to.After(from):
			fs.Add("to", "must be after from")
		case to.Sub(from) > maxSpan:
			fs.Add("from", "the range is at most %s", maxSpan)
		}
	}
	return from, to, fs
}

func (s *Service) handleTrack(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	carrier, err := s.readScope(r, id)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	from, to, fs := s.rangeParams(r, 24*time.Hour, MaxTrackRange)
	points := 500
	if v := r.URL.Query().Get("points"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 10_000 {
			fs.Add("points", "must be an integer between 2 and 10000")
		}
		points = n
	}
	if err := fs.Err(); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	t, err := s.track(r.Context(), id, carrier, from, to, points)
	httpapi.Respond(w, r, http.StatusOK, t, err)
}

func (s *Service) handleRollups(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	carrier, err := s.readScope(r, id)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	from, to, fs := s.rangeParams(r, 7*24*time.Hour, 366*24*time.Hour)
	if err := fs.Err(); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out, err := s.rollups(r.Context(), id, carrier, from, to)
	httpapi.Respond(w, r, http.StatusOK, map[string]any{"items": out}, err)
}

func floatParam(r *http.Request, name string, lo, hi float64, fs *freight.Fields) float64 {
	v, err := strconv.ParseFloat(r.URL.Query().Get(name), 64)
	if err != nil || v < lo || v > hi {
		fs.Add(name, "must be a number between %g and %g", lo, hi)
	}
	return v
}

// handleNearby answers "drivers within R miles of a point": a carrier sees
// its own fleet, an operator the whole network.
func (s *Service) handleNearby(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	q := latest.Query{}
	switch {
	case p.Is(freight.RoleOperator):
	case p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin):
		q.CarrierID = p.OrgID
	default:
		httpapi.Error(w, r, freight.Errorf(freight.EFORBIDDEN, "only dispatchers and operators search for trucks"))
		return
	}
	var fs freight.Fields
	q.Center = geo.Point{Lat: floatParam(r, "lat", -90, 90, &fs), Lon: floatParam(r, "lon", -180, 180, &fs)}
	q.Miles = floatParam(r, "radius_mi", 0, 3000, &fs)
	limit, err := httpapi.Limit(r, 100, 1000)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q.Limit = limit
	if v := r.URL.Query().Get("max_age"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fs.Add("max_age", "must be a positive duration such as 30m")
		}
		q.Since = s.now().Add(-d)
	}
	if err := fs.Err(); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out, err := s.latest.Within(r.Context(), q)
	httpapi.Respond(w, r, http.StatusOK, map[string]any{"items": out}, err)
}

package tracking

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/tracking/latest"
)

// loadRoutes registers the per-load views and the live streams.
func (s *Service) loadRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/tracking/loads/{id}", s.handleLoad)
	mux.HandleFunc("GET /api/v1/tracking/loads/{id}/track", s.handleLoadTrack)
	mux.HandleFunc("GET /api/v1/tracking/loads/{id}/stream", s.handleLoadStream)
	mux.HandleFunc("GET /api/v1/tracking/fleet/stream", s.handleFleetStream)
	mux.HandleFunc("GET /api/v1/tracking/network/stream", s.handleNetworkStream)
}

// loadAccess returns a load the caller may follow: its shipper (poster),
// its carrier's dispatchers, its driver, and operators. Any other caller
// is told it does not exist.
func (s *Service) loadAccess(ctx context.Context, p freight.Principal, id string) (freight.Load, error) {
	l, err := s.deps.Loads.Load(ctx, id)
	if err != nil {
		return l, err
	}
	switch {
	case p.Is(freight.RoleOperator):
	case p.OrgKind.PostsLoads() && p.Is(freight.RoleShipper, freight.RoleAdmin) && l.OrgID == p.OrgID:
	case p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin) && l.CarrierID == p.OrgID && l.CarrierID != "":
	case p.Is(freight.RoleDriver) && l.DriverID != "" && l.DriverID == p.DriverID && l.CarrierID == p.OrgID:
	default:
		return freight.Load{}, freight.NotFound("load")
	}
	return l, nil
}

// window is when the load's driver may be seen through the load: from
// dispatch to delivery (or cancellation). A shipper sees its driver only
// then; before dispatch the driver is still another customer's, or home.
func (s *Service) window(ctx context.Context, l freight.Load) (from time.Time, to *time.Time, ok bool, err error) {
	dispatched, delivered, err := s.deps.Loads.Dispatched(ctx, l.ID)
	if err != nil || dispatched == nil || l.DriverID == "" {
		return time.Time{}, nil, false, err
	}
	if delivered != nil {
		return dispatched.At, &delivered.At, true, nil
	}
	return dispatched.At, nil, true, nil
}

// visibleAt reports whether a fix at t falls in the window.
func visibleAt(from time.Time, to *time.Time, t time.Time) bool {
	return !t.Before(from) && (to == nil || !t.After(*to))
}

// LoadTracking is what a load's followers see.
type LoadTracking struct {
	LoadID   string             `json:"load_id"`
	Status   freight.LoadStatus `json:"status"`
	DriverID string             `json:"driver_id,omitempty"`
	Position *latest.Fix        `json:"position,omitempty"` // only between dispatch and delivery
	ETA      *ETA               `json:"eta,omitempty"`
	Visits   []*Visit           `json:"visits"`
}

func (s *Service) handleLoad(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l, err := s.loadAccess(ctx, httpapi.Principal(r), r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	out := LoadTracking{LoadID: l.ID, Status: l.Status, DriverID: l.DriverID, Visits: []*Visit{}}
	from, to, ok, err := s.window(ctx, l)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if ok {
		if f, found, err := s.latest.Get(ctx, l.DriverID); err != nil {
			httpapi.Error(w, r, err)
			return
		} else if found && visibleAt(from, to, f.Time) {
			out.Position = &f
		}
	}
	if out.ETA, err = s.loadETA(ctx, l.ID); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	vs, err := s.visits(ctx, l.ID)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	for _, v := range vs {
		if v.ArrivedAt != nil && v.DepartedAt == nil {
			// Still on site: the detention so far.
			v.DetentionMin = detention(*v.ArrivedAt, s.now(), s.cfg.FreeTime)
		}
		if v.ArrivedAt == nil && v.InsideSince == nil {
			continue
		}
		out.Visits = append(out.Visits, v)
	}
	httpapi.JSON(w, http.StatusOK, out)
}

// handleLoadTrack returns the driver's path while hauling the load: the
// evidence of arrival, departure and detention.
func (s *Service) handleLoadTrack(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l, err := s.loadAccess(ctx, httpapi.Principal(r), r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	points := 500
	if v := r.URL.Query().Get("points"); v != "" {
		if points, err = strconv.Atoi(v); err != nil || points < 2 || points > 10_000 {
			httpapi.Error(w, r, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
				Fields: []freight.FieldError{{Field: "points", Detail: "must be an integer between 2 and 10000"}}})
			return
		}
	}
	from, to, ok, err := s.window(ctx, l)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if !ok {
		httpapi.JSON(w, http.StatusOK, Track{DriverID: l.DriverID, Points: []TrackPoint{}})
		return
	}
	end := s.now()
	if to != nil {
		end = to.Add(time.Microsecond)
	}
	if end.Sub(from) > MaxTrackRange {
		from = end.Add(-MaxTrackRange)
	}
	t, err := s.track(ctx, l.DriverID, l.CarrierID, from, end, points)
	httpapi.Respond(w, r, http.StatusOK, t, err)
}

// heartbeat keeps idle streams open through proxies.
const heartbeat = 15 * time.Second

// stream writes the fixes sub receives as server-sent events until the
// client goes or the service stops. show filters each fix at send time.
func (s *Service) stream(w http.ResponseWriter, r *http.Request, sub *subscriber, first []latest.Fix, show func(latest.Fix) (bool, error)) {
	defer s.hub.unsubscribe(sub)
	fl, ok := w.(http.Flusher)
	if !ok {
		httpapi.Error(w, r, fmt.Errorf("streaming unsupported by the response writer"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": positions\n\n")
	fl.Flush()
	send := func(f latest.Fix) bool {
		if ok, err := show(f); err != nil || !ok {
			return err == nil
		}
		b, _ := json.Marshal(f)
		if _, err := fmt.Fprintf(w, "event: position\ndata: %s\n\n", b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	for _, f := range first {
		if !send(f) {
			return
		}
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case f, ok := <-sub.ch:
			if !ok || !send(f) {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

func (s *Service) handleLoadStream(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l, err := s.loadAccess(ctx, httpapi.Principal(r), r.PathValue("id"))
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	if l.DriverID == "" {
		httpapi.Error(w, r, freight.Errorf(freight.ECONFLICT, "no driver is assigned to the load yet"))
		return
	}
	sub := s.hub.subscribe(func(f latest.Fix) bool { return f.DriverID == l.DriverID })
	// The window is read for every fix sent: a load stream carries one
	// driver, and the moment of dispatch or delivery must cut it exactly.
	show := func(f latest.Fix) (bool, error) {
		from, to, ok, err := s.window(ctx, l)
		return ok && visibleAt(from, to, f.Time), err
	}
	var first []latest.Fix
	if f, found, err := s.latest.Get(ctx, l.DriverID); err == nil && found {
		first = append(first, f)
	}
	s.stream(w, r, sub, first, show)
}

func (s *Service) handleFleetStream(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	var keep func(latest.Fix) bool
	switch {
	case p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin):
		keep = func(f latest.Fix) bool { return f.CarrierID == p.OrgID }
	case p.Is(freight.RoleDriver) && p.DriverID != "":
		keep = func(f latest.Fix) bool { return f.DriverID == p.DriverID && f.CarrierID == p.OrgID }
	default:
		httpapi.Error(w, r, freight.Errorf(freight.EFORBIDDEN, "the fleet stream is for carriers"))
		return
	}
	s.stream(w, r, s.hub.subscribe(keep), nil, func(latest.Fix) (bool, error) { return true, nil })
}

func (s *Service) handleNetworkStream(w http.ResponseWriter, r *http.Request) {
	if !httpapi.Principal(r).Is(freight.RoleOperator) {
		httpapi.Error(w, r, freight.Errorf(freight.EFORBIDDEN, "the network stream is for the marketplace's operators"))
		return
	}
	s.stream(w, r, s.hub.subscribe(func(latest.Fix) bool { return true }), nil, func(latest.Fix) (bool, error) { return true, nil })
}

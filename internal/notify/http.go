package notify

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// maxRequestBytes bounds the bodies of this service's requests.
const maxRequestBytes = 64 << 10

// Routes registers the service's authenticated endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/notifications", s.handleInbox)
	mux.HandleFunc("GET /api/v1/notifications/unread-count", s.handleUnread)
	mux.HandleFunc("GET /api/v1/notifications/stream", s.handleStream)
	mux.HandleFunc("POST /api/v1/notifications/{id}/read", s.handleRead)
	mux.HandleFunc("POST /api/v1/notifications/read-all", s.handleReadAll)
	mux.HandleFunc("GET /api/v1/notifications/preferences", s.handleGetPrefs)
	mux.HandleFunc("PUT /api/v1/notifications/preferences", s.handlePutPrefs)
	mux.HandleFunc("GET /api/v1/notifications/preferences/organization", s.handleGetOrgPrefs)
	mux.HandleFunc("PUT /api/v1/notifications/preferences/organization", s.handlePutOrgPrefs)
	mux.HandleFunc("POST /api/v1/webhooks", s.handleCreateEndpoint)
	mux.HandleFunc("GET /api/v1/webhooks", s.handleListEndpoints)
	mux.HandleFunc("GET /api/v1/webhooks/{id}", s.handleGetEndpoint)
	mux.HandleFunc("PUT /api/v1/webhooks/{id}", s.handleUpdateEndpoint)
	mux.HandleFunc("DELETE /api/v1/webhooks/{id}", s.handleDeleteEndpoint)
	mux.HandleFunc("GET /api/v1/webhooks/{id}/deliveries", s.handleDeliveries)
	mux.HandleFunc("POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay", s.handleReplay)
}

func (s *Service) handleInbox(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 50, 200)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	unread := false
	switch q.Get("unread") {
	case "", "false":
	case "true":
		unread = true
	default:
		var fs freight.Fields
		fs.Add("unread", "must be true or false")
		httpapi.Error(w, r, fs.Err())
		return
	}
	page, err := s.Inbox(r.Context(), httpapi.Principal(r), InboxFilter{UnreadOnly: unread, Cursor: q.Get("cursor"), Limit: limit})
	httpapi.Respond(w, r, http.StatusOK, page, err)
}

func (s *Service) handleUnread(w http.ResponseWriter, r *http.Request) {
	n, err := s.Unread(r.Context(), httpapi.Principal(r))
	httpapi.Respond(w, r, http.StatusOK, map[string]int{"unread": n}, err)
}

func (s *Service) handleRead(w http.ResponseWriter, r *http.Request) {
	it, err := s.MarkRead(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, it, err)
}

// ReadAllInput marks the inbox read up to a notification's seq (0: all).
type ReadAllInput struct {
	UpToSeq int64 `json:"up_to_seq"`
}

func (s *Service) handleReadAll(w http.ResponseWriter, r *http.Request) {
	var in ReadAllInput
	if r.ContentLength != 0 {
		if err := httpapi.Decode(r, &in, maxRequestBytes); err != nil {
			httpapi.Error(w, r, err)
			return
		}
	}
	if in.UpToSeq < 0 {
		var fs freight.Fields
		fs.Add("up_to_seq", "must not be negative")
		httpapi.Error(w, r, fs.Err())
		return
	}
	n, err := s.MarkAllRead(r.Context(), httpapi.Principal(r), in.UpToSeq)
	httpapi.Respond(w, r, http.StatusOK, map[string]int64{"marked": n}, err)
}

func (s *Service) handleGetPrefs(w http.ResponseWriter, r *http.Request) {
	v, err := s.Preferences(r.Context(), httpapi.Principal(r))
	httpapi.Respond(w, r, http.StatusOK, v, err)
}

func (s *Service) handlePutPrefs(w http.ResponseWriter, r *http.Request) {
	var in Preferences
	if err := httpapi.Decode(r, &in, maxRequestBytes); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	v, err := s.SetPreferences(r.Context(), httpapi.Principal(r), in)
	httpapi.Respond(w, r, http.StatusOK, v, err)
}

func (s *Service) handleGetOrgPrefs(w http.ResponseWriter, r *http.Request) {
	v, err := s.OrgPreferences(r.Context(), httpapi.Principal(r))
	httpapi.Respond(w, r, http.StatusOK, v, err)
}

func (s *Service) handlePutOrgPrefs(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	if !p.Is(freight.RoleAdmin) {
		httpapi.Error(w, r, freight.Errorf(freight.EFORBIDDEN, "only admins set the organization's notification defaults"))
		return
	}
	var in Preferences
	if err := httpapi.Decode(r, &in, maxRequestBytes); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	v, err := s.SetOrgPreferences(r.Context(), p, in)
	httpapi.Respond(w, r, http.StatusOK, v, err)
}

func (s *Service) handleCreateEndpoint(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	if err := webhookAdmin(p); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	var in EndpointInput
	if err := httpapi.Decode(r, &in, maxRequestBytes); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	ep, err := s.CreateEndpoint(r.Context(), p, in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/webhooks/"+ep.ID)
	}
	httpapi.Respond(w, r, http.StatusCreated, ep, err)
}

func (s *Service) handleListEndpoints(w http.ResponseWriter, r *http.Request) {
	eps, err := s.Endpoints(r.Context(), httpapi.Principal(r))
	httpapi.Respond(w, r, http.StatusOK, map[string]any{"items": eps}, err)
}

func (s *Service) handleGetEndpoint(w http.ResponseWriter, r *http.Request) {
	ep, err := s.Endpoint(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, ep, err)
}

func (s *Service) handleUpdateEndpoint(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	if err := webhookAdmin(p); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	var in EndpointInput
	if err := httpapi.Decode(r, &in, maxRequestBytes); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	ep, err := s.UpdateEndpoint(r.Context(), p, r.PathValue("id"), in)
	httpapi.Respond(w, r, http.StatusOK, ep, err)
}

func (s *Service) handleDeleteEndpoint(w http.ResponseWriter, r *http.Request) {
	if err := s.DeleteEndpoint(r.Context(), httpapi.Principal(r), r.PathValue("id")); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 50, 200)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	page, err := s.Deliveries(r.Context(), httpapi.Principal(r), r.PathValue("id"),
		DeliveryFilter{Status: q.Get("status"), Cursor: q.Get("cursor"), Limit: limit})
	httpapi.Respond(w, r, http.StatusOK, page, err)
}

func (s *Service) handleReplay(w http.ResponseWriter, r *http.Request) {
	d, err := s.Replay(r.Context(), httpapi.Principal(r), r.PathValue("id"), r.PathValue("delivery"))
	httpapi.Respond(w, r, http.StatusAccepted, d, err)
}

// keepAlive is how often an idle stream sends a comment, so proxies keep
// it open.
const keepAlive = 15 * time.Second

// handleStream streams the caller's new notifications as server-sent
// events: an "unread" event with the count first, then a "notification"
// event per new notification (its id is the notification's seq, so a
// client reconnecting with Last-Event-ID misses nothing) followed by the
// new unread count. The stream reads the store; a wake-up over NATS from
// whichever replica wrote the notification makes it look at once.
func (s *Service) handleStream(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := httpapi.Principal(r)
	if err := inboxUser(p); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	wake, unsubscribe := s.live.subscribe(p.UserID)
	defer unsubscribe()
	var last int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			var fs freight.Fields
			fs.Add("Last-Event-ID", "must be the id of an event this stream sent")
			httpapi.Error(w, r, fs.Err())
			return
		}
		last = n
	} else {
		n, err := s.lastSeq(ctx, p.UserID)
		if err != nil {
			httpapi.Error(w, r, err)
			return
		}
		last = n
	}
	unread, err := s.unread(ctx, p.UserID)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if httpapi.WriteEvent(w, "unread", "", map[string]int{"unread": unread}) != nil || rc.Flush() != nil {
		return
	}
	poll := time.NewTicker(s.opts.StreamPoll)
	defer poll.Stop()
	idle := time.Now()
	for {
		items, err := s.after(ctx, p.UserID, last, 100)
		if err != nil {
			if ctx.Err() == nil {
				httpapi.LoggerFrom(ctx).Warn("inbox stream", "err", err)
				_ = httpapi.WriteEvent(w, "error", "", map[string]string{"detail": "the stream failed; reconnect to resume"})
				_ = rc.Flush()
			}
			return
		}
		for _, it := range items {
			if httpapi.WriteEvent(w, "notification", strconv.FormatInt(it.Seq, 10), it) != nil {
				return
			}
			last = it.Seq
		}
		if len(items) > 0 {
			n, err := s.unread(ctx, p.UserID)
			if err == nil && httpapi.WriteEvent(w, "unread", "", map[string]int{"unread": n}) != nil {
				return
			}
			idle = time.Now()
		} else if time.Since(idle) >= keepAlive {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			idle = time.Now()
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if len(items) == 100 {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		}
	}
}

package optimize

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/httpapi"
)

// Routes registers the service's authenticated endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/jobs", s.handleSubmit)
	mux.HandleFunc("GET /api/v1/jobs", s.handleList)
	mux.HandleFunc("GET /api/v1/jobs/{id}", s.handleGet)
	mux.HandleFunc("GET /api/v1/jobs/{id}/progress", s.handleProgress)
	mux.HandleFunc("GET /api/v1/jobs/{id}/events", s.handleEvents)
	mux.HandleFunc("POST /api/v1/jobs/{id}/cancel", s.handleCancel)
}

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	// The role is checked before the body is read: a large instance is
	// not worth parsing for a caller who may not submit it.
	if !submitter(p) {
		httpapi.Error(w, r, forbidden())
		return
	}
	var req JobRequest
	if err := httpapi.Decode(r, &req, MaxRequestBytes); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	j, err := s.Submit(r.Context(), p, req)
	if err == nil {
		w.Header().Set("Location", "/api/v1/jobs/"+j.ID)
	}
	httpapi.Respond(w, r, http.StatusCreated, j, err)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	limit, err := httpapi.Limit(r, 50, 200)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	q := r.URL.Query()
	page, err := s.List(r.Context(), httpapi.Principal(r), ListFilter{Status: Status(q.Get("status")), Cursor: q.Get("cursor"), Limit: limit})
	httpapi.Respond(w, r, http.StatusOK, page, err)
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	j, err := s.Get(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, j, err)
}

func (s *Service) handleProgress(w http.ResponseWriter, r *http.Request) {
	pts, err := s.Progress(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	httpapi.Respond(w, r, http.StatusOK, map[string]any{"items": pts}, err)
}

// handleCancel answers 200 with a job cancelled at once (it was queued) and
// 202 with a running job whose worker has been asked to stop.
func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) {
	j, err := s.Cancel(r.Context(), httpapi.Principal(r), r.PathValue("id"))
	status := http.StatusOK
	if j.Status == StatusRunning {
		status = http.StatusAccepted
	}
	httpapi.Respond(w, r, status, j, err)
}

// keepAlive is how often an idle event stream sends a comment, so proxies
// do not close it.
const keepAlive = 15 * time.Second

// handleEvents streams a job's progress as server-sent events: a "progress"
// event for each improvement (its id is the point's number, so a client that
// reconnects with Last-Event-ID misses nothing) and a final "done" event with
// the job. The stream reads the store, so it follows a job whichever process
// runs it.
func (s *Service) handleEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, id := httpapi.Principal(r), r.PathValue("id")
	if _, err := s.status(ctx, p, id); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	last := 0
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			last = n
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}

	t := time.NewTicker(s.opts.CheckInterval)
	defer t.Stop()
	idle := time.Now()
	for {
		// The status is read before the points: every point of a job that
		// was done by then is already stored, so none is missed.
		st, err := s.status(ctx, p, id)
		if err != nil {
			s.streamError(w, rc, r, err)
			return
		}
		pts, err := s.pointsAfter(ctx, id, last)
		if err != nil {
			s.streamError(w, rc, r, err)
			return
		}
		for _, pt := range pts {
			if err := httpapi.WriteEvent(w, "progress", strconv.Itoa(pt.Seq), pt); err != nil {
				return
			}
			last = pt.Seq
		}
		if st.Done() {
			j, err := s.Get(ctx, p, id)
			if err != nil {
				s.streamError(w, rc, r, err)
				return
			}
			_ = httpapi.WriteEvent(w, "done", "", j)
			_ = rc.Flush()
			return
		}
		if len(pts) > 0 {
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
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// streamError ends a stream whose headers are sent with an "error" event.
func (s *Service) streamError(w http.ResponseWriter, rc *http.ResponseController, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	httpapi.LoggerFrom(r.Context()).Warn("job event stream", "err", err)
	_ = httpapi.WriteEvent(w, "error", "", map[string]string{"detail": "the stream failed; reconnect to resume"})
	_ = rc.Flush()
}

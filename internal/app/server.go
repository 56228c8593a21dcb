package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backhaul/backhaul/internal/apidoc"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/modules"
	"github.com/backhaul/backhaul/internal/optimize"
	"github.com/backhaul/backhaul/internal/web"
)

// handler is the process's whole HTTP surface.
func (a *App) handler() http.Handler {
	a.root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.root.HandleFunc("GET /readyz", a.handleReady)
	a.root.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	apidoc.Routes(a.root)
	a.root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if p := a.portal.Load(); p != nil && web.WantsHTML(r) {
			p.Landing(w, r)
			return
		}
		httpapi.JSON(w, http.StatusOK, map[string]any{
			"name": "Backhaul", "version": Version, "api": "/api/v1", "reference": "/api/v1/docs",
			"openapi": "/api/v1/openapi.json", "health": "/healthz", "ready": "/readyz", "metrics": "/metrics"})
	})
	// Every /api/v1 request: bounded body, authenticated, rate-limited when
	// the gateway runs here, then routed to its service.
	// Idempotency keys are kept by the process that serves the route; a
	// gateway forwarding the request leaves them to it.
	local := httpapi.Routed(a.api)
	idem := httpapi.Idempotent(local, a.db)
	limited := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner := idem
		if a.proxied(r.URL.Path) {
			inner = local
		}
		if gw := a.gw.Load(); gw != nil {
			gw.LimitPrincipal(inner).ServeHTTP(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
	a.root.Handle("/api/v1/", httpapi.RequireAuth(a.sharedSessions(limited), a.accounts))
	// Optimization jobs carry whole instances; everything else is small.
	limits := map[string]int64{"/api/v1/jobs": max(a.cfg.MaxBodyBytes, optimize.MaxRequestBytes)}
	return a.bodyLimits(httpapi.Instrument(a.endStreamsOnShutdown(a.root), a.log, a.http), limits)
}

// endStreamsOnShutdown ends server-sent event streams when the server shuts
// down: they never finish on their own, and the clients reconnect to another
// replica, while ordinary requests in flight are left to complete.
func (a *App) endStreamsOnShutdown(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") &&
			!strings.HasSuffix(r.URL.Path, "/stream") && !strings.HasSuffix(r.URL.Path, "/events") {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(a.streams, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *App) handleReady(w http.ResponseWriter, r *http.Request) {
	states := map[string]string{}
	for name, st := range a.mgr.States() {
		states[name] = st.String()
	}
	err := a.mgr.Ready()
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	check := func(name string, f func(context.Context) error) {
		if e := f(ctx); e != nil {
			checks[name] = e.Error()
			err = errors.Join(err, fmt.Errorf("%s: %w", name, e))
		} else {
			checks[name] = "ok"
		}
	}
	if err == nil {
		check("store", a.db.Ping)
		check("bus", a.bus.Healthy)
	}
	body := map[string]any{"status": "ready", "modules": states, "checks": checks}
	// Redis is an accelerator, not a dependency: without it the process
	// serves from the database, so it stays ready and says it is degraded.
	// The ping is short so that an unreachable server cannot make the
	// readiness probe itself time out.
	if a.redis != nil {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if e := a.redis.Ping(pctx).Err(); e != nil {
			checks["redis"] = "unavailable, serving from the database: " + e.Error()
			body["degraded"] = []string{"redis"}
		} else {
			checks["redis"] = "ok"
		}
	}
	status := http.StatusOK
	if err != nil {
		body["status"], body["error"] = "not ready", err.Error()
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (a *App) initServer(ctx context.Context) (modules.Service, error) {
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", a.cfg.HTTPAddr, err)
	}
	a.addrMu.Lock()
	a.addr = ln.Addr()
	a.addrMu.Unlock()
	var cancelStreams context.CancelFunc
	a.streams, cancelStreams = context.WithCancel(context.Background())
	a.srv = &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	a.srv.RegisterOnShutdown(cancelStreams)
	a.log.Info("http server listening", "addr", ln.Addr().String())
	return runner{&service{
		run: func(context.Context) error {
			if err := a.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
		// Shutdown stops accepting, then waits for in-flight requests.
		stop: func(ctx context.Context) error { return a.srv.Shutdown(ctx) },
	}}, nil
}

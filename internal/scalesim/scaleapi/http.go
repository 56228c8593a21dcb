// Package scaleapi serves the scaling simulator to the operations pages.
// It is apart from scalesim so the simulator stays free of the platform's
// HTTP and domain packages.
package scaleapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/autoscale"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/scalesim"
)

// Prefixes are the API paths the simulator serves.
var Prefixes = []string{"/api/v1/scaling"}

// Server answers GET /api/v1/scaling/simulations for the operations
// pages: a scenario of the scaling guide under the guide's autoscalers,
// and beside it the same with predictive scaling. Runs are deterministic,
// so each scenario is computed once and kept.
type Server struct {
	mu   sync.Mutex
	runs map[string][]*scalesim.Result
}

// NewServer returns a server with nothing computed yet.
func NewServer() *Server { return &Server{runs: map[string][]*scalesim.Result{}} }

// Routes registers the endpoint.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/scaling/simulations", s.handleSimulation)
}

var httpFormats = []string{"json", "text", "svg"}

func (s *Server) handleSimulation(w http.ResponseWriter, r *http.Request) {
	p := httpapi.Principal(r)
	if !p.Is(freight.RoleOperator) {
		httpapi.Error(w, r, freight.Errorf(freight.EFORBIDDEN, "the scaling simulator is for the platform's operators"))
		return
	}
	q := r.URL.Query()
	var fs freight.Fields
	sc, err := scalesim.LookupScenario(q.Get("scenario"))
	if err != nil {
		fs.Add("scenario", "must be one of %s", strings.Join(scalesim.ScenarioNames(), ", "))
	}
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if !slices.Contains(httpFormats, format) {
		fs.Add("format", "must be one of %s", strings.Join(httpFormats, ", "))
	}
	if c := q.Get("compare"); c != "" && c != "predictive" {
		fs.Add("compare", "must be predictive (or absent: the guide's settings with and without it are always compared)")
	}
	if err := fs.Err(); err != nil {
		httpapi.Error(w, r, err)
		return
	}
	runs, err := s.simulate(r.Context(), sc)
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	var buf bytes.Buffer
	switch format {
	case "json":
		err = scalesim.WriteJSON(&buf, runs...)
		w.Header().Set("Content-Type", "application/json")
	case "text":
		err = scalesim.WriteText(&buf, runs...)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	case "svg":
		err = scalesim.WriteSVG(&buf, runs...)
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	}
	if err != nil {
		httpapi.Error(w, r, fmt.Errorf("scaling report: %w", err))
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(buf.Bytes())
}

// simulate runs a scenario under the guide's settings and with predictive
// scaling, once per process.
func (s *Server) simulate(ctx context.Context, sc scalesim.Scenario) ([]*scalesim.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if runs, ok := s.runs[sc.Name]; ok {
		return runs, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var runs []*scalesim.Result
	for _, predictive := range []bool{false, true} {
		label := "guide"
		if predictive {
			label = "predictive"
		}
		res, err := scalesim.Run(ctx, scalesim.Config{Label: label, Platform: scalesim.DefaultPlatform(), HPAs: autoscale.GuideSpecs(),
			Scenario: sc, Duration: sc.Duration, Step: 15 * time.Second, Predictive: predictive})
		if err != nil {
			return nil, err
		}
		runs = append(runs, res)
	}
	s.runs[sc.Name] = runs
	return runs, nil
}

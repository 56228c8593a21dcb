package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
)

// Load-test scenarios, after section 8 of the scaling guide. Each shapes
// the offered rate over the run as a share of the peak rate.
const (
	ScenarioSteady   = "steady"   // the peak rate throughout: finds the sustained capacity
	ScenarioDaily    = "daily"    // 8.1: a business day compressed into the run, night at 30%
	ScenarioSpike    = "spike"    // 8.2: 30% of peak, then the peak at once for the middle fifth
	ScenarioSeasonal = "seasonal" // 8.6: growing from 40% to the peak over 70% of the run, then held
	ScenarioBatch    = "batch"    // 8.5: half the peak of API calls plus optimization jobs
)

// Scenarios lists the scenario names.
var Scenarios = []string{ScenarioSteady, ScenarioDaily, ScenarioSpike, ScenarioSeasonal, ScenarioBatch}

// Shape is the share of the peak rate offered at progress p in [0, 1].
func Shape(scenario string, p float64) float64 {
	switch scenario {
	case ScenarioDaily:
		s := math.Sin(math.Pi * p)
		return 0.3 + 0.7*s*s
	case ScenarioSpike:
		if p >= 0.4 && p < 0.6 {
			return 1
		}
		return 0.3
	case ScenarioSeasonal:
		return 0.4 + 0.6*math.Min(1, p/0.7)
	case ScenarioBatch:
		return 0.5
	}
	return 1
}

// LoadConfig is one load test. Durations are real time.
type LoadConfig struct {
	Target       string
	AllowTargets []string
	Seed         uint64
	Scenario     string
	Rate         float64       // peak API calls per second
	Duration     time.Duration // the whole run
	Ramp         time.Duration // the offered rate grows from zero over this
	Shippers     int
	Carriers     int
	Trucks       int // phones sending positions
	BatchSize    int // fixes per position upload
	MaxInFlight  int
	MaxRequests  int64
	JobEvery     time.Duration // batch scenario: one optimization job this often
	JobSeconds   int           // each job's solver time limit
	MetricsEvery time.Duration
	Tag          string
}

// LoadDefaults fills unset values.
func (c *LoadConfig) LoadDefaults() {
	if c.Scenario == "" {
		c.Scenario = ScenarioDaily
	}
	if c.BatchSize == 0 {
		c.BatchSize = 10
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.JobEvery == 0 {
		c.JobEvery = 5 * time.Second
	}
	if c.JobSeconds == 0 {
		c.JobSeconds = 2
	}
	if c.MetricsEvery == 0 {
		c.MetricsEvery = 2 * time.Second
	}
	if c.Tag == "" {
		c.Tag = fmt.Sprintf("load%d-%x", c.Seed, time.Now().UnixNano()&0xffffff)
	}
}

// Validate reports every problem at once, each naming its flag.
func (c LoadConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if err := CheckTarget(c.Target, c.AllowTargets); err != nil {
		bad("target", "%v", err)
	}
	known := false
	for _, s := range Scenarios {
		known = known || s == c.Scenario
	}
	if !known {
		bad("scenario", "must be one of %s, got %q", strings.Join(Scenarios, ", "), c.Scenario)
	}
	if !(c.Rate > 0 && c.Rate <= 100000) {
		bad("rate", "must be between 0 and 100000 requests per second, got %g", c.Rate)
	}
	if c.Duration <= 0 || c.Duration > 24*time.Hour {
		bad("duration", "must be between 0 and 24h for a load test, got %s", c.Duration)
	}
	if c.Ramp < 0 || c.Ramp >= c.Duration && c.Duration > 0 {
		bad("ramp", "must be shorter than --duration")
	}
	if c.Shippers < 1 || c.Carriers < 1 || c.Trucks < c.Carriers {
		bad("trucks", "need at least one shipper, one carrier and a truck per carrier")
	}
	if c.BatchSize < 1 || c.BatchSize > 5000 {
		bad("batch-size", "must be between 1 and 5000 (the ingest's batch limit), got %d", c.BatchSize)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 10000 {
		bad("max-in-flight", "must be between 1 and 10000, got %d", c.MaxInFlight)
	}
	if c.MaxRequests < 0 {
		bad("max-requests", "must not be negative")
	}
	if c.JobSeconds < 1 || c.JobSeconds > 600 {
		bad("job-seconds", "must be between 1 and 600, got %d", c.JobSeconds)
	}
	return errors.Join(errs...)
}

// LoadReport is a load test's result.
type LoadReport struct {
	Scenario       string            `json:"scenario"`
	PeakRate       float64           `json:"peak_rate_target"`
	Seconds        float64           `json:"seconds"`
	Requests       int               `json:"requests"`
	Throughput     float64           `json:"throughput_rps"`
	PositionsSent  int64             `json:"positions_sent"`
	PositionsPerS  float64           `json:"positions_per_second"`
	Errors         int               `json:"errors"`
	Dropped        int64             `json:"dropped_client_saturated"`
	JobsSubmitted  int64             `json:"jobs_submitted"`
	Endpoints      []EndpointSummary `json:"endpoints"`
	Metrics        []MetricSeries    `json:"platform_metrics"`
	MetricsErrors  int               `json:"metrics_scrape_errors"`
	LoadAverage1m  float64           `json:"load_average_1m"`
	Timeline       []LoadSlice       `json:"timeline"`
	SetupRequests  int64             `json:"setup_requests"`
	SetupSeconds   float64           `json:"setup_seconds"`
	RequestsBudget bool              `json:"stopped_by_request_budget"`
}

// LoadSlice is one stretch of the run.
type LoadSlice struct {
	AtSeconds float64 `json:"at_s"`
	Offered   float64 `json:"offered_rps"`
	Completed float64 `json:"completed_rps"`
	Errors    int64   `json:"errors"`
}

// lane is a virtual truck's back-and-forth route for position load.
type lane struct {
	a, b  geo.Point
	miles float64 // great-circle
	t0    time.Time
	last  time.Time // the last fix sent
	mu    sync.Mutex
}

// at is where the truck is at t, driving at 55 road mph, to and fro.
func (l *lane) at(t time.Time) (geo.Point, float64) {
	gc := 55 / geo.DefaultCircuityFactor
	d := math.Mod(t.Sub(l.t0).Hours()*gc, 2*l.miles)
	from, to := l.a, l.b
	if d > l.miles {
		from, to, d = l.b, l.a, d-l.miles
	}
	h := geo.Bearing(from, to)
	return geo.Destination(from, h, d), h
}

// RunLoad sets up a small world on the platform and drives it at the
// scenario's rates, sampling the platform's /metrics as it goes.
func RunLoad(ctx context.Context, cfg LoadConfig, log *slog.Logger) (LoadReport, error) {
	cfg.LoadDefaults()
	if err := cfg.Validate(); err != nil {
		return LoadReport{}, err
	}
	rep := LoadReport{Scenario: cfg.Scenario, PeakRate: cfg.Rate}
	wc := Config{Target: cfg.Target, AllowTargets: cfg.AllowTargets, Seed: cfg.Seed, Speed: 1, Duration: time.Hour,
		Shippers: cfg.Shippers, Carriers: cfg.Carriers, Trucks: cfg.Trucks, Tag: cfg.Tag, Lag: 0}
	w, err := NewWorld(wc, "load", log, nil)
	if err != nil {
		return rep, err
	}
	setupStart := time.Now()
	if err := w.setup(ctx); err != nil {
		return rep, fmt.Errorf("set up the load-test world: %w", err)
	}
	rep.SetupRequests, rep.SetupSeconds = w.c.Sent(), time.Since(setupStart).Seconds()
	log.Info("load-test world set up", "requests", rep.SetupRequests, "seconds", rep.SetupSeconds)
	c := w.c
	c.MaxAttempts = 1 // a load test measures failures; it does not hide them
	c.Stats.Reset()
	c.MaxRequests = 0
	if cfg.MaxRequests > 0 {
		c.MaxRequests = c.Sent() + cfg.MaxRequests
	}
	lt := &loadRun{cfg: cfg, w: w, c: c, r: rand.New(rand.NewPCG(cfg.Seed, 99)), log: log}
	now := time.Now()
	for i := range w.trucks {
		a := w.g.Cities[w.g.Origin(lt.r)]
		b := w.g.Cities[(i*7+3)%len(w.g.Cities)]
		if a.Name == b.Name {
			b = w.g.Cities[(i*7+4)%len(w.g.Cities)]
		}
		lt.lanes = append(lt.lanes, &lane{a: a.Point, b: b.Point, miles: geo.GreatCircleMiles(a.Point, b.Point),
			t0: now.Add(-time.Duration(lt.r.IntN(3600)) * time.Second)})
	}
	scr := NewScraper(cfg.Target)
	sctx, stopScrape := context.WithCancel(ctx)
	var swg sync.WaitGroup
	swg.Add(1)
	go func() { defer swg.Done(); scr.Run(sctx, cfg.MetricsEvery) }()
	start := time.Now()
	lt.drive(ctx, start)
	elapsed := time.Since(start)
	stopScrape()
	swg.Wait()
	scr.Sample(context.WithoutCancel(ctx))
	// The load test's own freight leaves the board.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	c.MaxRequests = 0
	lt.cleanup(cctx)

	rep.Seconds = elapsed.Seconds()
	rep.Endpoints = lt.summary
	all := rep.Endpoints[len(rep.Endpoints)-1]
	rep.Requests, rep.Errors = all.Requests, all.Errors
	rep.Throughput = float64(all.Requests) / elapsed.Seconds()
	rep.PositionsSent = lt.positions.Load()
	rep.PositionsPerS = float64(rep.PositionsSent) / elapsed.Seconds()
	rep.Dropped = lt.dropped.Load()
	rep.JobsSubmitted = lt.jobs.Load()
	rep.Metrics, rep.MetricsErrors = scr.Series(), scr.Errors
	rep.LoadAverage1m = LoadAverage()
	rep.Timeline = lt.timeline
	rep.RequestsBudget = lt.budget.Load()
	return rep, nil
}

type loadRun struct {
	cfg   LoadConfig
	w     *World
	c     *Client
	r     *rand.Rand
	log   *slog.Logger
	lanes []*lane

	mu      sync.Mutex
	open    []openLoad // posted by the load test, for gets and bookings
	summary []EndpointSummary

	positions, dropped, jobs atomic.Int64
	budget                   atomic.Bool
	completed, failed        atomic.Int64
	timeline                 []LoadSlice
}

type openLoad struct {
	id      string
	shipper int
}

// mix is the share of each operation in the offered load: phones
// uploading positions dominate, as in the scaling guide's tracking-heavy
// traffic, then carriers searching.
var mix = []struct {
	op string
	w  float64
}{
	{"positions", 0.55}, {"board", 0.15}, {"recommend", 0.07}, {"get_load", 0.07},
	{"post_load", 0.08}, {"book", 0.03}, {"list_loads", 0.05},
}

// drive offers requests open-loop at the scenario's rate: arrivals do not
// wait for answers, so a slow platform shows as latency and, past
// MaxInFlight outstanding requests, as dropped arrivals.
func (lt *loadRun) drive(ctx context.Context, start time.Time) {
	cfg := lt.cfg
	sem := make(chan struct{}, cfg.MaxInFlight)
	var wg sync.WaitGroup
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var offered, owed float64
	last := start
	slice := LoadSlice{}
	sliceStart, sliceOffered := start, 0.0
	var lastDone, lastFailed int64
	jobNext := start.Add(cfg.Ramp)
	end := start.Add(cfg.Duration)
	for {
		select {
		case <-ctx.Done():
		case now := <-tick.C:
			if now.After(end) {
				break
			}
			p := now.Sub(start).Seconds() / cfg.Duration.Seconds()
			rate := cfg.Rate * Shape(cfg.Scenario, p)
			if cfg.Ramp > 0 && now.Sub(start) < cfg.Ramp {
				rate *= now.Sub(start).Seconds() / cfg.Ramp.Seconds()
			}
			owed += rate * now.Sub(last).Seconds()
			last = now
			for owed >= 1 {
				owed--
				offered++
				sliceOffered++
				if lt.budget.Load() {
					break
				}
				op := lt.pickOp()
				select {
				case sem <- struct{}{}:
				default:
					lt.dropped.Add(1)
					continue
				}
				wg.Add(1)
				seed := lt.r.Uint64()
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					lt.do(ctx, op, seed)
				}()
			}
			if cfg.Scenario == ScenarioBatch && !now.Before(jobNext) {
				jobNext = now.Add(cfg.JobEvery)
				wg.Add(1)
				seed := lt.r.Uint64()
				go func() { defer wg.Done(); lt.submitJob(ctx, seed) }()
			}
			if now.Sub(sliceStart) >= 5*time.Second {
				d, f := lt.completed.Load(), lt.failed.Load()
				secs := now.Sub(sliceStart).Seconds()
				slice = LoadSlice{AtSeconds: math.Round(now.Sub(start).Seconds()), Offered: math.Round(sliceOffered/secs*10) / 10,
					Completed: math.Round(float64(d-lastDone)/secs*10) / 10, Errors: f - lastFailed}
				lt.timeline = append(lt.timeline, slice)
				lt.log.Info("load", "at_s", slice.AtSeconds, "offered_rps", slice.Offered, "completed_rps", slice.Completed, "errors", slice.Errors)
				sliceStart, sliceOffered, lastDone, lastFailed = now, 0, d, f
			}
			continue
		}
		break
	}
	wg.Wait()
	lt.summary = lt.c.Stats.Summary()
}

func (lt *loadRun) pickOp() string {
	x := lt.r.Float64()
	for _, m := range mix {
		if x < m.w {
			return m.op
		}
		x -= m.w
	}
	return "positions"
}

func (lt *loadRun) done(err error) {
	lt.completed.Add(1)
	if errors.Is(err, ErrBudget) {
		lt.budget.Store(true)
		return
	}
	if s := StatusOf(err); err != nil && (s == 0 || s == 429 || s >= 500) {
		lt.failed.Add(1)
	}
}

func (lt *loadRun) do(ctx context.Context, op string, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	w := lt.w
	switch op {
	case "positions":
		lt.done(lt.sendPositions(ctx, r))
	case "board":
		tr := w.trucks[r.IntN(len(w.trucks))]
		city := w.g.Cities[r.IntN(len(w.g.Cities))]
		_, err := lt.c.board(ctx, w.carriers[tr.Carrier].key, city.Point, 250, string(tr.Equipment), 50)
		lt.done(err)
	case "recommend":
		tr := w.trucks[r.IntN(len(w.trucks))]
		_, err := lt.c.recommend(ctx, w.carriers[tr.Carrier].key, tr.DriverID, 10)
		lt.done(err)
	case "get_load":
		ol, ok := lt.someLoad(r, false)
		if !ok {
			lt.postLoad(ctx, r)
			return
		}
		_, err := lt.c.getLoad(ctx, w.shippers[ol.shipper].key, ol.id)
		lt.done(err)
	case "post_load":
		lt.postLoad(ctx, r)
	case "book":
		ol, ok := lt.someLoad(r, true)
		if !ok {
			lt.postLoad(ctx, r)
			return
		}
		tr := w.trucks[r.IntN(len(w.trucks))]
		err := lt.c.Do(ctx, http.MethodPost, "POST /api/v1/bookings", "/api/v1/bookings", w.carriers[tr.Carrier].key,
			map[string]any{"load_id": ol.id}, nil)
		if StatusOf(err) == 409 {
			err = nil // another booking won the load: an answer, not a failure
		}
		lt.done(err)
	case "list_loads":
		s := w.shippers[r.IntN(len(w.shippers))]
		err := lt.c.Do(ctx, http.MethodGet, "GET /api/v1/loads", "/api/v1/loads?limit=50", s.key, nil, nil)
		lt.done(err)
	}
}

// someLoad picks a load the test posted; take removes it (for booking).
func (lt *loadRun) someLoad(r *rand.Rand, take bool) (openLoad, bool) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if len(lt.open) == 0 {
		return openLoad{}, false
	}
	i := r.IntN(len(lt.open))
	ol := lt.open[i]
	if take {
		lt.open[i] = lt.open[len(lt.open)-1]
		lt.open = lt.open[:len(lt.open)-1]
	}
	return ol, true
}

func (lt *loadRun) postLoad(ctx context.Context, r *rand.Rand) {
	w := lt.w
	si := r.IntN(len(w.shippers))
	o := w.g.Cities[w.shippers[si].city]
	d := w.g.Cities[w.g.Destination(r, w.shippers[si].city)]
	now := time.Now().UTC()
	ps := now.Add(time.Duration(4+r.IntN(48)) * time.Hour).Truncate(time.Hour)
	eq := []freight.Equipment{freight.Van, freight.Reefer, freight.Flatbed}[r.IntN(3)]
	l, err := lt.c.postLoad(ctx, w.shippers[si].key, map[string]any{
		"reference": "LOADTEST", "origin": place{City: o.Name, State: o.State}, "destination": place{City: d.Name, State: d.State},
		"pickup": window{ps, ps.Add(3 * time.Hour)}, "delivery": window{ps.Add(30 * time.Hour), ps.Add(40 * time.Hour)},
		"equipment": string(eq), "weight_lbs": 30000, "rate_usd": 1500 + r.IntN(2000), "post": true,
	})
	lt.done(err)
	if err == nil {
		lt.mu.Lock()
		if len(lt.open) < 5000 {
			lt.open = append(lt.open, openLoad{id: l.ID, shipper: si})
		}
		lt.mu.Unlock()
	}
}

// fixSpacing is the interval between a load-test phone's fixes (a phone
// reporting four times a second), so that each phone can carry several
// uploads a second without reporting from the future.
const fixSpacing = 250 * time.Millisecond

func (lt *loadRun) sendPositions(ctx context.Context, r *rand.Rand) error {
	w := lt.w
	n := lt.cfg.BatchSize
	for range 4 {
		i := r.IntN(len(w.trucks))
		tr, ln := w.trucks[i], lt.lanes[i]
		now := time.Now()
		ln.mu.Lock()
		first := now.Add(-time.Duration(n-1) * fixSpacing)
		if !ln.last.IsZero() && !first.After(ln.last) {
			first = ln.last.Add(fixSpacing)
		}
		lastT := first.Add(time.Duration(n-1) * fixSpacing)
		if lastT.After(now.Add(4 * time.Minute)) {
			ln.mu.Unlock()
			continue // this phone is saturated; try another
		}
		ln.last = lastT
		ln.mu.Unlock()
		batch := make([]positionReport, n)
		for k := range batch {
			t := first.Add(time.Duration(k) * fixSpacing)
			p, h := ln.at(t)
			batch[k] = positionReport{DriverID: tr.DriverID, Time: t.UTC(), Lat: p.Lat, Lon: p.Lon, Speed: 55, Heading: math.Round(h*10) / 10, Accuracy: 8}
		}
		res, err := lt.c.positions(ctx, tr.Key, batch)
		lt.positions.Add(int64(res.Accepted))
		return err
	}
	return nil
}

// submitJob sends a small pickup-and-delivery instance to the optimizer.
func (lt *loadRun) submitJob(ctx context.Context, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 2))
	w := lt.w
	cr := w.carriers[r.IntN(len(w.carriers))]
	err := lt.c.Do(ctx, http.MethodPost, "POST /api/v1/jobs", "/api/v1/jobs", cr.key, map[string]any{
		"name": "loadtest", "priority": []string{"low", "normal", "high"}[r.IntN(3)], "time_limit_s": lt.cfg.JobSeconds,
		"seed": 1, "problem": map[string]any{"format": "lilim", "instance": Instance(r, 12)},
	}, nil)
	if err == nil {
		lt.jobs.Add(1)
	}
	lt.done(err)
}

// Instance is a random pickup-and-delivery instance of n requests in the
// Li & Lim text format.
func Instance(r *rand.Rand, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\t200\t1\n", n)
	fmt.Fprintf(&b, "0\t50\t50\t0\t0\t1000\t0\t0\t0\n")
	for i := 1; i <= n; i++ {
		p, d := 2*i-1, 2*i
		early := r.IntN(400)
		fmt.Fprintf(&b, "%d\t%d\t%d\t10\t%d\t%d\t10\t0\t%d\n", p, r.IntN(100), r.IntN(100), early, early+300, d)
		fmt.Fprintf(&b, "%d\t%d\t%d\t-10\t%d\t%d\t10\t%d\t0\n", d, r.IntN(100), r.IntN(100), early, 1000-20, p)
	}
	return b.String()
}

// cleanup cancels the loads the test left on the board.
func (lt *loadRun) cleanup(ctx context.Context) {
	lt.mu.Lock()
	open := lt.open
	lt.open = nil
	lt.mu.Unlock()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, ol := range open {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = lt.c.setStatus(ctx, lt.w.shippers[ol.shipper].key, ol.id, string(freight.StatusCancelled), "load test ended")
		}()
	}
	wg.Wait()
}

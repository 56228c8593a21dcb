package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/simulate"
)

func simulateCommand() *cobra.Command {
	var (
		cfg      simulate.Config
		lc       simulate.LoadConfig
		load     bool
		lag      string
		jsonPath string
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run a simulated freight world, or a load test, against a running platform",
		Long: `Run a freight world against a platform through its public HTTP API, as real
clients would: shippers in real US cities post loads on gravity-model lanes,
carriers book them (from the platform's recommendations, or greedily from
the load board), drivers haul them under hours of service, reporting
positions, status changes and proofs of delivery. Simulated time runs
--speed times faster than real time; the same --seed makes the same world.
With --dispatch=both (the default) the world runs twice on the same seed,
once with each dispatcher, and the outcome report compares them.

With --load it is a load test instead: it sets up a small world, then
offers API calls open-loop at the --scenario's rates up to --rate per
second (daily, spike, seasonal, batch: section 8 of the scaling guide;
steady holds the peak), and reports throughput, latency percentiles per
endpoint, errors and the platform's own metrics sampled from /metrics.
--duration is then real time.

The simulator talks only to loopback addresses unless a host is named with
--allow-target. A failing platform is retried with exponential backoff and
jitter; the run stops by itself at --duration or --max-requests. Prints a
table and, as its last line, a JSON summary (also written to --json).`,
		Example: `  backhaul simulate --target http://127.0.0.1:8080 --seed 7 --speed 2000 --duration 24h --trucks 30
  backhaul simulate --target http://127.0.0.1:8080 --dispatch greedy --duration 168h --speed 20000
  backhaul simulate --load --scenario spike --rate 400 --duration 2m --target http://127.0.0.1:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := NewLogger(cmd.ErrOrStderr(), logLevel, "text")
			if load {
				lc.Target, lc.AllowTargets, lc.Seed, lc.Duration, lc.MaxRequests = cfg.Target, cfg.AllowTargets, cfg.Seed, cfg.Duration, cfg.MaxRequests
				lc.Shippers, lc.Carriers, lc.Trucks = cfg.Shippers, cfg.Carriers, cfg.Trucks
				lc.LoadDefaults()
				if err := lc.Validate(); err != nil {
					return fmt.Errorf("invalid configuration:\n%w", err)
				}
				rep, err := simulate.RunLoad(cmd.Context(), lc, log)
				if err != nil {
					return err
				}
				writeLoadReport(cmd.OutOrStdout(), rep)
				return writeJSON(cmd.OutOrStdout(), jsonPath, rep)
			}
			var err error
			if cfg.Lag, err = parseLag(lag); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			cfg.Defaults()
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			outs, eps, err := simulate.Run(cmd.Context(), cfg, log)
			w := cmd.OutOrStdout()
			if len(eps) > 0 {
				simulate.WriteTable(w, eps, 0)
				fmt.Fprintln(w)
			}
			simulate.WriteOutcomes(w, outs)
			if jerr := writeJSON(w, jsonPath, map[string]any{"outcomes": outs, "endpoints": eps, "load_average_1m": simulate.LoadAverage()}); jerr != nil {
				return jerr
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Target, "target", "http://127.0.0.1:8080", "base URL of the platform")
	f.StringSliceVar(&cfg.AllowTargets, "allow-target", nil, "non-loopback hosts the simulator may load (host or host:port)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "the same seed makes the same world")
	f.Float64Var(&cfg.Speed, "speed", 600, "simulated seconds per real second")
	f.DurationVar(&cfg.Duration, "duration", 24*time.Hour, "simulated time to run (real time with --load)")
	f.DurationVar(&cfg.Step, "step", time.Minute, "simulated time per step of the world")
	f.StringVar(&lag, "lag", "auto", "how far behind real time the simulated clock starts (auto: so that it reaches real time at the end, at most 156h)")
	f.BoolVar(&cfg.FollowRealTime, "follow-real-time", false, "once the simulated clock reaches real time, run at real speed")
	f.IntVar(&cfg.Markets, "markets", 0, "use only this many of the largest freight markets (0: all 60)")
	f.IntVar(&cfg.Shippers, "shippers", 12, "shipper organizations")
	f.IntVar(&cfg.Carriers, "carriers", 6, "carrier organizations")
	f.IntVar(&cfg.Trucks, "trucks", 40, "trucks, each with its driver, shared among the carriers")
	f.Float64Var(&cfg.LoadsPerDay, "loads-per-day", 0, "loads posted per simulated day (0: 0.7 per truck)")
	f.StringVar(&cfg.Dispatch, "dispatch", simulate.DispatchBoth, "how carriers choose loads: platform (recommendations), greedy (nearest pickup on the board), or both")
	f.DurationVar(&cfg.DispatchEvery, "dispatch-every", 30*time.Minute, "simulated interval at which an idle truck looks for a load")
	f.DurationVar(&cfg.PositionEvery, "position-every", time.Minute, "simulated interval between a phone's position fixes")
	f.DurationVar(&cfg.UploadEvery, "upload-every", 10*time.Minute, "simulated interval between a phone's uploads")
	f.Int64Var(&cfg.MaxRequests, "max-requests", 0, "stop after this many requests (0: no limit)")
	f.BoolVar(&cfg.Reposition, "reposition", false, "send trucks idle for 12 simulated hours empty to a bigger market (the platform sees the move only in real time)")
	f.BoolVar(&load, "load", false, "run a load test instead of a world")
	f.StringVar(&lc.Scenario, "scenario", simulate.ScenarioDaily, "load test: steady, daily, spike, seasonal or batch")
	f.Float64Var(&lc.Rate, "rate", 200, "load test: peak API calls per second")
	f.DurationVar(&lc.Ramp, "ramp", 10*time.Second, "load test: grow the offered rate from zero over this")
	f.IntVar(&lc.BatchSize, "batch-size", 10, "load test: position fixes per upload")
	f.IntVar(&lc.MaxInFlight, "max-in-flight", 256, "load test: outstanding requests before arrivals are dropped")
	f.DurationVar(&lc.JobEvery, "job-every", 5*time.Second, "load test, batch scenario: submit an optimization job this often")
	f.IntVar(&lc.JobSeconds, "job-seconds", 2, "load test, batch scenario: each job's solver time limit in seconds")
	f.StringVar(&jsonPath, "json", "", "also write the JSON summary to this file")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.SortFlags = false
	return cmd
}

func parseLag(s string) (time.Duration, error) {
	if s == "" || s == "auto" {
		return -1, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, &simulate.FieldError{Field: "lag", Problem: fmt.Sprintf("must be auto or a non-negative duration, got %q", s)}
	}
	return d, nil
}

func writeJSON(w io.Writer, path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, string(b))
	if path != "" {
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}

func writeLoadReport(w io.Writer, r simulate.LoadReport) {
	fmt.Fprintf(w, "scenario %s, peak %.0f req/s offered, %.0f s: %d requests (%.1f/s), %d errors, %d dropped, %.0f positions/s, load average %.2f\n\n",
		r.Scenario, r.PeakRate, r.Seconds, r.Requests, r.Throughput, r.Errors, r.Dropped, r.PositionsPerS, r.LoadAverage1m)
	simulate.WriteTable(w, r.Endpoints, time.Duration(r.Seconds*float64(time.Second)))
	fmt.Fprintf(w, "\n%-32s %14s %14s %14s %14s\n", "platform metric", "first", "last", "min", "max")
	for _, m := range r.Metrics {
		fmt.Fprintf(w, "%-32s %14.6g %14.6g %14.6g %14.6g\n", m.Name, m.First, m.Last, m.Min, m.Max)
	}
	fmt.Fprintln(w)
}

// Demo world: `serve --demo` runs a simulated world inside the process,
// against its own listener through HTTP as a client would, at a pace a
// laptop carries (a few requests a second). It starts six simulated hours
// behind real time at 60x, so the first loads are booked and trucks move
// within a minute, catches up in about six minutes, then keeps pace with
// real time.
var demoWorld = simulate.Config{
	Seed: 1, Speed: 60, Lag: 6 * time.Hour, FollowRealTime: true,
	Shippers: 8, Carriers: 4, Trucks: 24, LoadsPerDay: 100, Dispatch: simulate.DispatchPlatform,
	DispatchEvery: 15 * time.Minute, UploadEvery: 5 * time.Minute, Reposition: true,
}

// demoTargets are the services the demo world needs in this process.
var demoTargets = []string{"api-gateway", "load-service", "driver-service", "load-matching", "tracking-service"}

// runServe runs the process and, with --demo, the demo world beside it; the
// world stops when the process does.
func runServe(ctx context.Context, a *App, log *slog.Logger) error {
	if !a.cfg.Demo {
		return a.Run(ctx)
	}
	for _, t := range demoTargets {
		if !a.local(t) {
			log.Info("demo world not started: it needs every service in this process", "missing", t)
			return a.Run(ctx)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runDemoWorld(ctx, a, log)
	}()
	err := a.Run(ctx)
	cancel()
	<-done
	return err
}

func runDemoWorld(ctx context.Context, a *App, log *slog.Logger) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for a.Ready() != nil || a.Addr() == nil {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	cfg := demoWorld
	host, port, err := net.SplitHostPort(a.Addr().String())
	if err != nil {
		log.Error("demo world", "err", err)
		return
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	cfg.Target = "http://" + net.JoinHostPort(host, port)
	cfg.AllowTargets = []string{host}
	cfg.Tag = "demo" + strconv.FormatInt(time.Now().Unix(), 36)
	log = log.With("component", "demo-world")
	log.Info("demo world starting", "target", cfg.Target, "trucks", cfg.Trucks, "speed", cfg.Speed)
	w, err := simulate.NewWorld(cfg, simulate.DispatchPlatform, log, nil)
	if err != nil {
		log.Error("demo world", "err", err)
		return
	}
	if _, err := w.Run(ctx); err != nil && ctx.Err() == nil {
		log.Error("demo world stopped", "err", err)
	}
}

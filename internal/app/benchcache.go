package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/cache"
	"github.com/backhaul/backhaul/internal/loadtest"
)

// CacheBench is the result of `backhaul bench cache`.
type CacheBench struct {
	Machine     string          `json:"machine"`
	Engine      string          `json:"engine"`
	Concurrency int             `json:"concurrency"`
	Duration    string          `json:"duration"`
	Runs        []CacheBenchRun `json:"runs"`
}

// CacheBenchRun is one workload with its cache off, then on.
type CacheBenchRun struct {
	Workload string          `json:"workload"`
	Cache    string          `json:"cache"`
	TTL      string          `json:"ttl"`
	Off      loadtest.Result `json:"without_cache"`
	On       loadtest.Result `json:"with_cache"`
	HitRate  float64         `json:"hit_rate"` // of the lookups made while on
}

func benchCacheCommand() *cobra.Command {
	var (
		concurrency int
		duration    time.Duration
		databaseURL string
		redisURL    string
	)
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Load-board, load and API-key reads with and without their caches: latency percentiles and hit rates",
		Long: `Start the whole platform in this process with its demo network (embedded
engines, or PostgreSQL and Redis when given), then drive three read
workloads through the api-gateway path with a closed loop of clients, each
first with its cache disabled and then enabled, in the same run:

  board     load-board searches (the query cache, in-process pages)
  loads     GET /api/v1/loads/{id} of posted loads (the entity cache)
  api-keys  GET /api/v1/me with API keys (the session cache)

Prints a table of requests/s, p50 and p99 with and without each cache and
the hit rate while it was on, and, as its last line, a JSON summary.`,
		Example: `  backhaul bench cache --duration 10s
  backhaul bench cache --database-url postgres://postgres@127.0.0.1/test --redis-url redis://127.0.0.1:6379`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir, err := os.MkdirTemp("", "backhaul-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg := defaultConfig()
			cfg.HTTPAddr, cfg.DataDir, cfg.Demo, cfg.LogLevel = "127.0.0.1:0", dir, true, "error"
			cfg.RedisURL = redisURL
			engine := "embedded (SQLite, in-process NATS and caches)"
			if databaseURL != "" {
				u, drop, err := scratchSchema(ctx, databaseURL)
				if err != nil {
					return err
				}
				defer drop()
				cfg.DatabaseURL = u
				engine = "PostgreSQL"
				cfg.NATSNamespace = fmt.Sprintf("bench%d", time.Now().UnixNano())
			}
			if redisURL != "" {
				engine += " + Redis caches"
			}
			cfg.TokenSecret = strings.Repeat("b", 48)
			cfg.RateUser, cfg.RateUserBurst, cfg.RateKey, cfg.RateKeyBurst = 1e6, 1e6, 1e6, 1e6
			app := New(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- app.Run(rctx) }()
			defer func() { cancel(); <-done }()
			fmt.Fprintln(cmd.ErrOrStderr(), "starting the platform with demo data...")
			if err := waitReady(ctx, app, done); err != nil {
				return err
			}
			base := "http://" + app.Addr().String()
			token, err := login(base, "dispatch@blueridge.example")
			if err != nil {
				return err
			}
			hdr := http.Header{"Authorization": {"Bearer " + token}}

			// The workloads' URLs: board searches, posted loads, API keys.
			var boardURLs, loadURLs []string
			seen := map[string]bool{}
			for _, city := range benchMarkets {
				for _, eq := range []string{"van", "reefer", "flatbed"} {
					q := url.Values{"origin": {city}, "radius_mi": {"500"}, "equipment": {eq}, "limit": {"20"}}
					boardURLs = append(boardURLs, base+"/api/v1/board?"+q.Encode())
					body, err := fetch(boardURLs[len(boardURLs)-1], hdr)
					if err != nil {
						return err
					}
					var page struct{ Items []struct{ ID string } }
					if err := json.Unmarshal(body, &page); err != nil {
						return err
					}
					for _, it := range page.Items {
						if !seen[it.ID] {
							seen[it.ID] = true
							loadURLs = append(loadURLs, base+"/api/v1/loads/"+it.ID)
						}
					}
				}
			}
			if len(loadURLs) == 0 {
				return fmt.Errorf("the demo board has no loads")
			}
			admin, err := login(base, "admin@blueridge.example")
			if err != nil {
				return err
			}
			req, _ := http.NewRequest("POST", base+"/api/v1/api-keys", strings.NewReader(`{"name":"bench","role":"dispatcher"}`))
			req.Header.Set("Authorization", "Bearer "+admin)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			var key struct{ Secret string }
			err = json.NewDecoder(res.Body).Decode(&key)
			res.Body.Close()
			if err != nil || key.Secret == "" {
				return fmt.Errorf("create api key: status %d", res.StatusCode)
			}

			measure := func(urls []string, h http.Header) (loadtest.Result, error) {
				return loadtest.Run(ctx, loadtest.Config{URLs: urls, Header: h, Concurrency: concurrency, Duration: duration, Warmup: duration / 5})
			}
			stats := func(c interface{ Stats() cache.Stats }) cache.Stats { return c.Stats() }
			out := CacheBench{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()), Engine: engine,
				Concurrency: concurrency, Duration: duration.String()}
			run := func(workload, cacheName string, ttl time.Duration, set func(on bool), c interface{ Stats() cache.Stats }, urls []string, h http.Header) error {
				r := CacheBenchRun{Workload: workload, Cache: cacheName, TTL: ttl.String()}
				fmt.Fprintf(cmd.ErrOrStderr(), "measuring %s without its cache for %s...\n", workload, duration)
				set(false)
				var err error
				if r.Off, err = measure(urls, h); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "measuring %s with its cache for %s...\n", workload, duration)
				set(true)
				before := stats(c)
				if r.On, err = measure(urls, h); err != nil {
					return err
				}
				after := stats(c)
				if n := (after.Hits - before.Hits) + (after.Misses - before.Misses); n > 0 {
					r.HitRate = float64(after.Hits-before.Hits) / float64(n)
				}
				out.Runs = append(out.Runs, r)
				return nil
			}
			boardTTL := cfg.BoardCacheTTL
			if err := run("board", "load_board", boardTTL, func(on bool) {
				app.loads.SetBoardCacheTTL(map[bool]time.Duration{true: boardTTL}[on])
			}, app.loads.BoardCache(), boardURLs, hdr); err != nil {
				return err
			}
			entities, err := app.newCacheForBench("bench_entities")
			if err != nil {
				return err
			}
			if err := run("loads", "entities", cfg.CacheEntityTTL, func(on bool) {
				app.loads.SetEntityCache(entities, map[bool]time.Duration{true: cfg.CacheEntityTTL}[on])
			}, entities, loadURLs, hdr); err != nil {
				return err
			}
			sessions, err := app.newCacheForBench("bench_sessions")
			if err != nil {
				return err
			}
			if err := run("api-keys", "sessions", cfg.CacheSessionTTL, func(on bool) {
				app.accounts.SetSessionCache(sessions, map[bool]time.Duration{true: cfg.CacheSessionTTL}[on])
			}, sessions, []string{base + "/api/v1/me"}, http.Header{"X-API-Key": {key.Secret}}); err != nil {
				return err
			}

			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-9s %-11s %6s | %10s %8s %8s | %10s %8s %8s | %8s\n", "workload", "cache", "ttl",
				"off req/s", "p50 ms", "p99 ms", "on req/s", "p50 ms", "p99 ms", "hit rate")
			failed := 0
			for _, r := range out.Runs {
				fmt.Fprintf(w, "%-9s %-11s %6s | %10.0f %8.2f %8.2f | %10.0f %8.2f %8.2f | %7.1f%%\n", r.Workload, r.Cache, r.TTL,
					r.Off.RPS, r.Off.P50Millis, r.Off.P99Millis, r.On.RPS, r.On.P50Millis, r.On.P99Millis, 100*r.HitRate)
				failed += r.Off.Errors + r.On.Errors
			}
			b, _ := json.Marshal(out)
			fmt.Fprintln(w, string(b))
			if failed > 0 {
				return fmt.Errorf("%d requests failed", failed)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&concurrency, "concurrency", 16, "concurrent clients")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "measured time per workload and setting")
	cmd.Flags().StringVar(&databaseURL, "database-url", "", "PostgreSQL URL (default: embedded SQLite)")
	cmd.Flags().StringVar(&redisURL, "redis-url", "", "Redis URL for the shared caches (default: in-process)")
	return cmd
}

// newCacheForBench is newCache under a name of the benchmark's own, so its
// counters start at zero.
func (a *App) newCacheForBench(name string) (sharedCache, error) { return a.newCache(name) }

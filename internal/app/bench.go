package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/loadtest"
	"github.com/backhaul/backhaul/internal/tracking"
)

// benchCommand is the parent of the measurement commands.
func benchCommand(sub ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the platform against baselines run on the same machine",
	}
	cmd.AddCommand(benchAPICommand(), tracking.NewBenchCommand())
	cmd.AddCommand(sub...)
	return cmd
}

// APIBench is the result of `backhaul bench api`.
type APIBench struct {
	Machine       string          `json:"machine"`
	Engine        string          `json:"engine"`
	Concurrency   int             `json:"concurrency"`
	Duration      string          `json:"duration"`
	Queries       int             `json:"distinct_queries"`
	BoardCacheTTL string          `json:"board_cache_ttl"`
	Baseline      loadtest.Result `json:"bare_handler"`
	Gateway       loadtest.Result `json:"gateway"`
	Ratio         float64         `json:"gateway_to_bare_ratio"`
}

func benchAPICommand() *cobra.Command {
	var (
		concurrency int
		duration    time.Duration
		databaseURL string
		boardTTL    time.Duration
		redisURL    string
		natsURL     string
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Authenticated load-board queries through the api-gateway against a bare net/http handler",
		Long: `Start the whole platform in this process (embedded engines unless URLs are
given) with its demo network, sign in as a dispatcher, and drive authenticated
load-board queries through the api-gateway path (authentication, rate limit,
routing, the query, JSON) with a closed loop of concurrent clients. In the
same run, drive a bare net/http handler that writes the same response bytes,
as the baseline. Prints a table and, as its last line, a JSON summary.`,
		Example: `  backhaul bench api --duration 10s --concurrency 32
  backhaul bench api --database-url postgres://postgres@127.0.0.1/test --redis-url redis://127.0.0.1:6379`,
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
			cfg.RedisURL, cfg.NATSURL = redisURL, natsURL
			if databaseURL != "" {
				// A schema of its own, dropped afterwards, so the measurement
				// neither sees nor leaves data in the database it is given.
				u, drop, err := scratchSchema(ctx, databaseURL)
				if err != nil {
					return err
				}
				defer drop()
				cfg.DatabaseURL = u
			}
			cfg.TokenSecret = strings.Repeat("b", 48)
			// The budget must not be what is measured; the limiter still runs.
			cfg.RateUser, cfg.RateUserBurst = 1e6, 1e6
			cfg.BoardCacheTTL = boardTTL
			engine := "embedded (SQLite, in-process NATS and cache)"
			if databaseURL != "" {
				engine = "PostgreSQL"
				if redisURL != "" {
					engine += " + Redis"
				}
				if natsURL != "" {
					engine += " + NATS"
				}
				cfg.NATSNamespace = fmt.Sprintf("bench%d", time.Now().UnixNano())
			}
			app := New(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- app.Run(rctx) }()
			defer func() { cancel(); <-done }()
			if natsURL != "" {
				defer dropStreams(app)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "starting the platform with demo data...")
			if err := waitReady(ctx, app, done); err != nil {
				return err
			}
			base := "http://" + app.Addr().String()
			token, err := login(base, "dispatch@blueridge.example")
			if err != nil {
				return err
			}
			// A mix of searches: carriers around each market, by equipment.
			hdr := http.Header{"Authorization": {"Bearer " + token}}
			bodies := map[string][]byte{}
			var paths []string
			size := 0
			for _, city := range benchMarkets {
				for _, eq := range []string{"van", "reefer", "flatbed"} {
					q := url.Values{"origin": {city}, "radius_mi": {"500"}, "equipment": {eq}, "limit": {"20"}}
					path := "/api/v1/board?" + q.Encode()
					body, err := fetch(base+path, hdr)
					if err != nil {
						return err
					}
					paths, bodies[path] = append(paths, path), body
					size += len(body)
				}
			}

			// The baseline: net/http writing the same bytes, nothing else.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(bodies[r.URL.RequestURI()])
			})}
			go func() { _ = bare.Serve(ln) }()
			defer bare.Close()

			res := APIBench{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()), Engine: engine,
				Concurrency: concurrency, Duration: duration.String(), Queries: len(paths), BoardCacheTTL: boardTTL.String()}
			run := func(name, host string, h http.Header) (loadtest.Result, error) {
				fmt.Fprintf(cmd.ErrOrStderr(), "measuring %s for %s...\n", name, duration)
				urls := make([]string, len(paths))
				for i, p := range paths {
					urls[i] = host + p
				}
				return loadtest.Run(ctx, loadtest.Config{URLs: urls, Header: h, Concurrency: concurrency, Duration: duration, Warmup: duration / 5})
			}
			if res.Baseline, err = run("the bare handler", "http://"+ln.Addr().String(), nil); err != nil {
				return err
			}
			if res.Gateway, err = run("the gateway path", base, hdr); err != nil {
				return err
			}
			res.Ratio = res.Gateway.RPS / res.Baseline.RPS
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%-22s %12s %9s %9s %9s %7s\n", "path", "requests/s", "p50 ms", "p99 ms", "max ms", "errors")
			for _, r := range []struct {
				name string
				r    loadtest.Result
			}{{"bare net/http handler", res.Baseline}, {"api-gateway board", res.Gateway}} {
				fmt.Fprintf(out, "%-22s %12.0f %9.2f %9.2f %9.2f %7d\n", r.name, r.r.RPS, r.r.P50Millis, r.r.P99Millis, r.r.MaxMillis, r.r.Errors)
			}
			fmt.Fprintf(out, "gateway keeps %.1f%% of the bare handler's throughput (%d distinct board searches, pages of %d bytes on average, board cache %s)\n",
				100*res.Ratio, len(paths), size/len(paths), boardTTL)
			b, _ := json.Marshal(res)
			fmt.Fprintln(out, string(b))
			if res.Gateway.Errors > 0 {
				return fmt.Errorf("%d requests failed on the gateway path", res.Gateway.Errors)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&concurrency, "concurrency", 32, "concurrent clients")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "measured time per path")
	cmd.Flags().DurationVar(&boardTTL, "board-cache-ttl", 2*time.Second, "board page cache lifetime of the platform under test (0 disables)")
	cmd.Flags().StringVar(&databaseURL, "database-url", "", "PostgreSQL URL (default: embedded SQLite)")
	cmd.Flags().StringVar(&redisURL, "redis-url", "", "Redis URL (default: in-process)")
	cmd.Flags().StringVar(&natsURL, "nats-url", "", "NATS URL (default: embedded)")
	return cmd
}

func defaultConfig() Config {
	var c Config
	fs := newFlagSet()
	c.RegisterFlags(fs)
	_ = fs.Parse(nil)
	return c
}

func waitReady(ctx context.Context, a *App, done <-chan error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for a.Ready() != nil {
		select {
		case err := <-done:
			return fmt.Errorf("platform stopped while starting: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("platform not ready: %w", a.Ready())
		}
	}
	return nil
}

func login(base, email string) (string, error) {
	res, err := http.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":"backhaul-demo"}`, email)))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var s struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil || s.Token == "" {
		return "", fmt.Errorf("sign in as %s: status %d", email, res.StatusCode)
	}
	return s.Token, nil
}

func fetch(u string, h http.Header) ([]byte, error) {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header = h
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return b, err
}

// benchMarkets are the search origins of the load-board mix.
var benchMarkets = []string{"Dallas, TX", "Chicago, IL", "Atlanta, GA", "Los Angeles, CA", "Houston, TX", "Memphis, TN",
	"Columbus, OH", "Kansas City, MO", "Denver, CO", "Phoenix, AZ", "Seattle, WA", "Miami, FL", "Charlotte, NC",
	"Newark, NJ", "Minneapolis, MN", "Salt Lake City, UT", "Laredo, TX", "St. Louis, MO", "Detroit, MI", "Fresno, CA"}

// scratchSchema creates an empty schema in the PostgreSQL database at u and
// returns a URL whose connections use it, and a function dropping it.
func scratchSchema(ctx context.Context, u string) (string, func(), error) {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create scratch schema: %w", err)
	}
	drop := func() {
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		db.Close()
	}
	pu, err := url.Parse(u)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := pu.Query()
	q.Set("search_path", name)
	pu.RawQuery = q.Encode()
	return pu.String(), drop, nil
}

// dropStreams deletes the streams of a scratch namespace on a shared NATS.
func dropStreams(a *App) {
	if a.Bus() == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = a.Bus().DeleteNamespaceStreams(ctx)
}

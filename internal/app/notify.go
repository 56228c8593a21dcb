package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/modules"
	"github.com/backhaul/backhaul/internal/notify"
	"github.com/backhaul/backhaul/internal/notify/webhook"
	"github.com/backhaul/backhaul/internal/ratelimit"
	"github.com/backhaul/backhaul/internal/store"
)

// initNotify runs the notification-service: triggers on the events stream,
// the delivery workers on its work queue, and the inbox and webhook API.
func (a *App) initNotify(context.Context) (modules.Service, error) {
	deps := notify.Deps{Limiter: a.limiter}
	if a.cfg.NotifySMTPAddr != "" {
		deps.Mailer = notify.SMTP{Addr: a.cfg.NotifySMTPAddr, From: a.cfg.NotifySMTPFrom,
			Username: a.cfg.NotifySMTPUsername, Password: a.cfg.NotifySMTPPassword}
	}
	if a.cfg.NotifySMSURL != "" {
		deps.SMS = notify.HTTPSMS{URL: a.cfg.NotifySMSURL, Token: a.cfg.NotifySMSToken}
	}
	svc, err := notify.New(a.db, a.bus, deps, a.log, a.reg, notify.Options{
		WebhookTimeout:       a.cfg.NotifyWebhookTimeout,
		AllowPrivateWebhooks: a.cfg.allowPrivateWebhooks(),
		EndpointLimit:        ratelimit.Limit{Rate: a.cfg.NotifyWebhookRate, Burst: max(1, int(2*a.cfg.NotifyWebhookRate))},
	})
	if err != nil {
		return nil, err
	}
	svc.Routes(a.api)
	return runner{&service{run: svc.Run}}, nil
}

// allowPrivateWebhooks resolves --notify-webhook-networks: "auto" lets
// webhooks reach private networks only in the embedded single-machine mode,
// where the operator is the only tenant.
func (c Config) allowPrivateWebhooks() bool {
	switch c.NotifyWebhookNetworks {
	case "any":
		return true
	case "public":
		return false
	}
	return c.DatabaseURL == ""
}

// NotifyBench is the result of `backhaul bench notify`.
type NotifyBench struct {
	Machine   string `json:"machine"`
	Engine    string `json:"engine"`
	Endpoints int    `json:"endpoints"`
	// Steady: events at a fixed rate, each one webhook per endpoint.
	SteadyRate   float64 `json:"steady_events_per_second"`
	SteadyCount  int     `json:"steady_notifications"`
	SteadyP50Ms  float64 `json:"steady_p50_ms"`
	SteadyP99Ms  float64 `json:"steady_p99_ms"`
	SteadyMaxMs  float64 `json:"steady_max_ms"`
	BurstEvents  int     `json:"burst_events"`
	BurstCount   int     `json:"burst_notifications"`
	BurstSeconds float64 `json:"burst_seconds"`
	BurstRate    float64 `json:"burst_notifications_per_second"`
	BurstP50Ms   float64 `json:"burst_p50_ms"`
	BurstP99Ms   float64 `json:"burst_p99_ms"`
	BaselineRate float64 `json:"bare_post_per_second"`
	Duplicates   int     `json:"duplicates"`
}

// receiver is the local webhook receiver of the benchmark: it verifies
// every signature, as a real receiver would, and records each delivery's
// delay from its event.
type receiver struct {
	secrets map[string][]byte // by path
	mu      sync.Mutex
	seen    map[string]bool
	delays  []time.Duration
	dups    int
	bad     int
	arrived chan struct{}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	now := time.Now()
	secret, ok := rc.secrets[r.URL.Path]
	if err != nil || !ok || webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, now, 0) != nil {
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b notify.WebhookBody
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	if rc.seen[b.ID] {
		rc.dups++
	} else {
		rc.seen[b.ID] = true
		rc.delays = append(rc.delays, now.Sub(b.OccurredAt))
	}
	rc.mu.Unlock()
	select {
	case rc.arrived <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// take returns the delays recorded so far and forgets them.
func (rc *receiver) take() []time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	d := rc.delays
	rc.delays = nil
	return d
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.delays)
}

// waitFor waits until n deliveries arrived since the last take.
func (rc *receiver) waitFor(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for rc.count() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("%d of %d webhooks arrived within %s", rc.count(), n, timeout)
		case <-rc.arrived:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s)-1) + 0.5)
	return float64(s[i]) / float64(time.Millisecond)
}

// emitDelivered writes n loads.status.v1 events (a load delivered) for org
// in one transaction, through the outbox, as the load-service would.
func emitDelivered(ctx context.Context, db *store.DB, org string, n int) error {
	return db.InTx(ctx, func(tx *store.Tx) error {
		for range n {
			id := uuid.NewString()
			if err := tx.EmitNew(ctx, "loads.status.v1", org, id, map[string]any{"load_id": id, "from": "at_delivery",
				"to": "delivered", "actor": "bench", "at": tx.Now(), "shipper_id": org}); err != nil {
				return err
			}
		}
		return nil
	})
}

func notifyBenchCommand() *cobra.Command {
	var (
		endpoints   int
		rate        float64
		duration    time.Duration
		events      int
		databaseURL string
		natsURL     string
	)
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Webhook notifications: end-to-end delay at a steady rate and throughput of a burst, against bare POSTs",
		Long: `Start the api-gateway and the notification-service in this process (embedded
engines unless URLs are given), sign up an organization and register
--endpoints webhook endpoints on a local receiver that verifies every
signature. Then:

  steady: write "load delivered" events through the transactional outbox at
          --rate per second for --duration; each becomes one signed webhook
          per endpoint. Reports the delay from the event's commit to its
          arrival at the receiver, p50 and p99.
  burst:  write --events events at once (in transactions of 100) and report
          the notifications delivered per second until the last arrives.
  bare:   as the baseline, POST the same number of signed bodies to the same
          receiver straight from --endpoints goroutines.

Every event also lands in the organization admin's in-app inbox. Prints a
table and, as its last line, a JSON summary.`,
		Example: `  backhaul bench notify --endpoints 8 --rate 50 --duration 10s --events 2000
  backhaul bench notify --database-url postgres://postgres@127.0.0.1/test --nats-url nats://127.0.0.1:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			dir, err := os.MkdirTemp("", "backhaul-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cfg := defaultConfig()
			cfg.HTTPAddr, cfg.DataDir, cfg.LogLevel = "127.0.0.1:0", dir, "error"
			cfg.Targets = []string{"api-gateway", "notification-service"}
			cfg.NotifyWebhookNetworks = "any" // the receiver is on loopback
			cfg.TokenSecret = strings.Repeat("b", 48)
			cfg.RateUser, cfg.RateUserBurst = 1e6, 1e6
			// Nor the receivers' protection: the limiter still runs.
			cfg.NotifyWebhookRate = 1e6
			cfg.NATSURL = natsURL
			engine := "embedded (SQLite, in-process NATS)"
			if databaseURL != "" {
				u, drop, err := scratchSchema(ctx, databaseURL)
				if err != nil {
					return err
				}
				defer drop()
				cfg.DatabaseURL, engine = u, "PostgreSQL"
				if natsURL != "" {
					engine += " + NATS"
				}
			}
			if natsURL != "" {
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
			fmt.Fprintln(errw, "starting the notification-service...")
			if err := waitReady(ctx, app, done); err != nil {
				return err
			}
			base := "http://" + app.Addr().String()

			rc := &receiver{secrets: map[string][]byte{}, seen: map[string]bool{}, arrived: make(chan struct{}, 1)}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: rc}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			hookBase := "http://" + ln.Addr().String()

			org, token, err := benchSignup(base)
			if err != nil {
				return err
			}
			for i := range endpoints {
				path := fmt.Sprintf("/hook/%d", i)
				secret, err := benchEndpoint(base, token, hookBase+path)
				if err != nil {
					return err
				}
				rc.secrets[path] = []byte(secret)
			}
			res := NotifyBench{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
				Engine: engine, Endpoints: endpoints, SteadyRate: rate, BurstEvents: events}

			// Warm up: one event end to end.
			if err := emitDelivered(ctx, app.db, org, 1); err != nil {
				return err
			}
			if err := rc.waitFor(ctx, endpoints, time.Minute); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
			rc.take()

			fmt.Fprintf(errw, "steady: %.0f events/s for %s...\n", rate, duration)
			n := int(rate * duration.Seconds())
			interval := time.Duration(float64(time.Second) / rate)
			next := time.Now()
			for range n {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(interval)
				if err := emitDelivered(ctx, app.db, org, 1); err != nil {
					return err
				}
			}
			if err := rc.waitFor(ctx, n*endpoints, 2*time.Minute); err != nil {
				return fmt.Errorf("steady: %w", err)
			}
			steady := rc.take()
			res.SteadyCount = len(steady)
			res.SteadyP50Ms, res.SteadyP99Ms, res.SteadyMaxMs = percentile(steady, 0.5), percentile(steady, 0.99), percentile(steady, 1)

			fmt.Fprintf(errw, "burst: %d events...\n", events)
			start := time.Now()
			for left := events; left > 0; left -= 100 {
				if err := emitDelivered(ctx, app.db, org, min(left, 100)); err != nil {
					return err
				}
			}
			if err := rc.waitFor(ctx, events*endpoints, 10*time.Minute); err != nil {
				return fmt.Errorf("burst: %w", err)
			}
			res.BurstSeconds = time.Since(start).Seconds()
			burst := rc.take()
			res.BurstCount = len(burst)
			res.BurstRate = float64(len(burst)) / res.BurstSeconds
			res.BurstP50Ms, res.BurstP99Ms = percentile(burst, 0.5), percentile(burst, 0.99)

			fmt.Fprintln(errw, "bare: the same number of signed POSTs from the client side...")
			res.BaselineRate, err = barePosts(ctx, hookBase, rc, endpoints, events)
			if err != nil {
				return err
			}
			rc.mu.Lock()
			res.Duplicates = rc.dups
			bad := rc.bad
			rc.mu.Unlock()

			fmt.Fprintf(out, "%-34s %14s %9s %9s\n", "run", "notifications/s", "p50 ms", "p99 ms")
			fmt.Fprintf(out, "%-34s %14.0f %9.1f %9.1f\n", fmt.Sprintf("steady %.0f events/s x %d endpoints", rate, endpoints),
				float64(res.SteadyCount)/duration.Seconds(), res.SteadyP50Ms, res.SteadyP99Ms)
			fmt.Fprintf(out, "%-34s %14.0f %9.1f %9.1f\n", fmt.Sprintf("burst %d events x %d endpoints", events, endpoints),
				res.BurstRate, res.BurstP50Ms, res.BurstP99Ms)
			fmt.Fprintf(out, "%-34s %14.0f %9s %9s\n", "bare signed POSTs (baseline)", res.BaselineRate, "-", "-")
			fmt.Fprintf(out, "the service keeps %.1f%% of bare POST throughput; %d duplicate deliveries\n",
				100*res.BurstRate/res.BaselineRate, res.Duplicates)
			b, _ := json.Marshal(res)
			fmt.Fprintln(out, string(b))
			if bad > 0 {
				return fmt.Errorf("%d webhook requests failed verification", bad)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&endpoints, "endpoints", 8, "webhook endpoints, each receiving every event")
	cmd.Flags().Float64Var(&rate, "rate", 50, "events per second in the steady run")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "length of the steady run")
	cmd.Flags().IntVar(&events, "events", 2000, "events in the burst")
	cmd.Flags().StringVar(&databaseURL, "database-url", "", "PostgreSQL URL (default: embedded SQLite)")
	cmd.Flags().StringVar(&natsURL, "nats-url", "", "NATS URL (default: embedded)")
	return cmd
}

func benchSignup(base string) (org, token string, err error) {
	body := fmt.Sprintf(`{"org_name":"Bench Foods","org_kind":"shipper","name":"Bench Admin","email":"bench-%d@example.com","password":"a-long-password"}`,
		time.Now().UnixNano())
	res, err := http.Post(base+"/api/v1/auth/signup", "application/json", strings.NewReader(body))
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	var s struct {
		Token        string
		Organization struct{ ID string }
	}
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil || s.Token == "" {
		return "", "", fmt.Errorf("sign up: status %d", res.StatusCode)
	}
	return s.Organization.ID, s.Token, nil
}

func benchEndpoint(base, token, url string) (string, error) {
	body := fmt.Sprintf(`{"url":%q,"event_types":["load.delivered"]}`, url)
	req, _ := http.NewRequest("POST", base+"/api/v1/webhooks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var ep struct{ Secret string }
	if err := json.NewDecoder(res.Body).Decode(&ep); err != nil || ep.Secret == "" {
		return "", fmt.Errorf("register webhook: status %d", res.StatusCode)
	}
	return ep.Secret, nil
}

// barePosts is the baseline: signed POSTs of the same bodies to the same
// receiver from one goroutine per endpoint, as fast as it answers.
func barePosts(ctx context.Context, hookBase string, rc *receiver, endpoints, events int) (float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: endpoints}}
	var wg sync.WaitGroup
	errs := make(chan error, endpoints)
	start := time.Now()
	for i := range endpoints {
		path := fmt.Sprintf("/hook/%d", i)
		secret := rc.secrets[path]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range events {
				now := time.Now()
				body, _ := json.Marshal(notify.WebhookBody{ID: uuid.NewString(), Type: notify.KindLoadDelivered, CreatedAt: now,
					Title: "Load delivered", Data: map[string]any{"load_id": uuid.NewString()}, OccurredAt: now})
				req, _ := http.NewRequestWithContext(ctx, "POST", hookBase+path, strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, now, body))
				res, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	rc.take()
	return float64(endpoints*events) / elapsed.Seconds(), nil
}

package deploy

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/testenv"
)

const prometheusBin = "/usr/bin/prometheus"

// testWindow replaces the rules' [2m] rate window: Prometheus has only the
// seconds of this test to look back on, and a rate over two minutes of
// which only these seconds hold samples would read a fraction of the real
// rate. Everything else in the queries is as written.
const testWindow = 15 * time.Second

// TestMetricsPipeline runs the metrics path of the HPAs for real: backhaul
// processes as pods, Debian's Prometheus scraping them every second with the
// kubernetes_namespace and kubernetes_pod_name labels its Kubernetes scrape
// job would add, HTTP load at a known rate, and then each adapter rule's
// metricsQuery, rendered as prometheus-adapter renders it for an HPA's pods,
// evaluated through Prometheus's HTTP API. The values are what the HPAs
// would read.
func TestMetricsPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and nine processes")
	}
	if _, err := os.Stat(prometheusBin); err != nil {
		testenv.Unavailable(t, "Prometheus: %v", err)
	}
	pgURL := testenv.PostgresSchemaURL(t)
	natsURL := testenv.NATSURL(t)
	ns := testenv.Unique("deploy")
	cleanupStreams(t, natsURL, ns)
	shared := []string{
		"BACKHAUL_DATABASE_URL=" + pgURL,
		"BACKHAUL_NATS_URL=" + natsURL,
		"BACKHAUL_NATS_NAMESPACE=" + ns,
		"BACKHAUL_TOKEN_SECRET=" + strings.Repeat("k", 40),
	}
	rules := adapterRules(t)

	// Replicas that share a queue share the store and the bus; the others
	// run on their own embedded engines.
	var pods []process
	start := func(name string, env []string, target string) {
		pods = append(pods, startServe(t, name, env, "--target="+target))
	}
	start("api-gateway-0", nil, "api-gateway")
	start("api-gateway-1", nil, "api-gateway")
	start("load-service-0", nil, "load-service")
	start("tracking-service-0", nil, "tracking-service")
	start("optimization-engine-0", shared, "optimization-engine")
	start("optimization-engine-1", shared, "optimization-engine")
	start("load-matching-0", shared, "load-matching")
	start("load-matching-1", shared, "load-matching")

	// A backlog the workers cannot take: queued jobs whose message is
	// marked sent but was never published.
	const queuedJobs = 12
	queueJobs(t, pgURL, queuedJobs)

	prom := startPrometheus(t, pods)

	// Load at a known rate: GETs on both gateways, writes and reads on the
	// load-service (refused without credentials, but counted as writes).
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	loads := map[string]*sentLog{}
	for _, l := range []struct {
		pod, method, path string
		rps               float64
	}{
		{"api-gateway-0", http.MethodGet, "/healthz", 40},
		{"api-gateway-1", http.MethodGet, "/healthz", 20},
		{"load-service-0", http.MethodPost, "/api/v1/loads", 10},
		{"load-service-0", http.MethodGet, "/healthz", 10},
	} {
		p := pods[slices.IndexFunc(pods, func(p process) bool { return p.name == l.pod })]
		log := &sentLog{}
		loads[l.pod+" "+l.method] = log
		wg.Go(func() { sendAt(ctx, p.url(l.path), l.method, l.rps, log) })
	}
	time.Sleep(testWindow + 3*time.Second)

	window := fmt.Sprintf("[%ds]", int(testWindow.Seconds()))
	query := func(metric string, podNames ...string) map[string]float64 {
		t.Helper()
		r := ruleFor(t, rules, metric)
		q, err := r.podsQuery("backhaul", podNames)
		if err != nil {
			t.Fatal(err)
		}
		q = strings.ReplaceAll(q, "[2m]", window)
		var got map[string]float64
		// A scrape that timed out on a busy machine marks its series
		// stale until the next one: ask again for a few seconds.
		for range 10 {
			if got, err = prom.query(q); err != nil {
				t.Fatalf("%s: %s: %v", metric, q, err)
			}
			if len(got) == len(podNames) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if len(got) != len(podNames) {
			t.Errorf("%s: got values for %v, want one for each of %v (query %s)", metric, keys(got), podNames, q)
		}
		return got
	}
	// Prometheus scrapes /metrics once a second, and the scrape is a request too.
	const scrapeRate = 1.0
	now := time.Now()

	t.Run("http_requests_per_second", func(t *testing.T) {
		got := query("http_requests_per_second", "api-gateway-0", "api-gateway-1")
		for _, pod := range []string{"api-gateway-0", "api-gateway-1"} {
			want := loads[pod+" GET"].rate(now, testWindow) + scrapeRate
			if v, ok := got[pod]; !ok || math.Abs(v-want) > 0.1*want {
				t.Errorf("%s: %.2f requests/s, want %.2f ±10%% (the rate sent)", pod, v, want)
			} else {
				t.Logf("%s: http_requests_per_second %.2f, sent %.2f", pod, v, want)
			}
		}
	})
	t.Run("transactions_per_second", func(t *testing.T) {
		got := query("transactions_per_second", "load-service-0")
		want := loads["load-service-0 POST"].rate(now, testWindow)
		if v := got["load-service-0"]; math.Abs(v-want) > 0.1*want {
			t.Errorf("load-service-0: %.2f writes/s, want %.2f ±10%% (the writes sent, not the reads)", v, want)
		} else {
			t.Logf("load-service-0: transactions_per_second %.2f, sent %.2f", v, want)
		}
	})
	t.Run("job_queue_length", func(t *testing.T) {
		got := query("job_queue_length", "optimization-engine-0", "optimization-engine-1")
		sum := 0.0
		for pod, v := range got {
			// Each replica reports the whole backlog; the HPA must see its share.
			if v != queuedJobs/2.0 {
				t.Errorf("%s: job_queue_length %v, want %v (%d queued jobs / 2 replicas)", pod, v, queuedJobs/2.0, queuedJobs)
			}
			sum += v
		}
		// The HPA proposes ceil(replicas * average / target): with the
		// share that is ceil(total / target) whatever the replica count.
		if sum != queuedJobs {
			t.Errorf("the replicas' shares add up to %v, want the %d queued jobs", sum, queuedJobs)
		}
		raw, err := prom.query(`job_queue_length{kubernetes_namespace="backhaul"}`)
		if err != nil {
			t.Fatal(err)
		}
		for pod, v := range raw {
			if v != queuedJobs {
				t.Errorf("%s exports job_queue_length %v, want the total %d", pod, v, queuedJobs)
			}
		}
	})
	t.Run("queue_depth", func(t *testing.T) {
		for pod, v := range query("queue_depth", "load-matching-0", "load-matching-1") {
			if v != 0 {
				t.Errorf("%s: queue_depth %v, want 0 (no match requests)", pod, v)
			}
		}
	})
	t.Run("position_updates_per_second", func(t *testing.T) {
		for pod, v := range query("position_updates_per_second", "tracking-service-0") {
			if v != 0 {
				t.Errorf("%s: position_updates_per_second %v, want 0 (no positions sent)", pod, v)
			}
		}
	})
	stop()
	wg.Wait()
}

func keys(m map[string]float64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// cleanupStreams deletes the namespace's JetStream streams when the test
// ends, after the processes (registered later) have stopped.
func cleanupStreams(t *testing.T, natsURL, ns string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b, err := bus.Open(ctx, bus.Config{URL: natsURL, Namespace: ns}, nil)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer b.Close()
		if err := b.DeleteNamespaceStreams(ctx); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
}

// queueJobs stores n queued optimization jobs whose queue message counts as
// sent, so no worker is ever handed them and the backlog stays n.
func queueJobs(t *testing.T, pgURL string, n int) {
	t.Helper()
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	now := time.Now().UTC()
	org := testenv.Unique("org_")
	if _, err := db.ExecContext(ctx, `INSERT INTO organizations (id, name, kind, created_at) VALUES ($1, 'Pipeline Test', 'shipper', $2)`, org, now); err != nil {
		t.Fatalf("insert organization: %v", err)
	}
	for i := range n {
		if _, err := db.ExecContext(ctx, `INSERT INTO optimize_jobs
			(id, org_id, priority, status, time_limit_ms, seed, format, kind, nodes, problem, created_by, created_at, updated_at, enqueued_at)
			VALUES ($1, $2, 'normal', 'queued', 1000, 1, 'lilim', 'pdptw', 3, '{}', 'test', $3, $3, $3)`,
			fmt.Sprintf("%s-job-%d", org, i), org, now); err != nil {
			t.Fatalf("insert job: %v", err)
		}
	}
}

// sentLog records when each request of one load stream completed.
type sentLog struct {
	mu sync.Mutex
	at []time.Time
}

func (l *sentLog) add(at time.Time) {
	l.mu.Lock()
	l.at = append(l.at, at)
	l.mu.Unlock()
}

// rate is the requests per second completed in the window ending at end.
func (l *sentLog) rate(end time.Time, window time.Duration) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.at {
		if at.After(end.Add(-window)) && !at.After(end) {
			n++
		}
	}
	return float64(n) / window.Seconds()
}

// sendAt sends requests at rps until ctx ends. Requests run one after
// another on schedule; when the machine is too slow to keep up, the rate
// sent is lower, and the log says what was really sent.
func sendAt(ctx context.Context, target, method string, rps float64, log *sentLog) {
	interval := time.Duration(float64(time.Second) / rps)
	next := time.Now()
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader("{}"))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			log.add(time.Now())
		}
		next = next.Add(interval)
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(next)):
		}
	}
}

type prometheus struct {
	addr string
}

// startPrometheus runs Prometheus scraping each process every second, with
// the labels the Kubernetes pod scrape job relabels into place.
func startPrometheus(t *testing.T, pods []process) prometheus {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: backhaul\n  static_configs:\n")
	for _, p := range pods {
		fmt.Fprintf(&b, "  - targets: [%q]\n    labels:\n      kubernetes_namespace: backhaul\n      kubernetes_pod_name: %s\n", p.addr, p.name)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(prometheusBin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	logs := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	p := prometheus{addr: addr}
	deadline := time.Now().Add(30 * time.Second)
	for status("http://"+addr+"/-/ready") != http.StatusOK {
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30 s:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Wait for the first scrape of every target.
	for {
		up, err := p.query(`up == 1`)
		if err == nil && len(up) == len(pods) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus scrapes %v of %d targets (%v):\n%s", keys(up), len(pods), err, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// query evaluates an instant query and returns each series' value by its
// kubernetes_pod_name label.
func (p prometheus) query(q string) (map[string]float64, error) {
	resp, err := http.PostForm("http://"+p.addr+"/api/v1/query", url.Values{"query": {q}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: %s: %w", q, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s, want vector", q, body.Data.ResultType)
	}
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", q, r.Value[1], err)
		}
		out[r.Metric["kubernetes_pod_name"]] = v
	}
	return out, nil
}

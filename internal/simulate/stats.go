package simulate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stats records latency and answers per endpoint.
type Stats struct {
	mu     sync.Mutex
	routes map[string]*routeStats
}

type routeStats struct {
	lat    []time.Duration
	status map[int]int
}

// NewStats returns empty statistics.
func NewStats() *Stats { return &Stats{routes: map[string]*routeStats{}} }

// Record adds one call; status 0 is a transport error.
func (s *Stats) Record(route string, d time.Duration, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.routes[route]
	if r == nil {
		r = &routeStats{status: map[int]int{}}
		s.routes[route] = r
	}
	r.lat = append(r.lat, d)
	r.status[status]++
}

// Reset forgets everything recorded (after a warm-up).
func (s *Stats) Reset() {
	s.mu.Lock()
	s.routes = map[string]*routeStats{}
	s.mu.Unlock()
}

// EndpointSummary is one endpoint's figures.
type EndpointSummary struct {
	Route    string      `json:"route"`
	Requests int         `json:"requests"`
	Errors   int         `json:"errors"`  // transport errors, 429 and 5xx
	Refused  int         `json:"refused"` // other 4xx (expected ones, such as a lost booking race, included)
	P50ms    float64     `json:"p50_ms"`
	P90ms    float64     `json:"p90_ms"`
	P99ms    float64     `json:"p99_ms"`
	Maxms    float64     `json:"max_ms"`
	Status   map[int]int `json:"status"`
}

// Summary returns every endpoint's figures, sorted by route, and the total
// over all of them as the last element (route "all").
func (s *Stats) Summary() []EndpointSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.routes))
	for k := range s.routes {
		names = append(names, k)
	}
	sort.Strings(names)
	all := &routeStats{status: map[int]int{}}
	out := make([]EndpointSummary, 0, len(names)+1)
	for _, n := range names {
		r := s.routes[n]
		out = append(out, summarize(n, r))
		all.lat = append(all.lat, r.lat...)
		for k, v := range r.status {
			all.status[k] += v
		}
	}
	return append(out, summarize("all", all))
}

func summarize(name string, r *routeStats) EndpointSummary {
	e := EndpointSummary{Route: name, Requests: len(r.lat), Status: map[int]int{}}
	for k, v := range r.status {
		e.Status[k] = v
		switch {
		case k == 0 || k == http.StatusTooManyRequests || k >= 500:
			e.Errors += v
		case k >= 400:
			e.Refused += v
		}
	}
	if len(r.lat) == 0 {
		return e
	}
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
	e.P50ms, e.P90ms, e.P99ms, e.Maxms = q(0.5), q(0.9), q(0.99), ms(lat[len(lat)-1])
	return e
}

// WriteTable prints endpoint summaries as a table.
func WriteTable(w io.Writer, eps []EndpointSummary, elapsed time.Duration) {
	fmt.Fprintf(w, "%-44s %9s %8s %7s %7s %8s %8s %8s %8s\n", "endpoint", "requests", "req/s", "errors", "refused", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for _, e := range eps {
		rps := 0.0
		if elapsed > 0 {
			rps = float64(e.Requests) / elapsed.Seconds()
		}
		fmt.Fprintf(w, "%-44s %9d %8.1f %7d %7d %8.1f %8.1f %8.1f %8.1f\n", e.Route, e.Requests, rps, e.Errors, e.Refused, e.P50ms, e.P90ms, e.P99ms, e.Maxms)
	}
}

// watchedMetrics are the platform's own series the scaling guide's
// autoscalers read, and the process's health.
var watchedMetrics = []string{
	"http_requests_total", "position_updates_count", "queue_depth", "job_queue_length", "pending_notifications",
	"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines",
}

// MetricSeries is one watched metric over a run: each value is the sum of
// the metric over its labels at one sample.
type MetricSeries struct {
	Name    string    `json:"name"`
	First   float64   `json:"first"`
	Last    float64   `json:"last"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Samples int       `json:"samples"`
	Values  []float64 `json:"-"`
}

// Scraper samples the platform's /metrics.
type Scraper struct {
	URL    string
	HTTP   *http.Client
	mu     sync.Mutex
	series map[string]*MetricSeries
	Errors int
}

// NewScraper samples base/metrics.
func NewScraper(base string) *Scraper {
	return &Scraper{URL: strings.TrimRight(base, "/") + "/metrics", HTTP: &http.Client{Timeout: 5 * time.Second},
		series: map[string]*MetricSeries{}}
}

// Run samples every interval until ctx is done.
func (s *Scraper) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample takes one sample.
func (s *Scraper) Sample(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return
	}
	res, err := s.HTTP.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			s.mu.Lock()
			s.Errors++
			s.mu.Unlock()
		}
		return
	}
	defer res.Body.Close()
	vals := ParseMetrics(res.Body, watchedMetrics)
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, v := range vals {
		m := s.series[name]
		if m == nil {
			m = &MetricSeries{Name: name, First: v, Min: v, Max: v}
			s.series[name] = m
		}
		m.Last, m.Min, m.Max = v, min(m.Min, v), max(m.Max, v)
		m.Samples++
		m.Values = append(m.Values, v)
	}
}

// Series returns the sampled metrics, sorted by name.
func (s *Scraper) Series() []MetricSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MetricSeries, 0, len(s.series))
	for _, m := range s.series {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ParseMetrics sums each wanted metric over its labels from the Prometheus
// text format. Lines it does not understand are skipped: the exposition is
// the platform's, not ours to police.
func ParseMetrics(r io.Reader, want []string) map[string]float64 {
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if !wanted[name] {
			continue
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out
}

// LoadAverage is the machine's 1-minute load average, when it can be read.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

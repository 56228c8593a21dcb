// Package loadtest drives HTTP load at a target and measures throughput and
// latency percentiles. Requests go only where the caller points them; the
// commands that use it point it at loopback servers they start themselves.
package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Config is one closed-loop run: Concurrency workers each send a request,
// wait for the answer, and send the next, for Duration.
type Config struct {
	Method      string
	URL         string
	URLs        []string // when set, each worker cycles through them instead of URL
	Header      http.Header
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration // requests sent but not measured
}

// Result summarises a run.
type Result struct {
	Requests   int           `json:"requests"`
	Errors     int           `json:"errors"` // transport errors and non-2xx answers
	Elapsed    time.Duration `json:"-"`
	RPS        float64       `json:"rps"`
	P50Millis  float64       `json:"p50_ms"`
	P90Millis  float64       `json:"p90_ms"`
	P99Millis  float64       `json:"p99_ms"`
	MaxMillis  float64       `json:"max_ms"`
	StatusSeen map[int]int   `json:"status"`
}

// Run sends load until the duration passes or ctx is done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Concurrency < 1 || cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("loadtest: concurrency and duration must be positive")
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodGet
	}
	if len(cfg.URLs) == 0 {
		cfg.URLs = []string{cfg.URL}
	}
	tr := &http.Transport{MaxIdleConns: cfg.Concurrency * 2, MaxIdleConnsPerHost: cfg.Concurrency * 2, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	if cfg.Warmup > 0 {
		wctx, cancel := context.WithTimeout(ctx, cfg.Warmup)
		run(wctx, client, cfg)
		cancel()
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	workers := run(rctx, client, cfg)
	elapsed := time.Since(start)
	res := Result{Elapsed: elapsed, StatusSeen: map[int]int{}}
	var lat []time.Duration
	for _, w := range workers {
		lat = append(lat, w.lat...)
		res.Errors += w.errors
		for k, v := range w.status {
			res.StatusSeen[k] += v
		}
	}
	res.Requests = len(lat)
	if res.Requests == 0 {
		return res, fmt.Errorf("loadtest: no request completed")
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(p float64) float64 { return ms(lat[min(len(lat)-1, int(p*float64(len(lat))))]) }
	res.RPS = float64(res.Requests) / elapsed.Seconds()
	res.P50Millis, res.P90Millis, res.P99Millis, res.MaxMillis = q(0.50), q(0.90), q(0.99), ms(lat[len(lat)-1])
	return res, nil
}

type worker struct {
	lat    []time.Duration
	errors int
	status map[int]int
}

func run(ctx context.Context, client *http.Client, cfg Config) []*worker {
	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{status: map[int]int{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := i; ctx.Err() == nil; n++ {
				req, err := http.NewRequestWithContext(ctx, cfg.Method, cfg.URLs[n%len(cfg.URLs)], nil)
				if err != nil {
					w.errors++
					return
				}
				req.Header = cfg.Header.Clone()
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						w.errors++
					}
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				w.lat = append(w.lat, time.Since(t0))
				w.status[res.StatusCode]++
				if res.StatusCode >= 300 {
					w.errors++
				}
			}
		}()
	}
	wg.Wait()
	return workers
}

package cache

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics exports the Stats of the cache c on reg as
// backhaul_cache_hits_total, backhaul_cache_misses_total,
// backhaul_cache_evictions_total and backhaul_cache_errors_total with the
// label cache=name, and, for a cache that can be down (Redis),
// backhaul_cache_up. The counters are read from c at each scrape, so the
// cache's hot path carries no metric code.
func RegisterMetrics(reg prometheus.Registerer, name string, c interface{ Stats() Stats }) error {
	labels := prometheus.Labels{"cache": name}
	m := &metrics{
		src:       c,
		hits:      prometheus.NewDesc("backhaul_cache_hits_total", "Cache lookups that found a live entry.", nil, labels),
		misses:    prometheus.NewDesc("backhaul_cache_misses_total", "Cache lookups that found no live entry.", nil, labels),
		evictions: prometheus.NewDesc("backhaul_cache_evictions_total", "Entries a cache dropped by itself, for capacity or expiry.", nil, labels),
		errors:    prometheus.NewDesc("backhaul_cache_errors_total", "Cache operations that failed, or were skipped while the backend was down; each was served from the database.", nil, labels),
		up:        prometheus.NewDesc("backhaul_cache_up", "1 while the cache backend answers, 0 while requests are served from the database without it.", nil, labels),
	}
	if err := reg.Register(m); err != nil {
		return fmt.Errorf("register metrics of cache %q: %w", name, err)
	}
	return nil
}

type metrics struct {
	src                                 interface{ Stats() Stats }
	hits, misses, evictions, errors, up *prometheus.Desc
}

// healthy is a cache that can be down.
type healthy interface{ Healthy() error }

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.hits
	ch <- m.misses
	ch <- m.evictions
	ch <- m.errors
	if _, ok := m.src.(healthy); ok {
		ch <- m.up
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.src.Stats()
	ch <- prometheus.MustNewConstMetric(m.hits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(m.misses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(m.evictions, prometheus.CounterValue, float64(s.Evictions))
	ch <- prometheus.MustNewConstMetric(m.errors, prometheus.CounterValue, float64(s.Errors))
	if h, ok := m.src.(healthy); ok {
		up := 1.0
		if h.Healthy() != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, up)
	}
}

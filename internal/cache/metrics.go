package cache

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics exports the Stats of the cache c on reg as
// backhaul_cache_hits_total, backhaul_cache_misses_total and
// backhaul_cache_evictions_total with the label cache=name. The counters are
// read from c at each scrape, so the cache's hot path carries no metric code.
func RegisterMetrics(reg prometheus.Registerer, name string, c interface{ Stats() Stats }) error {
	labels := prometheus.Labels{"cache": name}
	m := &metrics{
		src:       c,
		hits:      prometheus.NewDesc("backhaul_cache_hits_total", "Cache lookups that found a live entry.", nil, labels),
		misses:    prometheus.NewDesc("backhaul_cache_misses_total", "Cache lookups that found no live entry.", nil, labels),
		evictions: prometheus.NewDesc("backhaul_cache_evictions_total", "Entries a cache dropped by itself, for capacity or expiry.", nil, labels),
	}
	if err := reg.Register(m); err != nil {
		return fmt.Errorf("register metrics of cache %q: %w", name, err)
	}
	return nil
}

type metrics struct {
	src                     interface{ Stats() Stats }
	hits, misses, evictions *prometheus.Desc
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.hits
	ch <- m.misses
	ch <- m.evictions
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.src.Stats()
	ch <- prometheus.MustNewConstMetric(m.hits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(m.misses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(m.evictions, prometheus.CounterValue, float64(s.Evictions))
}

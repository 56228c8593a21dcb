package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/cache"
)

func TestRegisterMetrics(t *testing.T) {
	ctx := context.Background()
	clk := newFakeClock()
	quotes := cache.NewLocal(1, clk.Now)
	lanes := cache.NewLocal(10, clk.Now)
	reg := prometheus.NewRegistry()
	for name, c := range map[string]*cache.Local{"quotes": quotes, "lanes": lanes} {
		if err := cache.RegisterMetrics(reg, name, c); err != nil {
			t.Fatalf("RegisterMetrics(%s): %v", name, err)
		}
	}
	if err := cache.RegisterMetrics(reg, "quotes", quotes); err == nil {
		t.Error("registering the name quotes twice: got no error, want one")
	}

	mustSet(t, quotes, "a", []byte("1"), time.Hour)
	mustSet(t, quotes, "b", []byte("2"), time.Hour) // evicts a
	mustHit(t, quotes, "b", []byte("2"))
	mustMiss(t, quotes, "a")
	mustMiss(t, quotes, "c")
	if _, _, err := lanes.Get(ctx, "x"); err != nil {
		t.Fatal(err)
	}

	got := gather(t, reg)
	want := map[string]float64{
		"backhaul_cache_hits_total/quotes":      1,
		"backhaul_cache_misses_total/quotes":    2,
		"backhaul_cache_evictions_total/quotes": 1,
		"backhaul_cache_hits_total/lanes":       0,
		"backhaul_cache_misses_total/lanes":     1,
		"backhaul_cache_evictions_total/lanes":  0,
		"backhaul_cache_errors_total/quotes":    0,
		"backhaul_cache_errors_total/lanes":     0,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("gathered %d series, want %d: %v", len(got), len(want), got)
	}
}

// gather returns every counter on reg by "name/cache label".
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			label := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "cache" {
					label = l.GetValue()
				}
			}
			if g := m.GetGauge(); g != nil {
				out[f.GetName()+"/"+label] = g.GetValue()
			} else {
				out[f.GetName()+"/"+label] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

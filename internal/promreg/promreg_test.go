package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterSharesTheFirstCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "things_total", Help: "Things."}
	a, err := Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Register(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	b.Inc()
	if a != b {
		t.Error("second registration returned a new counter, want the first")
	}
	if _, err := Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "things_total", Help: "Other."})); err == nil {
		t.Error("a clashing collector of another kind registered without error")
	}
}

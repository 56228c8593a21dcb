package market

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	mape, coverage prometheus.Gauge
	version        prometheus.Gauge
	quote          prometheus.Histogram
	runs           *prometheus.CounterVec
	trainSeconds   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		mape: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "market_model_holdout_mape",
			Help: "Mean absolute percentage error of the P50 of the rates in service on held-back bookings (0.06 is 6%).",
		}),
		coverage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "market_model_holdout_coverage",
			Help: "Share of held-back bookings whose rate fell inside the quoted P10-P90 range (0.8 is the aim).",
		}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "market_model_version",
			Help: "ID of the rate model in service; 0 while quotes come from the rate table or there is no data.",
		}),
		quote: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "market_quote_duration_seconds",
			Help:    "Time to compute a rate quote, from request to answer, excluding the network.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "market_training_runs_total",
			Help: "Retraining runs finished, by result: accepted (the new model went into service), rejected (not better), failed.",
		}, []string{"result"}),
		trainSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "market_training_duration_seconds",
			Help:    "Time of a retraining run: reading the history, training, scoring and storing.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
	for _, r := range []string{RunAccepted, RunRejected, RunFailed} {
		m.runs.WithLabelValues(r) // exported at 0 before the first run
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.mape, m.coverage, m.version, m.quote, m.runs, m.trainSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

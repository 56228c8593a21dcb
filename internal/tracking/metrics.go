package tracking

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/tracking/ingest"
)

type metrics struct {
	// accepted is position_updates_count, exactly: the scaling guide's
	// Prometheus Adapter rule turns its rate into position_updates_per_second,
	// which the tracking-service's autoscaler reads.
	accepted     prometheus.Counter
	rejected     *prometheus.CounterVec
	latency      prometheus.Histogram
	batchSize    prometheus.Histogram
	writeRows    prometheus.Histogram
	writeTime    prometheus.Histogram
	writeErrors  prometheus.Counter
	latestErrors prometheus.Counter
	fenceDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "position_updates_count",
			Help: "Positions accepted and stored.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tracking_positions_rejected_total",
			Help: "Positions refused before storage, by reason.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tracking_ingest_duration_seconds",
			Help:    "Time from a decoded batch to its acknowledgement (filters, durable write, latest positions).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tracking_batch_points",
			Help:    "Points per batch received.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		writeRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tracking_commit_rows",
			Help:    "Rows per group commit (several batches share one).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		writeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tracking_commit_duration_seconds",
			Help:    "Time of one group commit (COPY or INSERT and commit).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tracking_write_errors_total",
			Help: "Batches not stored because the write failed (answered 503).",
		}),
		latestErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tracking_latest_update_errors_total",
			Help: "Failures updating the latest-position index after a commit.",
		}),
		fenceDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tracking_geofence_batches_dropped_total",
			Help: "Committed batches the geofence engine could not take in time.",
		}),
	}
	reg.MustRegister(m.accepted, m.rejected, m.latency, m.batchSize, m.writeRows, m.writeTime, m.writeErrors, m.latestErrors, m.fenceDropped)
	for _, r := range ingest.Reasons {
		m.rejected.WithLabelValues(string(r))
	}
	return m
}

func (m *metrics) observeWrite(rows int, d time.Duration) {
	m.writeRows.Observe(float64(rows))
	m.writeTime.Observe(d.Seconds())
}

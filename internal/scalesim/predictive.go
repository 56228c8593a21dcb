package scalesim

import (
	"fmt"
	"math"
	"time"

	"github.com/backhaul/backhaul/internal/autoscale"
	"github.com/backhaul/backhaul/internal/scalesim/forecast"
)

// scheduledMetric carries the predictive minimum to the HPA the way KEDA's
// cron scaler carries a schedule: an External metric whose value is the
// replica count wanted, with an AverageValue target of 1, so that the HPA
// proposes exactly that many replicas. The HPA takes the largest proposal of
// its metrics, so the forecast can raise the replica count but never lower
// it below what the load metrics ask for, and every scale-up and scale-down
// still passes the behavior's stabilization windows and policies.
var scheduledMetric = autoscale.MetricSpec{
	Type: autoscale.ExternalMetric, Name: "scheduled_replicas",
	Target: autoscale.MetricTarget{Type: autoscale.AverageValueTarget, AverageValue: 1},
}

// historyDays is how much of the scenario's ordinary past the forecaster sees
// before the run: four weeks, enough for a weekly season and a trend.
const historyDays = 28

// LeadTime is how far ahead of a forecast peak the predictive minimum must
// rise so that its pods serve the peak: the HPA sees the new minimum at its
// next sync, holds a scale-up for the behavior's stabilization window, may
// need a node (a scan, then the node's provisioning), and the pod then
// starts; the metrics lag applies to the load metrics the minimum stands in
// for.
func LeadTime(c Cluster, m ServiceModel, spec autoscale.Spec) time.Duration {
	window := 0
	if spec.Behavior != nil && spec.Behavior.ScaleUp != nil && spec.Behavior.ScaleUp.StabilizationWindowSeconds != nil {
		window = *spec.Behavior.ScaleUp.StabilizationWindowSeconds
	}
	return m.StartUp + c.MetricsLag + c.HPASyncPeriod + time.Duration(window)*time.Second +
		c.ScanInterval + c.NodeProvision + c.ImagePullOnNewNode
}

// fitForecasts fits every service's forecast on its ordinary history before
// the run and what the run has observed up to now.
func (s *sim) fitForecasts(now time.Time) error {
	bucket := s.cl.PredictiveHistoryBucket
	from := s.start.AddDate(0, 0, -historyDays)
	for _, sv := range s.services {
		var values []float64
		for t := from; t.Before(s.start); t = t.Add(bucket) {
			values = append(values, bucketMean(s.cfg.Scenario.Usual, sv.model.Service, t, bucket))
		}
		values = append(values, sv.observed...)
		// Keep the last five weeks: the trend looks back four.
		if keep := 35 * int(24*time.Hour/bucket); len(values) > keep {
			values = values[len(values)-keep:]
		}
		startAt := now.Add(-time.Duration(len(values)) * bucket)
		m, err := forecast.Fit(startAt, bucket, values)
		if err != nil {
			return fmt.Errorf("forecast %s: %w", sv.model.Service, err)
		}
		sv.forecast = m
	}
	return nil
}

// bucketMean averages a load curve over [t, t+bucket) at one-minute points.
func bucketMean(load func(string, time.Time) float64, service string, t time.Time, bucket time.Duration) float64 {
	n := max(1, int(bucket/time.Minute))
	sum := 0.0
	for i := range n {
		sum += load(service, t.Add(time.Duration(i)*bucket/time.Duration(n)+bucket/time.Duration(2*n)))
	}
	return sum / float64(n)
}

// plannedFloor is the predictive minimum at now: enough pods for the highest
// load forecast between now and one lead time ahead, at the load per pod the
// HPA settles at, within the HPA's minimum and maximum.
func (s *sim) plannedFloor(sv *service, now time.Time) int {
	if sv.forecast == nil || sv.loadAtTarget <= 0 {
		return 0
	}
	lead := LeadTime(s.cl, sv.model, sv.spec)
	peak := sv.forecast.Max(now, now.Add(lead+s.cl.HPASyncPeriod))
	n := int(math.Ceil(peak / sv.loadAtTarget))
	return max(sv.spec.MinReplicas, min(sv.spec.MaxReplicas, n))
}

// observe adds the step's arrivals to the service's observed history.
func (s *sim) observe(sv *service, t time.Time, load float64) {
	bucket := s.cl.PredictiveHistoryBucket
	sv.bucketSum += load * s.cfg.Step.Seconds()
	if end := t.Add(s.cfg.Step); end.Sub(s.start)%bucket == 0 {
		sv.observed = append(sv.observed, sv.bucketSum/bucket.Seconds())
		sv.bucketSum = 0
	}
}

package scalesim

import (
	"slices"
	"time"

	"github.com/backhaul/backhaul/internal/autoscale"
)

// back returns the sample k steps before the newest one.
func (sv *service) back(k int) sample {
	k = min(k, len(sv.ring)-1)
	i := (sv.steps - 1 - k) % len(sv.ring)
	if i < 0 {
		i += len(sv.ring)
	}
	return sv.ring[i]
}

// average is the mean of f over the window of the given span ending lag ago.
func (s *sim) average(sv *service, lag, span time.Duration, f func(sample) (float64, bool)) float64 {
	k0 := int(lag / s.cfg.Step)
	n := max(1, int(span/s.cfg.Step))
	sum, count := 0.0, 0
	for k := k0; k < k0+n; k++ {
		if v, ok := f(sv.back(k)); ok {
			sum += v
			count++
		}
	}
	if count == 0 {
		return 0
	}
	return sum / float64(count)
}

func perPod(total float64, smp sample) (float64, bool) {
	if smp.ready == 0 {
		return 0, false
	}
	return total / float64(smp.ready), true
}

// share is a backlog total as the HPA reads it: every pod exports the
// whole shared queue, and the Prometheus Adapter rule divides it by the
// number of pods reporting (deploy/kubernetes/cluster), so the per-pod
// average is each pod's share and the HPA asks for total / target pods.
func share(total float64, states []podState) float64 {
	n := 0
	for _, st := range states {
		if st == podReporting {
			n++
		}
	}
	if n == 0 {
		return total
	}
	return total / float64(n)
}

// podState is how the metrics pipeline sees a pod at a sync.
type podState int

const (
	podReporting podState = iota // ready long enough to have a sample in the window
	podNoSample                  // running, not yet scraped: missing to the HPA
	podPending                   // not scheduled, or not ready (unready to the HPA for cpu)
)

func (s *sim) podStates(sv *service, now time.Time) []podState {
	states := make([]podState, len(sv.pods))
	for i, p := range sv.pods {
		switch {
		case p.node == nil:
			states[i] = podPending
		case p.readyAt.After(now):
			states[i] = podPending
		case p.readyAt.After(now.Add(-s.cl.MetricsLag)):
			states[i] = podNoSample
		}
	}
	return states
}

// readings are what the HPA reads at now: every metric lags by the scrape
// interval, rates are averaged over the adapter's rate window and CPU over
// metrics-server's resolution.
func (s *sim) readings(sv *service, now time.Time) []autoscale.MetricReading {
	states := s.podStates(sv, now)
	m := sv.model
	var out []autoscale.MetricReading
	for _, x := range sv.spec.Metrics {
		r := autoscale.MetricReading{Type: x.Type, Name: x.Name}
		var value float64
		if x.Type == autoscale.ResourceMetric {
			value = s.average(sv, s.cl.MetricsLag, s.cl.CPUWindow, func(smp sample) (float64, bool) { return perPod(smp.cpu, smp) })
		} else {
			mt, _ := m.metric(x.Name)
			switch mt.Kind {
			case RateMetric:
				value = s.average(sv, s.cl.MetricsLag, s.cl.RateWindow, func(smp sample) (float64, bool) {
					return perPod(smp.arrivals*mt.PerUnit, smp)
				})
			case GaugeMetric:
				smp := sv.back(int(s.cl.MetricsLag / s.cfg.Step))
				value, _ = perPod(smp.arrivals*mt.PerUnit, smp)
			case WaitingMetric:
				value = share(sv.back(int(s.cl.MetricsLag/s.cfg.Step)).waiting, states)
			case QueuedOrRunningMetric:
				smp := sv.back(int(s.cl.MetricsLag / s.cfg.Step))
				value = share(smp.waiting+smp.inflight, states)
			}
		}
		for _, st := range states {
			ps := autoscale.PodSample{Value: value, Request: m.CPURequest}
			switch {
			case st == podPending:
				ps = autoscale.PodSample{Unready: true, Request: m.CPURequest}
			case st == podNoSample && x.Type == autoscale.ResourceMetric:
				ps = autoscale.PodSample{Unready: true, Request: m.CPURequest}
			case st == podNoSample:
				ps = autoscale.PodSample{Missing: true, Request: m.CPURequest}
			}
			r.Pods = append(r.Pods, ps)
		}
		out = append(out, r)
	}
	if s.cfg.Predictive {
		out = append(out, autoscale.MetricReading{Type: autoscale.ExternalMetric, Name: scheduledMetric.Name, Value: float64(sv.floor)})
	}
	return out
}

// reconcile is one HPA sync: read, step, and resize the deployment.
func (s *sim) reconcile(sv *service, now time.Time) {
	if s.cfg.Predictive {
		sv.floor = s.plannedFloor(sv, now)
	}
	current := len(sv.pods)
	desired, _ := sv.hpa.Step(now, current, s.readings(sv, now))
	sv.res.syncs = append(sv.res.syncs, syncRecord{at: now, before: current, after: desired, floor: sv.floor})
	switch {
	case desired > current:
		sv.res.ScaleUps++
		for range desired - current {
			sv.pods = append(sv.pods, &pod{})
		}
	case desired < current:
		sv.res.ScaleDowns++
		sv.removePods(now, current-desired)
	}
}

// removePods deletes n pods in the ReplicaSet controller's order: pending
// before scheduled, not ready before ready, the most recently ready first.
func (sv *service) removePods(now time.Time, n int) {
	rank := func(p *pod) int {
		switch {
		case p.node == nil:
			return 0
		case p.readyAt.After(now):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(sv.pods, func(a, b *pod) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return b.readyAt.Compare(a.readyAt)
	})
	for _, p := range sv.pods[:n] {
		if p.node != nil {
			sv.grp.release(p.node, sv.model.CPURequest, sv.model.MemRequest)
		}
	}
	sv.pods = slices.Delete(sv.pods, 0, n)
}

package market

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// TestRunRetrainsOnDemandAcrossReplicas runs two replicas on one store, and
// a third process that only follows: an operator's request to one of them
// is trained once, and all three end up quoting with the new model.
func TestRunRetrainsOnDemandAcrossReplicas(t *testing.T) {
	// With fewer bookings (2,000) the model's range can miss its
	// calibration on the held-back ones, and the rate table rightly stays.
	file := sharedBookings(t, 0, 48000, 20)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		mustImport(t, db, file)
		reg := prometheus.NewRegistry()
		start := func(reg prometheus.Registerer, follow bool) (*Service, func()) {
			s, err := New(db, nil, reg, Options{Now: func() time.Time { return testClock }, RetrainAt: -1, Poll: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			run := s.Run
			if follow {
				run = s.Follow
			}
			go func() { done <- run(ctx) }()
			return s, func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run returned %v on shutdown, want nil", err)
				}
			}
		}
		a, stopA := start(reg, false)
		defer stopA()
		b, stopB := start(nil, false)
		defer stopB()
		c, stopC := start(nil, true) // quotes for a load service, never trains
		defer stopC()
		if m, _ := a.InService(); m.Kind != KindTable {
			t.Fatalf("before training: %+v, want the table", m)
		}
		if got := gauge(a.met.mape); !(got > 0.05 && got < 0.2) {
			t.Errorf("holdout MAPE gauge of the table = %g", got)
		}

		code, _ := newAPI(t, a).do(operatorP, "POST", "/api/v1/market/model/retrain", "", nil)
		if code != 202 {
			t.Fatalf("retrain: %d", code)
		}
		waitFor(t, "every replica to serve the model", func() bool {
			if r, ok, _ := a.TrainingRun(context.Background(), 1); ok && r.Status != RunQueued && r.Status != RunRunning && r.Status != RunAccepted {
				t.Fatalf("run %s: %s", r.Status, r.Message)
			}
			ma, _ := a.InService()
			mb, _ := b.InService()
			mc, _ := c.InService()
			return ma.Kind == KindModel && mb.Kind == KindModel && ma.Version == mb.Version && mc.Version == ma.Version
		})
		runs, err := a.TrainingRuns(context.Background(), 10)
		if err != nil || len(runs) != 1 || runs[0].Status != RunAccepted {
			t.Fatalf("runs %+v (%v), want one accepted", runs, err)
		}
		if m, _ := a.InService(); m.Holdout == nil || gauge(a.met.mape) != m.Holdout.MAPE ||
			gauge(a.met.coverage) != m.Holdout.Coverage || gauge(a.met.version) != float64(runs[0].ModelID) {
			t.Errorf("gauges %g, %g, %g; want the model's %+v", gauge(a.met.mape), gauge(a.met.coverage),
				gauge(a.met.version), m.Holdout)
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, f := range families {
			names[f.GetName()] = true
		}
		for _, want := range []string{"market_model_holdout_mape", "market_model_holdout_coverage", "market_quote_duration_seconds",
			"market_training_runs_total", "market_training_duration_seconds", "market_model_version"} {
			if !names[want] {
				t.Errorf("metric %s not registered", want)
			}
		}
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func gauge(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		panic(err)
	}
	return m.GetGauge().GetValue()
}

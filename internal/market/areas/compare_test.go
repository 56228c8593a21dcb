package areas_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/backhaul/backhaul/internal/market/areas"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
)

// BenchmarkAreasMAPE trains the rate model on a random 80% of the booking
// history twice, once with the market areas and once with the rate model's
// default grid, and scores both on the same held-back 20%. It reports each
// one's MAPE and coverage, and kma-better: 1 when ratemodel.Better (the rule
// that decides whether a retrained model replaces the one in service)
// prefers the market areas. BACKHAUL_SEED picks the split (default 1).
//
//	BACKHAUL_SEED=1 go test -run XXX -bench AreasMAPE -benchtime 1x ./internal/market/areas/
func BenchmarkAreasMAPE(b *testing.B) {
	f, err := os.Open(sharedData(b, "market", "bookings.csv"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	all, _, err := ratemodel.ReadBookings(f)
	if err != nil {
		b.Fatal(err)
	}
	seed := uint64(1)
	if s := os.Getenv("BACKHAUL_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			b.Fatalf("BACKHAUL_SEED: %v", err)
		}
	}
	train, held := ratemodel.Split(all, 0.2, seed)
	for b.Loop() {
		var scores []ratemodel.Metrics
		for _, c := range []struct {
			name  string
			areas ratemodel.Areas
		}{{"kma", areas.Default()}, {"grid", ratemodel.DefaultAreas()}} {
			m, _, err := ratemodel.Train(context.Background(), train, ratemodel.Options{Seed: seed, Areas: c.areas})
			if err != nil {
				b.Fatal(err)
			}
			met, err := ratemodel.Evaluate(m, held)
			if err != nil {
				b.Fatal(err)
			}
			scores = append(scores, met)
			b.ReportMetric(100*met.MAPE, "mape%-"+c.name)
			b.ReportMetric(100*met.Coverage, "coverage%-"+c.name)
		}
		better := 0.0
		if ratemodel.Better(scores[0], scores[1]) {
			better = 1
		}
		b.ReportMetric(better, "kma-better")
	}
}

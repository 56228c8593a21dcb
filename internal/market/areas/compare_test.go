package areas_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/backhaul/backhaul/internal/market/areas"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
)

// BenchmarkAreasMAPE trains the rate model on 80% of the booking history
// twice, once with the market areas and once with the default grid, and
// reports the MAPE and coverage of each on the same held-back 20%. The seed
// of the split is BACKHAUL_SEED (default 1).
//
//	go test -run XXX -bench AreasMAPE -benchtime 1x ./internal/market/areas/
func BenchmarkAreasMAPE(b *testing.B) {
	path := sharedData(b, "market", "bookings.csv")
	f, err := os.Open(path)
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
			b.ReportMetric(100*met.MAPE, "mape%-"+c.name)
			b.ReportMetric(100*met.Coverage, "coverage%-"+c.name)
		}
	}
}

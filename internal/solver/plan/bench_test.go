package plan

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"
)

var (
	benchLimit = flag.Duration("plan.limit", 10*time.Second, "time limit of each search in BenchmarkFleet")
	benchLarge = flag.Bool("plan.large", false, "BenchmarkFleet plans 2,000 loads for 500 trucks over a week instead")
)

// BenchmarkFleet plans 200 loads for 40 trucks across 50 US freight hubs
// over three days, with the search and with the nearest-truck greedy
// dispatcher on the same instance, and reports loads served, trucks used
// and the share of empty miles of each; then the search once more on just
// the loads the dispatcher served, so that trucks and empty miles compare
// on the same work. Run it once per instance:
//
//	go test ./internal/solver/plan -run '^$' -bench Fleet -benchtime 1x -plan.limit 10s
//
// -plan.large plans 2,000 loads for 500 trucks instead, the format's limit.
func BenchmarkFleet(b *testing.B) {
	type size struct {
		name          string
		loads, trucks int
		spread        time.Duration
		seeds         []uint64
	}
	sizes := []size{{"3.5days", 200, 40, 84 * time.Hour, []uint64{1, 2, 3}}, {"week", 200, 40, 7 * 24 * time.Hour, []uint64{1, 2, 3}}}
	if *benchLarge {
		sizes = []size{{"2000x500-week", 2000, 500, 7 * 24 * time.Hour, []uint64{1}}}
	}
	for _, c := range sizes {
		for _, seed := range c.seeds {
			b.Run(fmt.Sprintf("%s/seed%d", c.name, seed), func(b *testing.B) {
				p := scenarioOver(b, seed, c.loads, c.trucks, true, c.spread)
				for b.Loop() {
					g, err := Greedy(p)
					if err != nil {
						b.Fatal(err)
					}
					var first time.Duration
					sol, err := Solve(context.Background(), p, Options{TimeLimit: *benchLimit, Seed: seed, Progress: func(pr Progress) {
						if first == 0 {
							first = pr.Elapsed
						}
					}})
					if err != nil {
						b.Fatal(err)
					}
					for _, s := range []*Solution{&g, &sol} {
						if v := Check(p, s); len(v) > 0 {
							b.Fatalf("infeasible: %v", v[0])
						}
					}
					// The search again on the loads the greedy dispatcher
					// served: the same work, so trucks and empty miles compare.
					served := map[string]bool{}
					for _, tp := range g.Plans {
						for _, st := range tp.Stops {
							served[st.LoadID] = true
						}
					}
					same := *p
					same.Loads = nil
					for _, l := range p.Loads {
						if served[l.ID] {
							same.Loads = append(same.Loads, l)
						}
					}
					eq, err := Solve(context.Background(), &same, Options{TimeLimit: *benchLimit, Seed: seed})
					if err != nil {
						b.Fatal(err)
					}
					if v := Check(&same, &eq); len(v) > 0 {
						b.Fatalf("infeasible: %v", v[0])
					}
					b.ReportMetric(float64(eq.Served), "same-served")
					b.ReportMetric(float64(eq.Trucks), "same-trucks")
					b.ReportMetric(100*eq.EmptyMiles/eq.Miles, "same-empty%")
					b.ReportMetric(eq.EmptyMiles, "same-empty-mi")
					b.ReportMetric(first.Seconds(), "first-plan-s")
					b.ReportMetric(float64(sol.Served), "served")
					b.ReportMetric(float64(sol.Trucks), "trucks")
					b.ReportMetric(100*sol.EmptyMiles/sol.Miles, "empty%")
					b.ReportMetric(sol.EmptyMiles, "empty-mi")
					b.ReportMetric(float64(sol.Iterations), "iters")
					b.ReportMetric(float64(g.Served), "greedy-served")
					b.ReportMetric(float64(g.Trucks), "greedy-trucks")
					b.ReportMetric(100*g.EmptyMiles/g.Miles, "greedy-empty%")
					b.ReportMetric(g.EmptyMiles, "greedy-empty-mi")
				}
			})
		}
	}
}

package assign

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestQuickMedium(t *testing.T) {
	for _, name := range []string{"small", "medium"} {
		t0 := time.Now()
		f, _ := os.Open("/work/shared/data/matching/" + name + ".json")
		s, err := DecodeScenario(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		edges, err := Candidates(context.Background(), &s)
		t2 := time.Now()
		sol, err := Solve(context.Background(), len(s.Drivers), len(s.Loads), edges)
		t3 := time.Now()
		g := Greedy(&s, edges)
		t.Logf("%s: edges %d decode %v cand %v solve %v: %d %.2f greedy %d %.2f", name, len(edges), t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), sol.Assigned(), sol.DeadheadMiles, g.Assigned(), g.DeadheadMiles)
	}
}

func TestQuick10k(t *testing.T) {
	s := generateScenario(1, 10000, 10000)
	t1 := time.Now()
	edges, _ := Candidates(context.Background(), &s)
	t2 := time.Now()
	sol, _ := Solve(context.Background(), len(s.Drivers), len(s.Loads), edges)
	t3 := time.Now()
	g := Greedy(&s, edges)
	comps := components(len(s.Drivers), len(s.Loads), edges)
	t.Logf("comps %d largest %d/%d/%d", len(comps), len(comps[0].drivers), len(comps[0].loads), len(comps[0].edges))
	t.Logf("10k: edges %d cand %v solve %v: %d %.2f greedy %d %.2f", len(edges), t2.Sub(t1), t3.Sub(t2), sol.Assigned(), sol.DeadheadMiles, g.Assigned(), g.DeadheadMiles)
}

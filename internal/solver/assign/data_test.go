package assign

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/backhaul/backhaul/internal/testenv"
)

// matchingDir is the shared matching scenarios folder beside the repository.
func matchingDir(t testing.TB) string { return testenv.Shared(t, "data", "matching") }

// optimum is the content of a *.optimum.json file.
type optimum struct {
	Scenario             string  `json:"scenario"`
	OptimalAssigned      int     `json:"optimal_assigned"`
	OptimalDeadheadMiles float64 `json:"optimal_deadhead_miles"`
	GreedyAssigned       int     `json:"greedy_assigned"`
	GreedyDeadheadMiles  float64 `json:"greedy_deadhead_miles"`
}

func loadBenchmark(t testing.TB, name string) (raw []byte, want optimum) {
	t.Helper()
	dir := matchingDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		testenv.Unavailable(t, "scenario %s: %v", name, err)
	}
	o, err := os.ReadFile(filepath.Join(dir, name+".optimum.json"))
	if err != nil {
		testenv.Unavailable(t, "optimum of %s: %v", name, err)
	}
	if err := json.Unmarshal(o, &want); err != nil {
		t.Fatalf("%s.optimum.json: %v", name, err)
	}
	return raw, want
}

// TestBenchmarkScenarios solves the published scenarios: exactly the
// optimal coverage and the optimal deadhead within 0.5% (the files round
// to a tenth of a mile, so in practice within 0.05 miles), and the greedy
// baseline reproduces the files' greedy figures.
func TestBenchmarkScenarios(t *testing.T) {
	for _, name := range []string{"small", "medium"} {
		t.Run(name, func(t *testing.T) {
			raw, want := loadBenchmark(t, name)
			s, err := DecodeScenario(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			edges := mustCandidates(t, &s)
			sol, err := Solve(context.Background(), len(s.Drivers), len(s.Loads), edges)
			if err != nil {
				t.Fatal(err)
			}
			if sol.Assigned() != want.OptimalAssigned {
				t.Errorf("assigned: got %d, want %d", sol.Assigned(), want.OptimalAssigned)
			}
			if gap := math.Abs(sol.DeadheadMiles - want.OptimalDeadheadMiles); gap > 0.005*want.OptimalDeadheadMiles {
				t.Errorf("deadhead: got %.2f, want %.1f within 0.5%%", sol.DeadheadMiles, want.OptimalDeadheadMiles)
			}
			checkMatching(t, len(s.Drivers), len(s.Loads), edges, sol)
			for _, p := range sol.Pairs {
				if miles, ok := Feasible(s.Params, &s.Drivers[p.Driver], &s.Loads[p.Load]); !ok || miles != p.Miles {
					t.Fatalf("pair %+v: Feasible says %v, %v miles", p, ok, miles)
				}
			}
			for i, c := range components(len(s.Drivers), len(s.Loads), edges) {
				k := c.problem(edges)
				if err := k.run(context.Background()); err != nil {
					t.Fatal(err)
				}
				if err := certify(k); err != nil {
					t.Fatalf("component %d: %v", i, err)
				}
			}

			g := Greedy(&s, edges)
			if g.Assigned() != want.GreedyAssigned {
				t.Errorf("greedy assigned: got %d, want %d", g.Assigned(), want.GreedyAssigned)
			}
			if math.Abs(g.DeadheadMiles-want.GreedyDeadheadMiles) > 0.05+1e-6 {
				t.Errorf("greedy deadhead: got %.2f, want %.1f", g.DeadheadMiles, want.GreedyDeadheadMiles)
			}
			checkMatching(t, len(s.Drivers), len(s.Loads), edges, g)
			t.Logf("%d edges; optimal %d loads %.2f miles (file %.1f); greedy %d loads %.2f miles",
				len(edges), sol.Assigned(), sol.DeadheadMiles, want.OptimalDeadheadMiles, g.Assigned(), g.DeadheadMiles)
		})
	}
}

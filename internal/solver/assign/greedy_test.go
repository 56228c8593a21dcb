package assign

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestGreedy(t *testing.T) {
	// loads lists the end of each load's pickup window, in hours after t0.
	scenario := func(drivers int, latest ...int) *Scenario {
		s := &Scenario{Drivers: make([]Driver, drivers)}
		for i, h := range latest {
			s.Loads = append(s.Loads, Load{ID: fmt.Sprintf("L%d", i), PickupLatest: t0.Add(time.Duration(h) * time.Hour)})
		}
		return s
	}
	type pair struct{ d, l int }
	tests := []struct {
		name      string
		s         *Scenario
		edges     []Edge
		wantPairs []pair // sorted by load
		wantMiles float64
		// The optimum, for the cases where greedy misses it.
		optAssigned int
		optMiles    float64
	}{
		{
			// L0 closes first and takes D0, its nearest; L1 is left
			// without a driver although D1-L0 plus D0-L1 covers both.
			name: "first load takes the nearest", s: scenario(2, 3, 5),
			edges:     []Edge{{0, 0, 5}, {0, 1, 1}, {1, 0, 6}},
			wantPairs: []pair{{0, 0}}, wantMiles: 5,
			optAssigned: 2, optMiles: 7,
		},
		{
			name: "pickup order is the end of the window", s: scenario(2, 5, 3),
			edges:     []Edge{{0, 0, 5}, {0, 1, 1}, {1, 0, 6}},
			wantPairs: []pair{{1, 0}, {0, 1}}, wantMiles: 7,
		},
		{
			name: "equal windows go by ID", s: scenario(1, 4, 4),
			edges:     []Edge{{0, 1, 1}, {0, 0, 9}},
			wantPairs: []pair{{0, 0}}, wantMiles: 9,
		},
		{
			name: "equal miles go to the lower driver index", s: scenario(3, 4),
			edges:     []Edge{{2, 0, 3}, {1, 0, 3}, {0, 0, 4}},
			wantPairs: []pair{{1, 0}}, wantMiles: 3,
		},
		{name: "no edges", s: scenario(2, 1, 2), wantPairs: []pair{}, wantMiles: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sol := Greedy(tt.s, tt.edges)
			got := []pair{}
			for _, p := range sol.Pairs {
				got = append(got, pair{p.Driver, p.Load})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantPairs) {
				t.Errorf("pairs: got %v, want %v", got, tt.wantPairs)
			}
			if math.Abs(sol.DeadheadMiles-tt.wantMiles) > 1e-9 {
				t.Errorf("deadhead: got %v, want %v", sol.DeadheadMiles, tt.wantMiles)
			}
			if tt.optAssigned > 0 {
				opt, err := Solve(context.Background(), len(tt.s.Drivers), len(tt.s.Loads), tt.edges)
				if err != nil {
					t.Fatal(err)
				}
				if opt.Assigned() != tt.optAssigned || math.Abs(opt.DeadheadMiles-tt.optMiles) > 1e-9 {
					t.Errorf("Solve: got %d loads, %v miles; want %d, %v", opt.Assigned(), opt.DeadheadMiles, tt.optAssigned, tt.optMiles)
				}
			}
		})
	}
}

package assign

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestSolveHandMade(t *testing.T) {
	type pair struct{ d, l int }
	tests := []struct {
		name           string
		drivers, loads int
		edges          []Edge
		wantAssigned   int
		wantMiles      float64
		wantPairs      []pair // sorted by load
	}{
		{name: "no edges", drivers: 2, loads: 3, wantAssigned: 0, wantMiles: 0, wantPairs: []pair{}},
		{
			name: "one pair", drivers: 1, loads: 1,
			edges:        []Edge{{0, 0, 12.5}},
			wantAssigned: 1, wantMiles: 12.5, wantPairs: []pair{{0, 0}},
		},
		{
			// Nearest-first gives D0 its 1-mile load and strands D1 on the
			// 100-mile one; swapping costs 4 miles in all.
			name: "nearest first is not optimal", drivers: 2, loads: 2,
			edges:        []Edge{{0, 0, 1}, {0, 1, 2}, {1, 0, 2}, {1, 1, 100}},
			wantAssigned: 2, wantMiles: 4, wantPairs: []pair{{1, 0}, {0, 1}},
		},
		{
			// One pair costs 1 mile; covering both loads costs 20.
			name: "covering more loads beats fewer miles", drivers: 2, loads: 2,
			edges:        []Edge{{0, 0, 1}, {0, 1, 10}, {1, 0, 10}},
			wantAssigned: 2, wantMiles: 20, wantPairs: []pair{{1, 0}, {0, 1}},
		},
		{
			// Adding drivers one at a time, D0 takes L0 first; D1 must take
			// it from D0, who is left without a load.
			name: "a later driver displaces an earlier one", drivers: 2, loads: 1,
			edges:        []Edge{{0, 0, 100}, {1, 0, 1}},
			wantAssigned: 1, wantMiles: 1, wantPairs: []pair{{1, 0}},
		},
		{
			name: "same with loads as the smaller side", drivers: 1, loads: 2,
			edges:        []Edge{{0, 0, 100}, {0, 1, 1}},
			wantAssigned: 1, wantMiles: 1, wantPairs: []pair{{0, 1}},
		},
		{
			// Added one at a time, D0 and D1 take their 1-mile loads; D2 can
			// only take L0, which pushes D0 to L1 and D1 to L2.
			name: "long augmenting path", drivers: 3, loads: 3,
			edges: []Edge{
				{0, 0, 1}, {0, 1, 2}, {1, 1, 1}, {1, 2, 2}, {2, 0, 1},
			},
			wantAssigned: 3, wantMiles: 5, wantPairs: []pair{{2, 0}, {0, 1}, {1, 2}},
		},
		{
			name: "parallel edges use the cheaper", drivers: 1, loads: 1,
			edges:        []Edge{{0, 0, 9}, {0, 0, 3}, {0, 0, 7}},
			wantAssigned: 1, wantMiles: 3, wantPairs: []pair{{0, 0}},
		},
		{
			name: "independent components", drivers: 4, loads: 4,
			edges:        []Edge{{0, 0, 1}, {1, 0, 2}, {1, 1, 5}, {2, 3, 0}, {3, 3, 4}, {3, 2, 6}},
			wantAssigned: 4, wantMiles: 12, wantPairs: []pair{{0, 0}, {1, 1}, {3, 2}, {2, 3}},
		},
		{
			name: "zero miles", drivers: 2, loads: 2,
			edges:        []Edge{{0, 0, 0}, {1, 1, 0}, {0, 1, 0}},
			wantAssigned: 2, wantMiles: 0, wantPairs: []pair{{0, 0}, {1, 1}},
		},
		{
			// Two drivers compete for a hub load; the one with a second
			// option moves even though its alternative is far.
			name: "hall violation leaves one load uncovered", drivers: 3, loads: 3,
			edges:        []Edge{{0, 0, 3}, {1, 0, 4}, {2, 0, 5}, {2, 1, 200}},
			wantAssigned: 2, wantMiles: 203, wantPairs: []pair{{0, 0}, {2, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sol, err := Solve(context.Background(), tt.drivers, tt.loads, tt.edges)
			if err != nil {
				t.Fatalf("Solve: %v", err)
			}
			if got := sol.Assigned(); got != tt.wantAssigned {
				t.Errorf("assigned: got %d, want %d", got, tt.wantAssigned)
			}
			if math.Abs(sol.DeadheadMiles-tt.wantMiles) > 1e-9 {
				t.Errorf("deadhead: got %v, want %v", sol.DeadheadMiles, tt.wantMiles)
			}
			checkMatching(t, tt.drivers, tt.loads, tt.edges, sol)
			if tt.wantPairs != nil {
				got := []pair{}
				for _, p := range sol.Pairs {
					got = append(got, pair{p.Driver, p.Load})
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.wantPairs) {
					t.Errorf("pairs: got %v, want %v", got, tt.wantPairs)
				}
			}
		})
	}
}

func TestSolveRejectsBadEdges(t *testing.T) {
	tests := []struct {
		name  string
		edges []Edge
	}{
		{"driver out of range", []Edge{{2, 0, 1}}},
		{"negative driver", []Edge{{-1, 0, 1}}},
		{"load out of range", []Edge{{0, 2, 1}}},
		{"negative miles", []Edge{{0, 0, -1}}},
		{"NaN miles", []Edge{{0, 0, math.NaN()}}},
		{"infinite miles", []Edge{{0, 0, math.Inf(1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Solve(context.Background(), 2, 2, tt.edges); err == nil {
				t.Errorf("Solve(%v): got nil error, want one", tt.edges)
			}
		})
	}
}

func TestSolveHonoursCancellation(t *testing.T) {
	s := generateScenario(7, 300, 300)
	edges, err := Candidates(context.Background(), &s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Solve(ctx, len(s.Drivers), len(s.Loads), edges); !errors.Is(err, context.Canceled) {
		t.Errorf("Solve with a cancelled context: got %v, want context.Canceled", err)
	}
	if _, err := Candidates(ctx, &s); !errors.Is(err, context.Canceled) {
		t.Errorf("Candidates with a cancelled context: got %v, want context.Canceled", err)
	}
}

// randomEdges draws a sparse random graph. Miles are sometimes whole
// numbers, so that ties between optima are common.
func randomEdges(rng *rand.Rand, drivers, loads int, density float64) []Edge {
	var edges []Edge
	for d := range drivers {
		for l := range loads {
			if rng.Float64() < density {
				m := rng.Float64() * 250
				if rng.IntN(2) == 0 {
					m = float64(rng.IntN(6))
				}
				edges = append(edges, Edge{Driver: d, Load: l, Miles: m})
			}
		}
	}
	return edges
}

// bruteForce enumerates every matching: the largest coverage, then the
// least miles.
func bruteForce(drivers, loads int, edges []Edge) (int, float64) {
	adj := make([][]Edge, drivers)
	for _, e := range edges {
		adj[e.Driver] = append(adj[e.Driver], e)
	}
	used := make([]bool, loads)
	bestN, bestM := 0, 0.0
	var rec func(d, n int, miles float64)
	rec = func(d, n int, miles float64) {
		if d == drivers {
			if n > bestN || (n == bestN && miles < bestM) {
				bestN, bestM = n, miles
			}
			return
		}
		rec(d+1, n, miles)
		for _, e := range adj[d] {
			if !used[e.Load] {
				used[e.Load] = true
				rec(d+1, n+1, miles+e.Miles)
				used[e.Load] = false
			}
		}
	}
	rec(0, 0, 0)
	return bestN, bestM
}

// roundingBound is how far Solve may be from the float optimum: each of
// the n pairs is rounded to a whole micro-mile, half a micro-mile off at
// most, on both the solution found and the true optimum.
func roundingBound(n int) float64 { return float64(n)/microMiles + 1e-9 }

func TestSolveMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 600 {
		nd, nl := 1+rng.IntN(6), 1+rng.IntN(6)
		edges := randomEdges(rng, nd, nl, 0.15+rng.Float64()*0.6)
		sol, err := Solve(context.Background(), nd, nl, edges)
		if err != nil {
			t.Fatalf("trial %d: Solve: %v", trial, err)
		}
		checkMatching(t, nd, nl, edges, sol)
		wantN, wantM := bruteForce(nd, nl, edges)
		if sol.Assigned() != wantN || math.Abs(sol.DeadheadMiles-wantM) > roundingBound(wantN) {
			t.Fatalf("trial %d (%d drivers, %d loads, edges %v): got %d loads, %.9f miles; want %d, %.9f",
				trial, nd, nl, edges, sol.Assigned(), sol.DeadheadMiles, wantN, wantM)
		}
	}
}

// hungarian is the textbook dense O(n^2 m) assignment (potentials and
// shortest augmenting paths over a full matrix), independent of the sparse
// solver: a[i][j] for n <= m rows, every row assigned. It returns the
// column of each row.
func hungarian(a [][]float64) []int {
	n, m := len(a), len(a[0])
	inf := math.Inf(1)
	u, v := make([]float64, n+1), make([]float64, m+1)
	p, way := make([]int, m+1), make([]int, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		minv := make([]float64, m+1)
		used := make([]bool, m+1)
		for j := range minv {
			minv[j] = inf
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], inf, 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				if cur := a[i0-1][j-1] - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	rowCol := make([]int, n)
	for j := 1; j <= m; j++ {
		if p[j] != 0 {
			rowCol[p[j]-1] = j - 1
		}
	}
	return rowCol
}

// denseOptimum solves the same problem with hungarian: drivers are rows;
// columns are the loads and one "unassigned" column per driver, with a
// penalty larger than any total of real miles and a prohibitive cost on
// missing edges.
func denseOptimum(drivers, loads int, edges []Edge) (int, float64) {
	const unassigned, missing = 1e6, 1e9
	a := make([][]float64, drivers)
	for d := range a {
		a[d] = make([]float64, loads+drivers)
		for j := range a[d] {
			a[d][j] = missing
		}
		a[d][loads+d] = unassigned
	}
	for _, e := range edges {
		a[e.Driver][e.Load] = math.Min(a[e.Driver][e.Load], e.Miles)
	}
	n, miles := 0, 0.0
	for d, j := range hungarian(a) {
		if j < loads {
			n++
			miles += a[d][j]
		}
	}
	return n, miles
}

func TestSolveMatchesDenseHungarian(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 60 {
		nd, nl := 5+rng.IntN(50), 5+rng.IntN(50)
		edges := randomEdges(rng, nd, nl, 0.02+rng.Float64()*0.2)
		sol, err := Solve(context.Background(), nd, nl, edges)
		if err != nil {
			t.Fatalf("trial %d: Solve: %v", trial, err)
		}
		checkMatching(t, nd, nl, edges, sol)
		wantN, wantM := denseOptimum(nd, nl, edges)
		// The dense solver works in floats around 1e6; allow its noise too.
		if sol.Assigned() != wantN || math.Abs(sol.DeadheadMiles-wantM) > roundingBound(wantN)+1e-6 {
			t.Fatalf("trial %d (%d drivers, %d loads): got %d loads, %.9f miles; want %d, %.9f",
				trial, nd, nl, sol.Assigned(), sol.DeadheadMiles, wantN, wantM)
		}
	}
}

// TestSolveLargeMiles checks the rounding when costs are so large that the
// integer unit must grow beyond a micro-mile: the result stays within
// 0.01% of the float optimum. Costs too large for whole miles are refused.
func TestSolveLargeMiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 200 {
		nd, nl := 1+rng.IntN(6), 1+rng.IntN(6)
		edges := randomEdges(rng, nd, nl, 0.5)
		for i := range edges {
			edges[i].Miles = edges[i].Miles*4e10 + rng.Float64()
		}
		if trial == 0 {
			k := components(nd, nl, edges)[0].problem(edges)
			if k.scale >= microMiles || k.scale < 1 {
				t.Fatalf("scale for miles up to %v: got %v, want in [1, %v)", k.maxMiles, k.scale, float64(microMiles))
			}
		}
		sol, err := Solve(context.Background(), nd, nl, edges)
		if err != nil {
			t.Fatal(err)
		}
		wantN, wantM := bruteForce(nd, nl, edges)
		if sol.Assigned() != wantN || math.Abs(sol.DeadheadMiles-wantM) > 1e-4*wantM+1e-9 {
			t.Fatalf("trial %d: got %d loads, %v miles; want %d, %v", trial, sol.Assigned(), sol.DeadheadMiles, wantN, wantM)
		}
	}
	_, err := Solve(context.Background(), 2, 2, []Edge{{0, 0, 1e300}, {1, 1, 2}})
	if !errors.Is(err, errTooLarge) {
		t.Errorf("Solve with 1e300-mile edges: got %v, want errTooLarge", err)
	}
}

// checkMatching fails the test unless sol uses only given edges, each
// driver and load at most once, and reports its own totals correctly.
func checkMatching(t *testing.T, drivers, loads int, edges []Edge, sol Solution) {
	t.Helper()
	type key struct{ d, l int }
	cheapest := map[key]float64{}
	for _, e := range edges {
		k := key{e.Driver, e.Load}
		if m, ok := cheapest[k]; !ok || e.Miles < m {
			cheapest[k] = e.Miles
		}
	}
	dUsed, lUsed := make([]bool, drivers), make([]bool, loads)
	total := 0.0
	for i, p := range sol.Pairs {
		m, ok := cheapest[key{p.Driver, p.Load}]
		if !ok || p.Miles != m {
			t.Fatalf("pair %v: not the cheapest given edge (cheapest %v, exists %v)", p, m, ok)
		}
		if dUsed[p.Driver] || lUsed[p.Load] {
			t.Fatalf("pair %v: driver or load used twice", p)
		}
		if i > 0 && sol.Pairs[i-1].Load >= p.Load {
			t.Fatalf("pairs not sorted by load at %d", i)
		}
		dUsed[p.Driver], lUsed[p.Load] = true, true
		total += p.Miles
	}
	if math.Abs(total-sol.DeadheadMiles) > 1e-6 {
		t.Fatalf("DeadheadMiles: got %v, want the pairs' sum %v", sol.DeadheadMiles, total)
	}
}

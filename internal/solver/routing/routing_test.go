package routing

import (
	"github.com/backhaul/backhaul/internal/testenv"

	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/backhaul/backhaul/internal/solver/check"
	"github.com/backhaul/backhaul/internal/solver/instance"
)

// benchmarksDir is the shared benchmarks folder beside the repository.
func benchmarksDir(t testing.TB) string { return testenv.Shared(t, "benchmarks") }

// randomInstance builds a small random instance with k requests whose
// windows leave every request servable alone.
func randomInstance(rng *rand.Rand, pd bool, k int) *instance.Instance {
	in := &instance.Instance{Name: "random", Problem: instance.VRPTW, Vehicles: 2 * k, Capacity: 10}
	if pd {
		in.Problem = instance.PDPTW
	}
	in.Nodes = append(in.Nodes, instance.Node{ID: 0, X: 50, Y: 50, Due: 400})
	for len(in.Nodes) < 1+k*(map[bool]int{true: 2, false: 1}[pd]) {
		id := len(in.Nodes)
		nd := instance.Node{ID: id, X: rng.Float64() * 100, Y: rng.Float64() * 100, Demand: 1 + rng.IntN(6), Service: 5}
		nd.Ready = math.Floor(rng.Float64() * 150)
		nd.Due = nd.Ready + 30 + math.Floor(rng.Float64()*120)
		if pd {
			dl := instance.Node{ID: id + 1, X: rng.Float64() * 100, Y: rng.Float64() * 100, Demand: -nd.Demand, Service: 5, Pickup: id}
			dl.Ready = nd.Ready + math.Floor(rng.Float64()*100)
			dl.Due = dl.Ready + 200
			nd.Delivery = id + 1
			in.Nodes = append(in.Nodes, nd, dl)
		} else {
			in.Nodes = append(in.Nodes, nd)
		}
		if err := in.Validate(); err != nil {
			in.Nodes = in.Nodes[:id] // unservable draw: try again
		}
	}
	in.Prepare()
	return in
}

// bruteForce returns the best (vehicles, distance) over every assignment of
// the task nodes to ordered routes, or ok=false when none is feasible.
func bruteForce(in *instance.Instance) (int, float64, bool) {
	n := in.N() - 1
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i + 1
	}
	bestV, bestD, ok := math.MaxInt, math.Inf(1), false
	var permute func(k int)
	permute = func(k int) {
		if k == n {
			// Every way of cutting the sequence into routes.
			for cuts := 0; cuts < 1<<(n-1); cuts++ {
				var routes [][]int
				cur := []int{perm[0]}
				for i := 1; i < n; i++ {
					if cuts&(1<<(i-1)) != 0 {
						routes = append(routes, cur)
						cur = nil
					}
					cur = append(cur, perm[i])
				}
				routes = append(routes, cur)
				res := check.Solution(in, routes)
				if res.Feasible && (res.Vehicles < bestV || res.Vehicles == bestV && res.Distance < bestD) {
					bestV, bestD, ok = res.Vehicles, res.Distance, true
				}
			}
			return
		}
		for i := k; i < n; i++ {
			perm[k], perm[i] = perm[i], perm[k]
			permute(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	permute(0)
	return bestV, bestD, ok
}

func TestSolveSmallToOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	tests := []struct {
		name string
		pd   bool
		k    int
	}{
		{"vrptw 6 customers", false, 6},
		{"vrptw 5 customers", false, 5},
		{"pdptw 3 requests", true, 3},
		{"pdptw 3 requests again", true, 3},
	}
	for i, tc := range tests {
		for rep := range 3 {
			in := randomInstance(rng, tc.pd, tc.k)
			wantV, wantD, ok := bruteForce(in)
			if !ok {
				t.Fatalf("%s #%d: brute force found no feasible solution", tc.name, rep)
			}
			sol, err := Solve(context.Background(), in, Options{MaxIterations: 3000, Seed: uint64(i)})
			if err != nil {
				t.Fatal(err)
			}
			res := check.Solution(in, sol.Routes)
			if !res.Feasible {
				t.Fatalf("%s #%d: infeasible: %v", tc.name, rep, res.Violations)
			}
			if res.Vehicles != wantV || math.Abs(res.Distance-wantD) > 1e-6 {
				t.Errorf("%s #%d: got %d vehicles %.4f, want %d vehicles %.4f", tc.name, rep, res.Vehicles, res.Distance, wantV, wantD)
			}
			if sol.Vehicles != res.Vehicles || math.Abs(sol.Distance-res.Distance) > 1e-6 {
				t.Errorf("%s #%d: solver reports %d/%.4f, checker %d/%.4f", tc.name, rep, sol.Vehicles, sol.Distance, res.Vehicles, res.Distance)
			}
		}
	}
}

func loadBenchmark(t testing.TB, rel string) *instance.Instance {
	t.Helper()
	in, err := instance.ReadFile(filepath.Join(benchmarksDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestSolveBenchmarksFeasible(t *testing.T) {
	tests := []struct {
		file     string
		maxVeh   int // a loose bound: construction plus a short search
		maxRatio float64
		bks      float64
	}{
		{"pdptw/lilim100/lc101.txt", 12, 1.15, 828.94},
		{"pdptw/lilim100/lrc201.txt", 6, 1.3, 1406.94},
		{"vrptw/solomon/R101.txt", 21, 1.15, 1650.80},
		{"vrptw/solomon/C201.txt", 4, 1.4, 591.56},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			in := loadBenchmark(t, tc.file)
			sol, err := Solve(context.Background(), in, Options{MaxIterations: 4000, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			res := check.Solution(in, sol.Routes)
			if !res.Feasible {
				t.Fatalf("infeasible: %v", res.Violations)
			}
			if res.Vehicles > tc.maxVeh || res.Distance > tc.maxRatio*tc.bks {
				t.Errorf("got %d vehicles %.2f, want at most %d vehicles and %.2f", res.Vehicles, res.Distance, tc.maxVeh, tc.maxRatio*tc.bks)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	in := loadBenchmark(t, "pdptw/lilim100/lr105.txt")
	for _, threads := range []int{1, 2} {
		opts := Options{MaxIterations: 1500, Seed: 42, Threads: threads}
		a, err := Solve(context.Background(), in, opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Solve(context.Background(), in, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Routes, b.Routes) {
			t.Errorf("threads=%d: got different routes for the same seed: %d/%.4f vs %d/%.4f", threads, a.Vehicles, a.Distance, b.Vehicles, b.Distance)
		}
	}
	// Another seed explores differently (guards against an ignored seed).
	a, _ := Solve(context.Background(), in, Options{MaxIterations: 1500, Seed: 1})
	b, _ := Solve(context.Background(), in, Options{MaxIterations: 1500, Seed: 2})
	if reflect.DeepEqual(a.Routes, b.Routes) {
		t.Errorf("got identical routes for seeds 1 and 2")
	}
}

func TestCancellation(t *testing.T) {
	in := loadBenchmark(t, "vrptw/solomon/R105.txt")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	// No time or iteration limit: only the cancellation ends the search.
	sol, err := Solve(ctx, in, Options{Seed: 3, Progress: func(p Progress) {
		calls++
		if p.Vehicles <= 0 || p.Distance <= 0 {
			t.Errorf("got progress %+v, want a solution", p)
		}
		cancel()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("got no progress report")
	}
	if res := check.Solution(in, sol.Routes); !res.Feasible {
		t.Fatalf("cancelled search returned an infeasible solution: %v", res.Violations)
	}
}

func TestNoStoppingRule(t *testing.T) {
	in := randomInstance(rand.New(rand.NewPCG(1, 1)), false, 3)
	if _, err := Solve(context.Background(), in, Options{}); !errors.Is(err, ErrNoStop) {
		t.Errorf("got %v, want %v", err, ErrNoStop)
	}
}

func TestInvalidInstance(t *testing.T) {
	in := randomInstance(rand.New(rand.NewPCG(1, 1)), false, 3)
	in.Vehicles = 0
	if _, err := Solve(context.Background(), in, Options{MaxIterations: 10}); !errors.Is(err, instance.ErrNoVehicles) {
		t.Errorf("got %v, want %v", err, instance.ErrNoVehicles)
	}
}

// simulate reports whether the node sequence (depots included) is feasible.
func simulate(m *model, nodes []int) bool {
	r := &route{nodes: nodes}
	r.update(m)
	return r.feasible(m)
}

// TestInsertionMatchesSimulation compares the constant-time insertion tests
// with a full re-simulation of every candidate route.
func TestInsertionMatchesSimulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for trial := range 200 {
		pd := trial%2 == 0
		in := randomInstance(rng, pd, 6)
		in.Capacity = 12
		m := newModel(in)
		// A random feasible route built by repeated feasible insertion.
		r := newRoute(m)
		reqs := append([]int(nil), m.requests...)
		u := reqs[len(reqs)-1]
		for _, v := range reqs[:len(reqs)-1] {
			best := insertion{route: -1, cost: math.Inf(1)}
			if pd {
				r.bestPair(m, v, 0, nil, &best, 0)
			} else {
				r.bestNode(m, v, 0, nil, &best, 0)
			}
			if best.route == 0 {
				r.insertAt(m, v, best.i, best.j)
			}
		}
		if !r.feasible(m) {
			t.Fatalf("trial %d: built an infeasible route %v", trial, r.nodes)
		}
		// Brute force over every position (pair) for u.
		want := math.Inf(1)
		last := len(r.nodes) - 1
		for i := 0; i < last; i++ {
			for j := i; j < last; j++ {
				if !pd && j != i {
					continue
				}
				c := &route{nodes: append([]int(nil), r.nodes...)}
				c.insertAt(m, u, i, j)
				if c.feasible(m) {
					want = math.Min(want, c.dist-r.dist)
				}
			}
		}
		got := insertion{route: -1, cost: math.Inf(1)}
		if pd {
			r.bestPair(m, u, 0, nil, &got, 0)
		} else {
			r.bestNode(m, u, 0, nil, &got, 0)
		}
		if math.IsInf(want, 1) != (got.route < 0) || (got.route == 0 && math.Abs(got.cost-want) > 1e-9) {
			t.Fatalf("trial %d (pd=%v): got insertion %+v, want cost %g for %d into %v", trial, pd, got, want, u, r.nodes)
		}
		if got.route == 0 {
			c := &route{nodes: append([]int(nil), r.nodes...)}
			c.insertAt(m, u, got.i, got.j)
			if !simulate(m, c.nodes) {
				t.Fatalf("trial %d: chosen insertion is infeasible: %v", trial, c.nodes)
			}
		}
	}
}

// TestSegmentsMatchSimulation checks the time-warp summaries: zero warp
// exactly when the route is on time.
func TestSegmentsMatchSimulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for trial := range 300 {
		in := randomInstance(rng, false, 6)
		in.Capacity = 100
		m := newModel(in)
		nodes := []int{0}
		for _, v := range rng.Perm(6) {
			if rng.IntN(3) > 0 {
				nodes = append(nodes, v+1)
			}
		}
		nodes = append(nodes, 0)
		r := &route{nodes: nodes, segs: true}
		r.update(m)
		if got, want := r.warp() <= 1e-9, r.feasible(m); got != want {
			t.Fatalf("trial %d: got on time %v (warp %g), want %v for %v", trial, got, r.warp(), want, nodes)
		}
		if got := r.bwd[0]; math.Abs(got.warp-r.warp()) > 1e-9 {
			t.Fatalf("trial %d: got backward warp %g, forward %g", trial, got.warp, r.warp())
		}
	}
}

func BenchmarkSolveLC101(b *testing.B) {
	in := loadBenchmark(b, "pdptw/lilim100/lc101.txt")
	for b.Loop() {
		if _, err := Solve(context.Background(), in, Options{MaxIterations: 2000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

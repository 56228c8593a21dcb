package routing

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// routeDist is the travel distance of a node list with depots.
func routeDist(m *model, nodes []int) float64 {
	d := 0.0
	for i := 1; i < len(nodes); i++ {
		d += m.d(nodes[i-1], nodes[i])
	}
	return d
}

// loadOK re-checks capacity, which simulate leaves out.
func loadOK(m *model, nodes []int) bool {
	l := 0
	for _, v := range nodes {
		l += m.dem[v]
	}
	return l <= m.cap
}

// improvingMove searches every or-opt, 2-opt, 2-opt* and relocate move by
// brute force and describes the first feasible one that saves more than
// tol, or returns "".
func improvingMove(m *model, routes [][]int, tol float64) string {
	ok := func(nodes []int) bool { return simulate(m, nodes) && loadOK(m, nodes) }
	for ri, r := range routes {
		k := len(r) - 1
		base := routeDist(m, r)
		for l := 1; l <= orOptLen; l++ {
			for i := 1; i+l-1 <= k-1; i++ {
				rest := slices.Concat(r[:i], r[i+l:])
				for j := 0; j < len(rest)-1; j++ {
					c := slices.Concat(rest[:j+1], r[i:i+l], rest[j+1:])
					if routeDist(m, c) < base-tol && ok(c) {
						return "or-opt"
					}
				}
			}
		}
		for i := 1; i < k-1; i++ {
			for j := i + 1; j < k; j++ {
				c := slices.Clone(r)
				slices.Reverse(c[i : j+1])
				if routeDist(m, c) < base-tol && ok(c) {
					return "2-opt"
				}
			}
		}
		for rj, o := range routes {
			if rj == ri {
				continue
			}
			pair := base + routeDist(m, o)
			for i := 0; i < k; i++ {
				for j := 0; j < len(o)-1; j++ {
					a := slices.Concat(r[:i+1], o[j+1:])
					b := slices.Concat(o[:j+1], r[i+1:])
					if routeDist(m, a)+routeDist(m, b) < pair-tol && ok(a) && ok(b) {
						return "2-opt*"
					}
				}
			}
			for p := 1; p < k; p++ {
				a := slices.Concat(r[:p], r[p+1:])
				for j := 0; j < len(o)-1; j++ {
					b := slices.Concat(o[:j+1], []int{r[p]}, o[j+1:])
					if routeDist(m, a)+routeDist(m, b) < pair-tol && ok(a) && ok(b) {
						return "relocate"
					}
				}
			}
		}
	}
	return ""
}

// TestImproveReachesLocalOptimum starts from one route per customer and
// checks that the local search keeps every customer exactly once, stays
// feasible, never lengthens the solution, and stops only where brute force
// finds no improving move either.
func TestImproveReachesLocalOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for trial := range 60 {
		k := 6 + rng.IntN(7)
		in := randomInstance(rng, false, k)
		m := newModel(in)
		if trial%2 == 1 {
			// Wide windows and room for everything: long routes, where
			// reversals and long tails are feasible.
			m.cap = 1000
			for _, u := range m.requests {
				m.ready[u], m.due[u] = 0, 300
			}
		}
		s := newSearch(m, 1)
		var start [][]int
		for _, u := range m.requests {
			start = append(start, []int{u})
		}
		s.load(start)
		before := s.distance()
		s.begin()
		all := make([]int, len(s.routes))
		for i := range all {
			all[i] = i
		}
		s.improve(all)
		s.commit()

		var routes [][]int
		seen := make([]int, m.n)
		for ri, r := range s.routes {
			if !simulate(m, r.nodes) || !loadOK(m, r.nodes) {
				t.Fatalf("trial %d: route %v is infeasible", trial, r.nodes)
			}
			if got, want := r.dist, routeDist(m, r.nodes); math.Abs(got-want) > 1e-9 {
				t.Fatalf("trial %d: got cached distance %g, want %g", trial, got, want)
			}
			for _, v := range r.nodes[1 : len(r.nodes)-1] {
				seen[v]++
				if s.where[v] != ri {
					t.Fatalf("trial %d: got where[%d]=%d, want %d", trial, v, s.where[v], ri)
				}
			}
			routes = append(routes, r.nodes)
		}
		for _, u := range m.requests {
			if seen[u] != 1 {
				t.Fatalf("trial %d: got customer %d %d times, want once", trial, u, seen[u])
			}
		}
		if got := s.distance(); got > before+1e-9 {
			t.Errorf("trial %d: got distance %g after local search, want at most %g", trial, got, before)
		}
		if s.vehicles() >= len(start) {
			t.Errorf("trial %d: got %d routes, want fewer than the %d single-customer routes", trial, s.vehicles(), len(start))
		}
		if mv := improvingMove(m, routes, 1e-6); mv != "" {
			t.Errorf("trial %d: local search stopped with an improving %s move left in %v", trial, mv, routes)
		}
	}
}

// TestDeterministicVRPTW guards the single-thread determinism of the VRPTW
// path, which runs the local search.
func TestDeterministicVRPTW(t *testing.T) {
	in := loadBenchmark(t, "vrptw/solomon/RC205.txt")
	opts := Options{MaxIterations: 3000, Seed: 7}
	a, err := Solve(t.Context(), in, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Solve(t.Context(), in, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(a.Routes, b.Routes, slices.Equal) {
		t.Errorf("got different routes for the same seed: %d/%.4f vs %d/%.4f", a.Vehicles, a.Distance, b.Vehicles, b.Distance)
	}
}

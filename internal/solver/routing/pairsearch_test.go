package routing

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/backhaul/backhaul/internal/solver/check"
	"github.com/backhaul/backhaul/internal/solver/instance"
)

// pairsOK re-checks that every request on the route has its pickup before
// its delivery on the same route.
func pairsOK(m *model, nodes []int) bool {
	pos := map[int]int{}
	for i, v := range nodes {
		pos[v] = i
	}
	for i, v := range nodes[1 : len(nodes)-1] {
		j, ok := pos[m.partner[v]]
		if !ok || (m.pickup[v] && j < i+1) || (!m.pickup[v] && j > i+1) {
			return false
		}
	}
	return true
}

// pdOK is the full feasibility of one pickup-and-delivery route.
func pdOK(m *model, nodes []int) bool {
	return simulate(m, nodes) && pairsOK(m, nodes)
}

// bestPairBrute returns the least added distance of inserting the request
// of pickup p into route nodes at any feasible positions, +Inf if none.
func bestPairBrute(m *model, nodes []int, p int) float64 {
	q := m.partner[p]
	base := routeDist(m, nodes)
	best := math.Inf(1)
	for i := 0; i < len(nodes)-1; i++ {
		for j := i; j < len(nodes)-1; j++ {
			c := pairNodes(nil, nodes, p, q, i, j)
			if d := routeDist(m, c) - base; d < best && pdOK(m, c) {
				best = d
			}
		}
	}
	return best
}

// withoutRequest drops pickup p and its delivery from nodes.
func withoutRequest(m *model, nodes []int, p int) []int {
	q := m.partner[p]
	return slices.DeleteFunc(slices.Clone(nodes), func(v int) bool { return v == p || v == q })
}

// improvingPairMove searches every precedence-keeping or-opt and 2-opt,
// every 2-opt*, pair relocate and pair exchange by brute force and names
// the first feasible one that saves more than tol, or returns "".
func improvingPairMove(m *model, routes [][]int, tol float64) string {
	for ri, r := range routes {
		k := len(r) - 1
		base := routeDist(m, r)
		for l := 1; l <= orOptLen; l++ {
			for i := 1; i+l-1 <= k-1; i++ {
				rest := slices.Concat(r[:i], r[i+l:])
				for j := 0; j < len(rest)-1; j++ {
					c := slices.Concat(rest[:j+1], r[i:i+l], rest[j+1:])
					if routeDist(m, c) < base-tol && pdOK(m, c) {
						return "or-opt"
					}
				}
			}
		}
		for i := 1; i < k-1; i++ {
			for j := i + 1; j < k; j++ {
				c := slices.Clone(r)
				slices.Reverse(c[i : j+1])
				if routeDist(m, c) < base-tol && pdOK(m, c) {
					return "2-opt"
				}
			}
		}
		for _, p := range r[1:k] {
			if !m.pickup[p] {
				continue
			}
			rest := withoutRequest(m, r, p)
			gain := base - routeDist(m, rest)
			if bestPairBrute(m, rest, p) < gain-tol {
				return "intra-route pair relocate"
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
					if routeDist(m, a)+routeDist(m, b) < pair-tol && pdOK(m, a) && pdOK(m, b) {
						return "2-opt*"
					}
				}
			}
			for _, p := range r[1:k] {
				if !m.pickup[p] {
					continue
				}
				a := withoutRequest(m, r, p)
				gain := base - routeDist(m, a)
				if bestPairBrute(m, o, p) < gain-tol {
					return "pair relocate"
				}
				for _, p2 := range o[1 : len(o)-1] {
					if !m.pickup[p2] {
						continue
					}
					b := withoutRequest(m, o, p2)
					gain2 := gain + routeDist(m, o) - routeDist(m, b)
					if bestPairBrute(m, a, p2)+bestPairBrute(m, b, p) < gain2-tol {
						return "pair exchange"
					}
				}
			}
		}
	}
	return ""
}

// randomPDSolution places the requests one by one at random feasible
// positions (a new route when none fits): a poor but feasible start.
func randomPDSolution(rng *rand.Rand, m *model) [][]int {
	var routes [][]int
	for _, p := range m.requests {
		type pos struct{ r, i, j int }
		var opts []pos
		for ri, rt := range routes {
			nodes := slices.Concat([]int{0}, rt, []int{0})
			for i := 0; i < len(nodes)-1; i++ {
				for j := i; j < len(nodes)-1; j++ {
					if pdOK(m, pairNodes(nil, nodes, p, m.partner[p], i, j)) {
						opts = append(opts, pos{ri, i, j})
					}
				}
			}
		}
		if len(opts) == 0 {
			routes = append(routes, []int{p, m.partner[p]})
			continue
		}
		o := opts[rng.IntN(len(opts))]
		nodes := slices.Concat([]int{0}, routes[o.r], []int{0})
		c := pairNodes(nil, nodes, p, m.partner[p], o.i, o.j)
		routes[o.r] = c[1 : len(c)-1]
	}
	return routes
}

// wideWindows opens every window and the capacity so routes get long and
// reversals, exchanges and long moves become feasible.
func wideWindows(in *instance.Instance) {
	in.Capacity = 1000
	for i := range in.Nodes[1:] {
		in.Nodes[i+1].Ready, in.Nodes[i+1].Due = 0, 350
	}
	in.Prepare()
}

// checkSearch verifies the search state: independent feasibility, cached
// distances, node-to-route index, every node once.
func checkSearch(t *testing.T, in *instance.Instance, s *search, what string) {
	t.Helper()
	m := s.m
	if res := check.Solution(in, s.snapshot()); !res.Feasible {
		t.Fatalf("%s: infeasible solution %v: %v", what, s.snapshot(), res.Violations)
	}
	seen := make([]int, m.n)
	for ri, r := range s.routes {
		if got, want := r.dist, routeDist(m, r.nodes); math.Abs(got-want) > 1e-9 {
			t.Fatalf("%s: got cached distance %g, want %g", what, got, want)
		}
		if !pairsOK(m, r.nodes) {
			t.Fatalf("%s: route %v breaks a pair", what, r.nodes)
		}
		for _, v := range r.nodes[1 : len(r.nodes)-1] {
			seen[v]++
			if s.where[v] != ri {
				t.Fatalf("%s: got where[%d]=%d, want %d", what, v, s.where[v], ri)
			}
		}
	}
	for v := 1; v < m.n; v++ {
		if seen[v] != 1 {
			t.Fatalf("%s: got node %d %d times, want once", what, v, seen[v])
		}
	}
}

// TestPairMovesMatchBruteForce applies each pickup-and-delivery move to
// random feasible solutions and checks that the distance change it
// computed is the recomputed one, that the request it moved went to its
// cheapest feasible positions (by brute force over every position), and
// that the result passes the independent checker.
func TestPairMovesMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	type move struct {
		name  string
		inter bool // between two routes, else within one
		// apply tries the move between routes ri and rj; optimal, when
		// set, returns the brute-force best change for the moved request
		// in the routes before the move.
		apply   func(s *search, ri, rj int) bool
		optimal func(m *model, before [][]int, ri, rj, p int) float64
	}
	full := func(rt []int) []int { return slices.Concat([]int{0}, rt, []int{0}) }
	moves := []move{
		{name: "pair relocate", inter: true, apply: func(s *search, ri, rj int) bool { return s.pairRelocate(ri, rj) },
			optimal: func(m *model, before [][]int, ri, rj, p int) float64 {
				a := full(before[ri])
				return bestPairBrute(m, full(before[rj]), p) - (routeDist(m, a) - routeDist(m, withoutRequest(m, a, p)))
			}},
		{name: "intra-route pair relocate", apply: func(s *search, ri, _ int) bool {
			s.markPositions(s.routes[ri])
			return s.pairRelocateIntra(ri)
		}, optimal: func(m *model, before [][]int, ri, _, p int) float64 {
			a := full(before[ri])
			rest := withoutRequest(m, a, p)
			return bestPairBrute(m, rest, p) - (routeDist(m, a) - routeDist(m, rest))
		}},
		{name: "pair exchange", inter: true, apply: func(s *search, ri, rj int) bool { return s.pairExchange(ri, rj) }},
		{name: "2-opt*", inter: true, apply: func(s *search, ri, rj int) bool { return s.twoOptStar(ri, rj) }},
		{name: "or-opt", apply: func(s *search, ri, _ int) bool {
			s.computeSegs(s.routes[ri])
			s.markPositions(s.routes[ri])
			return s.orOpt(s.routes[ri])
		}},
		{name: "2-opt", apply: func(s *search, ri, _ int) bool {
			s.computeSegs(s.routes[ri])
			s.markPositions(s.routes[ri])
			return s.twoOpt(s.routes[ri])
		}},
	}
	applied := map[string]int{}
	for trial := range 80 {
		in := randomInstance(rng, true, 4+rng.IntN(5))
		if trial%2 == 1 {
			wideWindows(in)
		}
		m := newModel(in)
		s := newSearch(m, 1)
		for _, mv := range moves {
			s.load(randomPDSolution(rng, m))
			for ri := range s.routes {
				for rj := range s.routes {
					if (ri != rj) != mv.inter {
						continue
					}
					before := s.snapshotAll()
					dist := s.distance()
					if !mv.apply(s, ri, rj) {
						continue
					}
					applied[mv.name]++
					what := mv.name
					if got, want := s.distance()-dist, s.lsDelta; math.Abs(got-want) > 1e-7 {
						t.Fatalf("trial %d: %s: got distance change %g, computed %g", trial, what, got, want)
					}
					if s.lsDelta >= 0 {
						t.Fatalf("trial %d: %s: applied a move of change %g", trial, what, s.lsDelta)
					}
					if mv.optimal != nil {
						if want := mv.optimal(m, before, ri, rj, s.lsMoved); math.Abs(s.lsDelta-want) > 1e-7 {
							t.Fatalf("trial %d: %s of %d: got change %g, brute force best %g", trial, what, s.lsMoved, s.lsDelta, want)
						}
					}
					checkSearch(t, in, s, what)
				}
			}
		}
	}
	for _, mv := range moves {
		if applied[mv.name] == 0 {
			t.Errorf("%s was never applied", mv.name)
		}
	}
}

// snapshotAll is snapshot keeping empty routes, so route indices stay.
func (s *search) snapshotAll() [][]int {
	out := make([][]int, len(s.routes))
	for i, r := range s.routes {
		out[i] = slices.Clone(r.nodes[1 : len(r.nodes)-1])
	}
	return out
}

// TestImprovePairsReachesLocalOptimum runs the pickup-and-delivery local
// search from random feasible solutions and checks that it keeps every
// node once, stays feasible (independent checker), never lengthens the
// solution, and stops only where brute force finds no improving move.
func TestImprovePairsReachesLocalOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	for trial := range 60 {
		// At most five requests: every node is then among every other's
		// nearest neighbours, so the granular lists cover all moves.
		in := randomInstance(rng, true, 3+rng.IntN(3))
		if trial%2 == 1 {
			wideWindows(in)
		}
		m := newModel(in)
		s := newSearch(m, 1)
		s.load(randomPDSolution(rng, m))
		before := s.distance()
		s.begin()
		all := make([]int, len(s.routes))
		for i := range all {
			all[i] = i
		}
		s.improve(all)
		s.commit()
		checkSearch(t, in, s, "improve")
		if got := s.distance(); got > before+1e-9 {
			t.Errorf("trial %d: got distance %g after local search, want at most %g", trial, got, before)
		}
		var routes [][]int
		for _, r := range s.routes {
			routes = append(routes, r.nodes)
		}
		if mv := improvingPairMove(m, routes, 1e-6); mv != "" {
			t.Errorf("trial %d: local search stopped with an improving %s move left in %v", trial, mv, routes)
		}
	}
}

// TestBestPairMatchesBruteForce checks the pruned pair insertion against
// every position of long routes.
func TestBestPairMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 17))
	for trial := range 100 {
		in := randomInstance(rng, true, 8+rng.IntN(8))
		if trial%2 == 1 {
			wideWindows(in)
		}
		m := newModel(in)
		routes := randomPDSolution(rng, m)
		rt := routes[0]
		p := rt[0]
		rest := withoutRequest(m, slices.Concat([]int{0}, rt, []int{0}), p)
		r := &route{nodes: rest}
		r.update(m)
		best := insertion{route: -1, cost: math.Inf(1)}
		r.bestPair(m, p, 0, nil, &best, 0)
		want := bestPairBrute(m, rest, p)
		switch {
		case math.IsInf(want, 1) && best.route >= 0:
			t.Fatalf("trial %d: got insertion %+v, brute force finds none", trial, best)
		case !math.IsInf(want, 1) && math.Abs(best.cost-want) > 1e-9:
			t.Fatalf("trial %d: got cost %g, brute force best %g", trial, best.cost, want)
		}
	}
}

// TestDeterministicPairs guards single-thread determinism on a
// pickup-and-delivery instance with long routes, where the pair moves and
// the route-length temperatures come in, and checks the answer.
func TestDeterministicPairs(t *testing.T) {
	in := loadBenchmark(t, "pdptw/lilim100/lr205.txt")
	opts := Options{MaxIterations: 3000, Seed: 5}
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
	if res := check.Solution(in, a.Routes); !res.Feasible {
		t.Fatalf("infeasible: %v", res.Violations)
	}
}

// TestRecreateRouteCap checks that recreate stops instead of opening a
// route beyond routeCap, leaving the rest of the requests out (each once),
// and that rollback restores the solution.
func TestRecreateRouteCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 19))
	stopped := 0
	for trial := range 40 {
		in := randomInstance(rng, true, 6+rng.IntN(6))
		m := newModel(in)
		s := newSearch(m, uint64(trial))
		s.load([][]int{{m.requests[0], m.partner[m.requests[0]]}})
		s.allowNew = true
		s.routeCap = 1
		s.begin()
		s.recreate()
		if len(s.routes) != 1 {
			t.Fatalf("trial %d: got %d routes, want at most the cap of 1", trial, len(s.routes))
		}
		placed := s.routes[0].customers() / 2
		left := map[int]bool{}
		for _, u := range s.unassigned {
			if left[u] || s.where[u] >= 0 {
				t.Fatalf("trial %d: request %d left out twice or also placed", trial, u)
			}
			left[u] = true
		}
		if placed+len(left) != len(m.requests) {
			t.Fatalf("trial %d: got %d placed and %d left out, want %d requests", trial, placed, len(left), len(m.requests))
		}
		if len(left) > 0 {
			stopped++
		}
		if !pdOK(m, s.routes[0].nodes) {
			t.Fatalf("trial %d: infeasible route %v", trial, s.routes[0].nodes)
		}
		s.rollback()
		if got := s.snapshot(); len(got) != 1 || len(got[0]) != 2 || len(s.unassigned) != len(m.requests)-1 {
			t.Fatalf("trial %d: rollback left %v with %d out", trial, got, len(s.unassigned))
		}
	}
	if stopped == 0 {
		t.Error("recreate never reached the route cap")
	}
}

package assign

import (
	"context"
	"fmt"
	"testing"
)

// certify proves that a solved component is optimal for its integer costs
// without trusting the search: the matching is checked to be consistent,
// and the potentials to be a feasible solution of the dual linear program
//
//	max sum u(r) + sum v(c)  s.t.  u(r) + v(c) <= cost(r, c) on every edge
//	                               (private columns included), v(c) <= 0,
//
// whose objective equals the matching's cost (complementary slackness:
// matched edges tight, v = 0 on every free column). Equal primal and dual
// objectives mean neither can improve.
func certify(k *lap) error {
	owner := make([]int32, k.nc+k.nr)
	for i := range owner {
		owner[i] = -1
	}
	var primal, dual int64
	for r := range int32(k.nr) {
		c := k.rowCol[r]
		if c < 0 {
			return fmt.Errorf("row %d never added", r)
		}
		if owner[c] >= 0 {
			return fmt.Errorf("column %d matched to rows %d and %d", c, owner[c], r)
		}
		owner[c] = r
		if c >= int32(k.nc) {
			if c != int32(k.nc)+r || k.rowEdge[r] != -1 {
				return fmt.Errorf("row %d holds private column %d of another row", r, c)
			}
		} else {
			if e := k.rowEdge[r]; e < k.start[r] || e >= k.start[r+1] || k.arcs[e].col != c {
				return fmt.Errorf("row %d: matched edge %d is not its edge to column %d", r, e, c)
			}
			if k.colRow[c] != r {
				return fmt.Errorf("column %d: colRow %d, want %d", c, k.colRow[c], r)
			}
		}
		cost := k.rowCost(r)
		u := cost - k.v[c] // tight on the matched edge by construction
		primal += cost
		dual += u
		for e := k.start[r]; e < k.start[r+1]; e++ {
			if rc := k.arcs[e].cost - u - k.v[k.arcs[e].col]; rc < 0 {
				return fmt.Errorf("row %d, column %d: reduced cost %d < 0", r, k.arcs[e].col, rc)
			}
		}
		if rc := k.big - u - k.v[int32(k.nc)+r]; rc < 0 {
			return fmt.Errorf("row %d, private column: reduced cost %d < 0", r, rc)
		}
	}
	for c, v := range k.v {
		if v > 0 {
			return fmt.Errorf("column %d: potential %d > 0", c, v)
		}
		if owner[c] < 0 && v != 0 {
			return fmt.Errorf("free column %d: potential %d, want 0", c, v)
		}
		if c < k.nc && owner[c] < 0 && k.colRow[c] >= 0 {
			return fmt.Errorf("column %d: colRow %d but no row holds it", c, k.colRow[c])
		}
		dual += v
	}
	if primal != dual {
		return fmt.Errorf("primal %d != dual %d", primal, dual)
	}
	return nil
}

// maxCardinality is Hopcroft-Karp: the largest number of loads any matching
// of the edges covers, computed without costs.
func maxCardinality(drivers, loads int, edges []Edge) int {
	adj := make([][]int32, drivers)
	for _, e := range edges {
		adj[e.Driver] = append(adj[e.Driver], int32(e.Load))
	}
	matchD, matchL := make([]int32, drivers), make([]int32, loads)
	for i := range matchD {
		matchD[i] = -1
	}
	for i := range matchL {
		matchL[i] = -1
	}
	dist := make([]int32, drivers)
	const inf = int32(1 << 30)
	bfs := func() bool {
		var q []int32
		for d := range drivers {
			if matchD[d] < 0 {
				dist[d] = 0
				q = append(q, int32(d))
			} else {
				dist[d] = inf
			}
		}
		found := false
		for len(q) > 0 {
			d := q[0]
			q = q[1:]
			for _, l := range adj[d] {
				m := matchL[l]
				if m < 0 {
					found = true
				} else if dist[m] == inf {
					dist[m] = dist[d] + 1
					q = append(q, m)
				}
			}
		}
		return found
	}
	var dfs func(d int32) bool
	dfs = func(d int32) bool {
		for _, l := range adj[d] {
			m := matchL[l]
			if m < 0 || (dist[m] == dist[d]+1 && dfs(m)) {
				matchD[d], matchL[l] = l, d
				return true
			}
		}
		dist[d] = inf
		return false
	}
	n := 0
	for bfs() {
		for d := range drivers {
			if matchD[d] < 0 && dfs(int32(d)) {
				n++
			}
		}
	}
	return n
}

// TestCertificateGenerated solves generated scenarios component by
// component and proves each optimal with certify; coverage is also checked
// against Hopcroft-Karp. The 10,000 x 10,000 case is the benchmark's.
func TestCertificateGenerated(t *testing.T) {
	sizes := []struct {
		seed           uint64
		drivers, loads int
	}{{11, 500, 700}, {12, 2000, 1500}, {1, 10000, 10000}}
	if testing.Short() {
		sizes = sizes[:2]
	}
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.drivers, sz.loads), func(t *testing.T) {
			s := generateScenario(sz.seed, sz.drivers, sz.loads)
			edges, err := Candidates(context.Background(), &s)
			if err != nil {
				t.Fatal(err)
			}
			covered := 0
			for i, c := range components(len(s.Drivers), len(s.Loads), edges) {
				k := c.problem(edges)
				if err := k.run(context.Background()); err != nil {
					t.Fatal(err)
				}
				if err := certify(k); err != nil {
					t.Fatalf("component %d (%d drivers, %d loads): %v", i, len(c.drivers), len(c.loads), err)
				}
				for r := range k.nr {
					if k.rowEdge[r] >= 0 {
						covered++
					}
				}
			}
			if want := maxCardinality(len(s.Drivers), len(s.Loads), edges); covered != want {
				t.Errorf("covered: got %d, want the maximum %d", covered, want)
			}
			sol, err := Solve(context.Background(), len(s.Drivers), len(s.Loads), edges)
			if err != nil {
				t.Fatal(err)
			}
			if sol.Assigned() != covered {
				t.Errorf("Solve covered %d, components covered %d", sol.Assigned(), covered)
			}
			checkMatching(t, len(s.Drivers), len(s.Loads), edges, sol)
			t.Logf("%d edges, %d loads covered, %.1f deadhead miles", len(edges), sol.Assigned(), sol.DeadheadMiles)
		})
	}
}

// TestCertifyDetectsSuboptimal makes sure the certificate can fail: a
// matching moved off the optimum by hand is rejected.
func TestCertifyDetectsSuboptimal(t *testing.T) {
	edges := []Edge{{0, 0, 1}, {0, 1, 2}, {1, 0, 2}, {1, 1, 100}}
	c := components(2, 2, edges)[0]
	k := c.problem(edges)
	if err := k.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := certify(k); err != nil {
		t.Fatalf("optimal matching: certify: %v", err)
	}
	// Swap to the nearest-first matching D0-L0, D1-L1 (edges 0 and 3 in
	// CSR order), keeping the potentials.
	k.rowCol[0], k.rowEdge[0], k.rowCol[1], k.rowEdge[1] = 0, 0, 1, 3
	k.colRow[0], k.colRow[1] = 0, 1
	if err := certify(k); err == nil {
		t.Error("suboptimal matching: certify returned nil, want an error")
	}
}

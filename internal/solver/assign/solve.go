package assign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Solution is an assignment of drivers to loads.
type Solution struct {
	// Pairs holds one edge per covered load, sorted by load index.
	Pairs []Edge
	// DeadheadMiles is the sum of the pairs' miles.
	DeadheadMiles float64
}

// Assigned is the number of covered loads.
func (s Solution) Assigned() int { return len(s.Pairs) }

func newSolution(pairs []Edge) Solution {
	slices.SortFunc(pairs, func(a, b Edge) int { return cmp.Compare(a.Load, b.Load) })
	var total float64
	for _, p := range pairs {
		total += p.Miles
	}
	return Solution{Pairs: pairs, DeadheadMiles: total}
}

// Assign finds the optimal assignment of a valid scenario: Candidates, then
// Solve.
func Assign(ctx context.Context, s *Scenario) (Solution, error) {
	edges, err := Candidates(ctx, s)
	if err != nil {
		return Solution{}, err
	}
	return Solve(ctx, len(s.Drivers), len(s.Loads), edges)
}

// Solve finds, among the edges, a matching (each driver and each load in at
// most one pair) that covers as many loads as possible and, among those,
// has the least total miles. It is exact up to the rounding of miles to
// whole micro-miles (see scaleFor): the total is within 1e-6 miles per pair
// of the true optimum. Only for edges of millions of miles does the unit
// grow; where it would exceed a mile, Solve returns an error.
//
// The graph is split into connected components, solved in parallel. Each is
// a rectangular assignment problem in which every row (the smaller side)
// also has a private "unassigned" column whose cost exceeds any possible sum
// of real costs, so that covering more loads always wins. Rows are added one
// at a time by a shortest augmenting path (Dijkstra on reduced costs with
// column potentials, stopping at the first free column, as in the sparse
// Jonker-Volgenant method); the potentials are the dual certificate that the
// matching is optimal after every row.
func Solve(ctx context.Context, drivers, loads int, edges []Edge) (Solution, error) {
	if drivers < 0 || loads < 0 {
		return Solution{}, fmt.Errorf("solve: negative size %d drivers, %d loads", drivers, loads)
	}
	// Nodes and edges are indexed with int32 to halve the solver's memory.
	if drivers+loads > math.MaxInt32 || len(edges) > math.MaxInt32 {
		return Solution{}, fmt.Errorf("solve: %d drivers, %d loads and %d edges exceed the supported size", drivers, loads, len(edges))
	}
	for i, e := range edges {
		if e.Driver < 0 || e.Driver >= drivers || e.Load < 0 || e.Load >= loads {
			return Solution{}, fmt.Errorf("solve: edge %d (driver %d, load %d) out of range", i, e.Driver, e.Load)
		}
		if !(e.Miles >= 0) || math.IsInf(e.Miles, 1) {
			return Solution{}, fmt.Errorf("solve: edge %d: miles %v is not a finite non-negative number", i, e.Miles)
		}
	}
	comps := components(drivers, loads, edges)
	// Largest first, so one big component does not start last.
	slices.SortStableFunc(comps, func(a, b *component) int { return cmp.Compare(len(b.edges), len(a.edges)) })
	results := make([][]Edge, len(comps))
	errs := make([]error, len(comps))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(comps)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(comps) {
					return
				}
				results[i], errs[i] = comps[i].solve(ctx, edges)
			}
		})
	}
	wg.Wait()
	var pairs []Edge
	for i := range comps {
		if errs[i] != nil {
			return Solution{}, errs[i]
		}
		pairs = append(pairs, results[i]...)
	}
	return newSolution(pairs), nil
}

// component is a connected part of the driver-load graph.
type component struct {
	drivers, loads []int // global indices
	edges          []int // indices into the edge list
	// local maps a driver d to its index in drivers (local[d]) and a load
	// l to its index in loads (local[nDrivers+l]). It is shared by all
	// components, each owning its own nodes' entries.
	local    []int32
	nDrivers int
}

// components splits the graph with a union-find over drivers (0..drivers-1)
// and loads (drivers..drivers+loads-1). Nodes without edges are left out.
func components(drivers, loads int, edges []Edge) []*component {
	parent := make([]int32, drivers+loads)
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, e := range edges {
		a, b := find(int32(e.Driver)), find(int32(drivers+e.Load))
		if a != b {
			parent[a] = b
		}
	}
	local := make([]int32, drivers+loads)
	byRoot := map[int32]*component{}
	var comps []*component // in order of first edge, for reproducible scheduling
	for i, e := range edges {
		root := find(int32(e.Driver))
		c, ok := byRoot[root]
		if !ok {
			c = &component{local: local, nDrivers: drivers}
			byRoot[root] = c
			comps = append(comps, c)
		}
		c.edges = append(c.edges, i)
	}
	touched := make([]bool, drivers+loads)
	for _, e := range edges {
		touched[e.Driver], touched[drivers+e.Load] = true, true
	}
	for n, t := range touched {
		if !t {
			continue
		}
		c := byRoot[find(int32(n))]
		if n < drivers {
			local[n] = int32(len(c.drivers))
			c.drivers = append(c.drivers, n)
		} else {
			local[n] = int32(len(c.loads))
			c.loads = append(c.loads, n-drivers)
		}
	}
	return comps
}

// solve returns the optimal pairs of the component.
func (c *component) solve(ctx context.Context, edges []Edge) ([]Edge, error) {
	k := c.problem(edges)
	if k.scale < 1 {
		return nil, fmt.Errorf("solve: %d drivers x %d loads with edges up to %g miles: %w",
			len(c.drivers), len(c.loads), k.maxMiles, errTooLarge)
	}
	if err := k.run(ctx); err != nil {
		return nil, err
	}
	var pairs []Edge
	for r := range k.nr {
		if e := k.rowEdge[r]; e >= 0 {
			pairs = append(pairs, edges[k.arcs[e].edge])
		}
	}
	return pairs, nil
}

// problem builds the component's assignment problem, with the smaller side
// as rows (one search per row).
func (c *component) problem(edges []Edge) *lap {
	rowsAreDrivers := len(c.drivers) <= len(c.loads)
	rc := func(e Edge) (int32, int32) {
		d, l := c.local[e.Driver], c.local[c.nDrivers+e.Load]
		if rowsAreDrivers {
			return d, l
		}
		return l, d
	}
	nr, nc := len(c.drivers), len(c.loads)
	if !rowsAreDrivers {
		nr, nc = nc, nr
	}
	var maxMiles float64
	for _, ei := range c.edges {
		maxMiles = max(maxMiles, edges[ei].Miles)
	}
	k := newLAP(nr, nc, len(c.edges), maxMiles)
	// Counting sort of the edges into rows.
	for _, ei := range c.edges {
		r, _ := rc(edges[ei])
		k.start[r+1]++
	}
	for r := range nr {
		k.start[r+1] += k.start[r]
	}
	fill := slices.Clone(k.start[:nr])
	for _, ei := range c.edges {
		r, col := rc(edges[ei])
		k.arcs[fill[r]] = arc{cost: k.scaled(edges[ei].Miles), col: col, edge: int32(ei)}
		fill[r]++
	}
	// Each row's edges cheapest first, so that a search can stop scanning
	// a row once its remaining edges cannot lead anywhere shorter.
	for r := range nr {
		slices.SortFunc(k.arcs[k.start[r]:k.start[r+1]], func(a, b arc) int {
			return cmp.Or(cmp.Compare(a.cost, b.cost), cmp.Compare(a.edge, b.edge))
		})
	}
	return k
}

// errTooLarge reports costs that integers cannot hold to a mile.
var errTooLarge = errors.New("costs too large to solve exactly")

// microMiles is the finest cost unit: whole micro-miles (about 1.6 mm).
const microMiles = 1e6

// scaleFor picks the factor that turns miles into integer costs. Integers
// keep the potentials exact over thousands of augmentations. The factor is
// microMiles unless the problem is so large that sums of costs could
// approach the int64 range; the bound used, (2 rows + cols + 2) x (k + 1) x
// the largest cost, covers the largest reduced distance the search can meet.
func scaleFor(rows, cols int, maxMiles float64) float64 {
	if maxMiles <= 0 {
		return microMiles
	}
	k := float64(min(rows, cols))
	budget := float64(int64(1)<<62) / ((2*float64(rows) + float64(cols) + 2) * (k + 1))
	return math.Min(microMiles, budget/maxMiles)
}

// lap is one rectangular assignment problem on a sparse graph in CSR form:
// the edges of row r are start[r]:start[r+1]. Column nc+r is row r's private
// "unassigned" column with cost big.
type lap struct {
	nr, nc   int
	start    []int32
	arcs     []arc
	scale    float64
	maxMiles float64
	big      int64

	v       []int64 // column potentials (duals), len nc+nr; never positive
	rowCol  []int32 // column matched to each row, -1 until the row is added
	rowEdge []int32 // edge matched to each row, -1 for its private column
	colRow  []int32 // row matched to each real column, -1 if free

	// Search scratch, reused across rows. A column's dist and pred are
	// valid when seen[c] == epoch; it is settled when done[c] == epoch.
	dist     []int64
	pred     []int32
	predEdge []int32
	seen     []uint32
	done     []uint32
	epoch    uint32
	settled  []int32
	heap     []entry
}

// arc is an edge seen from its row.
type arc struct {
	cost int64
	col  int32
	edge int32 // index in the caller's edge list
}

type entry struct {
	key int64
	col int32
}

func newLAP(nr, nc, ne int, maxMiles float64) *lap {
	k := &lap{
		nr: nr, nc: nc,
		start:    make([]int32, nr+1),
		arcs:     make([]arc, ne),
		scale:    scaleFor(nr, nc, maxMiles),
		maxMiles: maxMiles,
	}
	// Any matching of at most min(nr, nc) real edges costs less than one
	// private column, so leaving a row unassigned is never traded for
	// miles.
	k.big = int64(math.Round(maxMiles*k.scale))*int64(min(nr, nc)) + 1
	nAll := nc + nr
	k.v = make([]int64, nAll)
	k.rowCol = make([]int32, nr)
	k.rowEdge = make([]int32, nr)
	k.colRow = make([]int32, nc)
	for i := range k.rowCol {
		k.rowCol[i], k.rowEdge[i] = -1, -1
	}
	for i := range k.colRow {
		k.colRow[i] = -1
	}
	k.dist = make([]int64, nAll)
	k.pred = make([]int32, nAll)
	k.predEdge = make([]int32, nAll)
	k.seen = make([]uint32, nAll)
	k.done = make([]uint32, nAll)
	return k
}

func (k *lap) scaled(miles float64) int64 { return int64(math.Round(miles * k.scale)) }

// rowCost is the cost of row r's matched edge.
func (k *lap) rowCost(r int32) int64 {
	if e := k.rowEdge[r]; e >= 0 {
		return k.arcs[e].cost
	}
	return k.big
}

// run adds every row.
func (k *lap) run(ctx context.Context) error {
	for r := range int32(k.nr) {
		if r%128 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k.augment(r)
	}
	return nil
}

// augment adds row i by the shortest augmenting path from i to a free
// column, with reduced costs cost - u(row) - v(col) >= 0, where a matched
// row's u makes its matched edge tight. Distances are taken relative to i,
// whose u is 0 during the search. The search stops as soon as no column in
// the heap is nearer than the best free column found.
func (k *lap) augment(i int32) {
	k.epoch++
	if k.epoch == 0 { // wrapped: stale marks could look current
		clear(k.seen)
		clear(k.done)
		k.epoch = 1
	}
	k.settled = k.settled[:0]
	k.heap = k.heap[:0]
	best, bestD := int32(-1), int64(math.MaxInt64)

	k.relax(i, 0, 0, &best, &bestD)
	for len(k.heap) > 0 && k.heap[0].key < bestD {
		top := k.pop()
		c := top.col
		if k.done[c] == k.epoch || top.key != k.dist[c] {
			continue // stale entry
		}
		k.done[c] = k.epoch
		k.settled = append(k.settled, c)
		x := k.colRow[c]
		k.relax(x, top.key, k.rowCost(x)-k.v[c], &best, &bestD)
	}
	// Settled columns move by their distance short of the path's length;
	// the others keep their potential. This keeps every reduced cost
	// non-negative and makes the new path tight.
	for _, c := range k.settled {
		k.v[c] += k.dist[c] - bestD
	}

	for c := best; ; {
		x := k.pred[c]
		prev := k.rowCol[x]
		k.rowCol[x], k.rowEdge[x] = c, k.predEdge[c]
		if c < int32(k.nc) {
			k.colRow[c] = x
		}
		if x == i {
			return
		}
		c = prev
	}
}

// relax scans the edges of row x, reached at distance base, whose
// potential is ux. Free columns end paths and are only recorded in best.
func (k *lap) relax(x int32, base, ux int64, best *int32, bestD *int64) {
	epoch, nc := k.epoch, int32(k.nc)
	skip := k.rowCol[x]
	end := k.start[x+1]
	for e := k.start[x]; e <= end; e++ {
		var c int32
		var d int64
		if e < end {
			// Potentials are never positive, so base + cost - ux bounds
			// the distance of this and, costs ascending, every later
			// edge from below: none can beat the best path found.
			a := &k.arcs[e]
			if base+a.cost-ux >= *bestD {
				break
			}
			c = a.col
			if c == skip {
				continue
			}
			d = base + a.cost - ux - k.v[c]
		} else {
			// The row's private column, after its real edges.
			c = nc + x
			d = base + k.big - ux - k.v[c]
		}
		if k.seen[c] == epoch {
			if d >= k.dist[c] || k.done[c] == epoch {
				continue
			}
		} else {
			k.seen[c] = epoch
		}
		k.dist[c], k.pred[c] = d, x
		if e < end {
			k.predEdge[c] = e
		} else {
			k.predEdge[c] = -1
		}
		if c >= nc || k.colRow[c] < 0 {
			if d < *bestD {
				*best, *bestD = c, d
			}
			continue
		}
		k.push(entry{d, c})
	}
}

func (k *lap) push(e entry) {
	h := append(k.heap, e)
	j := len(h) - 1
	for j > 0 {
		p := (j - 1) / 2
		if h[p].key <= e.key {
			break
		}
		h[j] = h[p]
		j = p
	}
	h[j] = e
	k.heap = h
}

func (k *lap) pop() entry {
	h := k.heap
	top := h[0]
	last := h[len(h)-1]
	h = h[:len(h)-1]
	n := len(h)
	j := 0
	for {
		l := 2*j + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && h[r].key < h[l].key {
			l = r
		}
		if last.key <= h[l].key {
			break
		}
		h[j] = h[l]
		j = l
	}
	if n > 0 {
		h[j] = last
	}
	k.heap = h
	return top
}

// Package check verifies routing solutions against their instance and
// computes the hierarchical objective (vehicles, then distance). It is
// written apart from the solver and shares none of its route evaluation, so
// that a solver bug cannot hide itself: it simulates every route from the
// raw node data.
package check

import (
	"fmt"
	"math"

	"github.com/backhaul/backhaul/internal/solver/instance"
)

// tolerance absorbs floating-point noise from summing distances in a
// different order; real violations in these instances are far larger.
const tolerance = 1e-6

// Result is the verdict on one solution.
type Result struct {
	Feasible bool
	// Vehicles counts the non-empty routes.
	Vehicles int
	// Distance is the total travelled distance, depot legs included.
	Distance float64
	// Violations lists every broken constraint, each naming the route and
	// the node.
	Violations []string
}

// maxViolations keeps a badly broken solution from producing megabytes of
// messages.
const maxViolations = 50

// Solution checks routes (node ids in visiting order, depot excluded) against
// the instance: every task node exactly once, capacity (for pickup and
// delivery, the load within [0, capacity] along the route), time windows
// with waiting allowed, return to the depot by the end of the horizon, each
// pickup before its delivery on the same route, and no more routes than the
// instance allows.
func Solution(in *instance.Instance, routes [][]int) Result {
	res := Result{Feasible: true}
	add := func(format string, args ...any) {
		res.Feasible = false
		if len(res.Violations) < maxViolations {
			res.Violations = append(res.Violations, fmt.Sprintf(format, args...))
		}
	}
	nodes := in.Nodes
	n := len(nodes)
	seen := make([]int, n) // route index + 1 that visited the node
	pos := make([]int, n)
	dist := func(a, b int) float64 {
		return math.Hypot(nodes[a].X-nodes[b].X, nodes[a].Y-nodes[b].Y)
	}
	horizon := nodes[0].Due
	if in.MaxRouteDuration > 0 && nodes[0].Ready+in.MaxRouteDuration < horizon {
		horizon = nodes[0].Ready + in.MaxRouteDuration
	}
	for r, route := range routes {
		if len(route) == 0 {
			continue
		}
		res.Vehicles++
		t := nodes[0].Ready
		prev := 0
		load := 0
		if in.Problem == instance.VRPTW {
			for _, v := range route {
				if v > 0 && v < n {
					load += nodes[v].Demand
				}
			}
			if load > in.Capacity {
				add("route %d: load %d over capacity %d", r, load, in.Capacity)
			}
		}
		for k, v := range route {
			if v <= 0 || v >= n {
				add("route %d position %d: node %d is not a task node", r, k, v)
				continue
			}
			if seen[v] != 0 {
				add("route %d: node %d already visited by route %d", r, v, seen[v]-1)
			}
			seen[v] = r + 1
			pos[v] = k
			d := dist(prev, v)
			res.Distance += d
			arrive := t + nodes[prev].Service + d
			start := math.Max(arrive, nodes[v].Ready)
			if start > nodes[v].Due+tolerance {
				add("route %d: node %d served at %.4f after its due time %g", r, v, start, nodes[v].Due)
			}
			t = start
			prev = v
			if in.Problem == instance.PDPTW {
				load += nodes[v].Demand
				if load > in.Capacity {
					add("route %d: load %d over capacity %d after node %d", r, load, in.Capacity, v)
				}
				if load < 0 {
					add("route %d: negative load %d after node %d", r, load, v)
				}
			}
		}
		d := dist(prev, 0)
		res.Distance += d
		back := t + nodes[prev].Service + d
		if back > horizon+tolerance {
			add("route %d: back at the depot at %.4f after the horizon %g", r, back, horizon)
		}
	}
	if res.Vehicles > in.Vehicles {
		add("%d routes, the instance allows %d", res.Vehicles, in.Vehicles)
	}
	for v := 1; v < n; v++ {
		if seen[v] == 0 {
			add("node %d is not visited", v)
			continue
		}
		if in.Problem != instance.PDPTW {
			continue
		}
		if d := nodes[v].Delivery; d != 0 && d < n {
			switch {
			case seen[d] == 0:
				// reported as not visited
			case seen[d] != seen[v]:
				add("pickup %d on route %d, its delivery %d on route %d", v, seen[v]-1, d, seen[d]-1)
			case pos[d] < pos[v]:
				add("route %d: delivery %d before its pickup %d", seen[v]-1, d, v)
			}
		}
	}
	return res
}

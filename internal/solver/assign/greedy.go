package assign

import (
	"cmp"
	"slices"
)

// Greedy is the nearest-first dispatcher that Solve is measured against:
// loads are taken in pickup order (the end of the pickup window, then ID),
// and each takes the nearest driver still free among its feasible edges
// (ties to the lower driver index). This order reproduces the greedy
// figures published with the matching benchmark scenarios.
func Greedy(s *Scenario, edges []Edge) Solution {
	byLoad := make([][]int32, len(s.Loads))
	for i, e := range edges {
		byLoad[e.Load] = append(byLoad[e.Load], int32(i))
	}
	order := make([]int, len(s.Loads))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		la, lb := &s.Loads[a], &s.Loads[b]
		return cmp.Or(la.PickupLatest.Compare(lb.PickupLatest), cmp.Compare(la.ID, lb.ID))
	})
	taken := make([]bool, len(s.Drivers))
	var pairs []Edge
	for _, li := range order {
		best := -1
		for _, ei := range byLoad[li] {
			e := edges[ei]
			if taken[e.Driver] {
				continue
			}
			if best < 0 || e.Miles < edges[best].Miles ||
				(e.Miles == edges[best].Miles && e.Driver < edges[best].Driver) {
				best = int(ei)
			}
		}
		if best >= 0 {
			taken[edges[best].Driver] = true
			pairs = append(pairs, edges[best])
		}
	}
	return newSolution(pairs)
}

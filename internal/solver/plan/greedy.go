package plan

import (
	"slices"
)

// Greedy is the nearest-truck dispatcher the search is measured against:
// loads in order of their pickup windows, each appended to the end of the
// plan of the truck whose last stop (or start) is nearest its pickup among
// the trucks that can still haul it legally. It carries one load at a time
// and never reorders.
func Greedy(p *Problem) (Solution, error) {
	if err := p.validate(); err != nil {
		return Solution{}, err
	}
	m := newModel(p, func() bool { return false })
	return m.solution(m.greedyRoutes()), nil
}

// greedyRoutes dispatches the loads nearest truck first.
func (m *model) greedyRoutes() [][]int {
	ev := newEvaluator(m)
	order := make([]int, len(m.loads))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return m.loads[a].stops[0].Earliest.Compare(m.loads[b].stops[0].Earliest)
	})
	routes := make([][]int, len(m.trucks))
	var buf []int
	for _, l := range order {
		best, bestMiles := -1, 0.0
		for _, t := range m.cand[l] {
			r := routes[t]
			from := m.startID(t)
			if len(r) > 0 {
				from = r[len(r)-1]
			}
			dh := m.d(from, pickupEvent(l))
			if best >= 0 && dh >= bestMiles {
				continue
			}
			buf = append(append(buf[:0], r...), pickupEvent(l), deliverEvent(l))
			if _, fail := ev.evaluate(t, buf); fail == failNone {
				best, bestMiles = t, dh
			}
		}
		if best >= 0 {
			routes[best] = append(routes[best], pickupEvent(l), deliverEvent(l))
		}
	}
	return routes
}

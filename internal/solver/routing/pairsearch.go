package routing

// Local search for pickup and delivery. The VRPTW moves of localsearch.go
// apply with precedence kept: or-opt never carries a pickup past its
// delivery (or a delivery before its pickup), 2-opt never reverses a whole
// pair, and 2-opt* only cuts two routes where both vehicles are empty.
// Pair moves come on top: pair relocate removes a request (pickup and
// delivery) and reinserts it at its cheapest positions in the same route
// or a neighbouring one, and pair exchange swaps two requests between
// routes, each reinserted at its cheapest positions. Reinsertion uses the
// constant-time checks of bestPair on the cached schedules; every applied
// move is re-simulated and its pairs re-checked before it is kept.

// exchangeNeighbors bounds the partner requests tried by pair exchange:
// the requests of the other route with a node among the nearest
// neighbours of the moved pickup or delivery.
const exchangeNeighbors = 10

// markPositions records the position of every node of r in s.lsPos.
func (s *search) markPositions(r *route) {
	if len(s.lsPos) < s.m.n {
		s.lsPos = make([]int, s.m.n)
	}
	for i, v := range r.nodes {
		s.lsPos[v] = i
	}
}

// partnerIn reports whether v is a pickup (isPickup) or a delivery
// (!isPickup) whose partner sits at a position in [lo, hi) of the route
// last passed to markPositions.
func (s *search) partnerIn(v int, isPickup bool, lo, hi int) bool {
	m := s.m
	if v == 0 || m.pickup[v] != isPickup {
		return false
	}
	p := s.lsPos[m.partner[v]]
	return p >= lo && p < hi
}

// pairsIntact reports whether every request on r has its pickup before its
// delivery on r (always true for VRPTW).
func (s *search) pairsIntact(r *route) bool {
	m := s.m
	if !m.pd {
		return true
	}
	if len(s.lsOpen) < m.n {
		s.lsOpen = make([]int, m.n)
	}
	s.lsOpenStamp++
	open := 0
	for _, v := range r.nodes[1 : len(r.nodes)-1] {
		if m.pickup[v] {
			s.lsOpen[v] = s.lsOpenStamp
			open++
			continue
		}
		if s.lsOpen[m.partner[v]] != s.lsOpenStamp {
			return false
		}
		open--
	}
	return open == 0
}

// intraPair improves route ri by precedence-keeping or-opt and 2-opt and
// by moving a request within the route; it reports whether it changed.
func (s *search) intraPair(ri int) bool {
	r := s.routes[ri]
	changed := false
	for tries := 0; tries < 4*len(r.nodes); tries++ {
		s.computeSegs(r)
		s.markPositions(r)
		if !s.orOpt(r) && !s.twoOpt(r) && !s.pairRelocateIntra(ri) {
			break
		}
		changed = true
	}
	return changed
}

// pairGain is the distance saved by removing the pickup at position i and
// its delivery at position j > i from r.
func pairGain(m *model, nodes []int, i, j int) float64 {
	p, q := nodes[i], nodes[j]
	if j == i+1 {
		a, b := nodes[i-1], nodes[j+1]
		return m.d(a, p) + m.d(p, q) + m.d(q, b) - m.d(a, b)
	}
	return m.d(nodes[i-1], p) + m.d(p, nodes[i+1]) - m.d(nodes[i-1], nodes[i+1]) +
		m.d(nodes[j-1], q) + m.d(q, nodes[j+1]) - m.d(nodes[j-1], nodes[j+1])
}

// withoutPair loads into dst the route r without the request whose pickup
// is at position i and delivery at position j, with its schedule.
func withoutPair(m *model, dst, r *route, i, j int) {
	dst.nodes = append(dst.nodes[:0], r.nodes[:i]...)
	dst.nodes = append(dst.nodes, r.nodes[i+1:j]...)
	dst.nodes = append(dst.nodes, r.nodes[j+1:]...)
	dst.update(m)
}

// pairNodes writes into dst the nodes of base with pickup p after position
// i and delivery q after position j (j >= i), as insertAt would.
func pairNodes(dst, base []int, p, q, i, j int) []int {
	dst = append(dst[:0], base[:i+1]...)
	dst = append(dst, p)
	dst = append(dst, base[i+1:j+1]...)
	dst = append(dst, q)
	return append(dst, base[j+1:]...)
}

// scratchRoutes returns the two scratch routes of the pair moves.
func (s *search) scratchRoutes() (*route, *route) {
	if s.lsRoute[0] == nil {
		s.lsRoute[0] = &route{nodes: []int{0, 0}}
		s.lsRoute[1] = &route{nodes: []int{0, 0}}
	}
	return s.lsRoute[0], s.lsRoute[1]
}

// pairRelocateIntra applies the first improving move of one request to its
// cheapest positions elsewhere in route ri. It expects s.lsPos to hold the
// route's positions.
func (s *search) pairRelocateIntra(ri int) bool {
	m := s.m
	r := s.routes[ri]
	tmp, _ := s.scratchRoutes()
	for i := 1; i < len(r.nodes)-1; i++ {
		p := r.nodes[i]
		if !m.pickup[p] {
			continue
		}
		j := s.lsPos[m.partner[p]]
		gain := pairGain(m, r.nodes, i, j)
		if gain <= improveGain {
			continue
		}
		withoutPair(m, tmp, r, i, j)
		best := insertion{route: -1, cost: gain - improveGain}
		tmp.bestPair(m, p, 0, nil, &best, ri)
		if best.route < 0 {
			continue
		}
		old := append(s.lsBuf[:0], r.nodes...)
		s.lsBuf = old
		s.lsDelta, s.lsMoved = best.cost-gain, p
		out := pairNodes(r.nodes, tmp.nodes, p, m.partner[p], best.i, best.j)
		if s.keepIfFeasible(r, out, old) {
			return true
		}
	}
	return false
}

// interPair applies the first improving 2-opt* (at empty points), pair
// relocate or pair exchange between route ri and a route visiting one of
// its nodes' nearest neighbours; it returns the other route.
func (s *search) interPair(ri int) (int, bool) {
	m := s.m
	a := s.routes[ri]
	s.gstamp++
	s.gmark[ri] = s.gstamp
	for x := 1; x < len(a.nodes)-1; x++ {
		u := a.nodes[x]
		for _, v := range m.neighbors[u][:min(lsNeighbors, len(m.neighbors[u]))] {
			rj := s.where[v]
			if rj < 0 || s.gmark[rj] == s.gstamp {
				continue
			}
			s.gmark[rj] = s.gstamp
			if s.twoOptStar(ri, rj) || s.pairRelocate(ri, rj) || s.pairRelocate(rj, ri) || s.pairExchange(ri, rj) {
				return rj, true
			}
		}
	}
	return -1, false
}

// pairRelocate moves the first request of route ri whose removal saves more
// than its cheapest insertion into route rj costs.
func (s *search) pairRelocate(ri, rj int) bool {
	m := s.m
	a, b := s.routes[ri], s.routes[rj]
	s.markPositions(a)
	for i := 1; i < len(a.nodes)-1; i++ {
		p := a.nodes[i]
		if !m.pickup[p] {
			continue
		}
		q := m.partner[p]
		j := s.lsPos[q]
		gain := pairGain(m, a.nodes, i, j)
		if gain <= improveGain {
			continue
		}
		best := insertion{route: -1, cost: gain - improveGain}
		b.bestPair(m, p, 0, nil, &best, rj)
		if best.route < 0 {
			continue
		}
		oldA := append(s.lsBuf[:0], a.nodes...)
		oldB := append(s.lsBuf2[:0], b.nodes...)
		s.lsBuf, s.lsBuf2 = oldA, oldB
		a.nodes = append(a.nodes[:0], oldA[:i]...)
		a.nodes = append(a.nodes, oldA[i+1:j]...)
		a.nodes = append(a.nodes, oldA[j+1:]...)
		b.nodes = pairNodes(b.nodes, oldB, p, q, best.i, best.j)
		s.lsDelta, s.lsMoved = best.cost-gain, p
		if s.keepPair(ri, rj, oldA, oldB) {
			return true
		}
		s.markPositions(a)
	}
	return false
}

// pairExchange swaps the first request of route ri and request of route rj
// whose removals save more than their cheapest insertions into the other
// route cost. Partner requests are drawn from the nearest neighbours of
// the moved request's nodes.
func (s *search) pairExchange(ri, rj int) bool {
	m := s.m
	a, b := s.routes[ri], s.routes[rj]
	ta, tb := s.scratchRoutes()
	s.markPositions(b)
	if len(s.lsCand) < m.n {
		s.lsCand = make([]int, m.n)
	}
	for i := 1; i < len(a.nodes)-1; i++ {
		p := a.nodes[i]
		if !m.pickup[p] {
			continue
		}
		q := m.partner[p]
		s.lsCandStamp++
		cands := s.lsBuf3[:0]
		for _, u := range [2]int{p, q} {
			for _, v := range m.neighbors[u][:min(exchangeNeighbors, len(m.neighbors[u]))] {
				if s.where[v] != rj {
					continue
				}
				if !m.pickup[v] {
					v = m.partner[v]
				}
				if s.lsCand[v] != s.lsCandStamp {
					s.lsCand[v] = s.lsCandStamp
					cands = append(cands, v)
				}
			}
		}
		s.lsBuf3 = cands
		if len(cands) == 0 {
			continue
		}
		j := slicesIndex(a.nodes, q, i+1)
		gainA := pairGain(m, a.nodes, i, j)
		withoutPair(m, ta, a, i, j)
		for _, p2 := range cands {
			q2 := m.partner[p2]
			i2, j2 := s.lsPos[p2], s.lsPos[q2]
			gain := gainA + pairGain(m, b.nodes, i2, j2)
			if gain <= improveGain {
				continue
			}
			into := insertion{route: -1, cost: gain - improveGain}
			ta.bestPair(m, p2, 0, nil, &into, ri)
			if into.route < 0 {
				continue
			}
			withoutPair(m, tb, b, i2, j2)
			back := insertion{route: -1, cost: gain - into.cost - improveGain}
			tb.bestPair(m, p, 0, nil, &back, rj)
			if back.route < 0 {
				continue
			}
			oldA := append(s.lsBuf[:0], a.nodes...)
			oldB := append(s.lsBuf2[:0], b.nodes...)
			s.lsBuf, s.lsBuf2 = oldA, oldB
			a.nodes = pairNodes(a.nodes, ta.nodes, p2, q2, into.i, into.j)
			b.nodes = pairNodes(b.nodes, tb.nodes, p, q, back.i, back.j)
			s.lsDelta, s.lsMoved = into.cost+back.cost-gain, p
			if s.keepPair(ri, rj, oldA, oldB) {
				return true
			}
			s.markPositions(b)
		}
	}
	return false
}

// slicesIndex returns the position of v in nodes at or after from.
func slicesIndex(nodes []int, v, from int) int {
	for k := from; k < len(nodes); k++ {
		if nodes[k] == v {
			return k
		}
	}
	return -1
}

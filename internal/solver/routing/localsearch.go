package routing

import "math"

// Local search for VRPTW: intra-route or-opt (moving strings of up to
// orOptLen customers) and 2-opt (reversal), checked in constant time by
// segment concatenation, and inter-route 2-opt* (tail exchange) and
// relocate, checked from the cached earliest and latest service starts.
// It runs on the routes a ruin-and-recreate step changed when the step
// yields a new best: string removal reorders a long route only a few
// customers at a time, which these moves do directly. For pickup and
// delivery, improve runs the pair moves of pairsearch.go instead, and the
// moves here keep every pickup before its delivery.

const (
	orOptLen = 3
	// improveGain is the least distance a move must save, so rounding
	// noise never loops.
	improveGain = 1e-7
	// improveRounds bounds the passes over the routes of one step.
	improveRounds = 20
	// lsNeighbors is the granular neighbourhood of the inter-route moves.
	lsNeighbors = 20
)

// improve applies improving moves to the routes in list (and the routes
// they exchange customers with) until none is found or the round limit is
// reached. Routes may become empty; the caller's commit drops them.
func (s *search) improve(list []int) {
	intra, inter := s.intraRoute, s.interRoute
	if s.m.pd {
		intra, inter = s.intraPair, s.interPair
	}
	s.lsStamp++
	queue := s.lsQueue[:0]
	for _, ri := range list {
		if ri < len(s.routes) && s.lsMark[ri] != s.lsStamp {
			s.lsMark[ri] = s.lsStamp
			queue = append(queue, ri)
		}
	}
	for round := 0; round < improveRounds && len(queue) > 0; round++ {
		next := s.lsNext[:0]
		s.lsStamp++
		add := func(ri int) {
			if s.lsMark[ri] != s.lsStamp {
				s.lsMark[ri] = s.lsStamp
				next = append(next, ri)
			}
		}
		for _, ri := range queue {
			if s.routes[ri].customers() == 0 {
				continue
			}
			if intra(ri) {
				add(ri)
			}
			if rj, ok := inter(ri); ok {
				add(ri)
				add(rj)
			}
		}
		s.lsQueue, s.lsNext = next, queue
		queue = next
	}
	s.lsQueue = queue[:0]
}

// computeSegs fills s.fwd and s.bwd with the prefix and suffix summaries of
// r.
func (s *search) computeSegs(r *route) {
	m := s.m
	k := len(r.nodes)
	if cap(s.fwd) < k {
		s.fwd = make([]seg, k, 2*k)
		s.bwd = make([]seg, k, 2*k)
	}
	fwd, bwd := s.fwd[:k], s.bwd[:k]
	fwd[0] = nodeSeg(m, 0)
	for i := 1; i < k; i++ {
		fwd[i] = join(fwd[i-1], nodeSeg(m, r.nodes[i]), m.d(r.nodes[i-1], r.nodes[i]))
	}
	bwd[k-1] = nodeSeg(m, 0)
	for i := k - 2; i >= 0; i-- {
		bwd[i] = join(nodeSeg(m, r.nodes[i]), bwd[i+1], m.d(r.nodes[i], r.nodes[i+1]))
	}
	s.fwd, s.bwd = fwd, bwd
}

// intraRoute improves route ri by or-opt and 2-opt moves to a local
// optimum; it reports whether the route changed.
func (s *search) intraRoute(ri int) bool {
	r := s.routes[ri]
	changed := false
	for tries := 0; tries < 4*len(r.nodes); tries++ {
		s.computeSegs(r)
		if !s.orOpt(r) && !s.twoOpt(r) {
			break
		}
		changed = true
	}
	return changed
}

// orOpt applies the first improving move of a string of 1 to orOptLen
// customers to another place in the same route.
func (s *search) orOpt(r *route) bool {
	m := s.m
	nodes := r.nodes
	k := len(nodes) - 1 // index of the closing depot
	fwd, bwd := s.fwd, s.bwd
	pd := m.pd
	for l := 1; l <= orOptLen; l++ {
		for i := 1; i+l-1 <= k-1; i++ {
			first, last := nodes[i], nodes[i+l-1]
			a, b := nodes[i-1], nodes[i+l]
			gain := m.d(a, first) + m.d(last, b) - m.d(a, b)
			if gain <= improveGain {
				continue
			}
			sg := nodeSeg(m, first)
			for x := i + 1; x < i+l; x++ {
				sg = join(sg, nodeSeg(m, nodes[x]), m.d(nodes[x-1], nodes[x]))
			}
			// Forward: after nodes[j], j in [i+l, k-1].
			pre := fwd[i-1]
			prev := a
			for j := i + l; j < k; j++ {
				if pd && s.partnerIn(nodes[j], false, i, i+l) {
					break // the string's pickup would follow its delivery
				}
				pre = join(pre, nodeSeg(m, nodes[j]), m.d(prev, nodes[j]))
				prev = nodes[j]
				if pre.warp > eps {
					break
				}
				c, n := nodes[j], nodes[j+1]
				delta := m.d(c, first) + m.d(last, n) - m.d(c, n) - gain
				if delta >= -improveGain {
					continue
				}
				t := join(join(pre, sg, m.d(c, first)), bwd[j+1], m.d(last, n))
				s.lsDelta, s.lsMoved = delta, first
				if t.warp <= eps && s.moveString(r, i, l, j) {
					return true
				}
			}
			// Backward: after nodes[j], j in [0, i-2].
			post := bwd[i+l]
			next := b
			for j := i - 2; j >= 0; j-- {
				if pd && s.partnerIn(nodes[j+1], true, i, i+l) {
					break // the string's delivery would precede its pickup
				}
				post = join(nodeSeg(m, nodes[j+1]), post, m.d(nodes[j+1], next))
				next = nodes[j+1]
				if post.warp > eps {
					break
				}
				c, n := nodes[j], nodes[j+1]
				delta := m.d(c, first) + m.d(last, n) - m.d(c, n) - gain
				if delta >= -improveGain {
					continue
				}
				t := join(join(fwd[j], sg, m.d(c, first)), post, m.d(last, n))
				s.lsDelta, s.lsMoved = delta, first
				if t.warp <= eps && s.moveString(r, i, l, j) {
					return true
				}
			}
		}
	}
	return false
}

// moveString moves nodes[i:i+l] after nodes[j] (j outside the string),
// keeping the change only when the re-simulated route is feasible.
func (s *search) moveString(r *route, i, l, j int) bool {
	old := append(s.lsBuf[:0], r.nodes...)
	s.lsBuf = old
	out := r.nodes[:0]
	if j >= i+l {
		out = append(out, old[:i]...)
		out = append(out, old[i+l:j+1]...)
		out = append(out, old[i:i+l]...)
		out = append(out, old[j+1:]...)
	} else {
		out = append(out, old[:j+1]...)
		out = append(out, old[i:i+l]...)
		out = append(out, old[j+1:i]...)
		out = append(out, old[i+l:]...)
	}
	return s.keepIfFeasible(r, out, old)
}

// twoOpt applies the first improving reversal of nodes[i..j].
func (s *search) twoOpt(r *route) bool {
	m := s.m
	nodes := r.nodes
	k := len(nodes) - 1
	fwd, bwd := s.fwd, s.bwd
	for i := 1; i < k-1; i++ {
		a := nodes[i-1]
		rev := nodeSeg(m, nodes[i])
		inner, innerRev := 0.0, 0.0
		for j := i + 1; j < k; j++ {
			if m.pd && s.partnerIn(nodes[j], false, i, j) {
				break // a whole pair would be reversed
			}
			rev = join(nodeSeg(m, nodes[j]), rev, m.d(nodes[j], nodes[j-1]))
			if rev.warp > eps {
				break
			}
			inner += m.d(nodes[j-1], nodes[j])
			innerRev += m.d(nodes[j], nodes[j-1])
			n := nodes[j+1]
			delta := m.d(a, nodes[j]) + m.d(nodes[i], n) + innerRev - m.d(a, nodes[i]) - m.d(nodes[j], n) - inner
			if delta >= -improveGain {
				continue
			}
			t := join(join(fwd[i-1], rev, m.d(a, nodes[j])), bwd[j+1], m.d(nodes[i], n))
			if t.warp > eps {
				continue
			}
			old := append(s.lsBuf[:0], nodes...)
			s.lsBuf = old
			s.lsDelta, s.lsMoved = delta, nodes[i]
			for x, y := i, j; x < y; x, y = x+1, y-1 {
				nodes[x], nodes[y] = nodes[y], nodes[x]
			}
			if s.keepIfFeasible(r, nodes, old) {
				return true
			}
		}
	}
	return false
}

// keepIfFeasible installs nodes as the route and re-simulates it; an
// infeasible result (rounding disagreement) restores old.
func (s *search) keepIfFeasible(r *route, nodes, old []int) bool {
	r.nodes = nodes
	if r.feasible(s.m) && s.pairsIntact(r) {
		r.update(s.m)
		return true
	}
	r.nodes = append(r.nodes[:0], old...)
	return false
}

// interRoute applies the first improving 2-opt* or relocate move between
// route ri and a route visiting one of its customers' nearest neighbours;
// it returns the other route.
func (s *search) interRoute(ri int) (int, bool) {
	m := s.m
	a := s.routes[ri]
	s.gstamp++
	s.gmark[ri] = s.gstamp
	for _, u := range a.nodes[1 : len(a.nodes)-1] {
		for _, v := range m.neighbors[u][:min(lsNeighbors, len(m.neighbors[u]))] {
			rj := s.where[v]
			if rj < 0 || s.gmark[rj] == s.gstamp {
				continue
			}
			s.gmark[rj] = s.gstamp
			if s.twoOptStar(ri, rj) || s.relocate(ri, rj) || s.relocate(rj, ri) {
				return rj, true
			}
		}
	}
	return -1, false
}

// twoOptStar exchanges the tails of routes ri and rj: ri keeps positions
// 0..i and continues with rj after position j, and the other way round.
func (s *search) twoOptStar(ri, rj int) bool {
	m := s.m
	a, b := s.routes[ri], s.routes[rj]
	ka, kb := len(a.nodes)-1, len(b.nodes)-1
	la, lb := a.totalLoad(), b.totalLoad()
	for i := 0; i < ka; i++ {
		u, un := a.nodes[i], a.nodes[i+1]
		du := m.d(u, un)
		tu := a.start[i] + m.svc[u]
		for j := 0; j < kb; j++ {
			if (i == 0 && j == 0) || (i == ka-1 && j == kb-1) {
				continue
			}
			v, vn := b.nodes[j], b.nodes[j+1]
			delta := m.d(u, vn) + m.d(v, un) - du - m.d(v, vn)
			if delta >= -improveGain {
				continue
			}
			if a.load[i]+lb-b.load[j] > m.cap || b.load[j]+la-a.load[i] > m.cap {
				continue
			}
			if m.pd && (a.load[i] != 0 || b.load[j] != 0) {
				continue // a pair would be split between two vehicles
			}
			if math.Max(m.ready[vn], tu+m.d(u, vn)) > b.latest[j+1]+eps {
				continue
			}
			if math.Max(m.ready[un], b.start[j]+m.svc[v]+m.d(v, un)) > a.latest[i+1]+eps {
				continue
			}
			s.lsDelta, s.lsMoved = delta, un
			if s.applyTwoOptStar(ri, rj, i, j) {
				return true
			}
		}
	}
	return false
}

func (s *search) applyTwoOptStar(ri, rj, i, j int) bool {
	a, b := s.routes[ri], s.routes[rj]
	oldA := append(s.lsBuf[:0], a.nodes...)
	oldB := append(s.lsBuf2[:0], b.nodes...)
	s.lsBuf, s.lsBuf2 = oldA, oldB
	a.nodes = append(append(a.nodes[:0], oldA[:i+1]...), oldB[j+1:]...)
	b.nodes = append(append(b.nodes[:0], oldB[:j+1]...), oldA[i+1:]...)
	return s.keepPair(ri, rj, oldA, oldB)
}

// relocate moves the first customer of route ri whose removal saves more
// than its cheapest insertion into route rj costs.
func (s *search) relocate(ri, rj int) bool {
	m := s.m
	a, b := s.routes[ri], s.routes[rj]
	for p := 1; p < len(a.nodes)-1; p++ {
		u := a.nodes[p]
		gain := m.d(a.nodes[p-1], u) + m.d(u, a.nodes[p+1]) - m.d(a.nodes[p-1], a.nodes[p+1])
		if gain <= improveGain {
			continue
		}
		best := insertion{route: -1, cost: gain - improveGain}
		b.bestNode(m, u, 0, nil, &best, rj)
		if best.route < 0 {
			continue
		}
		oldA := append(s.lsBuf[:0], a.nodes...)
		oldB := append(s.lsBuf2[:0], b.nodes...)
		s.lsBuf, s.lsBuf2 = oldA, oldB
		a.nodes = append(append(a.nodes[:0], oldA[:p]...), oldA[p+1:]...)
		b.nodes = append(b.nodes, 0)
		copy(b.nodes[best.i+2:], b.nodes[best.i+1:])
		b.nodes[best.i+1] = u
		if s.keepPair(ri, rj, oldA, oldB) {
			return true
		}
	}
	return false
}

// keepPair re-simulates two changed routes and keeps them when both are
// feasible, restoring both otherwise.
func (s *search) keepPair(ri, rj int, oldA, oldB []int) bool {
	m := s.m
	a, b := s.routes[ri], s.routes[rj]
	if a.feasible(m) && b.feasible(m) && s.pairsIntact(a) && s.pairsIntact(b) {
		a.update(m)
		b.update(m)
		for _, v := range a.nodes[1 : len(a.nodes)-1] {
			s.where[v] = ri
		}
		for _, v := range b.nodes[1 : len(b.nodes)-1] {
			s.where[v] = rj
		}
		return true
	}
	a.nodes = append(a.nodes[:0], oldA...)
	b.nodes = append(b.nodes[:0], oldB...)
	return false
}

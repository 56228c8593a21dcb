package routing

import "math"

// eps absorbs rounding between forward and backward time propagation.
const eps = 1e-9

// route is one vehicle's tour with cached schedule data, so that an
// insertion is tested in constant time: start holds the earliest service
// start at every position, latest the latest start that keeps the rest of
// the route on time (forward and backward slack).
type route struct {
	nodes  []int // depot first and last
	start  []float64
	latest []float64
	load   []int // load on board after each position
	dist   float64
	fwd    []seg // prefix summaries, kept only in penalised search
	bwd    []seg // suffix summaries
	segs   bool  // whether fwd and bwd are maintained
	// qmin is bestPair's scratch: the cheapest detour of the delivery
	// over the edges from each position on.
	qmin []float64
}

func newRoute(m *model) *route {
	r := &route{nodes: []int{0, 0}}
	r.update(m)
	return r
}

// customers returns the number of task nodes on the route.
func (r *route) customers() int { return len(r.nodes) - 2 }

// update recomputes the cached schedule after the node list changed.
func (r *route) update(m *model) {
	k := len(r.nodes)
	if cap(r.start) < k {
		r.start = make([]float64, k, 2*k)
		r.latest = make([]float64, k, 2*k)
		r.load = make([]int, k, 2*k)
	}
	r.start, r.latest, r.load = r.start[:k], r.latest[:k], r.load[:k]
	r.start[0] = m.ready[0]
	r.load[0] = 0
	dist := 0.0
	for i := 1; i < k; i++ {
		a, b := r.nodes[i-1], r.nodes[i]
		d := m.d(a, b)
		dist += d
		r.start[i] = math.Max(m.ready[b], r.start[i-1]+m.svc[a]+d)
		r.load[i] = r.load[i-1] + m.dem[b]
	}
	r.dist = dist
	r.latest[k-1] = m.horizon
	for i := k - 2; i >= 0; i-- {
		a, b := r.nodes[i], r.nodes[i+1]
		r.latest[i] = math.Min(m.due[a], r.latest[i+1]-m.d(a, b)-m.svc[a])
	}
	r.latest[0] = math.Min(r.latest[0], m.due[0])
	if r.segs {
		r.updateSegs(m)
	}
}

// totalLoad is the VRPTW load of the route.
func (r *route) totalLoad() int { return r.load[len(r.load)-1] }

// feasible re-simulates the whole route; used to guard moves evaluated by
// other means.
func (r *route) feasible(m *model) bool {
	t := m.ready[0]
	load := 0
	for i := 1; i < len(r.nodes); i++ {
		a, b := r.nodes[i-1], r.nodes[i]
		t = math.Max(m.ready[b], t+m.svc[a]+m.d(a, b))
		if t > m.due[b]+eps {
			return false
		}
		load += m.dem[b]
		if load > m.cap || load < 0 {
			return false
		}
	}
	return true
}

// insertNodeCost returns the added distance of inserting customer u after
// position i, or +Inf when that breaks a time window.
func (r *route) insertNodeCost(m *model, u, i int) float64 {
	a, b := r.nodes[i], r.nodes[i+1]
	dau := m.d(a, u)
	tu := math.Max(m.ready[u], r.start[i]+m.svc[a]+dau)
	if tu > m.due[u]+eps {
		return math.Inf(1)
	}
	dub := m.d(u, b)
	if math.Max(m.ready[b], tu+m.svc[u]+dub) > r.latest[i+1]+eps {
		return math.Inf(1)
	}
	return dau + dub - m.d(a, b)
}

// insertion is a candidate position: node(s) go after position i (and, for
// a pair, the delivery after position j of the original route, j >= i).
type insertion struct {
	route int
	i, j  int
	cost  float64
}

// bestNode finds the cheapest feasible position for customer u, skipping
// each position with probability blink.
func (r *route) bestNode(m *model, u int, blink float64, rng *rng, best *insertion, ri int) {
	if r.totalLoad()+m.dem[u] > m.cap {
		return
	}
	for i := 0; i < len(r.nodes)-1; i++ {
		a := r.nodes[i]
		tu := math.Max(m.ready[u], r.start[i]+m.svc[a]+m.d(a, u))
		if tu > m.due[u]+eps {
			break // later positions only start later
		}
		c := r.insertNodeCost(m, u, i)
		if c < best.cost && (blink == 0 || rng.Float64() >= blink) {
			*best = insertion{route: ri, i: i, j: i, cost: c}
		}
	}
}

// bestPair finds the cheapest feasible positions for pickup p and its
// delivery q, walking the time shift forward from the pickup.
func (r *route) bestPair(m *model, p int, blink float64, rng *rng, best *insertion, ri int) {
	q := m.partner[p]
	nodes := r.nodes
	last := len(nodes) - 1
	qp := m.dem[p]
	var qmin []float64
	for i := 0; i < last; i++ {
		if r.load[i]+qp > m.cap {
			continue
		}
		a := nodes[i]
		dap := m.d(a, p)
		tp := math.Max(m.ready[p], r.start[i]+m.svc[a]+dap)
		if tp > m.due[p]+eps {
			break
		}
		b := nodes[i+1]
		// Delivery right after the pickup.
		dpq := m.d(p, q)
		tq := math.Max(m.ready[q], tp+m.svc[p]+dpq)
		if tq <= m.due[q]+eps {
			dqb := m.d(q, b)
			if math.Max(m.ready[b], tq+m.svc[q]+dqb) <= r.latest[i+1]+eps {
				c := dap + dpq + dqb - m.d(a, b)
				if c < best.cost && (blink == 0 || rng.Float64() >= blink) {
					*best = insertion{route: ri, i: i, j: i, cost: c}
				}
			}
		}
		if i+1 == last {
			continue
		}
		dpb := m.d(p, b)
		t := math.Max(m.ready[b], tp+m.svc[p]+dpb)
		if t > r.latest[i+1]+eps {
			continue
		}
		cp := dap + dpb - m.d(a, b)
		if cp >= best.cost {
			continue
		}
		if qmin == nil {
			qmin = r.deliveryBounds(m, q)
		}
		if cp+qmin[i+1] >= best.cost {
			// No delivery position after the pickup can pay off: on long
			// routes this skips most of the quadratic scan.
			continue
		}
		for j := i + 1; j < last; j++ {
			if r.load[j]+qp > m.cap {
				break
			}
			c := nodes[j]
			cn := nodes[j+1]
			dcq := m.d(c, q)
			tq := math.Max(m.ready[q], t+m.svc[c]+dcq)
			if tq > m.due[q]+eps {
				break
			}
			dqn := m.d(q, cn)
			if math.Max(m.ready[cn], tq+m.svc[q]+dqn) <= r.latest[j+1]+eps {
				cost := cp + dcq + dqn - m.d(c, cn)
				if cost < best.cost && (blink == 0 || rng.Float64() >= blink) {
					*best = insertion{route: ri, i: i, j: j, cost: cost}
				}
			}
			if j+1 == last {
				break
			}
			nt := math.Max(m.ready[cn], t+m.svc[c]+m.d(c, cn))
			if nt > r.latest[j+1]+eps {
				break
			}
			t = nt
		}
	}
}

// deliveryBounds fills r.qmin: qmin[j] is the least added distance of
// inserting q on any edge from position j on, a lower bound that ignores
// time windows and load (the triangle inequality keeps it non-negative).
func (r *route) deliveryBounds(m *model, q int) []float64 {
	k := len(r.nodes)
	if cap(r.qmin) < k {
		r.qmin = make([]float64, k, 2*k)
	}
	qmin := r.qmin[:k]
	qmin[k-1] = math.Inf(1)
	for j := k - 2; j >= 0; j-- {
		c, cn := r.nodes[j], r.nodes[j+1]
		qmin[j] = min(qmin[j+1], m.d(c, q)+m.d(q, cn)-m.d(c, cn))
	}
	return qmin
}

// insertAt puts u after position i (and, for a pair, q after original
// position j) and refreshes the schedule.
func (r *route) insertAt(m *model, u, i, j int) {
	if !m.pd {
		r.nodes = append(r.nodes, 0)
		copy(r.nodes[i+2:], r.nodes[i+1:])
		r.nodes[i+1] = u
		r.update(m)
		return
	}
	q := m.partner[u]
	r.nodes = append(r.nodes, 0, 0)
	// Original positions: [0..i] stay, u at i+1, [i+1..j] shift by one,
	// q at j+2, [j+1..] shift by two.
	old := r.nodes[:len(r.nodes)-2]
	n := len(old)
	copy(r.nodes[j+3:], old[j+1:n])
	copy(r.nodes[i+2:], old[i+1:j+1])
	r.nodes[i+1] = u
	r.nodes[j+2] = q
	r.update(m)
}

// removeNodes drops every node for which drop is true.
func (r *route) removeNodes(m *model, drop []bool) {
	out := r.nodes[:1]
	for _, v := range r.nodes[1:] {
		if v == 0 || !drop[v] {
			out = append(out, v)
		}
	}
	r.nodes = out
	r.update(m)
}

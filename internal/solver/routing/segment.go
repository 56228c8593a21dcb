package routing

// seg summarises a run of consecutive nodes for time-window checks by
// concatenation (Vidal et al., 2013): duration including service and
// waiting, accumulated time warp (lateness forgiven by "travelling back in
// time", the penalised measure of infeasibility), and the earliest and
// latest start of the run that achieve them.
type seg struct {
	dur, warp, early, late float64
}

func nodeSeg(m *model, v int) seg {
	return seg{dur: m.svc[v], early: m.ready[v], late: m.due[v]}
}

// join concatenates a and b with travel time d between them.
func join(a, b seg, d float64) seg {
	delta := a.dur - a.warp + d
	wait := max(b.early-delta-a.late, 0)
	warp := max(a.early+delta-b.late, 0)
	return seg{
		dur:   a.dur + b.dur + d + wait,
		warp:  a.warp + b.warp + warp,
		early: max(b.early-delta, a.early) - wait,
		late:  min(b.late-delta, a.late) + warp,
	}
}

// updateSegs recomputes the prefix and suffix summaries of the route.
func (r *route) updateSegs(m *model) {
	k := len(r.nodes)
	if cap(r.fwd) < k {
		r.fwd = make([]seg, k, 2*k)
		r.bwd = make([]seg, k, 2*k)
	}
	r.fwd, r.bwd = r.fwd[:k], r.bwd[:k]
	r.fwd[0] = nodeSeg(m, 0)
	for i := 1; i < k; i++ {
		r.fwd[i] = join(r.fwd[i-1], nodeSeg(m, r.nodes[i]), m.d(r.nodes[i-1], r.nodes[i]))
	}
	r.bwd[k-1] = nodeSeg(m, 0)
	for i := k - 2; i >= 0; i-- {
		r.bwd[i] = join(nodeSeg(m, r.nodes[i]), r.bwd[i+1], m.d(r.nodes[i], r.nodes[i+1]))
	}
}

// warp is the route's total time warp; zero means on time everywhere.
func (r *route) warp() float64 { return r.fwd[len(r.fwd)-1].warp }

// bestNodePenalised finds the cheapest position for customer u when time
// windows may be broken at a price of lambda per unit of time warp.
func (r *route) bestNodePenalised(m *model, u int, lambda, blink float64, rng *rng, best *insertion, ri int) {
	if r.totalLoad()+m.dem[u] > m.cap {
		return
	}
	su := nodeSeg(m, u)
	w0 := r.warp()
	for i := 0; i < len(r.nodes)-1; i++ {
		a, b := r.nodes[i], r.nodes[i+1]
		dau, dub := m.d(a, u), m.d(u, b)
		dd := dau + dub - m.d(a, b)
		if dd >= best.cost {
			continue
		}
		s := join(join(r.fwd[i], su, dau), r.bwd[i+1], dub)
		c := dd + lambda*(s.warp-w0)
		if c < best.cost && (blink == 0 || rng.Float64() >= blink) {
			*best = insertion{route: ri, i: i, j: i, cost: c}
		}
	}
}

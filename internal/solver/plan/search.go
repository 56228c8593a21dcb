package plan

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// truckCost is what opening an unused truck adds to an insertion, in
// miles: more than any route's miles, so an insertion into a truck already
// on the road always wins (fewest trucks before fewest miles).
const truckCost = 1e6

// maxTries bounds the full evaluations of one load's insertions into one
// route, cheapest first by miles; the rest are left out as unlikely.
const maxTries = 16

// route is one truck's events with what the insertions test against.
type route struct {
	ev    []int
	miles float64
	// onb[k] is the weight on board after the first k events.
	onb []float64
	// dep[k] bounds from below the departure after the first k events
	// (rests ignored): an insertion reaching a pickup later than its
	// window is pruned without a simulation.
	dep []time.Time
	// lat[k] is the latest start of event k that leaves the rest of the
	// route, and the shift, reachable without rests.
	lat []time.Time
}

// search is one solution under improvement.
type search struct {
	ctx  context.Context
	m    *model
	opts Options
	ev   *evaluator
	rng  *rand.Rand

	routes     []route
	where      []int // load -> truck, -1 when not routed
	unassigned []int // loads with candidates that are not routed

	start time.Time
	iter  int
	frac  float64
	done  bool

	best    snapshot
	current objective

	// Undo journal of a step.
	step    int
	savedAt []int
	saved   []savedRoute
	invalid bool // a removal broke a route: the step is rolled back
	cut     bool // a recreate was cut short by the time limit or ctx

	// Adaptive operator weights.
	ruinW, insW       []float64
	ruinS, insS       []float64
	ruinN, insN       []int
	lastRuin, lastIns int

	// ver counts the changes of each route; memo keeps, per load and
	// candidate truck, the best insertion found and the version of the
	// route it was found on, so loads left out are not re-evaluated
	// against routes that have not changed.
	ver  []int
	memo [][]memoEntry

	// Scratch.
	buf      []int
	cands    []insCand
	pool     []poolItem
	insCache []insertion
	changed  []int
}

type memoEntry struct {
	ver int
	in  insertion
}

type savedRoute struct {
	t     int
	ev    []int
	miles float64
}

// objective is the hierarchy: more served, then fewer trucks, then fewer
// miles.
type objective struct {
	served, trucks int
	miles          float64
}

func (o objective) better(b objective) bool {
	switch {
	case o.served != b.served:
		return o.served > b.served
	case o.trucks != b.trucks:
		return o.trucks < b.trucks
	}
	return o.miles < b.miles-1e-6
}

type snapshot struct {
	obj    objective
	routes [][]int
	ok     bool
}

func newSearch(ctx context.Context, m *model, opts Options) *search {
	s := &search{
		ctx: ctx, m: m, opts: opts, ev: newEvaluator(m),
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		routes:  make([]route, len(m.trucks)),
		where:   make([]int, len(m.loads)),
		savedAt: make([]int, len(m.trucks)),
		ruinW:   []float64{1, 1, 1, 1},
		insW:    []float64{1, 1, 1, 1},
		ruinS:   make([]float64, 4),
		insS:    make([]float64, 4),
		ruinN:   make([]int, 4),
		insN:    make([]int, 4),
	}
	for i := range s.where {
		s.where[i] = -1
	}
	s.ver = make([]int, len(m.trucks))
	s.memo = make([][]memoEntry, len(m.loads))
	for l := range s.memo {
		s.memo[l] = make([]memoEntry, len(m.cand[l]))
		for c := range s.memo[l] {
			s.memo[l][c].ver = -1
		}
	}
	for t := range s.routes {
		s.update(t, 0)
	}
	s.start = opts.Now()
	return s
}

// update refreshes route t's bounds after its events changed.
func (s *search) update(t int, miles float64) {
	r := &s.routes[t]
	m := s.m
	tm := &m.trucks[t]
	s.ver[t]++
	r.miles = miles
	n := len(r.ev)
	r.onb = slices.Grow(r.onb[:0], n+1)
	r.dep = slices.Grow(r.dep[:0], n+1)
	r.onb = append(r.onb, 0)
	r.dep = append(r.dep, tm.clock.At)
	now, at, w := tm.clock.At, m.startID(t), 0.0
	for _, e := range r.ev {
		st := m.stop(e)
		now = now.Add(m.p.DriveTime(m.d(at, e)))
		if now.Before(st.Earliest) {
			now = st.Earliest
		}
		now = now.Add(st.Service)
		at = e
		if isDelivery(e) {
			w -= m.loads[loadOf(e)].weight
		} else {
			w += m.loads[loadOf(e)].weight
		}
		r.onb = append(r.onb, w)
		r.dep = append(r.dep, now)
	}
	r.lat = slices.Grow(r.lat[:0], n)[:n]
	for k := n - 1; k >= 0; k-- {
		st := m.stop(r.ev[k])
		latest := st.Latest
		var bound time.Time
		switch {
		case k+1 < n:
			bound = r.lat[k+1].Add(-m.p.DriveTime(m.d(r.ev[k], r.ev[k+1])) - st.Service)
		case !tm.shiftEnd.IsZero():
			bound = tm.shiftEnd.Add(-st.Service)
			if tm.hasHome {
				bound = bound.Add(-m.p.DriveTime(m.d(r.ev[k], m.homeID(t))))
			}
		}
		if !bound.IsZero() && bound.Before(latest) {
			latest = bound
		}
		r.lat[k] = latest
	}
}

func (s *search) objective() objective {
	var o objective
	for t := range s.routes {
		if len(s.routes[t].ev) > 0 {
			o.trucks++
			o.served += len(s.routes[t].ev) / 2
			o.miles += s.routes[t].miles
		}
	}
	return o
}

// touch saves route t in the step's journal before its first change.
func (s *search) touch(t int) {
	if s.savedAt[t] == s.step {
		return
	}
	s.savedAt[t] = s.step
	s.saved = append(s.saved, savedRoute{t: t, ev: append([]int(nil), s.routes[t].ev...), miles: s.routes[t].miles})
}

func (s *search) begin() {
	s.step++
	s.saved = s.saved[:0]
	s.invalid = false
}

func (s *search) rollback() {
	for _, sv := range s.saved {
		for _, e := range s.routes[sv.t].ev {
			s.where[loadOf(e)] = -1
		}
	}
	for _, sv := range s.saved {
		s.routes[sv.t].ev = append(s.routes[sv.t].ev[:0], sv.ev...)
		for _, e := range sv.ev {
			s.where[loadOf(e)] = sv.t
		}
		s.update(sv.t, sv.miles)
	}
	s.rebuildUnassigned()
	s.saved = s.saved[:0]
}

func (s *search) rebuildUnassigned() {
	s.unassigned = s.unassigned[:0]
	for l, t := range s.where {
		if t < 0 && len(s.m.cand[l]) > 0 {
			s.unassigned = append(s.unassigned, l)
		}
	}
}

// changedRoutes lists the routes the step touched.
func (s *search) changedRoutes() []int {
	s.changed = s.changed[:0]
	for _, sv := range s.saved {
		s.changed = append(s.changed, sv.t)
	}
	return s.changed
}

// remove takes load l off its route and re-evaluates the route; a route
// that breaks (a removed stop was the break it needed) marks the step
// invalid.
func (s *search) remove(l int) {
	t := s.where[l]
	if t < 0 {
		return
	}
	s.touch(t)
	r := &s.routes[t]
	r.ev = slices.DeleteFunc(r.ev, func(e int) bool { return loadOf(e) == l })
	s.where[l] = -1
	miles, fail := s.ev.evaluate(t, r.ev)
	if fail != failNone {
		s.invalid = true
	}
	s.update(t, miles)
}

// insertion is the best way found to insert one load into one route.
type insertion struct {
	cost  float64 // added miles, plus truckCost when the truck was idle
	miles float64 // the route's miles after
	i, j  int     // pickup at i, delivery at j in the new sequence's terms
	ok    bool
}

type insCand struct {
	delta float64
	i, j  int
}

// build writes into s.buf the route's events with load l's pickup before
// position i and delivery before position j of the old sequence (i <= j).
func (s *search) build(ev []int, l, i, j int) []int {
	b := s.buf[:0]
	b = append(b, ev[:i]...)
	b = append(b, pickupEvent(l))
	b = append(b, ev[i:j]...)
	b = append(b, deliverEvent(l))
	b = append(b, ev[j:]...)
	s.buf = b
	return b
}

// bestInsertion finds the cheapest feasible insertion of load l into
// route t. Candidate positions are ranked by added miles, computed from
// distances alone, and simulated cheapest first: the first feasible one is
// the best, since miles are the only cost within a route. Positions that
// break a window or the shift even without rests (the route's forward
// departures and backward latest starts bound them) are never simulated.
func (s *search) bestInsertion(l, t int, noise float64) insertion {
	m := s.m
	r := &s.routes[t]
	tm := &m.trucks[t]
	ld := &m.loads[l]
	P, D := &ld.stops[0], &ld.stops[1]
	pe, de := pickupEvent(l), deliverEvent(l)
	n := len(r.ev)
	drive := m.p.DriveTime
	// fits reports whether leaving from at depart still reaches position
	// k of the old route (or the end) in time.
	fits := func(k int, from int, depart time.Time) bool {
		if k < n {
			return !depart.Add(drive(m.d(from, r.ev[k]))).After(r.lat[k])
		}
		if tm.shiftEnd.IsZero() {
			return true
		}
		if tm.hasHome {
			depart = depart.Add(drive(m.d(from, m.homeID(t))))
		}
		return !depart.After(tm.shiftEnd)
	}
	later := func(a, b time.Time) time.Time {
		if a.After(b) {
			return a
		}
		return b
	}
	s.cands = s.cands[:0]
	for i := 0; i <= n; i++ {
		if r.dep[i].After(P.Latest) {
			break
		}
		if r.onb[i]+ld.weight > tm.cap+1e-9 {
			continue
		}
		prev := m.startID(t)
		if i > 0 {
			prev = r.ev[i-1]
		}
		dPrevP := m.d(prev, pe)
		arrP := r.dep[i].Add(drive(dPrevP))
		if arrP.After(P.Latest) {
			continue
		}
		depP := later(arrP, P.Earliest).Add(P.Service)
		var next int
		hasNext := i < n || tm.hasHome
		switch {
		case i < n:
			next = r.ev[i]
		case tm.hasHome:
			next = m.homeID(t)
		}
		var oldPrevNext float64
		if hasNext {
			oldPrevNext = m.d(prev, next)
		}
		// Delivery right after the pickup.
		if startD := later(depP.Add(drive(ld.direct)), D.Earliest); !startD.After(D.Latest) && fits(i, de, startD.Add(D.Service)) {
			delta := dPrevP + ld.direct
			if hasNext {
				delta += m.d(de, next) - oldPrevNext
			}
			s.cands = append(s.cands, insCand{delta, i, i})
		}
		if i == n {
			break
		}
		dPfirst := m.d(pe, next)
		cur, at := depP, pe
		runMax := 0.0
		for j := i + 1; j <= n; j++ {
			e := r.ev[j-1]
			st := m.stop(e)
			leg := dPfirst
			if j-1 > i {
				leg = m.d(at, e)
			}
			arr := cur.Add(drive(leg))
			if arr.After(st.Latest) {
				break
			}
			cur, at = later(arr, st.Earliest).Add(st.Service), e
			runMax = max(runMax, r.onb[j])
			if runMax+ld.weight > tm.cap+1e-9 || cur.After(D.Latest) {
				break
			}
			dLastD := m.d(at, de)
			startD := later(cur.Add(drive(dLastD)), D.Earliest)
			if startD.After(D.Latest) || !fits(j, de, startD.Add(D.Service)) {
				continue
			}
			d := dPrevP + dPfirst - oldPrevNext + dLastD
			if j < n {
				nj := r.ev[j]
				d += m.d(de, nj) - m.d(at, nj)
			} else if tm.hasHome {
				d += m.d(de, m.homeID(t)) - m.d(at, m.homeID(t))
			}
			s.cands = append(s.cands, insCand{d, i, j})
		}
	}
	slices.SortFunc(s.cands, func(a, b insCand) int {
		switch {
		case a.delta < b.delta:
			return -1
		case a.delta > b.delta:
			return 1
		case a.i != b.i:
			return a.i - b.i
		}
		return a.j - b.j
	})
	for k, c := range s.cands {
		// The cheapest few, and always the end of the route, where a
		// dispatcher would put the load.
		if k >= maxTries && (c.i != n || c.j != n) {
			continue
		}
		miles, fail := s.ev.evaluate(t, s.build(r.ev, l, c.i, c.j))
		if fail != failNone {
			continue
		}
		cost := miles - r.miles
		if n == 0 {
			cost += truckCost
		}
		if noise > 0 {
			cost *= 1 + noise*(2*s.rng.Float64()-1)
		}
		return insertion{cost: cost, miles: miles, i: c.i, j: c.j, ok: true}
	}
	return insertion{}
}

// apply inserts load l into route t as in.
func (s *search) apply(l, t int, in insertion) {
	s.touch(t)
	r := &s.routes[t]
	r.ev = append(r.ev[:0], s.build(r.ev, l, in.i, in.j)...)
	s.where[l] = t
	s.update(t, in.miles)
}

// poolItem is an unrouted load during recreate, with its insertions into
// its candidate trucks at insCache[off : off+len(cand)].
type poolItem struct {
	l, off int
	done   bool
}

// Insertion operators.
const (
	insGreedy = iota
	insRegret2
	insRegret3
	insGreedyNoise
)

// recreate inserts the unrouted loads one at a time: the cheapest first
// (greedy) or the one that would lose most by waiting (regret-k).
func (s *search) recreate(op int) {
	m := s.m
	noise := 0.0
	if op == insGreedyNoise {
		noise = 0.1
	}
	k := 1
	switch op {
	case insRegret2:
		k = 2
	case insRegret3:
		k = 3
	}
	s.rebuildUnassigned() // the loads just removed among them
	s.rng.Shuffle(len(s.unassigned), func(a, b int) { s.unassigned[a], s.unassigned[b] = s.unassigned[b], s.unassigned[a] })
	s.pool = s.pool[:0]
	s.insCache = s.insCache[:0]
	for _, l := range s.unassigned {
		s.pool = append(s.pool, poolItem{l: l, off: len(s.insCache)})
		for c, t := range m.cand[l] {
			s.insCache = append(s.insCache, s.memoInsertion(l, c, t, noise))
		}
	}
	var costs [3]float64
	placed := 0
	for {
		bestP, bestScore, bestCost := -1, math.Inf(-1), math.Inf(1)
		for pi := range s.pool {
			it := &s.pool[pi]
			if it.done {
				continue
			}
			costs = [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
			found := 0
			for c := range m.cand[it.l] {
				in := s.insCache[it.off+c]
				if !in.ok {
					continue
				}
				found++
				// Keep the k cheapest, in order.
				for h := 0; h < k; h++ {
					if in.cost < costs[h] {
						copy(costs[h+1:k], costs[h:k-1])
						costs[h] = in.cost
						break
					}
				}
			}
			if found == 0 {
				continue
			}
			var score float64
			if k == 1 {
				score = -costs[0]
			} else {
				for h := 1; h < k; h++ {
					if math.IsInf(costs[h], 1) {
						score += 1e12 // few options left: place it now
					} else {
						score += costs[h] - costs[0]
					}
				}
			}
			if score > bestScore || (score == bestScore && costs[0] < bestCost) {
				bestP, bestScore, bestCost = pi, score, costs[0]
			}
		}
		if bestP < 0 {
			break
		}
		// The first plan of a large fleet takes a while: a search cut
		// short keeps what it has placed, which is feasible.
		if placed++; placed%16 == 0 && s.expired() {
			s.cut = true
			break
		}
		it := &s.pool[bestP]
		bestC := -1
		for c := range m.cand[it.l] {
			in := s.insCache[it.off+c]
			if in.ok && (bestC < 0 || in.cost < s.insCache[it.off+bestC].cost) {
				bestC = c
			}
		}
		t := m.cand[it.l][bestC]
		s.apply(it.l, t, s.insCache[it.off+bestC])
		it.done = true
		for pi := range s.pool {
			o := &s.pool[pi]
			if o.done {
				continue
			}
			if c := slices.Index(m.cand[o.l], t); c >= 0 {
				s.insCache[o.off+c] = s.memoInsertion(o.l, c, t, noise)
			}
		}
	}
	s.rebuildUnassigned()
}

// memoInsertion is bestInsertion of load l into its c-th candidate truck
// t, remembered while route t does not change (noisy insertions are not).
func (s *search) memoInsertion(l, c, t int, noise float64) insertion {
	if noise > 0 {
		return s.bestInsertion(l, t, noise)
	}
	e := &s.memo[l][c]
	if e.ver != s.ver[t] {
		e.in, e.ver = s.bestInsertion(l, t, 0), s.ver[t]
	}
	return e.in
}

// Ruin operators.
const (
	ruinRandom = iota
	ruinWorst
	ruinRelated
	ruinRoute
)

// routed lists the routed loads into s.buf.
func (s *search) routed() []int {
	out := s.buf[:0]
	for l, t := range s.where {
		if t >= 0 {
			out = append(out, l)
		}
	}
	s.buf = out
	return out
}

// ruin removes loads by the operator op.
func (s *search) ruin(op int) {
	loads := append([]int(nil), s.routed()...)
	if len(loads) == 0 {
		return
	}
	qmax := min(40, max(2, len(loads)*3/10))
	q := min(len(loads), 1+s.rng.IntN(qmax))
	switch op {
	case ruinRandom:
		s.rng.Shuffle(len(loads), func(a, b int) { loads[a], loads[b] = loads[b], loads[a] })
		for _, l := range loads[:q] {
			s.remove(l)
		}
	case ruinWorst:
		saving := make(map[int]float64, len(loads))
		for _, l := range loads {
			saving[l] = s.removalSaving(l)
		}
		slices.SortStableFunc(loads, func(a, b int) int {
			switch {
			case saving[a] > saving[b]:
				return -1
			case saving[a] < saving[b]:
				return 1
			}
			return 0
		})
		s.removeBiased(loads, q)
	case ruinRelated:
		// Around a routed load, or half the time around a load left out,
		// to make room for it.
		seed := loads[s.rng.IntN(len(loads))]
		if len(s.unassigned) > 0 && s.rng.IntN(2) == 0 {
			seed = s.unassigned[s.rng.IntN(len(s.unassigned))]
		}
		rel := make(map[int]float64, len(loads))
		for _, l := range loads {
			rel[l] = s.relatedness(seed, l)
		}
		slices.SortStableFunc(loads, func(a, b int) int {
			switch {
			case rel[a] < rel[b]:
				return -1
			case rel[a] > rel[b]:
				return 1
			}
			return 0
		})
		s.removeBiased(loads, q)
	case ruinRoute:
		// The smaller of two random routes in use.
		var used []int
		for t := range s.routes {
			if len(s.routes[t].ev) > 0 {
				used = append(used, t)
			}
		}
		t := used[s.rng.IntN(len(used))]
		if u := used[s.rng.IntN(len(used))]; len(s.routes[u].ev) < len(s.routes[t].ev) {
			t = u
		}
		for _, e := range slices.Clone(s.routes[t].ev) {
			if !isDelivery(e) {
				s.remove(loadOf(e))
			}
		}
	}
}

// removeBiased removes q loads from the ranked list, favouring its head
// (Ropke and Pisinger's y^p draw with p = 4).
func (s *search) removeBiased(ranked []int, q int) {
	for range q {
		if len(ranked) == 0 {
			return
		}
		y := s.rng.Float64()
		k := int(math.Pow(y, 4) * float64(len(ranked)))
		s.remove(ranked[k])
		ranked = slices.Delete(ranked, k, k+1)
	}
}

// removalSaving is how many miles route l's truck saves without l.
func (s *search) removalSaving(l int) float64 {
	t := s.where[l]
	r := &s.routes[t]
	ev := slices.DeleteFunc(append(s.buf[:0:0], r.ev...), func(e int) bool { return loadOf(e) == l })
	return r.miles - s.pathMiles(t, ev)
}

// pathMiles sums a route's legs.
func (s *search) pathMiles(t int, ev []int) float64 {
	m := s.m
	tm := &m.trucks[t]
	at, miles := m.startID(t), 0.0
	for _, e := range ev {
		miles += m.d(at, e)
		at = e
	}
	if tm.hasHome && len(ev) > 0 {
		miles += m.d(at, m.homeID(t))
	}
	return miles
}

// relatedness is small for loads with nearby stops and appointment times
// (Shaw's measure with miles and driving hours as the common unit).
func (s *search) relatedness(a, b int) float64 {
	m := s.m
	la, lb := &m.loads[a], &m.loads[b]
	hours := math.Abs(la.stops[0].Earliest.Sub(lb.stops[0].Earliest).Hours()) +
		math.Abs(la.stops[1].Earliest.Sub(lb.stops[1].Earliest).Hours())
	return m.d(pickupEvent(a), pickupEvent(b)) + m.d(deliverEvent(a), deliverEvent(b)) + hours*m.p.speed()
}

// relocate is the pair relocate local search: each listed load is taken
// out and put back at its best place in any route, when that saves miles
// or a truck.
func (s *search) relocate(loads []int) {
	m := s.m
	for pass := 0; pass < 3; pass++ {
		improved := false
		for _, l := range loads {
			if s.expired() {
				return
			}
			t0 := s.where[l]
			if t0 < 0 {
				continue
			}
			s.touch(t0)
			r0 := &s.routes[t0]
			oldEv := append([]int(nil), r0.ev...)
			oldMiles := r0.miles
			r0.ev = slices.DeleteFunc(r0.ev, func(e int) bool { return loadOf(e) == l })
			miles0, fail := s.ev.evaluate(t0, r0.ev)
			if fail != failNone {
				r0.ev = append(r0.ev[:0], oldEv...)
				continue
			}
			s.where[l] = -1
			s.update(t0, miles0)
			saving := oldMiles - miles0
			if len(r0.ev) == 0 {
				saving += truckCost
			}
			bestT, best := -1, insertion{}
			for _, t := range m.cand[l] {
				in := s.bestInsertion(l, t, 0)
				if in.ok && (bestT < 0 || in.cost < best.cost) {
					bestT, best = t, in
				}
			}
			if bestT >= 0 && best.cost < saving-1e-6 {
				s.apply(l, bestT, best)
				improved = true
				continue
			}
			r0.ev = append(r0.ev[:0], oldEv...)
			s.where[l] = t0
			s.update(t0, oldMiles)
		}
		if !improved {
			break
		}
	}
}

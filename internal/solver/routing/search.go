package routing

import (
	"math"
	"math/rand/v2"
	"slices"
)

type rng = rand.Rand

// Ruin-and-recreate parameters of slack induction by string removals
// (Christiaens & Vanden Berghe, 2020): average removed customers, longest
// string, and the probability of skipping an insertion position.
const (
	avgRemoved = 10
	maxString  = 10
	blinkRate  = 0.01
	// scatterCard is the mean route length from which VRPTW string
	// removal also takes scattered customers of the same route. On long
	// routes (Solomon and Gehring & Homberger type 2) strings alone keep
	// rebuilding the same tour; on short routes the extra removals cost
	// more than they bring (measured on Solomon and GH 400/1000).
	scatterCard = 15
)

// search is one solution under improvement, with an undo journal so a
// rejected ruin-and-recreate step is rolled back in time proportional to the
// routes it touched.
type search struct {
	m          *model
	rng        *rand.Rand
	routes     []*route
	where      []int // node -> route index, -1 while unassigned
	unassigned []int // request representatives (pickups, customers)
	allowNew   bool  // recreate may open routes
	// routeCap, when positive, is the most routes recreate may hold: a
	// step that would need another is given up at once (its result
	// would be rejected for the extra vehicle anyway).
	routeCap int
	// penalised lets VRPTW insertions break time windows at lambda per
	// unit of time warp, so the search can cross infeasible regions.
	penalised bool
	lambda    float64

	drop      []bool // scratch: nodes being removed
	ruined    []int  // stamp per route index: ruined this step
	savedAt   []int  // stamp per route index: saved in the journal
	stamp     int
	gmark     []int // granular candidate marks per route index
	gstamp    int
	avgCard   float64 // mean customers per route at the last ruin
	saved     []savedRoute
	nAtStart  int
	savedUn   []int
	spare     []*route
	order     []int
	keys      []float64
	absences  []int
	candidate []int

	// Local search scratch (localsearch.go).
	lsStamp       int
	lsMark        []int
	lsQueue       []int
	lsNext        []int
	lsList        []int
	fwd, bwd      []seg
	lsBuf, lsBuf2 []int
	// Pickup-and-delivery local search scratch (pairsearch.go).
	lsPos       []int // node -> position in the route last marked
	lsOpen      []int // stamps of the pickups seen by pairsIntact
	lsOpenStamp int
	lsCand      []int // stamps of pair exchange candidates
	lsCandStamp int
	lsBuf3      []int
	lsRoute     [2]*route
	// lsDelta and lsMoved describe the last move tried: its computed
	// change of distance and the first node it moved (for tests).
	lsDelta float64
	lsMoved int
}

type savedRoute struct {
	idx   int
	nodes []int
}

func newSearch(m *model, seed uint64) *search {
	return &search{
		m:        m,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		where:    make([]int, m.n),
		drop:     make([]bool, m.n),
		absences: make([]int, m.n),
	}
}

// load replaces the current solution with routes (depot excluded).
func (s *search) load(routes [][]int) {
	s.spare = append(s.spare, s.routes...)
	s.routes = s.routes[:0]
	for i := range s.where {
		s.where[i] = -1
	}
	s.unassigned = s.unassigned[:0]
	for _, rt := range routes {
		if len(rt) == 0 {
			continue
		}
		r := s.newRoute()
		r.segs = s.penalised
		r.nodes = append(r.nodes[:0], 0)
		r.nodes = append(r.nodes, rt...)
		r.nodes = append(r.nodes, 0)
		r.update(s.m)
		for _, v := range rt {
			s.where[v] = len(s.routes)
		}
		s.routes = append(s.routes, r)
	}
	for _, u := range s.m.requests {
		if s.where[u] < 0 {
			s.unassigned = append(s.unassigned, u)
		}
	}
	s.growMarks()
}

func (s *search) newRoute() *route {
	if k := len(s.spare); k > 0 {
		r := s.spare[k-1]
		s.spare = s.spare[:k-1]
		r.segs = s.penalised
		r.nodes = append(r.nodes[:0], 0, 0)
		r.update(s.m)
		return r
	}
	r := &route{nodes: []int{0, 0}, segs: s.penalised}
	r.update(s.m)
	return r
}

func (s *search) growMarks() {
	for len(s.ruined) < len(s.routes) {
		s.ruined = append(s.ruined, 0)
		s.savedAt = append(s.savedAt, 0)
		s.gmark = append(s.gmark, 0)
		s.lsMark = append(s.lsMark, 0)
	}
}

// snapshot copies the current routes, depot excluded, empty routes dropped.
func (s *search) snapshot() [][]int {
	out := make([][]int, 0, len(s.routes))
	for _, r := range s.routes {
		if r.customers() > 0 {
			out = append(out, slices.Clone(r.nodes[1:len(r.nodes)-1]))
		}
	}
	return out
}

func (s *search) vehicles() int {
	v := 0
	for _, r := range s.routes {
		if r.customers() > 0 {
			v++
		}
	}
	return v
}

func (s *search) warp() float64 {
	if !s.penalised {
		return 0
	}
	w := 0.0
	for _, r := range s.routes {
		w += r.warp()
	}
	return w
}

func (s *search) distance() float64 {
	d := 0.0
	for _, r := range s.routes {
		d += r.dist
	}
	return d
}

// begin opens an undo journal for one step.
func (s *search) begin() {
	s.stamp++
	s.saved = s.saved[:0]
	s.nAtStart = len(s.routes)
	s.savedUn = append(s.savedUn[:0], s.unassigned...)
}

// touch saves route ri before its first change in this step.
func (s *search) touch(ri int) {
	if ri >= s.nAtStart || s.savedAt[ri] == s.stamp {
		return
	}
	s.savedAt[ri] = s.stamp
	k := len(s.saved)
	if k < cap(s.saved) {
		s.saved = s.saved[:k+1]
	} else {
		s.saved = append(s.saved, savedRoute{})
	}
	s.saved[k].idx = ri
	s.saved[k].nodes = append(s.saved[k].nodes[:0], s.routes[ri].nodes...)
}

// changed lists the routes the open step touched or opened.
func (s *search) changed() []int {
	out := s.lsList[:0]
	for _, sv := range s.saved {
		out = append(out, sv.idx)
	}
	for ri := s.nAtStart; ri < len(s.routes); ri++ {
		out = append(out, ri)
	}
	s.lsList = out
	return out
}

// rollback undoes the step.
func (s *search) rollback() {
	for _, sv := range s.saved {
		r := s.routes[sv.idx]
		r.nodes = append(r.nodes[:0], sv.nodes...)
		r.update(s.m)
		for _, v := range r.nodes[1 : len(r.nodes)-1] {
			s.where[v] = sv.idx
		}
	}
	s.spare = append(s.spare, s.routes[s.nAtStart:]...)
	s.routes = s.routes[:s.nAtStart]
	s.unassigned = append(s.unassigned[:0], s.savedUn...)
	for _, u := range s.unassigned {
		s.where[u] = -1
		if p := s.m.partner[u]; p >= 0 {
			s.where[p] = -1
		}
	}
}

// commit keeps the step and drops routes it emptied.
func (s *search) commit() {
	for i := 0; i < len(s.routes); {
		if s.routes[i].customers() > 0 {
			i++
			continue
		}
		last := len(s.routes) - 1
		s.spare = append(s.spare, s.routes[i])
		s.routes[i] = s.routes[last]
		s.routes = s.routes[:last]
		if i < last {
			r := s.routes[i]
			for _, v := range r.nodes[1 : len(r.nodes)-1] {
				s.where[v] = i
			}
		}
	}
	s.growMarks()
}

// removeRoute unassigns every request of route ri (used to force the fleet
// down by one).
func (s *search) removeRoute(ri int) {
	r := s.routes[ri]
	for _, v := range r.nodes[1 : len(r.nodes)-1] {
		s.where[v] = -1
		if !s.m.pd || s.m.pickup[v] {
			s.unassigned = append(s.unassigned, v)
		}
	}
	r.nodes = append(r.nodes[:0], 0, 0)
	r.update(s.m)
	s.commit()
}

// ruin removes strings of consecutive customers from routes near a random
// seed customer.
func (s *search) ruin() {
	m := s.m
	assigned := 0
	nonEmpty := 0
	for _, r := range s.routes {
		if c := r.customers(); c > 0 {
			assigned += c
			nonEmpty++
		}
	}
	if nonEmpty == 0 {
		return
	}
	avgCard := float64(assigned) / float64(nonEmpty)
	s.avgCard = avgCard
	lsMax := math.Min(maxString, avgCard)
	ksMax := 4*s.removalTarget(avgCard)/(1+lsMax) - 1
	ks := int(1 + s.rng.Float64()*ksMax)
	seed := 0
	for tries := 0; tries < 100; tries++ {
		v := 1 + s.rng.IntN(m.n-1)
		if s.where[v] >= 0 {
			seed = v
			break
		}
	}
	if seed == 0 {
		return
	}
	done := 0
	visit := func(c int) {
		ri := s.where[c]
		if ri < 0 || s.ruined[ri] == s.stamp {
			return
		}
		s.ruined[ri] = s.stamp
		s.removeString(ri, c, lsMax)
		done++
	}
	visit(seed)
	for _, c := range m.neighbors[seed] {
		if done >= ks {
			break
		}
		visit(c)
	}
}

// removalTarget is the average number of customers a ruin removes. Pickup
// and delivery on long routes removes more: on Li & Lim 400 class 2 (about
// 50 stops per route) the default left LR2 20 % above the best-known at
// 150,000 steps, while 20 and 40 reached it on lr2_4_1 and brought lrc2_4_7
// from 7-11 % to 9.7 % and 1.5 %. The target grows with the route length
// from pdLongRoute stops on, up to four times the default.
func (s *search) removalTarget(avgCard float64) float64 {
	if !s.m.pd {
		return avgRemoved
	}
	return avgRemoved * min(max(avgCard/pdLongRoute, 1), 4)
}

// pdLongRoute is the route length (stops) from which pickup-and-delivery
// ruins grow; below it, as on Li & Lim class 1, they keep the default.
const pdLongRoute = 12.5

// removeString removes a string (or, half of the time, a string with a
// preserved middle part) containing customer c from route ri.
func (s *search) removeString(ri, c int, lsMax float64) {
	r := s.routes[ri]
	card := r.customers()
	lMax := int(math.Min(float64(card), lsMax))
	l := 1 + s.rng.IntN(max(lMax, 1))
	pos := slices.Index(r.nodes, c)
	s.touch(ri)
	span := l
	keep := 0
	if l < card && s.rng.IntN(2) == 0 {
		keep = 1
		for l+keep < card && s.rng.Float64() < 0.5 {
			keep++
		}
		span = l + keep
	}
	lo := max(1, pos-span+1)
	hi := min(pos, card-span+1)
	start := lo + s.rng.IntN(hi-lo+1)
	keepAt := -1
	if keep > 0 {
		keepAt = start + 1 + s.rng.IntN(span-keep)
	}
	for p := start; p < start+span; p++ {
		if keep > 0 && p >= keepAt && p < keepAt+keep {
			continue
		}
		s.markRemoved(r.nodes[p])
	}
	if !s.m.pd && s.avgCard >= scatterCard {
		// Scattered companions: as many customers again from anywhere in
		// the route, as a pair's partners would be in pickup and delivery.
		for range l {
			s.markRemoved(r.nodes[1+s.rng.IntN(card)])
		}
	}
	r.removeNodes(s.m, s.drop)
	for _, v := range s.candidate {
		s.drop[v] = false
	}
	s.candidate = s.candidate[:0]
}

func (s *search) markRemoved(v int) {
	if s.drop[v] {
		return
	}
	m := s.m
	s.drop[v] = true
	s.candidate = append(s.candidate, v)
	s.where[v] = -1
	rep := v
	if m.pd {
		p := m.partner[v]
		s.drop[p] = true
		s.candidate = append(s.candidate, p)
		s.where[p] = -1
		if !m.pickup[v] {
			rep = p
		}
	}
	s.unassigned = append(s.unassigned, rep)
}

// recreate inserts every unassigned request at its cheapest position, in
// one of several orders, opening routes when allowed.
func (s *search) recreate() {
	m := s.m
	s.sortUnassigned()
	pending := s.unassigned
	s.unassigned = s.order[:0]
	rest := s.candidate[:0] // reuse as scratch for left-over requests
	for k, u := range pending {
		best := insertion{route: -1, cost: math.Inf(1)}
		if len(s.routes) > granularRoutes {
			// Granular: only routes that visit one of u's nearest
			// neighbours, then all routes if none of those fits.
			s.gstamp++
			for _, v := range m.neighbors[u][:min(granularNeighbors, len(m.neighbors[u]))] {
				if ri := s.where[v]; ri >= 0 && s.gmark[ri] != s.gstamp {
					s.gmark[ri] = s.gstamp
					s.tryRoute(u, ri, &best)
				}
			}
		}
		if best.route < 0 {
			for ri := range s.routes {
				s.tryRoute(u, ri, &best)
			}
		}
		if best.route < 0 && s.allowNew && s.routeCap > 0 && len(s.routes) >= s.routeCap {
			// Every route is in use (an empty one takes any request but
			// for a blink), so this step ends with one vehicle too many:
			// stop here.
			rest = append(rest, pending[k:]...)
			break
		}
		if best.route < 0 && s.allowNew {
			s.routes = append(s.routes, s.newRoute())
			s.growMarks()
			best = insertion{route: len(s.routes) - 1}
		}
		if best.route < 0 {
			rest = append(rest, u)
			continue
		}
		s.touch(best.route)
		s.routes[best.route].insertAt(m, u, best.i, best.j)
		s.where[u] = best.route
		if p := m.partner[u]; p >= 0 {
			s.where[p] = best.route
		}
	}
	s.order = pending[:0]
	s.unassigned = append(s.unassigned[:0], rest...)
	s.candidate = rest[:0]
}

// Granular insertion: with more than granularRoutes routes, a request is
// first offered only to the routes of its granularNeighbors nearest nodes.
const (
	granularRoutes    = 25
	granularNeighbors = 40
)

func (s *search) tryRoute(u, ri int, best *insertion) {
	m, r := s.m, s.routes[ri]
	switch {
	case m.pd:
		r.bestPair(m, u, blinkRate, s.rng, best, ri)
	case s.penalised:
		r.bestNodePenalised(m, u, s.lambda, blinkRate, s.rng, best, ri)
	default:
		r.bestNode(m, u, blinkRate, s.rng, best, ri)
	}
}

// sortUnassigned orders the requests: random, largest demand, farthest
// from the depot or closest, drawn with weights 4:4:2:1.
func (s *search) sortUnassigned() {
	u := s.unassigned
	m := s.m
	s.rng.Shuffle(len(u), func(i, j int) { u[i], u[j] = u[j], u[i] })
	switch k := s.rng.IntN(11); {
	case k < 4:
	case k < 8:
		slices.SortStableFunc(u, func(a, b int) int { return m.dem[b] - m.dem[a] })
	case k < 10:
		slices.SortStableFunc(u, func(a, b int) int { return cmpFloat(m.d(0, b), m.d(0, a)) })
	default:
		slices.SortStableFunc(u, func(a, b int) int { return cmpFloat(m.d(0, a), m.d(0, b)) })
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *search) sumAbsences() int {
	t := 0
	for _, u := range s.unassigned {
		t += s.absences[u]
	}
	return t
}

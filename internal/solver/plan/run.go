package plan

import (
	"math"
	"slices"
)

// Adaptive weights (Ropke and Pisinger, 2006): an operator pair scores 33
// for a new best, 9 for improving the current solution and 13 for an
// accepted step that did not improve it; every segment of 100 steps the
// weights move a tenth of the way towards the average score.
const (
	scoreBest     = 33
	scoreBetter   = 9
	scoreAccepted = 13
	segmentLen    = 100
	reaction      = 0.1
)

// tick advances the iteration count and the budget share; it reports
// whether the search must stop.
func (s *search) tick() bool {
	s.iter++
	if s.done {
		return true
	}
	f := 0.0
	if s.opts.MaxIterations > 0 {
		f = float64(s.iter) / float64(s.opts.MaxIterations)
	}
	if s.opts.TimeLimit > 0 {
		f = max(f, float64(s.opts.Now().Sub(s.start))/float64(s.opts.TimeLimit))
	}
	s.frac = max(s.frac, f)
	if s.ctx.Err() != nil || s.frac >= 1 {
		s.done = true
	}
	return s.done
}

// consider keeps the current solution when it beats the best.
func (s *search) consider() {
	o := s.objective()
	if s.best.ok && !o.better(s.best.obj) {
		return
	}
	s.best.ok, s.best.obj = true, o
	if len(s.best.routes) != len(s.routes) {
		s.best.routes = make([][]int, len(s.routes))
	}
	for t := range s.routes {
		s.best.routes[t] = append(s.best.routes[t][:0], s.routes[t].ev...)
	}
	if s.opts.Progress != nil {
		var loaded float64
		for t := range s.routes {
			loaded += s.loadedMiles(t)
		}
		s.opts.Progress(Progress{Elapsed: s.opts.Now().Sub(s.start), Served: o.served, Trucks: o.trucks, Miles: o.miles,
			EmptyMiles: max(0, o.miles-loaded), Iteration: s.iter})
	}
}

// roulette picks an index with probability proportional to its weight.
func (s *search) roulette(w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	u := s.rng.Float64() * sum
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// run builds a first plan and improves it until the budget ends. It returns
// the best routes, the iterations run, and whether the budget ran out
// before the first plan was complete.
func (s *search) run() ([][]int, int, bool) {
	s.begin()
	s.rebuildUnassigned()
	s.recreate(insRegret2)
	cut := s.cut
	s.relocate(slices.Clone(s.routed()))
	s.current = s.objective()
	s.consider()
	// The nearest-truck dispatch is a second start: the search never
	// returns less than the dispatcher it is measured against.
	if !s.expired() {
		s.load(s.m.greedyRoutes())
		s.begin()
		s.relocate(slices.Clone(s.routed()))
		if o := s.objective(); o.better(s.best.obj) {
			s.current = o
			s.consider()
		} else {
			s.load(s.best.routes)
		}
	}

	// Annealing temperatures in miles: a step that adds a tenth of an
	// average served load's miles is first accepted about a third of the
	// time, at the end almost never.
	t0 := 0.1 * s.current.miles / float64(max(1, s.current.served))
	tf := t0 / 100
	for !s.tick() {
		if len(s.m.loads) == 0 || s.current.served == 0 && len(s.unassigned) == 0 {
			break
		}
		temp := t0 * math.Pow(tf/t0, min(s.frac, 1))
		s.lastRuin, s.lastIns = s.roulette(s.ruinW), s.roulette(s.insW)
		s.begin()
		s.ruin(s.lastRuin)
		if s.invalid {
			s.rollback()
			continue
		}
		s.recreate(s.lastIns)
		cand := s.objective()
		score := 0.0
		switch {
		case cand.served > s.current.served || cand.served == s.current.served && cand.trucks < s.current.trucks:
			score = scoreBetter
		case cand.served == s.current.served && cand.trucks == s.current.trucks &&
			cand.miles < s.current.miles-temp*math.Log(s.rng.Float64()):
			score = scoreAccepted
			if cand.miles < s.current.miles-1e-6 {
				score = scoreBetter
			}
		}
		if score == 0 {
			s.rollback()
		} else {
			if cand.better(s.best.obj) {
				s.relocate(s.loadsOf(s.changedRoutes()))
				cand = s.objective()
				score = scoreBest
			}
			s.current = cand
			s.consider()
		}
		s.ruinS[s.lastRuin] += score
		s.insS[s.lastIns] += score
		s.ruinN[s.lastRuin]++
		s.insN[s.lastIns]++
		if s.iter%segmentLen == 0 {
			adapt(s.ruinW, s.ruinS, s.ruinN)
			adapt(s.insW, s.insS, s.insN)
		}
	}
	return s.best.routes, s.iter, cut
}

func adapt(w, score []float64, n []int) {
	for i := range w {
		if n[i] > 0 {
			w[i] = max(0.05, w[i]*(1-reaction)+reaction*score[i]/float64(n[i]))
		}
		score[i], n[i] = 0, 0
	}
}

// loadsOf lists the loads on the given routes.
func (s *search) loadsOf(routes []int) []int {
	var out []int
	for _, t := range routes {
		for _, e := range s.routes[t].ev {
			if !isDelivery(e) {
				out = append(out, loadOf(e))
			}
		}
	}
	return out
}

// expired reports whether the budget's time or ctx has run out, for the
// loops that do not count iterations.
func (s *search) expired() bool {
	if s.ctx.Err() != nil {
		return true
	}
	return s.opts.TimeLimit > 0 && s.opts.Now().Sub(s.start) >= s.opts.TimeLimit
}

// loadedMiles sums the legs of route t driven with a load on board.
func (s *search) loadedMiles(t int) float64 {
	m := s.m
	at, aboard, miles := m.startID(t), 0, 0.0
	for _, e := range s.routes[t].ev {
		if aboard > 0 {
			miles += m.d(at, e)
		}
		if isDelivery(e) {
			aboard--
		} else {
			aboard++
		}
		at = e
	}
	return miles
}

// load replaces the current routes.
func (s *search) load(routes [][]int) {
	for l := range s.where {
		s.where[l] = -1
	}
	for t, r := range routes {
		s.routes[t].ev = append(s.routes[t].ev[:0], r...)
		for _, e := range r {
			s.where[loadOf(e)] = t
		}
		miles := 0.0
		if len(r) > 0 {
			var fail failure
			if miles, fail = s.ev.evaluate(t, r); fail != failNone {
				panic("plan: loading an infeasible route")
			}
		}
		s.update(t, miles)
	}
	s.rebuildUnassigned()
}

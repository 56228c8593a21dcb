package plan

import (
	"errors"
	"slices"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

// A route is a sequence of events: event 2l is the pickup of load l, 2l+1
// its delivery.
func loadOf(e int) int       { return e >> 1 }
func isDelivery(e int) bool  { return e&1 == 1 }
func pickupEvent(l int) int  { return 2 * l }
func deliverEvent(l int) int { return 2*l + 1 }

// model is the problem prepared for the search.
type model struct {
	p      *Problem
	trucks []truckModel
	loads  []loadModel
	// cand lists, for each load, the trucks that can haul it on their own
	// (equipment, weight, windows, hours of service, shift), nearest
	// first and at most maxCandidates: the granular neighbourhood of the
	// insertions. A truck that cannot reach a load with nothing else to do
	// will not reach it after other loads either.
	cand [][]int
	// reason says why a load without candidates has none.
	reason []string
	// mat holds the distances between the np places, or is nil.
	mat []float64
	np  int
}

type truckModel struct {
	start    geo.Point
	clock    hos.State
	shiftEnd time.Time
	cap      float64
	equip    freight.Equipment
	home     geo.Point
	hasHome  bool
}

type loadModel struct {
	stops  [2]Stop // pickup, delivery
	weight float64
	equip  freight.Equipment
	direct float64 // road miles from pickup to delivery
}

// maxCandidates bounds the trucks considered for one load. 2,000 loads and
// 500 trucks would otherwise make every insertion scan every truck.
const maxCandidates = 48

// newModel prepares p. When stop reports true, the loads not yet examined
// get no candidate trucks and ReasonStopped.
func newModel(p *Problem, stop func() bool) *model {
	m := &model{p: p, trucks: make([]truckModel, len(p.Trucks)), loads: make([]loadModel, len(p.Loads))}
	for i, t := range p.Trucks {
		tm := truckModel{start: t.Start, shiftEnd: t.ShiftEnd, cap: t.CapacityLbs, equip: t.Equipment}
		if t.HOS != nil {
			tm.clock = hos.Start(*t.HOS, t.Available, true, p.Rules)
		} else {
			tm.clock = hos.Fresh(t.Available, p.Rules)
		}
		tm.clock.At = t.Available
		if t.Home != nil {
			tm.home, tm.hasHome = *t.Home, true
		}
		m.trucks[i] = tm
	}
	for i, l := range p.Loads {
		m.loads[i] = loadModel{stops: [2]Stop{l.Pickup, l.Delivery}, weight: l.WeightLbs, equip: l.Equipment}
	}
	m.buildMatrix()
	for i := range m.loads {
		m.loads[i].direct = m.d(pickupEvent(i), deliverEvent(i))
	}
	m.candidates(stop)
	return m
}

func (m *model) stop(e int) *Stop { return &m.loads[loadOf(e)].stops[e&1] }

// Places are numbered: event e's stop is place e, truck t's start place
// 2L+t and its home 2L+T+t.
func (m *model) startID(t int) int { return 2*len(m.loads) + t }
func (m *model) homeID(t int) int  { return 2*len(m.loads) + len(m.trucks) + t }

func (m *model) place(id int) geo.Point {
	L, T := len(m.loads), len(m.trucks)
	switch {
	case id < 2*L:
		return m.loads[loadOf(id)].stops[id&1].Point
	case id < 2*L+T:
		return m.trucks[id-2*L].start
	}
	return m.trucks[id-2*L-T].home
}

// maxMatrix bounds the places whose distances are kept in a matrix
// (2,000 places: 32 MB); larger problems compute distances when needed.
// A variable so tests can take the other path.
var maxMatrix = 2000

// buildMatrix keeps every distance between places when they are few:
// computing road miles is most of the search's work otherwise.
func (m *model) buildMatrix() {
	n := 2*len(m.loads) + 2*len(m.trucks)
	if n > maxMatrix {
		return
	}
	m.np = n
	m.mat = make([]float64, n*n)
	for a := range n {
		pa := m.place(a)
		for b := range n {
			m.mat[a*n+b] = m.p.RoadMiles(pa, m.place(b))
		}
	}
}

// d is the road distance between places a and b.
func (m *model) d(a, b int) float64 {
	if m.mat != nil {
		return m.mat[a*m.np+b]
	}
	return m.p.RoadMiles(m.place(a), m.place(b))
}

// candidates finds each load's candidate trucks and, for loads without
// any, the reason.
func (m *model) candidates(stop func() bool) {
	m.cand = make([][]int, len(m.loads))
	m.reason = make([]string, len(m.loads))
	ev := newEvaluator(m)
	type near struct {
		t     int
		miles float64
	}
	var buf []near
	for l := range m.loads {
		if l%32 == 0 && stop() {
			for ; l < len(m.loads); l++ {
				m.reason[l] = ReasonStopped
			}
			return
		}
		ld := &m.loads[l]
		buf = buf[:0]
		equip, weight := false, false
		worst := 0 // the furthest a truck got: 1 pickup, 2 delivery, 3 shift
		for t := range m.trucks {
			tm := &m.trucks[t]
			if tm.equip != ld.equip {
				continue
			}
			equip = true
			if ld.weight > tm.cap {
				continue
			}
			weight = true
			_, fail := ev.evaluate(t, []int{pickupEvent(l), deliverEvent(l)})
			if fail != failNone {
				worst = max(worst, int(fail))
				continue
			}
			buf = append(buf, near{t, m.d(m.startID(t), pickupEvent(l))})
		}
		slices.SortStableFunc(buf, func(a, b near) int {
			switch {
			case a.miles < b.miles:
				return -1
			case a.miles > b.miles:
				return 1
			}
			return 0
		})
		for _, n := range buf[:min(len(buf), maxCandidates)] {
			m.cand[l] = append(m.cand[l], n.t)
		}
		switch {
		case len(m.cand[l]) > 0:
		case !equip:
			m.reason[l] = ReasonEquipment
		case !weight:
			m.reason[l] = ReasonWeight
		case worst >= int(failShift):
			m.reason[l] = ReasonShift
		case worst >= int(failDelivery):
			m.reason[l] = ReasonDelivery
		default:
			m.reason[l] = ReasonPickup
		}
	}
}

// failure says why a route is infeasible, in the order a route gets further.
type failure int

const (
	failNone failure = iota
	failPickup
	failDelivery
	failShift
	failCapacity
)

// evaluator checks routes by simulating the driver's clock along them. It
// reuses its buffers and is not safe for concurrent use.
type evaluator struct {
	m    *model
	pl   hos.Planner
	segs []hos.Segment
}

func newEvaluator(m *model) *evaluator {
	return &evaluator{m: m, pl: hos.Planner{Rules: m.p.Rules}}
}

// segments turns a route into the driver's segments: for each stop, the
// drive to it and the work there (its window bounding the work's start),
// then the drive home when the truck must end there. It returns the miles.
func (ev *evaluator) segments(t int, events []int) float64 {
	m := ev.m
	tm := &m.trucks[t]
	ev.segs = ev.segs[:0]
	at := m.startID(t)
	var miles float64
	for _, e := range events {
		st := m.stop(e)
		d := m.d(at, e)
		miles += d
		ev.segs = append(ev.segs,
			hos.Segment{Kind: hos.Drive, Duration: m.p.DriveTime(d), Miles: d},
			hos.Segment{Kind: hos.Work, Duration: st.Service, Earliest: st.Earliest, Latest: st.Latest})
		at = e
	}
	if tm.hasHome && len(events) > 0 {
		// A truck left unused stays where it is.
		d := m.d(at, m.homeID(t))
		miles += d
		ev.segs = append(ev.segs, hos.Segment{Kind: hos.Drive, Duration: m.p.DriveTime(d), Miles: d})
	}
	return miles
}

// evaluate returns the route's miles, or why it is infeasible: a load
// delivered before its pickup or over capacity, a window missed, or the
// shift overrun.
func (ev *evaluator) evaluate(t int, events []int) (float64, failure) {
	m := ev.m
	tm := &m.trucks[t]
	var onBoard float64
	for _, e := range events {
		if isDelivery(e) {
			onBoard -= m.loads[loadOf(e)].weight
		} else {
			onBoard += m.loads[loadOf(e)].weight
			if onBoard > tm.cap+1e-9 {
				return 0, failCapacity
			}
		}
	}
	// A cheap bound first: without rests, is every window reachable?
	now := tm.clock.At
	at := m.startID(t)
	for _, e := range events {
		st := m.stop(e)
		now = now.Add(m.p.DriveTime(m.d(at, e)))
		if now.After(st.Latest) {
			return 0, windowFailure(e)
		}
		if now.Before(st.Earliest) {
			now = st.Earliest
		}
		now = now.Add(st.Service)
		at = e
	}
	miles := ev.segments(t, events)
	plan, err := ev.pl.Schedule(tm.clock, ev.segs)
	if err != nil {
		var late *hos.LateError
		if errors.As(err, &late) {
			return 0, windowFailure(events[late.Segment/2])
		}
		return 0, failShift
	}
	if !tm.shiftEnd.IsZero() && plan.End.After(tm.shiftEnd) {
		return 0, failShift
	}
	return miles, failNone
}

func windowFailure(e int) failure {
	if isDelivery(e) {
		return failDelivery
	}
	return failPickup
}

package plan

import (
	"fmt"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

// solution turns the search's routes into plans with their schedules and
// the reasons of the loads left out.
func (m *model) solution(routes [][]int) Solution {
	var sol Solution
	routed := make([]bool, len(m.loads))
	ev := newEvaluator(m)
	for t, r := range routes {
		if len(r) == 0 {
			continue
		}
		tp, err := m.truckPlan(ev, t, r)
		if err != nil {
			// The search only keeps routes the evaluator accepted, and the
			// evaluator schedules them the same way: this is a bug.
			panic(fmt.Sprintf("plan: truck %s: a route the search accepted does not schedule: %v", m.p.Trucks[t].ID, err))
		}
		for _, e := range r {
			routed[loadOf(e)] = true
		}
		sol.Plans = append(sol.Plans, tp)
		sol.Trucks++
		sol.Served += len(r) / 2
		sol.Miles += tp.Miles
		sol.LoadedMiles += tp.LoadedMiles
		sol.EmptyMiles += tp.EmptyMiles
	}
	for l := range m.loads {
		if routed[l] {
			continue
		}
		reason := m.reason[l]
		if reason == "" {
			reason = ReasonFleet
		}
		sol.Unassigned = append(sol.Unassigned, Unassigned{LoadID: m.p.Loads[l].ID, Reason: reason})
	}
	return sol
}

// truckPlan schedules route r of truck t with the rests recorded.
func (m *model) truckPlan(ev *evaluator, t int, r []int) (TruckPlan, error) {
	tm := &m.trucks[t]
	ev.segments(t, r)
	sched, err := hos.Schedule(tm.clock, ev.segs, m.p.Rules)
	if err != nil {
		return TruckPlan{}, err
	}
	if !tm.shiftEnd.IsZero() && sched.End.After(tm.shiftEnd) {
		return TruckPlan{}, fmt.Errorf("ends at %s after the shift", sched.End.Format(time.RFC3339))
	}
	tp := TruckPlan{TruckID: m.p.Trucks[t].ID, Start: tm.clock.At, End: sched.End, Driving: sched.Driving}
	// Legs: one per stop, and one home.
	type leg struct{ from, to geo.Point }
	var legs []leg
	at := tm.start
	var onBoard float64
	aboard := 0 // loads on the truck
	for k, e := range r {
		st := m.stop(e)
		l := loadOf(e)
		kind := Pickup
		if isDelivery(e) {
			kind = Delivery
		}
		miles := ev.segs[2*k].Miles
		if aboard > 0 {
			tp.LoadedMiles += miles
		} else {
			tp.EmptyMiles += miles
		}
		if kind == Pickup {
			onBoard += m.loads[l].weight
			aboard++
		} else {
			onBoard -= m.loads[l].weight
			aboard--
		}
		tp.Miles += miles
		tp.Stops = append(tp.Stops, PlannedStop{Kind: kind, LoadID: m.p.Loads[l].ID, Point: st.Point, LegMiles: miles,
			Arrival: sched.Finish[2*k], Start: sched.Begin[2*k+1], Departure: sched.Finish[2*k+1], OnBoardLbs: max(0, onBoard)})
		legs = append(legs, leg{at, st.Point})
		at = st.Point
	}
	if tm.hasHome {
		k := len(r)
		miles := ev.segs[2*k].Miles
		tp.Miles += miles
		tp.EmptyMiles += miles
		tp.Stops = append(tp.Stops, PlannedStop{Kind: Home, Point: tm.home, LegMiles: miles,
			Arrival: sched.Finish[2*k], Start: sched.Finish[2*k], Departure: sched.Finish[2*k]})
		legs = append(legs, leg{at, tm.home})
	}
	// Rests: an off-duty step belongs to the segment it precedes or
	// interrupts; on a drive segment it is on the leg, after the miles
	// driven so far.
	driven := map[int]float64{}
	for _, st := range sched.Steps {
		switch st.Kind {
		case hos.StepDrive:
			driven[st.Segment] += st.Miles
			continue
		case hos.StepWork:
			continue
		}
		k, atStop := st.Segment/2, st.Segment%2 == 1
		rs := Rest{Kind: restKind(st.Kind), Start: st.Start, End: st.End, Stop: k, AtStop: atStop}
		if atStop {
			rs.MilesIntoLeg = ev.segs[2*k].Miles
			rs.Point = legs[k].to
		} else {
			rs.MilesIntoLeg = driven[st.Segment]
			rs.Point = along(legs[k].from, legs[k].to, rs.MilesIntoLeg, ev.segs[st.Segment].Miles)
		}
		tp.Rests = append(tp.Rests, rs)
	}
	return tp, nil
}

func restKind(k hos.StepKind) RestKind {
	switch k {
	case hos.StepBreak:
		return RestBreak
	case hos.StepRest:
		return RestDaily
	case hos.StepRestart:
		return RestRestart
	}
	return RestWait
}

// along is the point a share of the way from a to b on the great circle,
// the share being done of total road miles.
func along(a, b geo.Point, done, total float64) geo.Point {
	if total <= 0 || done <= 0 {
		return a
	}
	if done >= total {
		return b
	}
	return geo.Destination(a, geo.Bearing(a, b), geo.GreatCircleMiles(a, b)*done/total)
}

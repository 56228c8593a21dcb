package plan

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

// Check verifies a solution against its problem, independently of the
// search and its evaluator: it rebuilds each truck's duty timeline from the
// plan's own stops and rests and checks it against the rules. It returns
// every violation found, or nil when the solution is feasible.
//
// It checks that every load is either served once (pickup then delivery on
// one truck with its equipment, never over capacity) or listed as
// unassigned once; that each stop starts inside its window, after the
// truck's arrival, and lasts its service time; that each leg's driving time
// is its road miles at the problem's speed, the leg's rests aside; that no
// driving stretch breaks the 11-hour, 14-hour, 8-hour-break or cycle rule
// counted from the driver's clock; that each truck starts at its
// availability, ends by its shift end and at home when it must; and that
// the totals add up.
func Check(p *Problem, sol *Solution) []string {
	c := checker{p: p}
	c.run(sol)
	return c.out
}

type checker struct {
	p   *Problem
	out []string
}

// maxReported bounds the violations listed.
const maxReported = 100

func (c *checker) fail(format string, args ...any) {
	if len(c.out) < maxReported {
		c.out = append(c.out, fmt.Sprintf(format, args...))
	}
}

// near compares miles computed along different paths.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*max(1, math.Abs(a), math.Abs(b)) }

// tick is the time tolerance: plans are in whole seconds.
const tick = time.Second

func (c *checker) run(sol *Solution) {
	p := c.p
	trucks := map[string]int{}
	for i, t := range p.Trucks {
		trucks[t.ID] = i
	}
	loads := map[string]int{}
	for i, l := range p.Loads {
		loads[l.ID] = i
	}
	served := map[string]string{} // load -> truck
	usedTrucks := map[string]bool{}
	var miles, loaded, empty float64
	for _, tp := range sol.Plans {
		ti, ok := trucks[tp.TruckID]
		if !ok {
			c.fail("plan of unknown truck %q", tp.TruckID)
			continue
		}
		if usedTrucks[tp.TruckID] {
			c.fail("truck %s has two plans", tp.TruckID)
			continue
		}
		usedTrucks[tp.TruckID] = true
		c.plan(&p.Trucks[ti], &tp, loads, served)
		miles += tp.Miles
		loaded += tp.LoadedMiles
		empty += tp.EmptyMiles
	}
	unassigned := map[string]bool{}
	for _, u := range sol.Unassigned {
		switch {
		case u.Reason == "":
			c.fail("unassigned load %s has no reason", u.LoadID)
		case served[u.LoadID] != "":
			c.fail("load %s is listed as unassigned but truck %s serves it", u.LoadID, served[u.LoadID])
		case unassigned[u.LoadID]:
			c.fail("load %s is listed as unassigned twice", u.LoadID)
		}
		if _, ok := loads[u.LoadID]; !ok {
			c.fail("unassigned load %q is not in the problem", u.LoadID)
		}
		unassigned[u.LoadID] = true
	}
	for _, l := range p.Loads {
		if served[l.ID] == "" && !unassigned[l.ID] {
			c.fail("load %s is neither served nor listed as unassigned", l.ID)
		}
	}
	switch {
	case sol.Served != len(served):
		c.fail("served: the solution says %d, its plans serve %d", sol.Served, len(served))
	case sol.Trucks != len(sol.Plans):
		c.fail("trucks: the solution says %d, it has %d plans", sol.Trucks, len(sol.Plans))
	case !near(sol.Miles, miles) || !near(sol.LoadedMiles, loaded) || !near(sol.EmptyMiles, empty):
		c.fail("miles: the solution says %.3f (%.3f loaded, %.3f empty), its plans %.3f (%.3f, %.3f)",
			sol.Miles, sol.LoadedMiles, sol.EmptyMiles, miles, loaded, empty)
	}
}

// interval is a piece of a driver's day.
type interval struct {
	kind       byte // 'd' drive, 'w' on duty not driving, 'o' off duty
	start, end time.Time
}

func (c *checker) plan(t *Truck, tp *TruckPlan, loads map[string]int, served map[string]string) {
	p := c.p
	fail := func(format string, args ...any) { c.fail("truck %s: "+format, append([]any{t.ID}, args...)...) }
	if len(tp.Stops) == 0 {
		fail("a plan without stops")
		return
	}
	if !tp.Start.Equal(t.Available) {
		fail("starts at %s, not at its availability %s", tp.Start.Format(time.RFC3339), t.Available.Format(time.RFC3339))
	}
	var timeline []interval
	add := func(kind byte, from, to time.Time) {
		if to.After(from) {
			timeline = append(timeline, interval{kind, from, to})
		}
	}
	at, prevDep := t.Start, t.Available
	var onBoard, miles, loaded, empty float64
	picked := map[string]bool{}
	delivered := map[string]bool{}
	for k, st := range tp.Stops {
		where := fmt.Sprintf("stop %d (%s %s)", k, st.Kind, st.LoadID)
		var want *Stop
		var load *Load
		switch st.Kind {
		case Pickup, Delivery:
			li, ok := loads[st.LoadID]
			if !ok {
				fail("%s: unknown load", where)
				return
			}
			load = &p.Loads[li]
			if st.Kind == Pickup {
				want = &load.Pickup
				if picked[load.ID] || served[load.ID] != "" {
					fail("%s: picked up twice", where)
				}
				picked[load.ID] = true
				served[load.ID] = t.ID
				if load.Equipment != t.Equipment {
					fail("%s: needs %s, the truck pulls %s", where, load.Equipment, t.Equipment)
				}
				onBoard += load.WeightLbs
				if onBoard > t.CapacityLbs+1e-9 {
					fail("%s: %.0f lb on board, over the capacity of %.0f lb", where, onBoard, t.CapacityLbs)
				}
			} else {
				want = &load.Delivery
				if !picked[load.ID] || delivered[load.ID] {
					fail("%s: delivered before its pickup on this truck, or twice", where)
				}
				delivered[load.ID] = true
				onBoard -= load.WeightLbs
			}
		case Home:
			if t.Home == nil || k != len(tp.Stops)-1 || st.Point != *t.Home {
				fail("%s: a home stop must be the last, at the truck's home", where)
			}
		default:
			fail("%s: unknown kind", where)
			return
		}
		if want != nil && st.Point != want.Point {
			fail("%s: at %v, the load says %v", where, st.Point, want.Point)
		}
		if !near(st.OnBoardLbs, max(0, onBoard)) {
			fail("%s: says %.0f lb on board, the loads add up to %.0f", where, st.OnBoardLbs, onBoard)
		}
		// The leg: road miles at the speed, interrupted by its rests.
		legMiles := p.RoadMiles(at, st.Point)
		if !near(st.LegMiles, legMiles) {
			fail("%s: leg of %.3f miles, the road distance is %.3f", where, st.LegMiles, legMiles)
		}
		drive := p.DriveTime(legMiles)
		miles += legMiles
		// The leg is loaded when a load was aboard before this stop.
		if aboardBefore := len(picked) - len(delivered) - loadDelta(st.Kind); aboardBefore > 0 {
			loaded += legMiles
		} else {
			empty += legMiles
		}
		cursor, driven := prevDep, time.Duration(0)
		for _, r := range tp.Rests {
			if r.Stop != k || r.AtStop {
				continue
			}
			if r.Start.Before(cursor) || r.End.After(st.Arrival) || r.End.Before(r.Start) {
				fail("%s: rest %s-%s outside its leg or overlapping", where, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
				continue
			}
			c.restLength(fail, where, r)
			add('d', cursor, r.Start)
			driven += r.Start.Sub(cursor)
			if want := p.speedMiles(driven); math.Abs(r.MilesIntoLeg-want) > 0.5 {
				fail("%s: rest placed %.1f miles into the leg, after %s of driving, which is %.1f miles", where, r.MilesIntoLeg, driven, want)
			}
			add('o', r.Start, r.End)
			cursor = r.End
		}
		add('d', cursor, st.Arrival)
		driven += st.Arrival.Sub(cursor)
		if d := driven - drive; d > tick || d < -tick {
			fail("%s: the leg drives %s, its %.1f road miles take %s", where, driven, legMiles, drive)
		}
		// At the stop: off duty until service starts, then on duty.
		for _, r := range tp.Rests {
			if r.Stop == k && r.AtStop && (r.Start.Before(st.Arrival) || r.End.After(st.Start)) {
				fail("%s: rest at the stop %s-%s outside arrival to start", where, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
			}
			if r.Stop == k && r.AtStop {
				c.restLength(fail, where, r)
			}
		}
		if st.Start.Before(st.Arrival) {
			fail("%s: service starts before the truck arrives", where)
		}
		add('o', st.Arrival, st.Start)
		if want != nil {
			if st.Start.Before(want.Earliest) || st.Start.After(want.Latest) {
				fail("%s: starts at %s, outside its window %s to %s", where, st.Start.Format(time.RFC3339),
					want.Earliest.Format(time.RFC3339), want.Latest.Format(time.RFC3339))
			}
			if !st.Departure.Equal(st.Start.Add(want.Service)) {
				fail("%s: service of %s, the load says %s", where, st.Departure.Sub(st.Start), want.Service)
			}
		} else if !st.Departure.Equal(st.Arrival) || !st.Start.Equal(st.Arrival) {
			fail("%s: a home stop has no service", where)
		}
		add('w', st.Start, st.Departure)
		at, prevDep = st.Point, st.Departure
	}
	for _, r := range tp.Rests {
		if r.Stop < 0 || r.Stop >= len(tp.Stops) {
			fail("rest before stop %d, which does not exist", r.Stop)
		}
	}
	for id := range picked {
		if !delivered[id] {
			fail("load %s is picked up and never delivered", id)
		}
	}
	if t.Home != nil && tp.Stops[len(tp.Stops)-1].Kind != Home {
		fail("must end at home")
	}
	if !tp.End.Equal(prevDep) {
		fail("ends at %s, its last stop at %s", tp.End.Format(time.RFC3339), prevDep.Format(time.RFC3339))
	}
	if !t.ShiftEnd.IsZero() && prevDep.After(t.ShiftEnd) {
		fail("ends at %s, after its shift ends at %s", prevDep.Format(time.RFC3339), t.ShiftEnd.Format(time.RFC3339))
	}
	if !near(tp.Miles, miles) || !near(tp.LoadedMiles, loaded) || !near(tp.EmptyMiles, empty) {
		fail("miles: the plan says %.3f (%.3f loaded, %.3f empty), its legs %.3f (%.3f, %.3f)",
			tp.Miles, tp.LoadedMiles, tp.EmptyMiles, miles, loaded, empty)
	}
	if msg := c.hours(t, timeline); msg != "" {
		fail("%s", msg)
	}
}

// loadDelta is what stop k changed in the count of loads aboard: the
// counts picked and delivered already include it.
func loadDelta(k StopKind) int {
	switch k {
	case Pickup:
		return 1
	case Delivery:
		return -1
	}
	return 0
}

func (p *Problem) speedMiles(d time.Duration) float64 { return d.Hours() * p.speed() }

func (c *checker) restLength(fail func(string, ...any), where string, r Rest) {
	d := r.End.Sub(r.Start)
	short := false
	switch r.Kind {
	case RestBreak:
		short = d < freight.BreakLength
	case RestDaily:
		short = d < freight.RestLength
	case RestRestart:
		short = d < freight.CycleRestartOff
	case RestWait:
		short = !r.AtStop
	default:
		fail("%s: unknown rest kind %q", where, r.Kind)
	}
	if short {
		fail("%s: a %s of %s", where, r.Kind, d)
	}
}

// hours walks a driver's timeline under the property-carrying rules from
// the clock the truck started with, and describes the first violation.
func (c *checker) hours(t *Truck, timeline []interval) string {
	cycle := freight.MaxCycle70
	if c.p.Rules.Cycle60 {
		cycle = freight.MaxCycle60
	}
	var driven, sinceBreak, used time.Duration
	var windowStart time.Time
	if h := t.HOS; h != nil {
		clip := func(m freight.Minutes, hi time.Duration) time.Duration { return min(max(m.Duration(), 0), hi) }
		driven = freight.MaxDriving - clip(h.DrivingLeft, freight.MaxDriving)
		sinceBreak = freight.BreakAfter - clip(h.UntilBreak, freight.BreakAfter)
		used = cycle - clip(h.CycleLeft, cycle)
		ref := t.Available
		if !h.UpdatedAt.IsZero() && h.UpdatedAt.Before(t.Available) {
			ref = h.UpdatedAt
		}
		if w := clip(h.WindowLeft, freight.MaxWindow); w < freight.MaxWindow {
			windowStart = ref.Add(w - freight.MaxWindow)
		}
		// Off duty from the report to the availability.
		switch off := t.Available.Sub(ref); {
		case off >= freight.CycleRestartOff:
			driven, sinceBreak, used, windowStart = 0, 0, 0, time.Time{}
		case off >= freight.RestLength:
			driven, sinceBreak, windowStart = 0, 0, time.Time{}
		case off >= freight.BreakLength:
			sinceBreak = 0
		}
	}
	slices.SortStableFunc(timeline, func(a, b interval) int { return a.start.Compare(b.start) })
	var offRun, pause time.Duration
	for i, iv := range timeline {
		if i > 0 && iv.start.Before(timeline[i-1].end) {
			return fmt.Sprintf("duty periods overlap at %s", iv.start.Format(time.RFC3339))
		}
		d := iv.end.Sub(iv.start)
		switch iv.kind {
		case 'o':
			offRun += d
			pause += d
			if offRun >= freight.CycleRestartOff {
				used = 0
			}
			if offRun >= freight.RestLength {
				driven, windowStart = 0, time.Time{}
			}
			if pause >= freight.BreakLength {
				sinceBreak = 0
			}
		case 'w':
			offRun = 0
			pause += d
			used += d
			if pause >= freight.BreakLength {
				sinceBreak = 0
			}
			if windowStart.IsZero() {
				windowStart = iv.start
			}
		case 'd':
			offRun, pause = 0, 0
			if windowStart.IsZero() {
				windowStart = iv.start
			}
			driven += d
			sinceBreak += d
			used += d
			at := iv.end.Format(time.RFC3339)
			switch {
			case driven > freight.MaxDriving+tick:
				return fmt.Sprintf("drives %s past 11 hours since its last 10-hour rest, until %s", driven-freight.MaxDriving, at)
			case sinceBreak > freight.BreakAfter+tick:
				return fmt.Sprintf("drives %s past 8 hours without a 30-minute break, until %s", sinceBreak-freight.BreakAfter, at)
			case iv.end.Sub(windowStart) > freight.MaxWindow+tick:
				return fmt.Sprintf("drives until %s, %s after its 14-hour window closed", at, iv.end.Sub(windowStart)-freight.MaxWindow)
			case used > cycle+tick:
				return fmt.Sprintf("drives until %s, %s beyond the %s cycle", at, used-cycle, cycle)
			}
		}
	}
	return ""
}

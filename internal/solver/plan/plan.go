// Package plan builds multi-day truck plans for real freight: loads with
// pickup and delivery appointments at lat/lon stops, trucks with start
// positions, shifts, capacities, equipment and the driver's hours-of-service
// clock. Each truck's plan lists its stops with arrival, start and departure
// times and the breaks, rests and waits the US FMCSA rules (internal/hos)
// require, placed along the legs where the driver takes them.
//
// The objective is the benchmark literature's hierarchy adapted to freight:
// the most loads served, then the fewest trucks used, then the fewest total
// miles; with the served loads fixed, their loaded miles are fixed too, so
// the miles saved are empty (deadhead) miles. Routes are open (a truck ends
// at its last delivery) unless the truck must end at home.
//
// The search is adaptive large neighbourhood search: ruin (random, worst,
// related and whole-route removal) and recreate (greedy and regret
// insertion) chosen by adaptive weights, simulated annealing on the miles
// among solutions that serve as many loads with as many trucks, and a pair
// relocate local search on each new best. Routes are evaluated by forward
// simulation of the driver's clock (hours-of-service timing does not
// concatenate), which is affordable because a truck's route is short.
//
// Distances are road miles from a geo.Distancer (great-circle miles times
// 1.2 by default); driving times assume an average road speed of DefaultSpeedMPH.
//
// The package is pure: no I/O, and for a given seed and iteration budget
// the result is the same on every run. Check verifies any Solution
// independently of the search.
package plan

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

// DefaultSpeedMPH is the average road speed of a loaded or empty truck
// between stops, traffic and slower roads near the stops included: 50 mph
// is the figure carriers plan long-haul trips with (65 mph limits on the
// interstates, less in cities, fuel stops short of a break).
const DefaultSpeedMPH = 50

// Stop is a pickup or delivery appointment.
type Stop struct {
	Point geo.Point
	// Earliest and Latest bound when service may start; the truck waits
	// off duty for Earliest, and must start by Latest.
	Earliest, Latest time.Time
	// Service is the time on duty at the stop (loading, unloading, dwell).
	Service time.Duration
}

// Load is one truckload or partial load to move.
type Load struct {
	ID        string
	Pickup    Stop
	Delivery  Stop
	WeightLbs float64
	Equipment freight.Equipment
}

// Truck is a truck, its driver and where and when they start.
type Truck struct {
	ID        string
	Start     geo.Point
	Available time.Time // shift start: the truck leaves Start no earlier
	// ShiftEnd, when set, is when the truck's last stop (or its arrival at
	// home) must be done by; zero means no limit.
	ShiftEnd    time.Time
	CapacityLbs float64
	Equipment   freight.Equipment
	// HOS is the driver's clock; nil means a driver fresh from a 34-hour
	// restart. A clock reported before Available is aged as off duty up
	// to Available (the driver is waiting to start).
	HOS *freight.HOSClock
	// Home, when set, is where the truck must end its plan.
	Home *geo.Point
}

// Problem is a set of trucks and loads.
type Problem struct {
	Trucks []Truck
	Loads  []Load
	// Rules chooses the 60- or 70-hour cycle (the zero value is 70).
	Rules hos.Rules
	// SpeedMPH is the average road speed; zero means DefaultSpeedMPH.
	SpeedMPH float64
	// Distancer gives road miles; nil means geo.DefaultCircuity.
	Distancer geo.Distancer
}

// speed is the problem's road speed in miles per hour.
func (p *Problem) speed() float64 {
	if p.SpeedMPH > 0 {
		return p.SpeedMPH
	}
	return DefaultSpeedMPH
}

func (p *Problem) distancer() geo.Distancer {
	if p.Distancer != nil {
		return p.Distancer
	}
	return geo.DefaultCircuity
}

// DriveTime is the time driving miles takes at the problem's speed, to the
// second.
func (p *Problem) DriveTime(miles float64) time.Duration {
	return time.Duration(math.Round(miles/p.speed()*3600)) * time.Second
}

// RoadMiles is the problem's road distance between a and b.
func (p *Problem) RoadMiles(a, b geo.Point) float64 { return p.distancer().RoadMiles(a, b) }

// Options controls a solve.
type Options struct {
	// TimeLimit stops the search after this long. Zero means no limit;
	// then MaxIterations must be set or ctx must end the search.
	TimeLimit time.Duration
	// MaxIterations stops the search after this many ruin-and-recreate
	// steps. With a zero TimeLimit the run is deterministic.
	MaxIterations int
	// Seed makes runs reproducible.
	Seed uint64
	// Progress, when set, is called with every new best solution, from the
	// solver's goroutine.
	Progress func(Progress)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Progress describes the best solution so far.
type Progress struct {
	Elapsed    time.Duration
	Served     int
	Trucks     int
	Miles      float64
	EmptyMiles float64
	Iteration  int
}

// StopKind says what a planned stop is.
type StopKind string

const (
	Pickup   StopKind = "pickup"
	Delivery StopKind = "delivery"
	Home     StopKind = "home" // the end of a truck that must end at home
)

// PlannedStop is one stop of a truck's plan. The leg that reaches it begins
// at the previous stop's departure (or the truck's availability) and ends at
// Arrival; driving fills the leg except for the rests placed on it.
type PlannedStop struct {
	Kind   StopKind
	LoadID string // empty for Home
	Point  geo.Point
	// LegMiles is the road distance from the previous stop (or the start).
	LegMiles float64
	// Arrival is when driving ends; Start when service starts, after any
	// wait or rest at the stop; Departure when service ends.
	Arrival, Start, Departure time.Time
	// OnBoardLbs is the weight on the truck when it leaves.
	OnBoardLbs float64
}

// RestKind says what an off-duty period is.
type RestKind string

const (
	RestWait    RestKind = "wait"    // waiting for a window, shorter than a rest
	RestBreak   RestKind = "break"   // the 30-minute break
	RestDaily   RestKind = "rest"    // 10 hours or more off duty
	RestRestart RestKind = "restart" // 34 hours or more off duty
)

// Rest is an off-duty period of a plan.
type Rest struct {
	Kind       RestKind
	Start, End time.Time
	// Stop is the index of the stop it precedes. AtStop says it is taken
	// at that stop, between arrival and the start of service; otherwise it
	// is taken on the leg that reaches the stop, MilesIntoLeg from the
	// leg's beginning, at Point.
	Stop         int
	AtStop       bool
	MilesIntoLeg float64
	Point        geo.Point
}

// TruckPlan is what one truck does.
type TruckPlan struct {
	TruckID     string
	Stops       []PlannedStop
	Rests       []Rest
	Start, End  time.Time // availability; the last departure or the arrival home
	Miles       float64
	LoadedMiles float64 // legs driven with something on board
	EmptyMiles  float64
	Driving     time.Duration
}

// Unassigned is a load the plan leaves out, and why.
type Unassigned struct {
	LoadID string
	Reason string
}

// Reasons a load is left out.
const (
	ReasonEquipment = "equipment: no truck pulls this trailer type"
	ReasonWeight    = "weight: heavier than the capacity of every truck with the equipment"
	ReasonPickup    = "no truck can reach the pickup window"
	ReasonDelivery  = "no truck can reach the delivery window after the pickup"
	ReasonShift     = "no truck can deliver it within its shift or get home in time"
	ReasonFleet     = "every truck that could haul it is needed for other loads"
	ReasonStopped   = "the search was stopped before it considered this load"
)

// Solution is a plan for the fleet.
type Solution struct {
	Plans      []TruckPlan // used trucks only, in the problem's order
	Unassigned []Unassigned
	Served     int
	Trucks     int
	Miles      float64
	// LoadedMiles and EmptyMiles split Miles; EmptyMiles is the cost the
	// search minimises once loads and trucks are settled.
	LoadedMiles float64
	EmptyMiles  float64
	Iterations  int
}

// ErrNoStop is returned when nothing would end the search.
var ErrNoStop = errors.New("plan: no time limit, iteration limit or cancellable context")

// ErrInvalid is wrapped by the errors of problems that make no sense.
var ErrInvalid = errors.New("plan: invalid problem")

// Solve searches for the best plan within the limits. It returns the best
// plan found when the time or iteration limit is reached or ctx ends;
// cancellation is not an error.
func Solve(ctx context.Context, p *Problem, opts Options) (Solution, error) {
	if opts.TimeLimit <= 0 && opts.MaxIterations <= 0 && ctx.Done() == nil {
		return Solution{}, ErrNoStop
	}
	if err := p.validate(); err != nil {
		return Solution{}, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	start := opts.Now()
	m := newModel(p, func() bool {
		return ctx.Err() != nil || opts.TimeLimit > 0 && opts.Now().Sub(start) >= opts.TimeLimit
	})
	s := newSearch(ctx, m, opts)
	s.start = start
	routes, iters, cut := s.run()
	if cut {
		// Loads the first plan never reached were not refused.
		for _, r := range routes {
			for _, e := range r {
				m.reason[loadOf(e)] = "-"
			}
		}
		for l := range m.reason {
			switch m.reason[l] {
			case "":
				m.reason[l] = ReasonStopped
			case "-":
				m.reason[l] = ""
			}
		}
	}
	sol := m.solution(routes)
	sol.Iterations = iters
	return sol, nil
}

// validate refuses what the search cannot work with. Callers facing users
// validate field by field first (internal/optimize does); this is the
// last line.
func (p *Problem) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if !(p.SpeedMPH >= 0) || math.IsInf(p.SpeedMPH, 0) {
		return bad("speed %v", p.SpeedMPH)
	}
	trucks := map[string]bool{}
	for i, t := range p.Trucks {
		switch {
		case t.ID == "" || trucks[t.ID]:
			return bad("truck %d: empty or repeated id %q", i, t.ID)
		case t.Start.Validate() != nil:
			return bad("truck %s: %v", t.ID, t.Start.Validate())
		case t.Home != nil && t.Home.Validate() != nil:
			return bad("truck %s: home: %v", t.ID, t.Home.Validate())
		case t.Available.IsZero():
			return bad("truck %s: no availability time", t.ID)
		case !t.ShiftEnd.IsZero() && t.ShiftEnd.Before(t.Available):
			return bad("truck %s: shift ends before it starts", t.ID)
		case !(t.CapacityLbs > 0) || math.IsInf(t.CapacityLbs, 0):
			return bad("truck %s: capacity %v", t.ID, t.CapacityLbs)
		}
		trucks[t.ID] = true
	}
	loads := map[string]bool{}
	for i, l := range p.Loads {
		switch {
		case l.ID == "" || loads[l.ID]:
			return bad("load %d: empty or repeated id %q", i, l.ID)
		case !(l.WeightLbs >= 0) || math.IsInf(l.WeightLbs, 0):
			return bad("load %s: weight %v", l.ID, l.WeightLbs)
		}
		for _, st := range []Stop{l.Pickup, l.Delivery} {
			switch {
			case st.Point.Validate() != nil:
				return bad("load %s: %v", l.ID, st.Point.Validate())
			case st.Earliest.IsZero() || st.Latest.IsZero() || st.Latest.Before(st.Earliest):
				return bad("load %s: a window must have both ends, in order", l.ID)
			case st.Service < 0 || st.Service > 24*time.Hour:
				return bad("load %s: service time %s", l.ID, st.Service)
			}
		}
		loads[l.ID] = true
	}
	return nil
}

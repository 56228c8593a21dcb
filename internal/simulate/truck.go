package simulate

import (
	"errors"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

// Truck is one driver with their rig.
type Truck struct {
	Index      int
	Carrier    int
	Home       int // city index
	Equipment  freight.Equipment
	Capacity   int
	Pos        geo.Point
	HOS        hos.State
	Trip       *Trip
	LastSample time.Time // when the phone last took a fix

	DriverID, TruckID, Key string // the platform's IDs and the phone's API key
	pending                []Fix  // fixes not yet uploaded
	idleSince              time.Time
	lastFixAt              time.Time
	busyUntil              time.Time // repositioning until then
}

// Fix is one position sample in simulated time.
type Fix struct {
	At       time.Time
	Point    geo.Point
	SpeedMph float64
	Heading  float64
}

// Trip is a booked load with its legal schedule: deadhead to the pickup,
// loading, the loaded haul, unloading.
type Trip struct {
	Load     *LoadSpec
	LoadID   string
	From     geo.Point
	Pickup   geo.Point
	Drop     geo.Point
	Deadhead float64 // road miles
	Plan     hos.Plan
	Booked   time.Time
	next     int // the next status event to report (index into events)
	failed   int // failed attempts at reporting it
}

// Status events of a trip and the plan segment whose finish (or begin)
// triggers each.
var tripEvents = []freight.LoadStatus{freight.StatusAtPickup, freight.StatusInTransit, freight.StatusAtDelivery, freight.StatusDelivered}

// EventTimes are when the driver arrives at the pickup, leaves loaded,
// arrives at the delivery and is unloaded.
func (t *Trip) EventTimes() [4]time.Time {
	p := t.Plan
	return [4]time.Time{p.Finish[0], p.Finish[1], p.Finish[2], p.Finish[3]}
}

// segments of a trip; late windows are enforced only when checking.
func segments(l *LoadSpec, deadhead float64, speed float64, pickupDwell, dropDwell time.Duration, enforce bool) []hos.Segment {
	dur := func(mi float64) time.Duration {
		return max(time.Minute, time.Duration(mi/speed*float64(time.Hour)))
	}
	s := []hos.Segment{
		{Kind: hos.Drive, Duration: dur(deadhead), Miles: deadhead, Label: "deadhead"},
		{Kind: hos.Work, Duration: pickupDwell, Label: "pickup", Earliest: l.Pickup.Start},
		{Kind: hos.Drive, Duration: dur(l.Miles), Miles: l.Miles, Label: "loaded"},
		{Kind: hos.Work, Duration: dropDwell, Label: "delivery", Earliest: l.Delivery.Start},
	}
	if enforce {
		s[1].Latest, s[3].Latest = l.Pickup.End, l.Delivery.End
	}
	return s
}

// planningSpeed and planningDwell are what a dispatcher assumes when it
// checks whether a load can be made; the haul itself has its own speed and
// dwell times.
const (
	planningSpeed = 47.0
	planningDwell = 2 * time.Hour
)

// ErrInfeasible says a truck cannot make a load's windows.
var ErrInfeasible = errors.New("cannot make the load's windows")

// Feasible checks, as a dispatcher would, that the truck can reach the
// pickup and the delivery inside their windows under hours of service.
func (tr *Truck) Feasible(l *LoadSpec, c *City, now time.Time, miles geo.Distancer) (float64, error) {
	if l.Equipment != tr.Equipment || l.WeightLbs > tr.Capacity {
		return 0, ErrInfeasible
	}
	dh := miles.RoadMiles(tr.Pos, c.Point)
	start := tr.state(now)
	if _, err := hos.Schedule(start, segments(l, dh, planningSpeed, planningDwell, planningDwell, true), hos.Rules{}); err != nil {
		return dh, ErrInfeasible
	}
	return dh, nil
}

// state is the driver's hours-of-service state at now, after idling since
// the last trip (idle time is off duty).
func (tr *Truck) state(now time.Time) hos.State {
	if tr.HOS.At.IsZero() {
		return hos.Fresh(now, hos.Rules{})
	}
	if !now.After(tr.HOS.At) {
		return tr.HOS
	}
	return hos.Start(tr.HOS.Clock(), now, true, hos.Rules{})
}

// Start books the truck onto l at now and plans the haul with the load's
// real speed and dwell times.
func (tr *Truck) Start(l *LoadSpec, loadID string, pickup, drop geo.Point, now time.Time, miles geo.Distancer) error {
	dh := miles.RoadMiles(tr.Pos, pickup)
	plan, err := hos.Schedule(tr.state(now), segments(l, dh, l.SpeedMph, l.PickupDwell, l.DropDwell, false), hos.Rules{})
	if err != nil {
		return err
	}
	tr.Trip = &Trip{Load: l, LoadID: loadID, From: tr.Pos, Pickup: pickup, Drop: drop, Deadhead: dh, Plan: plan, Booked: now}
	return nil
}

// Where is the truck's position, speed and heading at t on its trip.
func (t *Trip) Where(at time.Time) (geo.Point, float64, float64) {
	var done float64 // miles driven on the segment in progress
	seg := -1
	var speed float64
	for _, s := range t.Plan.Steps {
		if s.Kind != hos.StepDrive {
			continue
		}
		if s.Segment != seg {
			seg, done = s.Segment, 0
		}
		if !at.After(s.Start) {
			break
		}
		if at.Before(s.End) {
			f := float64(at.Sub(s.Start)) / float64(s.End.Sub(s.Start))
			done += f * s.Miles
			speed = s.Miles / s.End.Sub(s.Start).Hours()
			break
		}
		done += s.Miles
	}
	var a, b geo.Point
	var total float64
	switch {
	case seg <= 0:
		a, b, total = t.From, t.Pickup, t.Deadhead
	default:
		a, b, total = t.Pickup, t.Drop, t.Load.Miles
	}
	if seg < 0 || total <= 0 {
		return a, 0, 0
	}
	f := min(1, done/total)
	heading := geo.Bearing(a, b)
	return geo.Destination(a, heading, f*geo.GreatCircleMiles(a, b)), speed, heading
}

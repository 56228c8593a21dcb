package optimize

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
	"github.com/backhaul/backhaul/internal/solver/plan"
	"github.com/backhaul/backhaul/internal/solver/routing"
)

// Limits of a freight problem.
const (
	MaxFreightLoads  = 2000
	MaxFreightTrucks = 500
	// MaxFreightHorizon bounds the span from the earliest truck
	// availability to the latest appointment or shift end.
	MaxFreightHorizon = 31 * 24 * time.Hour
	// DefaultServiceMin is a stop's time on duty when the problem names
	// none: a typical live load or unload.
	DefaultServiceMin = 60
	maxServiceMin     = 24 * 60
	maxFreightID      = 64
)

// FreightPoint is a WGS84 position.
type FreightPoint struct {
	Lat *float64 `json:"lat"`
	Lon *float64 `json:"lon"`
}

// FreightStop is a pickup or delivery appointment: service must start
// between earliest and latest.
type FreightStop struct {
	Lat        *float64   `json:"lat"`
	Lon        *float64   `json:"lon"`
	Earliest   *time.Time `json:"earliest"`
	Latest     *time.Time `json:"latest"`
	ServiceMin *int       `json:"service_min,omitempty"` // default 60
}

// FreightLoad is a load to move.
type FreightLoad struct {
	ID        string            `json:"id"`
	Pickup    *FreightStop      `json:"pickup"`
	Delivery  *FreightStop      `json:"delivery"`
	WeightLbs *float64          `json:"weight_lbs"`
	Equipment freight.Equipment `json:"equipment"`
}

// FreightTruck is a truck, its driver, and where and when they start.
type FreightTruck struct {
	ID          string            `json:"id"`
	Start       *FreightPoint     `json:"start"`
	AvailableAt *time.Time        `json:"available_at"`
	ShiftEnd    *time.Time        `json:"shift_end,omitempty"`
	CapacityLbs *float64          `json:"capacity_lbs,omitempty"` // default freight.MaxLoadLbs
	Equipment   freight.Equipment `json:"equipment"`
	HOS         *freight.HOSClock `json:"hos,omitempty"` // default: fresh from a restart
	// Home is where the truck must end; EndAtHome alone ends it at its start.
	Home      *FreightPoint `json:"home,omitempty"`
	EndAtHome bool          `json:"end_at_home,omitempty"`
}

// FreightSettings are the problem-wide assumptions.
type FreightSettings struct {
	SpeedMPH *float64 `json:"speed_mph,omitempty"` // default 50
	Circuity *float64 `json:"circuity,omitempty"`  // road miles per great-circle mile; default 1.2
	CycleH   *int     `json:"cycle_h,omitempty"`   // 60 or 70; default 70
}

// FreightResult is a freight job's plan.
type FreightResult struct {
	Loads       int                 `json:"loads"`
	Served      int                 `json:"served"`
	Trucks      int                 `json:"trucks"`
	Miles       float64             `json:"miles"`
	LoadedMiles float64             `json:"loaded_miles"`
	EmptyMiles  float64             `json:"empty_miles"`
	Plans       []FreightPlan       `json:"plans"`
	Unassigned  []FreightUnassigned `json:"unassigned"`
}

// FreightPlan is one truck's plan.
type FreightPlan struct {
	TruckID     string            `json:"truck_id"`
	Start       time.Time         `json:"start"`
	End         time.Time         `json:"end"`
	Miles       float64           `json:"miles"`
	LoadedMiles float64           `json:"loaded_miles"`
	EmptyMiles  float64           `json:"empty_miles"`
	DrivingMin  int               `json:"driving_min"`
	Stops       []FreightPlanStop `json:"stops"`
	Rests       []FreightRest     `json:"rests"`
}

// FreightPlanStop is a stop of a plan.
type FreightPlanStop struct {
	Kind       string    `json:"kind"` // pickup, delivery or home
	LoadID     string    `json:"load_id,omitempty"`
	Lat        float64   `json:"lat"`
	Lon        float64   `json:"lon"`
	LegMiles   float64   `json:"leg_miles"`
	Arrival    time.Time `json:"arrival"`
	Start      time.Time `json:"start"`
	Departure  time.Time `json:"departure"`
	OnBoardLbs float64   `json:"on_board_lbs"`
}

// FreightRest is an off-duty period of a plan: on the leg to a stop, or at
// the stop before service.
type FreightRest struct {
	Kind         string    `json:"kind"` // wait, break, rest or restart
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	BeforeStop   int       `json:"before_stop"`
	AtStop       bool      `json:"at_stop"`
	MilesIntoLeg float64   `json:"miles_into_leg"`
	Lat          float64   `json:"lat"`
	Lon          float64   `json:"lon"`
}

// FreightUnassigned is a load the plan leaves out.
type FreightUnassigned struct {
	LoadID string `json:"load_id"`
	Reason string `json:"reason"`
}

// compileFreight checks a freight problem field by field and builds the
// planner's problem.
func compileFreight(p Problem) (compiled, error) {
	var fs freight.Fields
	if p.Instance != "" {
		fs.Add("problem.instance", "not used by the freight format")
	}
	switch {
	case len(p.Trucks) == 0:
		fs.Add("problem.trucks", "required: at least one truck")
	case len(p.Trucks) > MaxFreightTrucks:
		fs.Add("problem.trucks", "at most %d trucks", MaxFreightTrucks)
	}
	switch {
	case len(p.Loads) == 0:
		fs.Add("problem.loads", "required: at least one load")
	case len(p.Loads) > MaxFreightLoads:
		fs.Add("problem.loads", "at most %d loads", MaxFreightLoads)
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	out := &plan.Problem{Trucks: make([]plan.Truck, len(p.Trucks)), Loads: make([]plan.Load, len(p.Loads))}
	circuity := geo.DefaultCircuityFactor
	if s := p.Settings; s != nil {
		if s.SpeedMPH != nil {
			if v := *s.SpeedMPH; !(v >= 10 && v <= 80) {
				fs.Add("problem.settings.speed_mph", "must be between 10 and 80")
			} else {
				out.SpeedMPH = v
			}
		}
		if s.Circuity != nil {
			if v := *s.Circuity; !(v >= 1 && v <= 3) {
				fs.Add("problem.settings.circuity", "must be between 1 and 3")
			} else {
				circuity = v
			}
		}
		if s.CycleH != nil {
			switch *s.CycleH {
			case 60:
				out.Rules = hos.Rules{Cycle60: true}
			case 70:
			default:
				fs.Add("problem.settings.cycle_h", "want 60 or 70")
			}
		}
	}
	out.Distancer = geo.Circuity{Factor: circuity}
	var first, last time.Time
	span := func(t time.Time) {
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	ids := map[string]bool{}
	for i, tr := range p.Trucks {
		f := "problem.trucks[" + strconv.Itoa(i) + "]"
		t := &out.Trucks[i]
		t.ID = tr.ID
		checkID(&fs, f+".id", tr.ID, ids)
		t.Start = point(&fs, f+".start", tr.Start, true)
		if tr.Home != nil {
			h := point(&fs, f+".home", tr.Home, true)
			t.Home = &h
		} else if tr.EndAtHome {
			h := t.Start
			t.Home = &h
		}
		if tr.AvailableAt == nil {
			fs.Add(f+".available_at", "required")
		} else if instant(&fs, f+".available_at", *tr.AvailableAt) {
			t.Available = tr.AvailableAt.UTC()
			span(t.Available)
		}
		if tr.ShiftEnd != nil && instant(&fs, f+".shift_end", *tr.ShiftEnd) {
			t.ShiftEnd = tr.ShiftEnd.UTC()
			if !t.Available.IsZero() && !t.ShiftEnd.After(t.Available) {
				fs.Add(f+".shift_end", "must be after available_at")
			}
			span(t.ShiftEnd)
		}
		t.CapacityLbs = freight.MaxLoadLbs
		if tr.CapacityLbs != nil {
			if v := *tr.CapacityLbs; !(v > 0 && v <= freight.MaxLoadLbs) {
				fs.Add(f+".capacity_lbs", "must be above 0 and at most %d", freight.MaxLoadLbs)
			} else {
				t.CapacityLbs = v
			}
		}
		t.Equipment = tr.Equipment
		equipment(&fs, f+".equipment", tr.Equipment)
		if tr.HOS != nil {
			c := *tr.HOS
			clock(&fs, f+".hos", c)
			if !c.UpdatedAt.IsZero() && !instant(&fs, f+".hos.updated_at", c.UpdatedAt) {
				c.UpdatedAt = time.Time{}
			}
			t.HOS = &c
		}
	}
	clear(ids)
	for i, ld := range p.Loads {
		f := "problem.loads[" + strconv.Itoa(i) + "]"
		l := &out.Loads[i]
		l.ID = ld.ID
		checkID(&fs, f+".id", ld.ID, ids)
		l.Pickup = stop(&fs, f+".pickup", ld.Pickup, span)
		l.Delivery = stop(&fs, f+".delivery", ld.Delivery, span)
		if !l.Pickup.Earliest.IsZero() && !l.Delivery.Latest.IsZero() && l.Delivery.Latest.Before(l.Pickup.Earliest) {
			fs.Add(f+".delivery.latest", "before the pickup window opens")
		}
		if ld.WeightLbs == nil {
			fs.Add(f+".weight_lbs", "required")
		} else if v := *ld.WeightLbs; !(v >= 0 && v <= freight.MaxLoadLbs) {
			fs.Add(f+".weight_lbs", "must be between 0 and %d", freight.MaxLoadLbs)
		} else {
			l.WeightLbs = v
		}
		l.Equipment = ld.Equipment
		equipment(&fs, f+".equipment", ld.Equipment)
	}
	if len(fs) == 0 && last.Sub(first) > MaxFreightHorizon {
		fs.Add("problem", "the times span %s from the first availability to the last appointment or shift end; at most %d days",
			last.Sub(first).Round(time.Hour), int(MaxFreightHorizon/(24*time.Hour)))
	}
	if len(fs) > 20 {
		fs = append(fs[:20], freight.FieldError{Field: "problem", Detail: fmt.Sprintf("and %d more errors", len(fs)-20)})
	}
	if err := fs.Err(); err != nil {
		return nil, err
	}
	return freightProblem{p: out}, nil
}

func checkID(fs *freight.Fields, field, id string, seen map[string]bool) {
	switch {
	case strings.TrimSpace(id) == "":
		fs.Add(field, "required")
	case len(id) > maxFreightID:
		fs.Add(field, "at most %d bytes", maxFreightID)
	case !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl):
		fs.Add(field, "must be printable text")
	case seen[id]:
		fs.Add(field, "repeats %q", id)
	}
	seen[id] = true
}

func point(fs *freight.Fields, field string, p *FreightPoint, required bool) geo.Point {
	if p == nil {
		if required {
			fs.Add(field, "required")
		}
		return geo.Point{}
	}
	return latLon(fs, field, p.Lat, p.Lon)
}

func latLon(fs *freight.Fields, field string, lat, lon *float64) geo.Point {
	var pt geo.Point
	switch {
	case lat == nil:
		fs.Add(field+".lat", "required")
	case !(*lat >= -90 && *lat <= 90):
		fs.Add(field+".lat", "must be between -90 and 90")
	default:
		pt.Lat = *lat
	}
	switch {
	case lon == nil:
		fs.Add(field+".lon", "required")
	case !(*lon >= -180 && *lon <= 180):
		fs.Add(field+".lon", "must be between -180 and 180")
	default:
		pt.Lon = *lon
	}
	return pt
}

var (
	minInstant = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxInstant = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// instant checks that t is a plausible time.
func instant(fs *freight.Fields, field string, t time.Time) bool {
	if t.Before(minInstant) || !t.Before(maxInstant) {
		fs.Add(field, "must be between 2000 and 2099")
		return false
	}
	return true
}

func stop(fs *freight.Fields, field string, s *FreightStop, span func(time.Time)) plan.Stop {
	if s == nil {
		fs.Add(field, "required")
		return plan.Stop{}
	}
	out := plan.Stop{Point: latLon(fs, field, s.Lat, s.Lon), Service: DefaultServiceMin * time.Minute}
	ok := true
	for _, w := range []struct {
		name string
		t    *time.Time
		dst  *time.Time
	}{{"earliest", s.Earliest, &out.Earliest}, {"latest", s.Latest, &out.Latest}} {
		switch {
		case w.t == nil:
			fs.Add(field+"."+w.name, "required")
			ok = false
		case instant(fs, field+"."+w.name, *w.t):
			*w.dst = w.t.UTC()
			span(*w.dst)
		default:
			ok = false
		}
	}
	if ok && out.Latest.Before(out.Earliest) {
		fs.Add(field+".latest", "before earliest")
		out.Earliest, out.Latest = time.Time{}, time.Time{}
	}
	if s.ServiceMin != nil {
		if v := *s.ServiceMin; v < 0 || v > maxServiceMin {
			fs.Add(field+".service_min", "must be between 0 and %d", maxServiceMin)
		} else {
			out.Service = time.Duration(v) * time.Minute
		}
	}
	return out
}

func equipment(fs *freight.Fields, field string, e freight.Equipment) {
	if !e.Valid() {
		names := make([]string, len(freight.EquipmentTypes))
		for i, t := range freight.EquipmentTypes {
			names[i] = string(t)
		}
		fs.Add(field, "want one of %s", strings.Join(names, ", "))
	}
}

func clock(fs *freight.Fields, field string, c freight.HOSClock) {
	check := func(name string, v freight.Minutes, hi time.Duration) {
		if v < 0 || v.Duration() > hi {
			fs.Add(field+"."+name, "must be between 0 and %d minutes", int(hi/time.Minute))
		}
	}
	check("driving_left_min", c.DrivingLeft, freight.MaxDriving)
	check("window_left_min", c.WindowLeft, freight.MaxWindow)
	check("cycle_left_min", c.CycleLeft, freight.MaxCycle70)
	check("until_break_min", c.UntilBreak, freight.BreakAfter)
}

// freightProblem is a checked freight problem.
type freightProblem struct {
	p *plan.Problem
}

func (f freightProblem) summary() ProblemSummary {
	return ProblemSummary{Format: "freight", Kind: "freight",
		Instance: fmt.Sprintf("%d loads, %d trucks", len(f.p.Loads), len(f.p.Trucks)),
		Nodes:    2*len(f.p.Loads) + len(f.p.Trucks)}
}

// solve plans the fleet and checks the plan with the planner's independent
// checker. Progress points carry trucks as vehicles and total miles as
// distance; a point with more trucks than the last serves more loads.
func (f freightProblem) solve(ctx context.Context, o solveOptions) (Result, error) {
	opts := plan.Options{TimeLimit: o.timeLimit, Seed: o.seed}
	if o.progress != nil {
		opts.Progress = func(p plan.Progress) {
			o.progress(routing.Progress{Elapsed: p.Elapsed, Vehicles: p.Trucks, Distance: p.Miles, Iteration: p.Iteration})
		}
	}
	sol, err := plan.Solve(ctx, f.p, opts)
	if err != nil {
		return Result{}, err
	}
	v := plan.Check(f.p, &sol)
	r := Result{Kind: "freight", Routes: f.routes(&sol), Vehicles: sol.Trucks, Distance: sol.Miles, Feasible: len(v) == 0,
		Iterations: sol.Iterations, Freight: freightResult(len(f.p.Loads), &sol)}
	if len(v) > 0 {
		r.Violations = v[:min(len(v), maxViolations)]
	}
	return r, nil
}

// routes numbers each plan's stops as a pickup-and-delivery instance
// would: 2i+1 is the pickup of loads[i], 2i+2 its delivery.
func (f freightProblem) routes(sol *plan.Solution) [][]int {
	index := make(map[string]int, len(f.p.Loads))
	for i, l := range f.p.Loads {
		index[l.ID] = i
	}
	out := [][]int{}
	for _, tp := range sol.Plans {
		var r []int
		for _, st := range tp.Stops {
			switch st.Kind {
			case plan.Pickup:
				r = append(r, 2*index[st.LoadID]+1)
			case plan.Delivery:
				r = append(r, 2*index[st.LoadID]+2)
			}
		}
		out = append(out, r)
	}
	return out
}

// round2 keeps miles to the hundredth in the stored result.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

func freightResult(loads int, sol *plan.Solution) *FreightResult {
	out := &FreightResult{Loads: loads, Served: sol.Served, Trucks: sol.Trucks, Miles: round2(sol.Miles),
		LoadedMiles: round2(sol.LoadedMiles), EmptyMiles: round2(sol.EmptyMiles),
		Plans: make([]FreightPlan, 0, len(sol.Plans)), Unassigned: make([]FreightUnassigned, 0, len(sol.Unassigned))}
	for _, tp := range sol.Plans {
		fp := FreightPlan{TruckID: tp.TruckID, Start: tp.Start, End: tp.End, Miles: round2(tp.Miles),
			LoadedMiles: round2(tp.LoadedMiles), EmptyMiles: round2(tp.EmptyMiles), DrivingMin: int(tp.Driving.Round(time.Minute) / time.Minute),
			Stops: make([]FreightPlanStop, 0, len(tp.Stops)), Rests: make([]FreightRest, 0, len(tp.Rests))}
		for _, st := range tp.Stops {
			fp.Stops = append(fp.Stops, FreightPlanStop{Kind: string(st.Kind), LoadID: st.LoadID, Lat: st.Point.Lat, Lon: st.Point.Lon,
				LegMiles: round2(st.LegMiles), Arrival: st.Arrival, Start: st.Start, Departure: st.Departure, OnBoardLbs: st.OnBoardLbs})
		}
		for _, r := range tp.Rests {
			fp.Rests = append(fp.Rests, FreightRest{Kind: string(r.Kind), Start: r.Start, End: r.End, BeforeStop: r.Stop, AtStop: r.AtStop,
				MilesIntoLeg: round2(r.MilesIntoLeg), Lat: r.Point.Lat, Lon: r.Point.Lon})
		}
		out.Plans = append(out.Plans, fp)
	}
	for _, u := range sol.Unassigned {
		out.Unassigned = append(out.Unassigned, FreightUnassigned{LoadID: u.LoadID, Reason: u.Reason})
	}
	return out
}

// Package assign solves fleet assignment: given available drivers and open
// loads, it pairs each driver with at most one load and each load with at
// most one driver so that as many loads as possible are covered and, among
// those assignments, the total deadhead (empty) miles is smallest.
//
// The work is split in three steps that can be used on their own:
// Candidates finds the feasible driver-load pairs with a spatial grid,
// Solve finds an exact optimum on that sparse graph, and Greedy is the
// nearest-first dispatcher it is measured against. The package does no I/O;
// DecodeScenario reads the scenario format of the matching benchmarks.
package assign

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
)

// ErrInvalidScenario is matched (errors.Is) by every error that reports a
// scenario breaking the format's rules, as opposed to an I/O failure.
var ErrInvalidScenario = errors.New("invalid scenario")

// Params are the scenario-wide feasibility settings.
type Params struct {
	SpeedMPH         float64 `json:"speed_mph"`
	Circuity         float64 `json:"circuity"`
	MaxDeadheadMiles float64 `json:"max_deadhead_miles"`
}

// Driver is an available truck and its driver.
type Driver struct {
	ID          string    `json:"id"`
	Lat         float64   `json:"lat"`
	Lon         float64   `json:"lon"`
	Equipment   string    `json:"equipment"`
	CapacityLbs float64   `json:"capacity_lbs"`
	AvailableAt time.Time `json:"available_at"`
	HoursLeft   float64   `json:"hours_left"`
}

// Position is where the driver becomes available.
func (d *Driver) Position() geo.Point { return geo.Point{Lat: d.Lat, Lon: d.Lon} }

// Load is an open load waiting for a truck.
type Load struct {
	ID             string    `json:"id"`
	Origin         geo.Point `json:"origin"`
	Destination    geo.Point `json:"destination"`
	Equipment      string    `json:"equipment"`
	WeightLbs      float64   `json:"weight_lbs"`
	PickupEarliest time.Time `json:"pickup_earliest"`
	PickupLatest   time.Time `json:"pickup_latest"`
	RateUSD        float64   `json:"rate_usd"`
}

// Scenario is one fleet-assignment problem. Its JSON form is the scenario
// format of the matching benchmarks.
type Scenario struct {
	Now     time.Time `json:"now"`
	Params  Params    `json:"params"`
	Drivers []Driver  `json:"drivers"`
	Loads   []Load    `json:"loads"`
}

// FieldError is one problem with one field of a scenario.
type FieldError struct {
	Field   string // path such as "drivers[3].lat"
	ID      string // ID of the driver or load, when it has one
	Problem string
}

func (e FieldError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("%s (id %q): %s", e.Field, e.ID, e.Problem)
	}
	return e.Field + ": " + e.Problem
}

// ValidationError lists the problems found in a scenario. Validation goes on
// past the first problem so that one run reports what needs fixing.
type ValidationError struct {
	Problems []FieldError
	Omitted  int // problems found beyond the ones listed
}

// maxProblems bounds the report for a badly broken file.
const maxProblems = 20

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidScenario.Error())
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "; and %d more", e.Omitted)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidScenario) hold.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidScenario }

type problems struct{ ValidationError }

func (p *problems) add(field, id, format string, args ...any) {
	if len(p.Problems) >= maxProblems {
		p.Omitted++
		return
	}
	p.Problems = append(p.Problems, FieldError{Field: field, ID: id, Problem: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.Problems) == 0 {
		return nil
	}
	v := p.ValidationError
	return &v
}

// Validate checks every rule of the scenario format: finite in-range
// coordinates, positive speed and deadhead limit, a circuity of at least 1,
// non-empty unique IDs, non-negative weights, capacities and hours, pickup
// windows that do not close before they open, and at least one driver and
// one load. The error is a *ValidationError.
func (s *Scenario) Validate() error {
	var p problems
	s.validate(&p)
	return p.err()
}

func (s *Scenario) validate(p *problems) {
	if s.Now.IsZero() {
		p.add("now", "", "missing")
	}
	positive := func(field string, v float64) {
		if !finite(v) || v <= 0 {
			p.add(field, "", "%v is not a positive number", v)
		}
	}
	positive("params.speed_mph", s.Params.SpeedMPH)
	positive("params.max_deadhead_miles", s.Params.MaxDeadheadMiles)
	if c := s.Params.Circuity; !finite(c) || c < 1 {
		p.add("params.circuity", "", "%v is below 1 (road miles cannot be shorter than great-circle miles)", c)
	}
	if len(s.Drivers) == 0 {
		p.add("drivers", "", "no drivers")
	}
	if len(s.Loads) == 0 {
		p.add("loads", "", "no loads")
	}
	nonNegative := func(field, id string, v float64) {
		if !finite(v) || v < 0 {
			p.add(field, id, "%v is not a non-negative number", v)
		}
	}
	coord := func(field, id string, v, limit float64) {
		if !finite(v) || v < -limit || v > limit {
			p.add(field, id, "%v is outside [-%v, %v]", v, limit, limit)
		}
	}
	point := func(field, id string, pt geo.Point) {
		coord(field+".lat", id, pt.Lat, 90)
		coord(field+".lon", id, pt.Lon, 180)
	}
	seen := make(map[string]int, len(s.Drivers))
	for i := range s.Drivers {
		d := &s.Drivers[i]
		f := fmt.Sprintf("drivers[%d]", i)
		if d.ID == "" {
			p.add(f+".id", "", "missing")
		} else if j, dup := seen[d.ID]; dup {
			p.add(f+".id", d.ID, "duplicate of drivers[%d]", j)
		} else {
			seen[d.ID] = i
		}
		point(f, d.ID, d.Position())
		if d.Equipment == "" {
			p.add(f+".equipment", d.ID, "missing")
		}
		nonNegative(f+".capacity_lbs", d.ID, d.CapacityLbs)
		nonNegative(f+".hours_left", d.ID, d.HoursLeft)
		if d.AvailableAt.IsZero() {
			p.add(f+".available_at", d.ID, "missing")
		}
	}
	clear(seen)
	for i := range s.Loads {
		l := &s.Loads[i]
		f := fmt.Sprintf("loads[%d]", i)
		if l.ID == "" {
			p.add(f+".id", "", "missing")
		} else if j, dup := seen[l.ID]; dup {
			p.add(f+".id", l.ID, "duplicate of loads[%d]", j)
		} else {
			seen[l.ID] = i
		}
		point(f+".origin", l.ID, l.Origin)
		point(f+".destination", l.ID, l.Destination)
		if l.Equipment == "" {
			p.add(f+".equipment", l.ID, "missing")
		}
		nonNegative(f+".weight_lbs", l.ID, l.WeightLbs)
		nonNegative(f+".rate_usd", l.ID, l.RateUSD)
		switch {
		case l.PickupEarliest.IsZero():
			p.add(f+".pickup_earliest", l.ID, "missing")
		case l.PickupLatest.IsZero():
			p.add(f+".pickup_latest", l.ID, "missing")
		case l.PickupLatest.Before(l.PickupEarliest):
			p.add(f+".pickup_latest", l.ID, "%s is before pickup_earliest %s",
				l.PickupLatest.Format(time.RFC3339), l.PickupEarliest.Format(time.RFC3339))
		}
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// The wire form uses pointers so that a missing field is told apart from a
// zero, and strings for times so that a bad timestamp names its field.
type wireScenario struct {
	Now     *string       `json:"now"`
	Params  *wireParams   `json:"params"`
	Drivers []*wireDriver `json:"drivers"`
	Loads   []*wireLoad   `json:"loads"`
}

type wireParams struct {
	SpeedMPH         *float64 `json:"speed_mph"`
	Circuity         *float64 `json:"circuity"`
	MaxDeadheadMiles *float64 `json:"max_deadhead_miles"`
}

type wirePoint struct {
	Lat *float64 `json:"lat"`
	Lon *float64 `json:"lon"`
}

type wireDriver struct {
	ID          *string  `json:"id"`
	Lat         *float64 `json:"lat"`
	Lon         *float64 `json:"lon"`
	Equipment   *string  `json:"equipment"`
	CapacityLbs *float64 `json:"capacity_lbs"`
	AvailableAt *string  `json:"available_at"`
	HoursLeft   *float64 `json:"hours_left"`
}

type wireLoad struct {
	ID             *string    `json:"id"`
	Origin         *wirePoint `json:"origin"`
	Destination    *wirePoint `json:"destination"`
	Equipment      *string    `json:"equipment"`
	WeightLbs      *float64   `json:"weight_lbs"`
	PickupEarliest *string    `json:"pickup_earliest"`
	PickupLatest   *string    `json:"pickup_latest"`
	RateUSD        *float64   `json:"rate_usd"`
}

// DecodeScenario reads one scenario in the matching benchmark format and
// validates it (see Scenario.Validate). Unknown fields, missing fields,
// malformed timestamps and trailing data are errors. Errors about the
// content wrap ErrInvalidScenario and name the field, the index and the ID.
func DecodeScenario(r io.Reader) (Scenario, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var w wireScenario
	if err := dec.Decode(&w); err != nil {
		return Scenario{}, decodeError(err, dec.InputOffset())
	}
	if _, err := dec.Token(); err != io.EOF {
		return Scenario{}, fmt.Errorf("decode scenario: %w: data after the scenario object", ErrInvalidScenario)
	}
	var (
		s Scenario
		p problems
	)
	str := func(field, id string, v *string) string {
		if v == nil {
			p.add(field, id, "missing")
			return ""
		}
		return *v
	}
	num := func(field, id string, v *float64) float64 {
		if v == nil {
			p.add(field, id, "missing")
			return 0
		}
		return *v
	}
	tm := func(field, id string, v *string) time.Time {
		if v == nil {
			p.add(field, id, "missing")
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, *v)
		if err != nil {
			p.add(field, id, "%q is not an RFC 3339 time", *v)
			return time.Time{}
		}
		return t
	}
	pt := func(field, id string, v *wirePoint) geo.Point {
		if v == nil {
			p.add(field, id, "missing")
			return geo.Point{}
		}
		return geo.Point{Lat: num(field+".lat", id, v.Lat), Lon: num(field+".lon", id, v.Lon)}
	}
	s.Now = tm("now", "", w.Now)
	if w.Params == nil {
		p.add("params", "", "missing")
	} else {
		s.Params = Params{
			SpeedMPH:         num("params.speed_mph", "", w.Params.SpeedMPH),
			Circuity:         num("params.circuity", "", w.Params.Circuity),
			MaxDeadheadMiles: num("params.max_deadhead_miles", "", w.Params.MaxDeadheadMiles),
		}
	}
	s.Drivers = make([]Driver, len(w.Drivers))
	for i, wd := range w.Drivers {
		f := fmt.Sprintf("drivers[%d]", i)
		if wd == nil {
			p.add(f, "", "null")
			continue
		}
		id := str(f+".id", "", wd.ID)
		s.Drivers[i] = Driver{
			ID:          id,
			Lat:         num(f+".lat", id, wd.Lat),
			Lon:         num(f+".lon", id, wd.Lon),
			Equipment:   str(f+".equipment", id, wd.Equipment),
			CapacityLbs: num(f+".capacity_lbs", id, wd.CapacityLbs),
			AvailableAt: tm(f+".available_at", id, wd.AvailableAt),
			HoursLeft:   num(f+".hours_left", id, wd.HoursLeft),
		}
	}
	s.Loads = make([]Load, len(w.Loads))
	for i, wl := range w.Loads {
		f := fmt.Sprintf("loads[%d]", i)
		if wl == nil {
			p.add(f, "", "null")
			continue
		}
		id := str(f+".id", "", wl.ID)
		s.Loads[i] = Load{
			ID:             id,
			Origin:         pt(f+".origin", id, wl.Origin),
			Destination:    pt(f+".destination", id, wl.Destination),
			Equipment:      str(f+".equipment", id, wl.Equipment),
			WeightLbs:      num(f+".weight_lbs", id, wl.WeightLbs),
			PickupEarliest: tm(f+".pickup_earliest", id, wl.PickupEarliest),
			PickupLatest:   tm(f+".pickup_latest", id, wl.PickupLatest),
			RateUSD:        num(f+".rate_usd", id, wl.RateUSD),
		}
	}
	// Run the content rules, dropping the reports about a field (or a part
	// of one) already found missing or malformed while decoding.
	var rules problems
	s.validate(&rules)
	for _, fe := range rules.Problems {
		if repeated(p.Problems, fe) {
			continue
		}
		p.add(fe.Field, fe.ID, "%s", fe.Problem)
	}
	p.Omitted += rules.Omitted
	if err := p.err(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// decodeError says what is wrong with input that is not a well-formed
// scenario in terms of the file rather than of Go types. Errors from the
// reader itself are passed through.
func decodeError(err error, offset int64) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("decode scenario: %w: empty input", ErrInvalidScenario)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("decode scenario: %w: input ends inside the scenario", ErrInvalidScenario)
	case errors.As(err, &syntax):
		return fmt.Errorf("decode scenario: %w: byte %d: %s", ErrInvalidScenario, syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		want := "a number"
		switch typ.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Slice:
			want = "an array"
		case reflect.Struct, reflect.Pointer:
			want = "an object"
		}
		field := typ.Field
		if field == "" {
			field = "scenario"
		}
		if v, ok := strings.CutPrefix(typ.Value, "number "); ok && want == "a number" {
			return fmt.Errorf("decode scenario: %w: byte %d: %s: %s is out of range", ErrInvalidScenario, typ.Offset, field, v)
		}
		return fmt.Errorf("decode scenario: %w: byte %d: %s: got %s, want %s", ErrInvalidScenario, typ.Offset, field, typ.Value, want)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fmt.Errorf("decode scenario: %w: byte %d: %s", ErrInvalidScenario, offset, strings.TrimPrefix(err.Error(), "json: "))
	}
	return fmt.Errorf("decode scenario: %w", err)
}

func repeated(found []FieldError, fe FieldError) bool {
	for _, f := range found {
		if f.Field == fe.Field || strings.HasPrefix(fe.Field, f.Field+".") {
			return true
		}
	}
	return false
}

package matching

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/store"
)

// Lane is a preferred origin and destination state; an empty side means any.
type Lane struct {
	Origin      string `json:"origin,omitempty"`
	Destination string `json:"destination,omitempty"`
}

// Area is a circle a driver will not enter.
type Area struct {
	Lat         float64 `json:"lat"`
	Lon         float64 `json:"lon"`
	RadiusMiles float64 `json:"radius_miles"`
}

// Preferences are a driver's stated constraints and wishes. No-go regions,
// the home-by time and the deadhead limit are hard rules; lanes only raise a
// load's preference fit.
type Preferences struct {
	DriverID         string     `json:"driver_id"`
	Lanes            []Lane     `json:"lanes"`
	HomeBy           *time.Time `json:"home_by,omitempty"`
	NoGoStates       []string   `json:"no_go_states"`
	NoGoAreas        []Area     `json:"no_go_areas"`
	MaxDeadheadMiles *float64   `json:"max_deadhead_miles,omitempty"`
	UpdatedBy        string     `json:"updated_by,omitempty"`
	UpdatedAt        time.Time  `json:"updated_at,omitzero"`
}

// PreferencesInput replaces a driver's preferences.
type PreferencesInput struct {
	Lanes            []Lane     `json:"lanes"`
	HomeBy           *time.Time `json:"home_by"`
	NoGoStates       []string   `json:"no_go_states"`
	NoGoAreas        []Area     `json:"no_go_areas"`
	MaxDeadheadMiles *float64   `json:"max_deadhead_miles"`
}

// Limits of preferences, so that a profile stays small and a check cheap.
const (
	maxLanes          = 50
	maxNoGoAreas      = 50
	maxAreaRadius     = 500.0
	minDeadheadLimit  = 10.0
	maxDeadheadLimit  = 1000.0
	maxHomeByAhead    = 60 * 24 * time.Hour
	maxPreferenceBody = 64 << 10
)

// Normalize validates in and returns the preferences it describes, with
// state codes in upper case, sorted and unique. now bounds the home-by time.
func (in PreferencesInput) Normalize(now time.Time) (Preferences, error) {
	var fs freight.Fields
	p := Preferences{Lanes: []Lane{}, NoGoStates: []string{}, NoGoAreas: []Area{}}
	state := func(field, s string) string {
		if s == "" {
			return ""
		}
		code, ok := geocode.StateCode(s)
		if !ok {
			fs.Add(field, "unknown US state %q", clip(s))
		}
		return code
	}
	if len(in.Lanes) > maxLanes {
		fs.Add("lanes", "at most %d lanes", maxLanes)
	} else {
		for i, l := range in.Lanes {
			f := fmt.Sprintf("lanes[%d]", i)
			if l.Origin == "" && l.Destination == "" {
				fs.Add(f, "give an origin state, a destination state, or both")
				continue
			}
			lane := Lane{Origin: state(f+".origin", l.Origin), Destination: state(f+".destination", l.Destination)}
			if !slices.Contains(p.Lanes, lane) {
				p.Lanes = append(p.Lanes, lane)
			}
		}
	}
	if in.HomeBy != nil {
		h := store.Now(*in.HomeBy)
		switch {
		case !h.After(now):
			fs.Add("home_by", "must be in the future")
		case h.Sub(now) > maxHomeByAhead:
			fs.Add("home_by", "must be within 60 days")
		default:
			p.HomeBy = &h
		}
	}
	if len(in.NoGoStates) > 60 {
		fs.Add("no_go_states", "at most 60 states")
	} else {
		for i, s := range in.NoGoStates {
			if s == "" {
				fs.Add(fmt.Sprintf("no_go_states[%d]", i), "must not be empty")
				continue
			}
			if code := state(fmt.Sprintf("no_go_states[%d]", i), s); code != "" && !slices.Contains(p.NoGoStates, code) {
				p.NoGoStates = append(p.NoGoStates, code)
			}
		}
		slices.Sort(p.NoGoStates)
	}
	if len(in.NoGoAreas) > maxNoGoAreas {
		fs.Add("no_go_areas", "at most %d areas", maxNoGoAreas)
	} else {
		for i, a := range in.NoGoAreas {
			f := fmt.Sprintf("no_go_areas[%d]", i)
			if err := (geo.Point{Lat: a.Lat, Lon: a.Lon}).Validate(); err != nil {
				fs.Add(f, "%v", err)
			}
			if !(a.RadiusMiles > 0 && a.RadiusMiles <= maxAreaRadius) {
				fs.Add(f+".radius_miles", "must be greater than 0 and at most %g", maxAreaRadius)
			}
			p.NoGoAreas = append(p.NoGoAreas, a)
		}
	}
	if m := in.MaxDeadheadMiles; m != nil {
		if !(*m >= minDeadheadLimit && *m <= maxDeadheadLimit) {
			fs.Add("max_deadhead_miles", "must be between %g and %g", minDeadheadLimit, maxDeadheadLimit)
		} else {
			v := *m
			p.MaxDeadheadMiles = &v
		}
	}
	return p, fs.Err()
}

// clip keeps user text in error messages short.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// EventPreferencesUpdated tells every replica, and the notification service,
// that a driver's preferences changed.
const EventPreferencesUpdated = "matching.preferences_updated.v1"

// preferenceEditor reports whether p may set driver d's preferences: the
// carrier's dispatchers and admins, and the driver themself.
func preferenceEditor(p freight.Principal, d freight.Driver) bool {
	if p.OrgID != d.CarrierID {
		return false
	}
	return fleetManager(p) || (p.Is(freight.RoleDriver) && p.DriverID == d.ID)
}

// SetPreferences replaces a driver's preferences.
func (s *Service) SetPreferences(ctx context.Context, p freight.Principal, driverID string, in PreferencesInput) (Preferences, error) {
	d, err := s.visibleDriver(ctx, p, driverID)
	if err != nil {
		return Preferences{}, err
	}
	if !preferenceEditor(p, d) {
		return Preferences{}, freight.Errorf(freight.EFORBIDDEN, "only the carrier's dispatchers and admins, and the driver, may set a driver's preferences")
	}
	prefs, err := in.Normalize(s.now())
	if err != nil {
		return Preferences{}, err
	}
	prefs.DriverID, prefs.UpdatedBy = d.ID, p.Subject()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		prefs.UpdatedAt = tx.Now()
		lanes, _ := json.Marshal(prefs.Lanes)
		states, _ := json.Marshal(prefs.NoGoStates)
		areas, _ := json.Marshal(prefs.NoGoAreas)
		var homeBy any
		if prefs.HomeBy != nil {
			homeBy = *prefs.HomeBy
		}
		var maxDH any
		if prefs.MaxDeadheadMiles != nil {
			maxDH = *prefs.MaxDeadheadMiles
		}
		_, err := tx.Exec(ctx, `INSERT INTO driver_preferences (driver_id, carrier_id, lanes, home_by, no_go_states, no_go_areas,
			max_deadhead_miles, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (driver_id) DO UPDATE SET carrier_id = excluded.carrier_id, lanes = excluded.lanes, home_by = excluded.home_by,
			no_go_states = excluded.no_go_states, no_go_areas = excluded.no_go_areas, max_deadhead_miles = excluded.max_deadhead_miles,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			d.ID, d.CarrierID, string(lanes), homeBy, string(states), string(areas), maxDH, prefs.UpdatedBy, prefs.UpdatedAt)
		if err != nil {
			return fmt.Errorf("save preferences: %w", err)
		}
		return tx.EmitNew(ctx, EventPreferencesUpdated, d.CarrierID, d.ID, prefs)
	})
	if err != nil {
		return Preferences{}, err
	}
	// This replica sees its own write at once; the others through the event.
	s.idx.setPrefs(d.ID, &prefs)
	return prefs, nil
}

// GetPreferences returns a driver's preferences (empty when none are set).
func (s *Service) GetPreferences(ctx context.Context, p freight.Principal, driverID string) (Preferences, error) {
	d, err := s.visibleDriver(ctx, p, driverID)
	if err != nil {
		return Preferences{}, err
	}
	prefs, err := loadPreferences(ctx, s.db, d.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return Preferences{DriverID: d.ID, Lanes: []Lane{}, NoGoStates: []string{}, NoGoAreas: []Area{}}, nil
	}
	return prefs, err
}

const prefCols = `driver_id, lanes, home_by, no_go_states, no_go_areas, max_deadhead_miles, updated_by, updated_at`

func scanPreferences(row interface{ Scan(...any) error }) (Preferences, error) {
	var p Preferences
	var lanes, states, areas string
	var maxDH sql.NullFloat64
	if err := row.Scan(&p.DriverID, &lanes, store.NullTime(&p.HomeBy), &states, &areas, &maxDH, &p.UpdatedBy, store.Time(&p.UpdatedAt)); err != nil {
		return p, err
	}
	if maxDH.Valid {
		p.MaxDeadheadMiles = &maxDH.Float64
	}
	if err := errors.Join(json.Unmarshal([]byte(lanes), &p.Lanes), json.Unmarshal([]byte(states), &p.NoGoStates),
		json.Unmarshal([]byte(areas), &p.NoGoAreas)); err != nil {
		return p, fmt.Errorf("preferences of %s: %w", p.DriverID, err)
	}
	return p, nil
}

func loadPreferences(ctx context.Context, db *store.DB, driverID string) (Preferences, error) {
	return scanPreferences(db.QueryRow(ctx, `SELECT `+prefCols+` FROM driver_preferences WHERE driver_id = ?`, driverID))
}

// prefCheck is a driver's preferences prepared for the hot path.
type prefCheck struct {
	p          *Preferences
	noGoStates map[string]bool
	maxDH      float64
}

func newPrefCheck(p *Preferences, defaultMaxDH float64) *prefCheck {
	c := &prefCheck{p: p, maxDH: defaultMaxDH}
	if p == nil {
		return c
	}
	if p.MaxDeadheadMiles != nil {
		c.maxDH = *p.MaxDeadheadMiles
	}
	if len(p.NoGoStates) > 0 {
		c.noGoStates = make(map[string]bool, len(p.NoGoStates))
		for _, s := range p.NoGoStates {
			c.noGoStates[s] = true
		}
	}
	return c
}

// homeBy is when the driver must be home, or zero.
func (c *prefCheck) homeBy() time.Time {
	if c.p == nil || c.p.HomeBy == nil {
		return time.Time{}
	}
	return *c.p.HomeBy
}

// noGo reports why a trip from a to b (states sa, sb) breaks the driver's
// no-go regions, or "". States are checked at the stops; areas along the
// straight line, sampled every 10 miles, since no routing engine says
// which roads the truck takes.
func (c *prefCheck) noGo(a, b geo.Point, sa, sb string) string {
	if c.p == nil {
		return ""
	}
	if c.noGoStates[sa] {
		return "origin in no-go state " + sa
	}
	if c.noGoStates[sb] {
		return "destination in no-go state " + sb
	}
	if len(c.p.NoGoAreas) == 0 {
		return ""
	}
	miles := geo.GreatCircleMiles(a, b)
	n := max(1, int(math.Ceil(miles/10)))
	bearing := geo.Bearing(a, b)
	for _, area := range c.p.NoGoAreas {
		ctr := geo.Point{Lat: area.Lat, Lon: area.Lon}
		// Skip circles far from the whole line in one test.
		if geo.GreatCircleMiles(a, ctr) > miles+area.RadiusMiles+10 {
			continue
		}
		for i := 0; i <= n; i++ {
			p := geo.Destination(a, bearing, miles*float64(i)/float64(n))
			if geo.GreatCircleMiles(p, ctr) <= area.RadiusMiles {
				return fmt.Sprintf("route enters the no-go area of %g miles around %.3f,%.3f", area.RadiusMiles, area.Lat, area.Lon)
			}
		}
	}
	return ""
}

// fitValue is fit without its note, for screening.
func (c *prefCheck) fitValue(so, sd string, dest, home geo.Point) float64 {
	if c.p == nil {
		return 0
	}
	v, _ := c.fitWith(so, sd, dest, home, false)
	return v
}

// fit is the preference fit of a trip ending at dest (state sd) from
// origin state so, in [0, 1], with a note saying why: 1 for a preferred
// lane, 0.5 for a lane's destination, and, with a home-by time, up to 1 for
// ending near home.
func (c *prefCheck) fit(so, sd string, dest, home geo.Point) (float64, string) {
	if c.p == nil {
		return 0, ""
	}
	return c.fitWith(so, sd, dest, home, true)
}

func (c *prefCheck) fitWith(so, sd string, dest, home geo.Point, notes bool) (float64, string) {
	best, note := 0.0, ""
	for _, l := range c.p.Lanes {
		o := l.Origin == "" || l.Origin == so
		d := l.Destination == "" || l.Destination == sd
		switch {
		case o && d:
			if notes {
				note = "preferred lane " + laneText(l)
			}
			return 1, note
		case d && l.Destination != "" && best < 0.5:
			best = 0.5
			if notes {
				note = "heads for " + l.Destination + ", a preferred destination"
			}
		}
	}
	if c.p.HomeBy != nil {
		miles := geo.GreatCircleMiles(dest, home)
		if f := math.Max(0, 1-miles/500); f > best {
			best = f
			if notes {
				note = fmt.Sprintf("ends %.0f miles from home", miles)
			}
		}
	}
	return best, note
}

func laneText(l Lane) string {
	o, d := l.Origin, l.Destination
	if o == "" {
		o = "anywhere"
	}
	if d == "" {
		d = "anywhere"
	}
	return o + " to " + d
}

// normalizeState upper-cases a stored state code.
func normalizeState(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

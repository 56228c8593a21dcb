package matching

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/hos"
)

// The tenancy rules are in the package documentation.

// fleetManager reports whether p manages its organization's drivers.
func fleetManager(p freight.Principal) bool {
	return p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin)
}

// poster reports whether p posts its organization's loads.
func poster(p freight.Principal) bool {
	return p.OrgKind.PostsLoads() && p.Is(freight.RoleShipper, freight.RoleAdmin)
}

// sees reports whether p may see driver d.
func sees(p freight.Principal, d *freight.Driver) bool {
	switch {
	case p.Is(freight.RoleOperator):
		return true
	case p.Is(freight.RoleDriver):
		return p.DriverID == d.ID && p.OrgID == d.CarrierID
	case fleetManager(p):
		return p.OrgID == d.CarrierID
	}
	return false
}

// visibleDriver returns a driver p may see, reading it from the store when
// this replica has not indexed it yet.
func (s *Service) visibleDriver(ctx context.Context, p freight.Principal, id string) (freight.Driver, error) {
	if id == "" || len(id) > 128 {
		return freight.Driver{}, freight.NotFound("driver")
	}
	get := func() (freight.Driver, bool) {
		s.idx.mu.RLock()
		defer s.idx.mu.RUnlock()
		rec, ok := s.idx.drivers[id]
		if !ok {
			return freight.Driver{}, false
		}
		return rec.Driver, true
	}
	d, ok := get()
	if !ok {
		if err := s.idx.refreshDriver(ctx, s.db, id); err != nil {
			return freight.Driver{}, err
		}
		if d, ok = get(); !ok {
			return freight.Driver{}, freight.NotFound("driver")
		}
	}
	if !sees(p, &d) {
		return freight.Driver{}, freight.NotFound("driver")
	}
	return d, nil
}

// loadScope decides what p may ask about load id: the load, and the
// carrier whose drivers to rank ("" for every carrier's).
func (s *Service) loadScope(ctx context.Context, p freight.Principal, id string) (freight.Load, string, error) {
	if p.Is(freight.RoleDriver) {
		return freight.Load{}, "", freight.Errorf(freight.EFORBIDDEN, "drivers see loads for themselves; ranking drivers for a load is for dispatchers and posters")
	}
	if id == "" || len(id) > 128 {
		return freight.Load{}, "", freight.NotFound("load")
	}
	l, err := scanLoad(s.db.QueryRow(ctx, `SELECT `+loadCols+` FROM loads WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return l, "", freight.NotFound("load")
	}
	if err != nil {
		return l, "", fmt.Errorf("load: %w", err)
	}
	scope := ""
	switch {
	case p.Is(freight.RoleOperator):
	case poster(p) && l.OrgID == p.OrgID:
	case fleetManager(p) && (l.Status == freight.StatusPosted || l.CarrierID == p.OrgID):
		scope = p.OrgID
	default:
		return l, "", freight.NotFound("load")
	}
	if l.Status != freight.StatusPosted {
		return l, "", freight.Errorf(freight.ECONFLICT, "the load is %s; matches are for open (posted) loads", l.Status)
	}
	return l, scope, nil
}

// RecommendQuery tunes a list of recommendations.
type RecommendQuery struct {
	Limit int // 1 to 50; default 10
}

// ParseRecommendQuery reads ?limit=.
func ParseRecommendQuery(q url.Values) (RecommendQuery, error) {
	var fs freight.Fields
	out := RecommendQuery{Limit: 10}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTopN {
			fs.Add("limit", "must be a whole number from 1 to %d", maxTopN)
		}
		out.Limit = n
	}
	return out, fs.Err()
}

// ChainQuery tunes a chain search.
type ChainQuery struct {
	Legs    int           // 1 to 3; default 3
	Limit   int           // chains with different first loads, 1 to 5; default 3
	Horizon time.Duration // pickups must open within it: 6 hours to 7 days; default 72 hours
}

// ParseChainQuery reads ?legs=, ?limit= and ?horizon_hours=.
func ParseChainQuery(q url.Values) (ChainQuery, error) {
	var fs freight.Fields
	out := ChainQuery{Legs: 3, Limit: 3, Horizon: 72 * time.Hour}
	num := func(name string, lo, hi int, into *int) {
		v := q.Get(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			fs.Add(name, "must be a whole number from %d to %d", lo, hi)
			return
		}
		*into = n
	}
	num("legs", 1, 3, &out.Legs)
	num("limit", 1, 5, &out.Limit)
	h := int(out.Horizon / time.Hour)
	num("horizon_hours", 6, 168, &h)
	out.Horizon = time.Duration(h) * time.Hour
	return out, fs.Err()
}

// DriverView is a driver as a recommendation shows them.
type DriverView struct {
	ID          string               `json:"id"`
	CarrierID   string               `json:"carrier_id"`
	Name        string               `json:"name"`
	Equipment   freight.Equipment    `json:"equipment"`
	CapacityLbs int                  `json:"capacity_lbs"`
	Status      freight.DriverStatus `json:"status"`
}

// StartView says where and when a driver's next trip starts.
type StartView struct {
	Lat    float64          `json:"lat"`
	Lon    float64          `json:"lon"`
	Source string           `json:"source"` // live, last_delivery, home_base or current_load
	At     time.Time        `json:"at"`
	HOS    freight.HOSClock `json:"hos"`
}

func startView(o *origin) StartView {
	return StartView{Lat: round5(o.pos.Lat), Lon: round5(o.pos.Lon), Source: o.source, At: o.state.At, HOS: o.state.Clock()}
}

func round5(x float64) float64 { return math.Round(x*1e5) / 1e5 }

// Recommendation is one ranked match with its reasons.
type Recommendation struct {
	Rank          int            `json:"rank"`
	Score         float64        `json:"score"`
	Load          *freight.Load  `json:"load,omitempty"`
	Driver        *DriverView    `json:"driver,omitempty"`
	Start         *StartView     `json:"start,omitempty"` // the driver's, when ranking drivers
	Factors       Factors        `json:"factors"`
	Contributions []Contribution `json:"contributions"`
	// ToRankHigher lists, for every match but the first, single changes
	// that would lift it above the match ranked just above it.
	ToRankHigher []Change   `json:"to_rank_higher"`
	PickupAt     time.Time  `json:"pickup_at"`
	DeliveredAt  time.Time  `json:"delivered_at"`
	Schedule     []hos.Step `json:"schedule"`
}

// Search sums up what a ranking looked at.
type Search struct {
	Considered int            `json:"considered"`
	Excluded   map[string]int `json:"excluded"`
	NotRanked  int            `json:"not_ranked"`
}

func searchOf(st stats) Search {
	if st.Excluded == nil {
		st.Excluded = map[string]int{}
	}
	return Search{Considered: st.Considered, Excluded: st.Excluded, NotRanked: st.Pruned}
}

// LoadsForDriver is the answer to "which loads suit this driver".
type LoadsForDriver struct {
	DriverID    string           `json:"driver_id"`
	Start       StartView        `json:"start"`
	Items       []Recommendation `json:"items"`
	Search      Search           `json:"search"`
	GeneratedAt time.Time        `json:"generated_at"`
}

// DriversForLoad is the answer to "which drivers suit this load".
type DriversForLoad struct {
	LoadID      string           `json:"load_id"`
	Scope       string           `json:"scope"` // "carrier": the caller's drivers; "all"
	Anonymised  bool             `json:"anonymised"`
	Items       []Recommendation `json:"items"`
	Search      Search           `json:"search"`
	GeneratedAt time.Time        `json:"generated_at"`
}

// ChainsForDriver is the answer to "which loads can this driver chain".
type ChainsForDriver struct {
	DriverID    string    `json:"driver_id"`
	Start       StartView `json:"start"`
	Chains      []Chain   `json:"chains"`
	Search      Search    `json:"search"`
	GeneratedAt time.Time `json:"generated_at"`
}

// recommendations turns ranked trips into their views.
func (s *Service) recommendations(trips []trip, ofLoad bool) []Recommendation {
	out := make([]Recommendation, len(trips))
	for i := range trips {
		t := &trips[i]
		r := Recommendation{Rank: i + 1, Score: round3(t.score), Factors: t.factors, Contributions: t.factors.contributions(),
			ToRankHigher: []Change{}, PickupAt: t.pickupAt, DeliveredAt: t.deliverAt, Schedule: s.eng.schedule(t)}
		r.Factors.DeadheadMiles = round1(r.Factors.DeadheadMiles)
		r.Factors.LoadedMiles = round1(r.Factors.LoadedMiles)
		r.Factors.RatePerLoadedMile = round2(r.Factors.RatePerLoadedMile)
		r.Factors.RatePerTotalMile = round2(r.Factors.RatePerTotalMile)
		if i > 0 {
			if ch := toRankHigher(t.factors, trips[i-1].score, i, ofLoad); ch != nil {
				r.ToRankHigher = ch
			}
		}
		if ofLoad {
			r.Load = &t.load.Load
		} else {
			d := t.driver
			r.Driver = &DriverView{ID: d.ID, CarrierID: d.CarrierID, Name: d.Name, Equipment: d.Equipment, CapacityLbs: d.CapacityLbs, Status: d.Status}
			sv := startView(t.org)
			r.Start = &sv
		}
		out[i] = r
	}
	return out
}

// LoadsFor ranks the open loads for a driver the caller may see.
func (s *Service) LoadsFor(ctx context.Context, p freight.Principal, driverID string, q RecommendQuery) (LoadsForDriver, error) {
	d, err := s.visibleDriver(ctx, p, driverID)
	if err != nil {
		return LoadsForDriver{}, err
	}
	now := s.now()
	live := s.eng.live(ctx, d.ID, now)
	started := time.Now()
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	rec, ok := s.idx.drivers[d.ID]
	if !ok {
		return LoadsForDriver{}, freight.NotFound("driver")
	}
	org := s.eng.originOf(rec, now, live)
	trips, st := s.eng.loadsFor(ctx, rec, &org, q.Limit)
	out := LoadsForDriver{DriverID: d.ID, Start: startView(&org), Items: s.recommendations(trips, true), Search: searchOf(st), GeneratedAt: now}
	s.latency.WithLabelValues("loads_for_driver").Observe(time.Since(started).Seconds())
	return out, nil
}

// DriversFor ranks drivers for an open load the caller may ask about (see
// the tenancy rules above).
func (s *Service) DriversFor(ctx context.Context, p freight.Principal, loadID string, q RecommendQuery) (DriversForLoad, error) {
	l, scope, err := s.loadScope(ctx, p, loadID)
	if err != nil {
		return DriversForLoad{}, err
	}
	ld, err := s.openLoad(ctx, l.ID)
	if err != nil {
		return DriversForLoad{}, err
	}
	if ld == nil {
		return DriversForLoad{}, freight.Errorf(freight.ECONFLICT, "the load is no longer open")
	}
	now := s.now()
	started := time.Now()
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	trips, st := s.eng.driversFor(ctx, ld, scope, now, q.Limit)
	out := DriversForLoad{LoadID: l.ID, Scope: "all", Items: s.recommendations(trips, false), Search: searchOf(st), GeneratedAt: now}
	if scope != "" {
		out.Scope = "carrier"
	}
	if scope == "" && !p.Is(freight.RoleOperator) {
		out.Anonymised = true
		for i := range out.Items {
			out.Items[i].Driver, out.Items[i].Start = nil, nil
		}
	}
	s.latency.WithLabelValues("drivers_for_load").Observe(time.Since(started).Seconds())
	return out, nil
}

// Chains finds the best chains of up to three loads for a driver the
// caller may see.
func (s *Service) Chains(ctx context.Context, p freight.Principal, driverID string, q ChainQuery) (ChainsForDriver, error) {
	d, err := s.visibleDriver(ctx, p, driverID)
	if err != nil {
		return ChainsForDriver{}, err
	}
	now := s.now()
	live := s.eng.live(ctx, d.ID, now)
	started := time.Now()
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	rec, ok := s.idx.drivers[d.ID]
	if !ok {
		return ChainsForDriver{}, freight.NotFound("driver")
	}
	org := s.eng.originOf(rec, now, live)
	nodes, st := s.eng.chains(ctx, rec, &org, s.chainOptions(q))
	out := ChainsForDriver{DriverID: d.ID, Start: startView(&org), Chains: make([]Chain, 0, len(nodes)), Search: searchOf(st), GeneratedAt: now}
	for i, n := range nodes {
		c := s.eng.chain(&org, n, s.opts.DeadheadCostPerMile)
		c.Rank = i + 1
		out.Chains = append(out.Chains, c)
	}
	s.latency.WithLabelValues("chains").Observe(time.Since(started).Seconds())
	return out, nil
}

func (s *Service) chainOptions(q ChainQuery) chainOptions {
	return chainOptions{legs: q.Legs, limit: q.Limit, horizon: q.Horizon, beam: 12, branch: 8, cost: s.opts.DeadheadCostPerMile}
}

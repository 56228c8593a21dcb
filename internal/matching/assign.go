package matching

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/hos"
	"github.com/backhaul/backhaul/internal/solver/assign"
)

// AssignInput asks for the optimal assignment of a carrier's available
// drivers to open loads. Omitting a list means all: every available driver
// of the carrier, every open load within their reach.
type AssignInput struct {
	DriverIDs []string `json:"driver_ids"`
	LoadIDs   []string `json:"load_ids"`
}

// Bounds of an assignment request.
const (
	maxAssignDrivers = 5000
	maxAssignLoads   = 20000
)

// Validate checks the lists' shape: given lists are not empty, hold IDs,
// and hold each ID once.
func (in AssignInput) Validate() error {
	var fs freight.Fields
	list := func(field string, ids []string, limit int) {
		if ids == nil {
			return
		}
		switch {
		case len(ids) == 0:
			fs.Add(field, "must not be empty; omit it to use all")
			return
		case len(ids) > limit:
			fs.Add(field, "at most %d", limit)
			return
		}
		seen := make(map[string]int, len(ids))
		for i, id := range ids {
			f := fmt.Sprintf("%s[%d]", field, i)
			if id == "" {
				fs.Add(f, "must not be empty")
				continue
			}
			checkID(&fs, f, id)
			if j, dup := seen[id]; dup {
				fs.Add(f, "duplicate of %s[%d]", field, j)
				continue
			}
			seen[id] = i
		}
	}
	list("driver_ids", in.DriverIDs, maxAssignDrivers)
	list("load_ids", in.LoadIDs, maxAssignLoads)
	return fs.Err()
}

// Assignment pairs a driver with a load.
type Assignment struct {
	DriverID      string        `json:"driver_id"`
	LoadID        string        `json:"load_id"`
	DeadheadMiles float64       `json:"deadhead_miles"`
	PickupAt      time.Time     `json:"pickup_at"`
	DeliveredAt   time.Time     `json:"delivered_at"`
	RateUSD       freight.Money `json:"rate_usd"`
}

// Baseline is the nearest-first greedy dispatcher's result on the same
// feasible pairs.
type Baseline struct {
	Assigned      int     `json:"assigned"`
	DeadheadMiles float64 `json:"deadhead_miles"`
}

// AssignResult is an optimal assignment: as many loads covered as
// possible, then the fewest deadhead miles.
type AssignResult struct {
	Assignments   []Assignment `json:"assignments"`
	Assigned      int          `json:"assigned"`
	DeadheadMiles float64      `json:"deadhead_miles"`
	Greedy        Baseline     `json:"greedy"`
	Drivers       int          `json:"drivers"`        // drivers considered
	Loads         int          `json:"loads"`          // loads some driver can take
	Pairs         int          `json:"feasible_pairs"` // driver-load pairs that pass every rule
	ElapsedMS     float64      `json:"elapsed_ms"`
	Notes         []string     `json:"notes,omitempty"`
}

// pairInfo is what an edge's trip says beyond its miles.
type pairInfo struct {
	pickup, delivered time.Time
	final             hos.State
}

// Assign proposes the optimal assignment of the caller's available drivers
// to open loads. Nothing is booked: the dispatcher books what they accept.
func (s *Service) Assign(ctx context.Context, p freight.Principal, in AssignInput) (AssignResult, error) {
	if !fleetManager(p) {
		return AssignResult{}, freight.Errorf(freight.EFORBIDDEN, "fleet assignment is for a carrier's dispatchers and admins")
	}
	if err := in.Validate(); err != nil {
		return AssignResult{}, err
	}
	started := time.Now()
	now := s.now()
	prob, err := s.assignProblem(ctx, p, in, now)
	if err != nil {
		return AssignResult{}, err
	}
	res := AssignResult{Assignments: []Assignment{}, Drivers: len(prob.drivers), Loads: len(prob.loads), Pairs: len(prob.edges)}
	switch {
	case len(prob.drivers) == 0:
		res.Notes = append(res.Notes, "no available drivers")
	case len(prob.edges) == 0:
		res.Notes = append(res.Notes, "no open load is within reach of an available driver under every rule")
	}
	if len(prob.edges) > 0 {
		sol, err := assign.Solve(ctx, len(prob.drivers), len(prob.loads), prob.edges)
		if err != nil {
			return AssignResult{}, fmt.Errorf("assign: %w", err)
		}
		sc := &assign.Scenario{Drivers: make([]assign.Driver, len(prob.drivers)), Loads: make([]assign.Load, len(prob.loads))}
		for i, l := range prob.loads {
			sc.Loads[i] = assign.Load{ID: l.ID, PickupLatest: l.Pickup.End}
		}
		g := assign.Greedy(sc, prob.edges)
		res.Greedy = Baseline{Assigned: g.Assigned(), DeadheadMiles: round1(g.DeadheadMiles)}
		info := make(map[[2]int]pairInfo, len(sol.Pairs))
		for i, e := range prob.edges {
			info[[2]int{e.Driver, e.Load}] = prob.info[i]
		}
		for _, e := range sol.Pairs {
			in := info[[2]int{e.Driver, e.Load}]
			l := prob.loads[e.Load]
			res.Assignments = append(res.Assignments, Assignment{DriverID: prob.drivers[e.Driver], LoadID: l.ID,
				DeadheadMiles: round1(e.Miles), PickupAt: in.pickup, DeliveredAt: in.delivered, RateUSD: l.Rate})
		}
		slices.SortFunc(res.Assignments, func(a, b Assignment) int { return cmp.Compare(a.DriverID, b.DriverID) })
		res.Assigned, res.DeadheadMiles = sol.Assigned(), round1(sol.DeadheadMiles)
	}
	res.ElapsedMS = math.Round(float64(time.Since(started).Microseconds())/10) / 100
	s.latency.WithLabelValues("assign").Observe(time.Since(started).Seconds())
	return res, nil
}

// assignProblem is the sparse graph of an assignment.
type assignProblem struct {
	drivers []string
	loads   []*freight.Load
	edges   []assign.Edge
	info    []pairInfo
}

// assignProblem finds, under the index's read lock, every driver-load pair
// that passes every rule, hours of service included.
func (s *Service) assignProblem(ctx context.Context, p freight.Principal, in AssignInput, now time.Time) (assignProblem, error) {
	var prob assignProblem
	s.idx.mu.RLock()
	defer s.idx.mu.RUnlock()
	var fs freight.Fields
	var recs []*driverRec
	if in.DriverIDs != nil {
		for i, id := range in.DriverIDs {
			rec, ok := s.idx.drivers[id]
			f := fmt.Sprintf("driver_ids[%d]", i)
			switch {
			case !ok || rec.CarrierID != p.OrgID:
				fs.Add(f, "unknown driver")
			case rec.Status != freight.DriverAvailable:
				fs.Add(f, "driver is %s, not available", rec.Status)
			default:
				recs = append(recs, rec)
			}
		}
	} else {
		for _, rec := range s.idx.drivers {
			if rec.CarrierID == p.OrgID && rec.Status == freight.DriverAvailable {
				recs = append(recs, rec)
			}
		}
		slices.SortFunc(recs, func(a, b *driverRec) int { return cmp.Compare(a.ID, b.ID) })
	}
	var only map[string]bool
	if in.LoadIDs != nil {
		only = make(map[string]bool, len(in.LoadIDs))
		for i, id := range in.LoadIDs {
			ld, ok := s.idx.loads[id]
			f := fmt.Sprintf("load_ids[%d]", i)
			switch {
			case !ok:
				fs.Add(f, "unknown load, or no longer open")
			case ld.OrgID == p.OrgID:
				fs.Add(f, "your organization's own load")
			default:
				only[id] = true
			}
		}
	}
	if err := fs.Err(); err != nil {
		return prob, err
	}
	prob.drivers = make([]string, len(recs))
	for i, rec := range recs {
		prob.drivers[i] = rec.ID
	}
	var loads []*openLoad
	loads, prob.edges, prob.info = s.eng.feasiblePairs(ctx, recs, only, now)
	prob.loads = make([]*freight.Load, len(loads))
	for i, l := range loads {
		prob.loads[i] = &l.Load
	}
	return prob, nil
}

// feasiblePairs finds every pair of the drivers and the open loads (only
// those in only, when it is set) that passes every rule, hours of service
// included: the sparse graph an assignment is solved on. Caller holds the
// index lock.
func (e *engine) feasiblePairs(ctx context.Context, recs []*driverRec, only map[string]bool, now time.Time) ([]*openLoad, []assign.Edge, []pairInfo) {
	var (
		loads   []*openLoad
		edges   []assign.Edge
		info    []pairInfo
		loadIdx = map[string]int{}
		planner = hos.Planner{Rules: e.rules}
		ol      = e.newOutlooker()
	)
	for di, rec := range recs {
		l := layer(rec.Equipment)
		if l < 0 {
			continue
		}
		org := e.originOf(rec, now, nil)
		pc := e.idx.check(rec.ID, e.maxDH)
		e.idx.lg.within(org.pos, pc.maxDH*e.gcPerRoad, l, func(ld *openLoad, h *hotLoad, gc float64) bool {
			if only != nil && !only[ld.ID] {
				return true
			}
			c := candidate{load: ld, driver: rec, org: &org, pc: pc}
			if e.screen(ctx, ol, &c, h, gc) != "" {
				return true
			}
			t, why := e.plan(&planner, &c)
			if why != "" {
				return true
			}
			li, ok := loadIdx[ld.ID]
			if !ok {
				li = len(loads)
				loadIdx[ld.ID] = li
				loads = append(loads, ld)
			}
			edges = append(edges, assign.Edge{Driver: di, Load: li, Miles: c.dh})
			info = append(info, pairInfo{pickup: t.pickupAt, delivered: t.deliverAt, final: t.final})
			return true
		})
	}
	return loads, edges, info
}

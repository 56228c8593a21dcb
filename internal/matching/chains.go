package matching

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

// ChainLeg is one load of a reload chain.
type ChainLeg struct {
	Load          freight.Load `json:"load"`
	DeadheadMiles float64      `json:"deadhead_miles"`
	LoadedMiles   float64      `json:"loaded_miles"`
	PickupAt      time.Time    `json:"pickup_at"`
	DeliveredAt   time.Time    `json:"delivered_at"`
}

// Chain is a sequence of loads one driver can haul back to back, legally.
type Chain struct {
	Rank          int           `json:"rank"`
	Legs          []ChainLeg    `json:"legs"`
	RevenueUSD    freight.Money `json:"revenue_usd"`
	EmptyMiles    float64       `json:"empty_miles"`
	LoadedMiles   float64       `json:"loaded_miles"`
	EmptyShare    float64       `json:"empty_share"`
	Days          float64       `json:"days"` // from the start to the last delivery
	RevenuePerDay float64       `json:"revenue_per_day"`
	// Value is the chain's objective: revenue less the cost of its empty
	// miles, per day (counting at least one day, so that a short single
	// load does not look like a week of such loads).
	Value          float64    `json:"value_per_day"`
	HOSMarginHours float64    `json:"hos_margin_hours"`
	Rests          int        `json:"rests"`
	Schedule       []hos.Step `json:"schedule"`
}

// chainOptions bound a chain search.
type chainOptions struct {
	legs    int           // at most 3
	limit   int           // chains returned, with different first loads
	horizon time.Duration // pickups must open within it
	beam    int           // partial chains kept per depth
	branch  int           // next loads planned per partial chain
	cost    float64       // dollars per empty mile
}

// node is a partial chain in the beam search.
type node struct {
	parent  *node
	leg     trip
	depth   int
	pos     geo.Point
	state   hos.State
	revenue float64
	empty   float64
	loaded  float64
	value   float64
}

func (n *node) uses(l *openLoad) bool {
	for ; n != nil && n.depth > 0; n = n.parent {
		if n.leg.load == l {
			return true
		}
	}
	return false
}

// chainValue is revenue less empty miles' cost per day since start, with
// at least a day.
func chainValue(revenue, empty, cost float64, start, end time.Time) float64 {
	days := math.Max(end.Sub(start).Hours()/24, 1)
	return (revenue - cost*empty) / days
}

// chains finds the best reload chains of a driver by beam search: from each
// partial chain kept, the loads near its end are screened and estimated,
// the most promising are planned under the hours-of-service rules from
// where the chain leaves the driver, and the best children go on. Caller
// holds the index lock.
func (e *engine) chains(ctx context.Context, rec *driverRec, org *origin, o chainOptions) ([]*node, stats) {
	var st stats
	l := layer(rec.Equipment)
	if l < 0 {
		return nil, st
	}
	pc := e.idx.check(rec.ID, e.maxDH)
	var p hos.Planner
	p.Rules = e.rules
	start := org.state.At
	startNano := org.atNano
	horizon := org.atNano + int64(o.horizon)
	root := &node{pos: org.pos, state: org.state}
	frontier := []*node{root}
	var all []*node
	buf := e.candidates()
	defer e.release(buf)
	const day = float64(24 * time.Hour)
	for depth := 1; depth <= o.legs && len(frontier) > 0; depth++ {
		var children []*node
		for _, n := range frontier {
			at := origin{pos: n.pos, source: org.source}
			at.setState(n.state)
			left := n.state.Drivable().Hours()
			cands := (*buf)[:0]
			e.idx.lg.within(n.pos, pc.maxDH*e.gcPerRoad, l, func(ld *openLoad, h *hotLoad, gc float64) bool {
				if h.pickupStart > horizon {
					return true
				}
				if depth == 1 {
					st.Considered++
				}
				c := candidate{load: ld, driver: rec, org: &at, pc: pc}
				// The chain's estimate needs no reload outlook: the next
				// load is the chain's own.
				if why := e.screen(ctx, nil, &c, h, gc); why != "" {
					if depth == 1 {
						st.exclude(why)
					}
					return true
				}
				if depth > 1 && n.uses(ld) {
					return true
				}
				// Rank by the chain's value were this leg to end when a
				// truck driving on would end it, with the rests its
				// driving needs beyond what is left today.
				drive := (c.dh + h.loaded) / e.speed
				rests := 0.0
				if drive > left {
					rests = math.Ceil((drive - left) / freight.MaxDriving.Hours())
				}
				arrive := max(at.atNano+int64(c.dh/e.speed*float64(time.Hour)), h.pickupStart)
				end := arrive + int64(2*e.stop) + int64(h.loaded/e.speed*float64(time.Hour)) + int64(rests*float64(freight.RestLength))
				days := math.Max(float64(end-startNano)/day, 1)
				c.ub = (n.revenue + h.rate - o.cost*(n.empty+c.dh)) / days
				cands = append(cands, c)
				return true
			})
			*buf = cands
			// Plan the most promising until branch of them fit; the
			// estimate can be wrong, so look a little further.
			hp := candHeap(cands)
			hp.init()
			kept := 0
			for tries := 0; len(hp) > 0 && tries < 3*o.branch && kept < o.branch; tries++ {
				c := hp[0]
				hp.pop()
				t, why := e.plan(&p, &c)
				if why != "" {
					if depth == 1 {
						st.exclude(why)
					}
					continue
				}
				kept++
				child := &node{parent: n, leg: t, depth: depth, pos: t.load.d, state: t.final,
					revenue: n.revenue + t.load.Rate.Dollars(), empty: n.empty + t.dh, loaded: n.loaded + t.load.loaded}
				child.value = chainValue(child.revenue, child.empty, o.cost, start, t.deliverAt)
				children = append(children, child)
			}
		}
		slices.SortFunc(children, compareNodes)
		all = append(all, children...)
		frontier = children[:min(len(children), o.beam)]
	}
	slices.SortFunc(all, compareNodes)
	var out []*node
	firsts := map[string]bool{}
	for _, n := range all {
		first := n
		for first.depth > 1 {
			first = first.parent
		}
		if firsts[first.leg.load.ID] {
			continue
		}
		firsts[first.leg.load.ID] = true
		out = append(out, n)
		if len(out) == o.limit {
			break
		}
	}
	return out, st
}

func compareNodes(a, b *node) int {
	return cmp.Or(cmp.Compare(b.value, a.value), cmp.Compare(a.empty, b.empty), cmp.Compare(b.depth, a.depth), cmp.Compare(chainKey(a), chainKey(b)))
}

func chainKey(n *node) string {
	k := ""
	for ; n != nil && n.depth > 0; n = n.parent {
		k = n.leg.load.ID + "/" + k
	}
	return k
}

// chain turns a node into its view, planning the whole chain again from
// the origin so that the schedule shows every drive, break, rest and stop.
func (e *engine) chain(org *origin, n *node, cost float64) Chain {
	var legs []*node
	for m := n; m != nil && m.depth > 0; m = m.parent {
		legs = append(legs, m)
	}
	slices.Reverse(legs)
	c := Chain{Legs: make([]ChainLeg, 0, len(legs))}
	var segs []hos.Segment
	for _, m := range legs {
		t := &m.leg
		l := t.load
		segs = append(segs,
			hos.Segment{Kind: hos.Drive, Duration: e.hours(t.dh), Miles: t.dh, Label: "deadhead to " + l.Origin.Label()},
			hos.Segment{Kind: hos.Work, Duration: e.stop, Label: "pickup " + l.ID, Earliest: l.Pickup.Start, Latest: l.Pickup.End},
			hos.Segment{Kind: hos.Drive, Duration: e.hours(l.loaded), Miles: l.loaded, Label: "loaded to " + l.Destination.Label()},
			hos.Segment{Kind: hos.Work, Duration: e.stop, Label: "delivery " + l.ID, Earliest: l.Delivery.Start, Latest: l.Delivery.End})
		c.Legs = append(c.Legs, ChainLeg{Load: l.Load, DeadheadMiles: round1(t.dh), LoadedMiles: round1(l.loaded),
			PickupAt: t.pickupAt, DeliveredAt: t.deliverAt})
		c.RevenueUSD += l.Rate
	}
	c.EmptyMiles, c.LoadedMiles = round1(n.empty), round1(n.loaded)
	if total := n.empty + n.loaded; total > 0 {
		c.EmptyShare = round3(n.empty / total)
	}
	if plan, err := hos.Schedule(org.state, segs, e.rules); err == nil {
		c.Schedule = plan.Steps
		c.HOSMarginHours = round2(plan.Margin.Hours())
		c.Rests = plan.Rests + plan.Restarts
		for i := range c.Legs {
			c.Legs[i].PickupAt, c.Legs[i].DeliveredAt = plan.Begin[4*i+1], plan.Finish[4*i+3]
		}
	}
	end := c.Legs[len(c.Legs)-1].DeliveredAt
	c.Days = round2(end.Sub(org.state.At).Hours() / 24)
	c.RevenuePerDay = round2(c.RevenueUSD.Dollars() / math.Max(end.Sub(org.state.At).Hours()/24, 1))
	c.Value = round2(chainValue(c.RevenueUSD.Dollars(), n.empty, cost, org.state.At, end))
	return c
}

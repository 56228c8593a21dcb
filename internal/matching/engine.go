package matching

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

// Positions gives drivers' live positions (the tracking service). Without
// it, a driver is where their last delivery ended, or at their home base.
type Positions interface {
	Latest(ctx context.Context, driverID string) (geo.Point, time.Time, bool)
}

// Outlook rates the chance and the rate of a reload near a place (market
// intelligence): score in [0, 1], the typical rate per mile out of there.
// Without it, the outlook is read from the open loads near the place.
type Outlook interface {
	ReloadOutlook(ctx context.Context, lat, lon float64, eq freight.Equipment) (score float64, ratePerMile float64, err error)
}

// Excluded reasons: why a load within reach is not offered to a driver.
const (
	whyWeight         = "weight"
	whyOwnLoad        = "own_load"
	whyDeadhead       = "deadhead"
	whyNoGo           = "no_go"
	whyPickupWindow   = "pickup_window"
	whyHOS            = "hos"
	whyDeliveryWindow = "delivery_window"
	whyHomeBy         = "home_by"
)

// engine answers matching questions from the index. It does no I/O except
// through the optional Positions and Outlook.
type engine struct {
	idx       *Index
	miles     geo.Distancer
	gcPerRoad float64 // great-circle miles per road mile, at most
	speed     float64 // miles per hour
	stop      time.Duration
	rules     hos.Rules
	maxDH     float64 // deadhead limit of drivers who set none
	positions Positions
	posMaxAge time.Duration
	outlook   *outlookCache
	circuity  float64 // road miles per great-circle mile when known, else 0
	pool      sync.Pool
}

func newEngine(idx *Index, miles geo.Distancer, o Options, positions Positions, outlook Outlook) *engine {
	e := &engine{idx: idx, miles: miles, gcPerRoad: 1, speed: o.SpeedMPH, stop: o.StopTime, rules: hos.Rules{Cycle60: o.Cycle60},
		maxDH: o.MaxDeadheadMiles, positions: positions, posMaxAge: o.PositionMaxAge}
	// Road miles are never fewer than great-circle miles, so a search
	// radius in road miles is a great-circle radius too; with a known
	// circuity it is exact, and road miles are a product.
	if c, ok := miles.(geo.Circuity); ok {
		f := c.Factor
		if !(f > 0) {
			f = geo.DefaultCircuityFactor
		}
		e.gcPerRoad, e.circuity = 1/f, f
	}
	if outlook != nil {
		e.outlook = &outlookCache{src: outlook, ttl: o.OutlookTTL, m: map[int]outlookValue{}}
	}
	return e
}

func (e *engine) hours(miles float64) time.Duration {
	return time.Duration(miles / e.speed * float64(time.Hour))
}

// origin is where and when a driver starts their next trip, and their
// hours-of-service state then.
type origin struct {
	pos    geo.Point
	source string // "live", "last_delivery", "home_base" or "current_load"
	state  hos.State
	atNano int64 // state.At in Unix nanoseconds
}

func (o *origin) setState(s hos.State) { o.state, o.atNano = s, s.At.UnixNano() }

// live asks Positions where a driver is now; nil when it does not know or
// its fix is too old.
func (e *engine) live(ctx context.Context, driverID string, now time.Time) *geo.Point {
	if e.positions == nil {
		return nil
	}
	p, at, ok := e.positions.Latest(ctx, driverID)
	if !ok || p.Validate() != nil || now.Sub(at) > e.posMaxAge {
		return nil
	}
	return &p
}

// originOf locates a driver at now: live is their live position when the
// caller asked for it, else the one the index last refreshed is used.
// Caller holds the index lock.
func (e *engine) originOf(rec *driverRec, now time.Time, live *geo.Point) origin {
	offDuty := rec.Status == freight.DriverOffDuty || rec.Status == freight.DriverResting
	var o origin
	o.setState(hos.Start(rec.HOS, now, offDuty, e.rules))
	if live == nil && rec.live != nil && now.Sub(rec.liveAt) <= e.posMaxAge {
		live = rec.live
	}
	switch {
	case live != nil:
		o.pos, o.source = *live, "live"
	case rec.lastDrop != nil:
		o.pos, o.source = *rec.lastDrop, "last_delivery"
	default:
		o.pos, o.source = rec.home, "home_base"
	}
	if len(rec.active) == 0 {
		return o
	}
	// Busy: the next trip starts where and when the loads in hand are
	// delivered, after the driving and rests they need.
	var segs []hos.Segment
	pos := o.pos
	for _, a := range rec.active {
		switch a.status {
		case freight.StatusBooked, freight.StatusDispatched:
			segs = append(segs, hos.Segment{Kind: hos.Drive, Duration: e.hours(e.miles.RoadMiles(pos, a.o)), Label: "to pickup"},
				hos.Segment{Kind: hos.Work, Duration: e.stop, Label: "pickup", Earliest: a.pickup.Start, Latest: a.pickup.End})
			fallthrough
		case freight.StatusAtPickup, freight.StatusInTransit:
			// In transit, the truck is somewhere on the way: at its live
			// position when known, else (conservatively) at the origin.
			from := a.o
			if a.status == freight.StatusInTransit && live != nil {
				from = *live
			}
			segs = append(segs, hos.Segment{Kind: hos.Drive, Duration: e.hours(e.miles.RoadMiles(from, a.d)), Label: "loaded"})
			fallthrough
		default:
			segs = append(segs, hos.Segment{Kind: hos.Work, Duration: e.stop, Label: "delivery", Earliest: a.delivery.Start, Latest: a.delivery.End})
		}
		pos = a.d
	}
	var p hos.Planner
	p.Rules = e.rules
	plan, err := p.Schedule(o.state, segs)
	if err != nil {
		// Running late on a load in hand: plan it without the deadlines,
		// which only the carrier and the shipper can sort out.
		for i := range segs {
			segs[i].Latest = time.Time{}
		}
		if plan, err = p.Schedule(o.state, segs); err != nil {
			return o
		}
	}
	o.pos, o.source = pos, "current_load"
	o.setState(plan.Final)
	return o
}

// candidate is a load within reach of a driver that passed the rules
// needing no plan, with what is known of its score before the
// hours-of-service plan. It is small and holds no strings: a search
// screens thousands.
type candidate struct {
	load    *openLoad
	driver  *driverRec
	org     *origin
	pc      *prefCheck
	dh      float64 // deadhead road miles
	ub      float64 // the best score the plan can give it
	outlook float64
	reload  float64 // the reload's rate per mile
	market  bool    // the outlook is market intelligence's
	fit     float64
}

// trip is a feasible match with its plan's key times.
type trip struct {
	candidate
	factors   Factors
	score     float64
	pickupAt  time.Time
	deliverAt time.Time // when the delivery is done
	final     hos.State // after the delivery
}

// screen applies the rules that need no plan, cheapest first: the weight,
// the poster, the deadhead limit, reaching the pickup before its window
// closes at full speed, the no-go regions. It reads the load's hot fields h
// and the great-circle miles gc to its pickup, and follows the load's
// pointer only for a driver with no-go regions. It fills the candidate's
// deadhead, reload outlook, preference fit and upper bound, and returns the
// reason of an exclusion, or "".
func (e *engine) screen(ctx context.Context, ol *outlooker, c *candidate, h *hotLoad, gc float64) string {
	d := c.driver
	if int(h.weight) > d.CapacityLbs {
		return whyWeight
	}
	if h.org == d.carrier {
		return whyOwnLoad
	}
	dh := gc * e.circuity
	if e.circuity == 0 {
		dh = e.miles.RoadMiles(c.org.pos, c.load.o)
	}
	if dh > c.pc.maxDH {
		return whyDeadhead
	}
	if c.org.atNano+int64(dh/e.speed*float64(time.Hour)) > h.pickupEnd {
		return whyPickupWindow
	}
	if c.pc.p != nil {
		l := c.load
		if c.pc.noGo(l.o, l.d, l.oState, l.dState) != "" {
			return whyNoGo
		}
		c.fit = c.pc.fitValue(l.oState, l.dState, l.d, d.home)
	}
	c.dh = dh
	if ol != nil {
		c.outlook, c.reload, c.market = ol.at(ctx, h.d, int(h.dCell), c.load)
	}
	rpt := 0.0
	if t := h.loaded + dh; t > 0 {
		rpt = h.rate / t
	}
	c.ub = rpt - wDeadhead*dh + wSlack + wMargin + wOutlook*c.outlook + wPreference*c.fit
	return ""
}

// plan schedules a screened candidate under the hours-of-service rules,
// with the drive home when the driver must be home by a time. It returns
// the trip, or the reason the plan fails.
func (e *engine) plan(p *hos.Planner, c *candidate) (trip, string) {
	l := c.load
	segs := [4]hos.Segment{
		{Kind: hos.Drive, Duration: e.hours(c.dh), Miles: c.dh, Label: "deadhead"},
		{Kind: hos.Work, Duration: e.stop, Label: "pickup", Earliest: l.Pickup.Start, Latest: l.Pickup.End},
		{Kind: hos.Drive, Duration: e.hours(l.loaded), Miles: l.loaded, Label: "loaded"},
		{Kind: hos.Work, Duration: e.stop, Label: "delivery", Earliest: l.Delivery.Start, Latest: l.Delivery.End},
	}
	plan, err := p.Schedule(c.org.state, segs[:])
	if err != nil {
		var le *hos.LateError
		if errors.As(err, &le) && le.Segment == 3 {
			return trip{}, whyDeliveryWindow
		}
		return trip{}, whyHOS
	}
	t := trip{candidate: *c, pickupAt: plan.Begin[1], deliverAt: plan.Finish[3], final: plan.Final}
	if hb := c.pc.homeBy(); !hb.IsZero() {
		home := [2]hos.Segment{
			{Kind: hos.Drive, Duration: e.hours(e.miles.RoadMiles(l.d, c.driver.home)), Label: "home"},
			{Kind: hos.Work, Label: "home", Latest: hb},
		}
		if _, err := p.Schedule(plan.Final, home[:]); err != nil {
			return trip{}, whyHomeBy
		}
	}
	f := &t.factors
	*f = Factors{DeadheadMiles: c.dh, LoadedMiles: l.loaded, RateUSD: l.Rate, ReloadOutlook: c.outlook, ReloadRatePerMile: c.reload,
		ReloadSource: sourceName(c.market), PreferenceFit: c.fit}
	f.rateTerms()
	f.PickupSlackHours = round2(l.Pickup.End.Sub(t.pickupAt).Hours())
	f.HOSMarginHours = round2(plan.Margin.Hours())
	f.Rests = plan.Rests + plan.Restarts
	t.score = f.score()
	if c.fit > 0 {
		_, f.PreferenceNote = c.pc.fit(l.oState, l.dState, l.d, c.driver.home)
	}
	return t, ""
}

// stats describe a search: loads or drivers within reach, and why those
// not offered were left out. Pruned ones could not rank in the list
// whatever their hours-of-service plan, so they were not planned.
type stats struct {
	Considered int
	Excluded   map[string]int
	Pruned     int
}

func (s *stats) exclude(why string) {
	if s.Excluded == nil {
		s.Excluded = map[string]int{}
	}
	s.Excluded[why]++
}

// before orders candidates by upper bound, highest first, then by load
// and driver, so that searches are deterministic.
func before(a, b *candidate) bool {
	if a.ub != b.ub {
		return a.ub > b.ub
	}
	if a.load != b.load {
		return a.load.ID < b.load.ID
	}
	return a.driver.ID < b.driver.ID
}

// best plans candidates in decreasing order of their upper bound and keeps
// the limit best trips, stopping as soon as no remaining candidate can
// enter them. The order comes from a heap, so only the candidates planned
// are ever ordered.
func (e *engine) best(p *hos.Planner, cands []candidate, limit int, st *stats) []trip {
	if limit <= 0 {
		return nil
	}
	h := candHeap(cands)
	h.init()
	top := make([]trip, 0, limit+1)
	for len(h) > 0 {
		c := h[0]
		if len(top) == limit && c.ub <= top[limit-1].score {
			st.Pruned += len(h)
			break
		}
		h.pop()
		t, why := e.plan(p, &c)
		if why != "" {
			st.exclude(why)
			continue
		}
		at := len(top)
		for at > 0 && top[at-1].score < t.score {
			at--
		}
		top = slices.Insert(top, at, t)
		if len(top) > limit {
			top = top[:limit]
		}
	}
	return top
}

// candHeap is a binary max-heap of candidates by upper bound.
type candHeap []candidate

func (h candHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *candHeap) pop() {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	*h = old[:n]
	h.down(0)
}

func (h candHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && before(&h[r], &h[l]) {
			m = r
		}
		if !before(&h[m], &h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// loadsFor ranks the open loads for a driver. Caller holds the index lock.
func (e *engine) loadsFor(ctx context.Context, rec *driverRec, org *origin, limit int) ([]trip, stats) {
	var st stats
	l := layer(rec.Equipment)
	if l < 0 {
		return nil, st
	}
	pc := e.idx.check(rec.ID, e.maxDH)
	ol := e.newOutlooker()
	buf := e.candidates()
	defer e.release(buf)
	cands := (*buf)[:0]
	e.idx.lg.within(org.pos, pc.maxDH*e.gcPerRoad, l, func(ld *openLoad, h *hotLoad, gc float64) bool {
		st.Considered++
		c := candidate{load: ld, driver: rec, org: org, pc: pc}
		if why := e.screen(ctx, ol, &c, h, gc); why != "" {
			st.exclude(why)
			return true
		}
		cands = append(cands, c)
		return true
	})
	*buf = cands
	var p hos.Planner
	p.Rules = e.rules
	return e.best(&p, cands, limit, &st), st
}

// driversFor ranks the drivers for an open load: those of one carrier when
// carrier is set, else everyone's. Caller holds the index lock.
func (e *engine) driversFor(ctx context.Context, ld *openLoad, carrier string, now time.Time, limit int) ([]trip, stats) {
	var st stats
	radius := max(e.maxDH, e.idx.maxPrefDH) * e.gcPerRoad
	ol := e.newOutlooker()
	var cands []candidate
	hot := e.idx.hot(ld)
	if hot == nil {
		return nil, st // booked or withdrawn meanwhile
	}
	e.idx.dg.within(ld.o, radius, ld.layer, func(rec *driverRec, _ *struct{}, _ float64) bool {
		if carrier != "" && rec.CarrierID != carrier {
			return true
		}
		// The grid holds where the driver will be free; the trip starts
		// from where they are now known to be.
		org := e.originOf(rec, now, nil)
		pc := e.idx.check(rec.ID, e.maxDH)
		gc := geo.GreatCircleMiles(org.pos, ld.o)
		if gc > pc.maxDH*e.gcPerRoad*(1+1e-9) {
			return true
		}
		st.Considered++
		c := candidate{load: ld, driver: rec, org: &org, pc: pc}
		if why := e.screen(ctx, ol, &c, hot, gc); why != "" {
			st.exclude(why)
			return true
		}
		cands = append(cands, c)
		return true
	})
	var p hos.Planner
	p.Rules = e.rules
	return e.best(&p, cands, limit, &st), st
}

// candidates lends a buffer of candidates; release returns it.
func (e *engine) candidates() *[]candidate {
	if b, ok := e.pool.Get().(*[]candidate); ok {
		return b
	}
	b := make([]candidate, 0, 1024)
	return &b
}

func (e *engine) release(b *[]candidate) {
	clear((*b)[:cap(*b)]) // drop the pointers into the index
	*b = (*b)[:0]
	e.pool.Put(b)
}

// schedule plans a trip again, recording its steps for display.
func (e *engine) schedule(t *trip) []hos.Step {
	l := t.load
	segs := []hos.Segment{
		{Kind: hos.Drive, Duration: e.hours(t.dh), Miles: t.dh, Label: "deadhead"},
		{Kind: hos.Work, Duration: e.stop, Label: "pickup", Earliest: l.Pickup.Start, Latest: l.Pickup.End},
		{Kind: hos.Drive, Duration: e.hours(l.loaded), Miles: l.loaded, Label: "loaded"},
		{Kind: hos.Work, Duration: e.stop, Label: "delivery", Earliest: l.Delivery.Start, Latest: l.Delivery.End},
	}
	plan, err := hos.Schedule(t.org.state, segs, e.rules)
	if err != nil {
		return nil
	}
	return plan.Steps
}

// The reload outlook.

// outlookValue is a cached outlook of a grid cell.
type outlookValue struct {
	score, rpm float64
	at         time.Time
}

// outlookCache remembers market intelligence's answers per grid cell for a
// while: the outlook of a market changes over hours, not seconds.
type outlookCache struct {
	src Outlook
	ttl time.Duration
	mu  sync.Mutex
	m   map[int]outlookValue
}

// maxOutlookCalls bounds the calls to market intelligence one request makes
// (with the index read-locked); cells beyond it use the board's outlook
// until a later request has cached theirs.
const maxOutlookCalls = 16

// outlooker answers the outlooks of one request.
type outlooker struct {
	e     *engine
	local map[int][3]float64 // score, rpm, source (1 market, 0 board)
	calls int
	// board caches the board's outlooks of recently asked cells: the
	// destinations of one search cluster in a few markets.
	board [64]struct {
		cell       int32
		score, rpm float64
	}
}

func (e *engine) newOutlooker() *outlooker {
	o := &outlooker{e: e}
	if e.outlook != nil {
		o.local = map[int][3]float64{}
	}
	return o
}

// at is the reload outlook of the place p for equipment eq in grid layer l.
// Caller holds the index lock.
// at is the reload outlook of the place p, in grid cell c, for load l's
// equipment. Caller holds the index lock.
func (o *outlooker) at(ctx context.Context, p geo.Point, c int, l *openLoad) (score, rpm float64, market bool) {
	if o.e.outlook == nil {
		slot := &o.board[c%len(o.board)]
		if slot.cell != int32(c)+1 {
			slot.score, slot.rpm = o.e.idx.boardOutlook(c/nCells, p)
			slot.cell = int32(c) + 1
		}
		return slot.score, slot.rpm, false
	}
	if v, ok := o.local[c]; ok {
		return v[0], v[1], v[2] == 1
	}
	score, rpm, market = o.lookup(ctx, p, c, c/nCells, l.Equipment)
	src := 0.0
	if market {
		src = 1
	}
	o.local[c] = [3]float64{score, rpm, src}
	return score, rpm, market
}

func sourceName(market bool) string {
	if market {
		return "market"
	}
	return "board"
}

func (o *outlooker) lookup(ctx context.Context, p geo.Point, c, l int, eq freight.Equipment) (float64, float64, bool) {
	if oc := o.e.outlook; oc != nil {
		now := time.Now()
		oc.mu.Lock()
		v, ok := oc.m[c]
		oc.mu.Unlock()
		if ok && now.Sub(v.at) < oc.ttl {
			return v.score, v.rpm, true
		}
		if o.calls < maxOutlookCalls {
			o.calls++
			cctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
			score, rpm, err := oc.src.ReloadOutlook(cctx, p.Lat, p.Lon, eq)
			cancel()
			if err == nil && !math.IsNaN(score) && !math.IsNaN(rpm) && !math.IsInf(rpm, 0) {
				if rpm <= 0 {
					// The source scores the area but knows no rate: take
					// the board's.
					_, rpm = o.e.idx.boardOutlook(l, p)
				}
				v := outlookValue{score: math.Min(math.Max(score, 0), 1), rpm: math.Max(rpm, 0), at: now}
				oc.mu.Lock()
				oc.m[c] = v
				oc.mu.Unlock()
				return v.score, v.rpm, true
			}
		}
	}
	score, rpm := o.e.idx.boardOutlook(l, p)
	return score, rpm, false
}

// boardOutlook reads the outlook from the open loads of layer l picking up
// in the 3x3 cells around p (about 150 by 100 miles in the US): the score
// rises with their number (ten loads give 0.63), the rate is their mean
// rate per mile. Caller holds the index lock.
func (x *Index) boardOutlook(l int, p geo.Point) (score, rpm float64) {
	n := around(l, p, func(c int) float64 { return float64(x.lg.count(c)) })
	if n == 0 {
		return 0, 0
	}
	sum := around(l, p, func(c int) float64 { return x.rpmSum[c] })
	return round2(1 - math.Exp(-n/10)), round2(sum / n)
}

// hot returns an open load's hot fields, or nil when the load has left the
// index. Caller holds the index lock.
func (x *Index) hot(l *openLoad) *hotLoad {
	if l.slot.cell < 0 {
		return nil
	}
	return &x.lg.cells[l.slot.cell][l.slot.pos].h
}

// check returns a driver's preferences prepared for screening. Caller holds
// the index lock.
func (x *Index) check(driverID string, defaultMaxDH float64) *prefCheck {
	return newPrefCheck(x.prefs[driverID], defaultMaxDH)
}

// Package simulate is the freight world simulator: shippers in real US
// cities post loads on believable lanes, carriers book them (from the
// platform's recommendations or greedily from the load board), and drivers
// haul them along the road-mile model under hours of service, reporting
// positions from their phones and the load's progress as they go. The world
// uses the platform only through its public HTTP API, as real clients do.
//
// # Two clocks
//
// The platform runs on real time; the world runs on a simulated clock that
// advances in fixed steps at a multiple of real time. Where the API takes a
// time from the client the world sends simulated time: position fixes carry
// their simulated timestamps, so tracks, speeds and geofence dwell are
// those of the world. Everything the platform stamps itself (status
// history, bookings, created_at) is real time. Load windows are posted in
// the platform's frame: the simulated window plus the difference between
// the clocks at posting, so the platform validates and matches against the
// same lead time the simulated shipper gave; since real time then moves
// slower than simulated time, the platform believes windows are further
// away than they are, and each dispatcher checks a load against the
// simulated clock before booking it. The platform refuses fixes from its
// future and older than seven days, so by default the simulated clock
// starts behind real time by as much as the run will gain on it (at most six
// and a half days); fixes that would still lie in the platform's future are
// held back and counted.
//
// A seed makes a run repeatable: loads, dock times and road speeds come
// from streams keyed by the seed and the load, decisions from the step
// count and the platform's answers, never from how fast the machine is.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/hos"
)

// greedyRadius is the greedy dispatcher's board search radius: the
// platform's default deadhead limit, so both dispatchers see as far.
const greedyRadius = 250

// password signs in the world's organizations' admins.
const password = "simulated-world-2026"

type shipper struct {
	city int
	name string
	key  string
}

type carrier struct {
	city  int
	name  string
	admin string
	key   string // dispatcher
}

type loadState struct {
	spec      *LoadSpec
	id        string
	shipper   int
	offset    time.Duration // platform frame minus simulated frame at posting
	status    freight.LoadStatus
	truck     int
	pickupAt  time.Time // arrival at the pickup (simulated)
	deliverAt time.Time // arrival at the delivery
}

// World is one simulated freight world bound to a platform.
type World struct {
	cfg    Config
	mode   string
	log    *slog.Logger
	c      *Client
	clock  *SteppedClock
	miles  geo.Distancer
	g      *Gravity
	demand *Demand
	real   RealClock

	shippers []shipper
	carriers []carrier
	trucks   []*Truck
	loads    map[string]*loadState
	open     []*loadState // posted and not yet booked, in posting order

	out       Outcome
	docs      atomic.Int32 // 0 unknown, 1 supported, 2 absent
	failures  int          // consecutive failed actions
	failingAt time.Time    // real time of the first of them
	posMu     sync.Mutex
	lastWarn  time.Time
}

// NewWorld builds a world; Run sets it up on the platform.
func NewWorld(cfg Config, mode string, log *slog.Logger, real RealClock) (*World, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if real == nil {
		real = time.Now
	}
	cities, err := Cities()
	if err != nil {
		return nil, err
	}
	if cfg.Markets > 0 && cfg.Markets < len(cities) {
		// A small world keeps to the largest markets, so that its few
		// trucks and loads meet.
		sort.SliceStable(cities, func(i, j int) bool { return cities[i].Population > cities[j].Population })
		cities = cities[:cfg.Markets]
	}
	miles := geo.DefaultCircuity
	w := &World{cfg: cfg, mode: mode, log: log.With("world", mode), miles: miles, real: real,
		g: NewGravity(cities, miles), loads: map[string]*loadState{}}
	w.c = NewClient(cfg.Target, cfg.Tag+"-"+mode, cfg.MaxRequests)
	w.place()
	w.out = Outcome{Mode: mode, Seed: cfg.Seed, Trucks: cfg.Trucks, Shippers: cfg.Shippers, Carriers: cfg.Carriers}
	return w, nil
}

// Client is the world's API client (its statistics are the run's).
func (w *World) Client() *Client { return w.c }

// place puts shippers, carriers and trucks in cities, from the seed alone.
func (w *World) place() {
	r := rand.New(rand.NewPCG(w.cfg.Seed, 1))
	cityIdx := make([]int, w.cfg.Shippers)
	for i := range cityIdx {
		cityIdx[i] = w.g.Origin(r)
		c := w.g.Cities[cityIdx[i]]
		w.shippers = append(w.shippers, shipper{city: cityIdx[i], name: fmt.Sprintf("%s Shipper %d", c.Name, i+1)})
	}
	w.demand = NewDemand(w.g, cityIdx, w.cfg.Seed, w.cfg.LoadsPerDay)
	size := make([]float64, len(w.g.Cities))
	for i, c := range w.g.Cities {
		size[i] = float64(c.Population)
	}
	for i := range w.cfg.Carriers {
		ci := pick(r, size)
		w.carriers = append(w.carriers, carrier{city: ci, name: fmt.Sprintf("%s Carrier %d", w.g.Cities[ci].Name, i+1)})
	}
	for i := range w.cfg.Trucks {
		cr := i % w.cfg.Carriers
		eq := freight.Van
		x := r.Float64()
		for _, m := range equipmentMix {
			if x < m.w {
				eq = m.eq
				break
			}
			x -= m.w
		}
		// Half the drivers live near their carrier's terminal, the others
		// anywhere people live.
		home := w.carriers[cr].city
		if r.IntN(2) == 1 {
			home = pick(r, size)
		}
		w.trucks = append(w.trucks, &Truck{Index: i, Carrier: cr, Home: home, Equipment: eq, Capacity: 45000,
			Pos: w.g.Cities[home].Point})
	}
}

// Run sets the world up on the platform and runs it until its duration or
// request budget is spent or ctx is done, then cancels the loads still on
// the board and returns the outcome.
func (w *World) Run(ctx context.Context) (Outcome, error) {
	started := w.real()
	w.clock = NewSteppedClock(w.real, w.cfg.Lag, w.cfg.Step, w.cfg.Speed, w.cfg.FollowRealTime)
	w.out.Start = w.clock.Now()
	w.demand.Origin = w.out.Start
	if err := w.setup(ctx); err != nil {
		return w.out, err
	}
	w.log.Info("world set up", "shippers", len(w.shippers), "carriers", len(w.carriers), "trucks", len(w.trucks),
		"simulated_start", w.clock.Now().Format(time.RFC3339), "speed", w.cfg.Speed)
	dispatchSteps := max(1, int64(w.cfg.DispatchEvery/w.cfg.Step))
	uploadSteps := max(1, int64(w.cfg.UploadEvery/w.cfg.Step))
	for {
		if w.cfg.Duration > 0 && w.clock.Elapsed() >= w.cfg.Duration {
			break
		}
		now := w.clock.Now()
		k := w.clock.Steps()
		w.postLoads(ctx, now)
		w.expire(ctx, now)
		w.advance(ctx, now)
		if k%dispatchSteps == 0 {
			w.dispatch(ctx, now)
		}
		if k%uploadSteps == 0 {
			w.upload(ctx)
		}
		if err := w.backoff(ctx); err != nil {
			if errors.Is(err, ErrUnavailable) {
				w.out.End = w.clock.Now()
				w.out.finish(w, w.real().Sub(started))
				return w.out, err
			}
			break
		}
		if w.budgetSpent() {
			w.log.Info("request budget spent", "requests", w.c.Sent())
			break
		}
		if err := w.clock.Advance(ctx); err != nil {
			break
		}
		if k%int64(max(1, 6*time.Hour/w.cfg.Step)) == 0 && k > 0 {
			w.log.Info("simulated", "at", now.Format(time.RFC3339), "posted", w.out.Posted, "booked", w.out.Booked,
				"delivered", w.out.Delivered, "requests", w.c.Sent())
		}
	}
	w.out.End = w.clock.Now()
	if ctx.Err() != nil {
		// Stopped from outside (the server is going down): no clean-up.
		w.out.finish(w, w.real().Sub(started))
		return w.out, nil
	}
	// Leave no posted load behind: a world that ended takes its freight away.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	saved := w.c.MaxRequests
	w.c.MaxRequests = 0
	for _, ls := range w.open {
		if err := w.c.setStatus(cctx, w.shippers[ls.shipper].key, ls.id, string(freight.StatusCancelled), "simulation ended"); err == nil {
			w.out.OpenAtEnd++
		}
	}
	w.open = nil
	w.upload(cctx)
	w.out.PlatformDelivered = -1
	if n, err := w.platformDelivered(cctx); err == nil {
		w.out.PlatformDelivered = n
	}
	w.c.MaxRequests = saved
	w.out.finish(w, w.real().Sub(started))
	return w.out, nil
}

func (w *World) budgetSpent() bool { return w.c.MaxRequests > 0 && w.c.Sent() >= w.c.MaxRequests }

// platformDelivered counts the world's delivered loads as the platform
// sees them.
func (w *World) platformDelivered(ctx context.Context) (int, error) {
	total := 0
	for _, s := range w.shippers {
		n, err := w.c.countLoads(ctx, s.key, string(freight.StatusDelivered))
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// setup creates the world's organizations, trucks, drivers and keys.
func (w *World) setup(ctx context.Context) error {
	tag := strings.ToLower(w.cfg.Tag + "-" + w.mode)
	for i := range w.shippers {
		s := &w.shippers[i]
		sess, err := w.c.signup(ctx, "shipper", s.name, fmt.Sprintf("shipper%d.%s@sim.example", i+1, tag), password)
		if err != nil {
			return fmt.Errorf("sign up shipper %d: %w", i+1, err)
		}
		if s.key, err = w.c.apiKey(ctx, sess.Token, "simulated shipping desk", "shipper", ""); err != nil {
			return fmt.Errorf("shipper %d key: %w", i+1, err)
		}
	}
	for i := range w.carriers {
		cr := &w.carriers[i]
		sess, err := w.c.signup(ctx, "carrier", cr.name, fmt.Sprintf("carrier%d.%s@sim.example", i+1, tag), password)
		if err != nil {
			return fmt.Errorf("sign up carrier %d: %w", i+1, err)
		}
		cr.admin = sess.Token
		if cr.key, err = w.c.apiKey(ctx, sess.Token, "simulated dispatcher", "dispatcher", ""); err != nil {
			return fmt.Errorf("carrier %d key: %w", i+1, err)
		}
	}
	for _, tr := range w.trucks {
		cr := w.carriers[tr.Carrier]
		var err error
		if tr.TruckID, err = w.c.addTruck(ctx, cr.admin, fmt.Sprintf("T%03d", tr.Index+1), string(tr.Equipment), tr.Capacity); err != nil {
			return fmt.Errorf("truck %d: %w", tr.Index+1, err)
		}
		if tr.DriverID, err = w.c.addDriver(ctx, cr.admin, fmt.Sprintf("Driver %03d", tr.Index+1), w.g.Cities[tr.Home],
			string(tr.Equipment), tr.Capacity, tr.TruckID); err != nil {
			return fmt.Errorf("driver %d: %w", tr.Index+1, err)
		}
		if tr.Key, err = w.c.apiKey(ctx, cr.admin, fmt.Sprintf("phone of driver %03d", tr.Index+1), "driver", tr.DriverID); err != nil {
			return fmt.Errorf("driver %d key: %w", tr.Index+1, err)
		}
	}
	return nil
}

// act records the outcome of one action for the backoff: a run of failed
// actions means the platform is down or overloaded.
func (w *World) act(what string, err error) {
	if err == nil || StatusOf(err) == 409 {
		w.failures, w.failingAt = 0, time.Time{}
		return
	}
	if errors.Is(err, ErrBudget) || errors.Is(err, context.Canceled) {
		return
	}
	w.out.Errors++
	if s := StatusOf(err); s == 0 || s == 429 || s >= 500 {
		if w.failures == 0 {
			w.failingAt = w.real()
		}
		w.failures++
	}
	if w.real().Sub(w.lastWarn) > 5*time.Second {
		w.lastWarn = w.real()
		w.log.Warn("platform call failed", "action", what, "err", err)
	}
}

// ErrUnavailable ends a run whose platform failed every call for
// Config.MaxOutage.
var ErrUnavailable = errors.New("simulate: platform unavailable")

// backoff waits after a run of failures, exponentially with jitter, so
// that a failing platform is not hammered, and gives up after MaxOutage.
func (w *World) backoff(ctx context.Context) error {
	if w.failures < 3 {
		return ctx.Err()
	}
	if out := w.real().Sub(w.failingAt); out > w.cfg.MaxOutage {
		return fmt.Errorf("%w: every call failed for %s (%d in a row)", ErrUnavailable, out.Round(time.Second), w.failures)
	}
	d := min(time.Second<<min(w.failures-3, 5), 30*time.Second)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	w.log.Warn("platform failing; backing off", "consecutive_failures", w.failures, "wait", d)
	w.out.Backoffs++
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// postLoads posts the step's new freight.
func (w *World) postLoads(ctx context.Context, now time.Time) {
	for _, spec := range w.demand.Step(now, w.cfg.Step) {
		w.out.Generated++
		spec := spec
		s := w.shippers[spec.Shipper]
		offset := w.real().Sub(now).Round(time.Minute)
		o, d := w.g.Cities[spec.Origin], w.g.Cities[spec.Dest]
		in := map[string]any{
			"reference":   fmt.Sprintf("SIM-%d-%05d", w.cfg.Seed, spec.Index),
			"origin":      place{City: o.Name, State: o.State},
			"destination": place{City: d.Name, State: d.State},
			"pickup":      window{spec.Pickup.Start.Add(offset), spec.Pickup.End.Add(offset)},
			"delivery":    window{spec.Delivery.Start.Add(offset), spec.Delivery.End.Add(offset)},
			"equipment":   string(spec.Equipment), "weight_lbs": spec.WeightLbs, "commodity": spec.Commodity,
			"rate_usd": spec.RateUSD, "post": true,
		}
		l, err := w.c.postLoad(ctx, s.key, in)
		w.act("post load", err)
		if err != nil {
			continue
		}
		ls := &loadState{spec: &spec, id: l.ID, shipper: spec.Shipper, offset: offset, status: freight.StatusPosted, truck: -1}
		w.loads[l.ID] = ls
		w.open = append(w.open, ls)
		w.out.Posted++
	}
}

// expire cancels loads nobody booked before their pickup window closed.
func (w *World) expire(ctx context.Context, now time.Time) {
	keep := w.open[:0]
	for _, ls := range w.open {
		if ls.status != freight.StatusPosted {
			continue
		}
		if now.Before(ls.spec.Pickup.End) {
			keep = append(keep, ls)
			continue
		}
		err := w.c.setStatus(ctx, w.shippers[ls.shipper].key, ls.id, string(freight.StatusCancelled), "no truck before the pickup window closed")
		w.act("cancel load", err)
		if err != nil && StatusOf(err) != 409 {
			keep = append(keep, ls) // try again next step
			continue
		}
		ls.status = freight.StatusCancelled
		w.out.Expired++
	}
	w.open = keep
}

// dispatch finds a load for every idle truck.
func (w *World) dispatch(ctx context.Context, now time.Time) {
	for _, tr := range w.trucks {
		if tr.Trip != nil || now.Before(tr.busyUntil) {
			continue
		}
		if tr.idleSince.IsZero() {
			tr.idleSince = now
		}
		if w.cfg.Reposition && now.Sub(tr.idleSince) >= repositionAfter {
			w.reposition(tr, now)
			continue
		}
		if len(w.open) == 0 {
			continue
		}
		ids, err := w.candidates(ctx, tr)
		w.act("find loads", err)
		if err != nil {
			continue
		}
		w.out.Searches++
		w.log.Debug("search", "truck", tr.Index, "at", tr.Pos.String(), "equipment", tr.Equipment, "candidates", len(ids), "open", len(w.open))
		if len(ids) > 0 {
			w.out.SearchesWithCandidates++
		}
		for _, id := range ids {
			ls := w.loads[id]
			if ls == nil || ls.status != freight.StatusPosted {
				continue // another world's freight, or gone
			}
			if _, err := tr.Feasible(ls.spec, &w.g.Cities[ls.spec.Origin], now, w.miles); err != nil {
				w.out.CandidatesInfeasible++
				continue
			}
			cr := w.carriers[tr.Carrier]
			err := w.c.book(ctx, cr.key, id, tr.DriverID, tr.TruckID)
			w.act("book", err)
			if err != nil {
				if StatusOf(err) == 409 {
					continue
				}
				break
			}
			w.startTrip(ctx, tr, ls, now)
			break
		}
	}
}

func (w *World) candidates(ctx context.Context, tr *Truck) ([]string, error) {
	cr := w.carriers[tr.Carrier]
	var ids []string
	if w.mode == DispatchGreedy {
		page, err := w.c.board(ctx, cr.key, tr.Pos, greedyRadius, string(tr.Equipment), 25)
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		return ids, err
	}
	recs, err := w.c.recommend(ctx, cr.key, tr.DriverID, 10)
	for _, it := range recs.Items {
		ids = append(ids, it.Load.ID)
	}
	return ids, err
}

func (w *World) startTrip(ctx context.Context, tr *Truck, ls *loadState, now time.Time) {
	o, d := w.g.Cities[ls.spec.Origin], w.g.Cities[ls.spec.Dest]
	if err := tr.Start(ls.spec, ls.id, o.Point, d.Point, now, w.miles); err != nil {
		w.log.Error("plan trip", "err", err)
		return
	}
	tr.Trip.Booked = now
	tr.LastSample = now
	ls.status, ls.truck = freight.StatusBooked, tr.Index
	for i, x := range w.open {
		if x == ls {
			w.open = append(w.open[:i], w.open[i+1:]...)
			break
		}
	}
	w.out.Booked++
	w.report(ctx, tr, ls, freight.StatusDispatched)
}

// report moves the load to status as the driver's phone; a load the
// platform already moved (its geofences do) is fine.
func (w *World) report(ctx context.Context, tr *Truck, ls *loadState, status freight.LoadStatus) error {
	err := w.c.setStatus(ctx, tr.Key, ls.id, string(status), "")
	if StatusOf(err) == 409 {
		if l, gerr := w.c.getLoad(ctx, tr.Key, ls.id); gerr == nil && reached(freight.LoadStatus(l.Status), status) {
			err = nil
		}
	}
	w.act("report "+string(status), err)
	if err == nil {
		ls.status = status
	}
	return err
}

var progress = []freight.LoadStatus{freight.StatusBooked, freight.StatusDispatched, freight.StatusAtPickup,
	freight.StatusInTransit, freight.StatusAtDelivery, freight.StatusDelivered}

// reached reports whether have is at or past want on the haul.
func reached(have, want freight.LoadStatus) bool {
	hi, wi := -1, -1
	for i, s := range progress {
		if s == have {
			hi = i
		}
		if s == want {
			wi = i
		}
	}
	return hi >= 0 && wi >= 0 && hi >= wi
}

// advance moves every truck to now: fixes, status changes, deliveries.
func (w *World) advance(ctx context.Context, now time.Time) {
	for _, tr := range w.trucks {
		t := tr.Trip
		if t == nil {
			continue
		}
		times := t.EventTimes()
		for tr.LastSample.Add(w.cfg.PositionEvery).Compare(now) <= 0 {
			tr.LastSample = tr.LastSample.Add(w.cfg.PositionEvery)
			if tr.LastSample.After(times[3]) {
				break
			}
			p, speed, heading := t.Where(tr.LastSample)
			tr.addFix(Fix{At: tr.LastSample, Point: p, SpeedMph: speed, Heading: heading})
		}
		for t.next < len(tripEvents) && !times[t.next].After(now) {
			ev := tripEvents[t.next]
			ls := w.loads[t.LoadID]
			if err := w.report(ctx, tr, ls, ev); err != nil {
				// Try again next step; a platform that keeps refusing the
				// change does not hold the truck for ever.
				if t.failed++; t.failed < 5 {
					break
				}
			}
			t.failed = 0
			t.next++
			switch ev {
			case freight.StatusAtPickup:
				ls.pickupAt = times[0]
			case freight.StatusAtDelivery:
				ls.deliverAt = times[2]
			case freight.StatusDelivered:
				w.deliver(ctx, tr, ls)
			}
		}
	}
}

func (tr *Truck) addFix(f Fix) {
	const buffer = 2000 // a phone keeps this many fixes while offline
	if len(tr.pending) >= buffer {
		tr.pending = tr.pending[1:]
	}
	tr.pending = append(tr.pending, f)
	tr.lastFixAt = f.At
}

// deliver closes a trip: the outcome's figures, the proof of delivery, the
// driver's clock.
func (w *World) deliver(ctx context.Context, tr *Truck, ls *loadState) {
	t := tr.Trip
	times := t.EventTimes()
	if tr.lastFixAt.Before(times[3]) {
		p, _, _ := t.Where(times[3])
		tr.addFix(Fix{At: times[3], Point: p})
	}
	w.out.addTrip(ls, t)
	if w.docs.Load() != 2 {
		body := podPDF([]string{"Proof of delivery", "Load " + ls.id, fmt.Sprintf("Reference SIM-%d-%05d", w.cfg.Seed, ls.spec.Index),
			"Delivered " + times[3].Format(time.RFC3339) + " (simulated time)", "Received in good order"})
		err := w.c.uploadPOD(ctx, tr.Key, ls.id, fmt.Sprintf("pod-%05d.pdf", ls.spec.Index), body)
		switch s := StatusOf(err); {
		case err == nil:
			w.docs.Store(1)
			w.out.PODs++
		case s == 404 || s == 405 || s == 415 || s == 400 || s == 422:
			// The documents endpoint is optional: skip it when absent or of
			// another shape.
			if w.docs.Load() == 0 {
				w.log.Info("proof-of-delivery upload not available; skipping", "status", s, "err", err)
				w.docs.Store(2)
			}
		default:
			w.act("upload proof of delivery", err)
		}
	}
	tr.Pos = t.Drop
	tr.HOS = t.Plan.Final
	tr.Trip = nil
	tr.idleSince = times[3]
	c := tr.HOS.Clock()
	err := w.c.driverStatus(ctx, w.carriers[tr.Carrier].key, tr.DriverID, string(freight.DriverAvailable), map[string]int{
		"driving_left_min": int(c.DrivingLeft), "window_left_min": int(c.WindowLeft),
		"cycle_left_min": int(c.CycleLeft), "until_break_min": int(c.UntilBreak)})
	w.act("driver status", err)
}

// upload sends every phone's buffered fixes that the platform can accept.
func (w *World) upload(ctx context.Context) {
	realNow := w.real()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, tr := range w.trucks {
		if len(tr.pending) == 0 {
			continue
		}
		var batch []positionReport
		n := 0
		for _, f := range tr.pending {
			if f.At.After(realNow.Add(4 * time.Minute)) {
				break // still in the platform's future: keep it
			}
			n++
			if realNow.Sub(f.At) > 7*24*time.Hour-time.Hour {
				w.posMu.Lock()
				w.out.PositionsTooOld++
				w.posMu.Unlock()
				continue
			}
			batch = append(batch, positionReport{DriverID: tr.DriverID, Time: f.At.UTC(), Lat: round5(f.Point.Lat), Lon: round5(f.Point.Lon),
				Speed: round1(f.SpeedMph), Heading: round1(f.Heading), Accuracy: 8})
		}
		tr.pending = tr.pending[n:]
		if len(batch) == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(key string, batch []positionReport) {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := w.c.positions(ctx, key, batch)
			if err != nil {
				w.posMu.Lock()
				w.out.PositionErrors++
				w.posMu.Unlock()
				return
			}
			w.posMu.Lock()
			w.out.PositionsAccepted += res.Accepted
			w.out.PositionsRejected += len(res.Rejected)
			for _, r := range res.Rejected {
				if w.out.RejectReasons == nil {
					w.out.RejectReasons = map[string]int{}
				}
				w.out.RejectReasons[r.Reason]++
			}
			w.posMu.Unlock()
		}(tr.Key, batch)
	}
	wg.Wait()
}

func round5(x float64) float64 { return float64(int64(x*1e5+copysignHalf(x))) / 1e5 }
func round1(x float64) float64 { return float64(int64(x*10+copysignHalf(x))) / 10 }
func copysignHalf(x float64) float64 {
	if x < 0 {
		return -0.5
	}
	return 0.5
}

// Modes are the dispatch modes cfg.Dispatch runs, in order.
func (c Config) Modes() []string {
	if c.Dispatch == DispatchBoth {
		return []string{DispatchPlatform, DispatchGreedy}
	}
	return []string{c.Dispatch}
}

// Run runs the world once per dispatch mode, one after the other on the
// same seed, so that the outcomes compare dispatchers on the same freight.
// Each run has its own organizations and books only its own loads.
func Run(ctx context.Context, cfg Config, log *slog.Logger) ([]Outcome, []EndpointSummary, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if cfg.Tag == "" {
		cfg.Tag = fmt.Sprintf("s%d-%x", cfg.Seed, time.Now().UnixNano()&0xffffff)
	}
	stats := NewStats()
	var outs []Outcome
	for _, mode := range cfg.Modes() {
		w, err := NewWorld(cfg, mode, log, nil)
		if err != nil {
			return outs, nil, err
		}
		w.c.Stats = stats
		out, err := w.Run(ctx)
		outs = append(outs, out)
		if err != nil {
			return outs, stats.Summary(), err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return outs, stats.Summary(), nil
}

// repositionAfter is how long a driver waits for a load before heading
// empty to a bigger market, as any dispatcher would send them.
const repositionAfter = 12 * time.Hour

// reposition sends an idle truck empty to the strongest freight market
// within a day's drive that is not where it stands. The phone stays off
// (no load is active); the miles count as empty miles.
func (w *World) reposition(tr *Truck, now time.Time) {
	best, bestW := -1, 0.0
	for i, c := range w.g.Cities {
		d := w.miles.RoadMiles(tr.Pos, c.Point)
		if d < 50 || d > 600 {
			continue
		}
		if wt := w.g.outW[i] / (100 + d); wt > bestW {
			best, bestW = i, wt
		}
	}
	tr.idleSince = time.Time{}
	if best < 0 {
		return
	}
	to := w.g.Cities[best].Point
	miles := w.miles.RoadMiles(tr.Pos, to)
	plan, err := hos.Schedule(tr.state(now), []hos.Segment{{Kind: hos.Drive, Duration: time.Duration(miles / planningSpeed * float64(time.Hour)), Miles: miles}}, hos.Rules{})
	if err != nil {
		return
	}
	tr.Pos, tr.HOS, tr.busyUntil = to, plan.Final, plan.End
	w.out.EmptyMiles += miles
	w.out.Repositions++
}

package matching

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/store"
)

// hotLoad is what screening reads of an open load, kept in its grid cell.
type hotLoad struct {
	d                      geo.Point // destination
	loaded                 float64   // loaded road miles
	rate                   float64   // dollars
	pickupStart, pickupEnd int64     // Unix nanoseconds
	weight                 int32
	org                    int32 // the poster, interned
	dCell                  int32 // the destination's grid cell
}

// openLoad is a posted load in the index.
type openLoad struct {
	freight.Load
	o, d           geo.Point
	oState, dState string
	layer          int
	rpm            float64 // offered rate per loaded mile
	loaded         float64 // loaded road miles
	slot           slot
}

func (l *openLoad) gridSlot() *slot { return &l.slot }

// activeLoad is a booked or moving load assigned to a driver: the driver is
// busy until it is delivered.
type activeLoad struct {
	id               string
	status           freight.LoadStatus
	o, d             geo.Point
	dState           string
	pickup, delivery freight.Window
	loadedMiles      float64
}

// driverRec is a driver in the index with what locates them.
type driverRec struct {
	freight.Driver
	home   geo.Point
	active []activeLoad // by pickup time
	// lastDrop is the destination of the driver's last delivered load.
	lastDrop   *geo.Point
	lastDropAt time.Time
	// live is the latest position from the tracking service, refreshed
	// periodically for the spatial index (requests about one driver ask
	// for it directly).
	live    *geo.Point
	liveAt  time.Time
	carrier int32 // interned CarrierID
	slot    slot
}

func (d *driverRec) gridSlot() *slot { return &d.slot }

// matchable reports whether the driver can be offered loads: available,
// resting (free once rested) or on a load (free once it is delivered).
func (d *driverRec) matchable() bool {
	switch d.Status {
	case freight.DriverAvailable, freight.DriverResting, freight.DriverOnLoad:
		return layer(d.Equipment) >= 0
	}
	return false
}

// anchor is where the driver will next be free, for the spatial index: the
// end of the last active load, else the live position, else the last
// delivery, else home.
func (d *driverRec) anchor() geo.Point {
	switch {
	case len(d.active) > 0:
		return d.active[len(d.active)-1].d
	case d.live != nil:
		return *d.live
	case d.lastDrop != nil:
		return *d.lastDrop
	}
	return d.home
}

// Index holds the open loads and the drivers in memory, with spatial grids
// of load pickups and driver positions. It is built from the store and
// refreshed one row at a time whenever an event says a row changed, so
// applying an event twice, late or out of order still ends at the store's
// state.
type Index struct {
	mu      sync.RWMutex
	loads   map[string]*openLoad
	drivers map[string]*driverRec
	prefs   map[string]*Preferences
	// activeOf maps an active load to its driver.
	activeOf map[string]string
	lg       *grid[*openLoad, hotLoad]
	dg       *grid[*driverRec, struct{}]
	// orgs interns organization IDs for the grid's hot fields.
	orgs map[string]int32
	// rpmSum is the sum of the offered rates per mile of each cell's loads,
	// for the board's reload outlook.
	rpmSum []float64
	// maxPrefDH is the largest deadhead limit any driver set.
	maxPrefDH float64
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{
		loads: map[string]*openLoad{}, drivers: map[string]*driverRec{}, prefs: map[string]*Preferences{},
		activeOf: map[string]string{}, lg: newGrid[*openLoad, hotLoad](), dg: newGrid[*driverRec, struct{}](), orgs: map[string]int32{},
		rpmSum: make([]float64, len(equipments)*nCells),
	}
}

// Counts reports the open loads and the drivers indexed.
func (x *Index) Counts() (loads, drivers int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.loads), len(x.drivers)
}

// intern returns the number of an organization ID. Caller holds the lock.
func (x *Index) intern(id string) int32 {
	n, ok := x.orgs[id]
	if !ok {
		n = int32(len(x.orgs))
		x.orgs[id] = n
	}
	return n
}

// stateOf returns a location's state, reverse-geocoding its point when the
// load was posted with coordinates only.
func stateOf(l freight.Location) string {
	if l.State != "" {
		return normalizeState(l.State)
	}
	if pl, ok := geocode.Default().Nearest(geo.Point{Lat: l.Lat, Lon: l.Lon}); ok {
		return pl.State
	}
	return ""
}

func newOpenLoad(l freight.Load, miles geo.Distancer) (*openLoad, bool) {
	e := &openLoad{Load: l, o: geo.Point{Lat: l.Origin.Lat, Lon: l.Origin.Lon}, d: geo.Point{Lat: l.Destination.Lat, Lon: l.Destination.Lon},
		layer: layer(l.Equipment), slot: slot{cell: -1}}
	if e.layer < 0 || e.o.Validate() != nil || e.d.Validate() != nil || l.Pickup.End.IsZero() {
		return nil, false
	}
	e.oState, e.dState = stateOf(l.Origin), stateOf(l.Destination)
	e.loaded = l.Miles
	if !(e.loaded > 0) {
		e.loaded = miles.RoadMiles(e.o, e.d)
	}
	if e.loaded > 0 {
		e.rpm = l.Rate.Dollars() / e.loaded
	}
	return e, true
}

// putLoad adds or replaces an open load. Caller holds the lock.
func (x *Index) putLoad(e *openLoad) {
	x.dropLoad(e.ID)
	x.loads[e.ID] = e
	x.lg.add(e, e.layer, e.o, hotLoad{d: e.d, loaded: e.loaded, rate: e.Rate.Dollars(),
		pickupStart: e.Pickup.Start.UnixNano(), pickupEnd: e.Pickup.End.UnixNano(),
		weight: int32(e.WeightLbs), org: x.intern(e.OrgID), dCell: int32(cellOf(e.layer, e.d))})
	x.rpmSum[e.slot.cell] += e.rpm
}

// dropLoad removes an open load. Caller holds the lock.
func (x *Index) dropLoad(id string) {
	e, ok := x.loads[id]
	if !ok {
		return
	}
	if e.slot.cell >= 0 {
		x.rpmSum[e.slot.cell] -= e.rpm
		if x.lg.count(int(e.slot.cell)) == 1 {
			x.rpmSum[e.slot.cell] = 0 // no rounding residue in an empty cell
		}
	}
	x.lg.remove(e)
	delete(x.loads, id)
}

// putDriver adds or replaces a driver, keeping what the store does not
// hold in the driver row (active loads, last delivery, live position).
// Caller holds the lock.
func (x *Index) putDriver(d freight.Driver) *driverRec {
	rec, ok := x.drivers[d.ID]
	if !ok {
		rec = &driverRec{slot: slot{cell: -1}}
		x.drivers[d.ID] = rec
	}
	rec.Driver = d
	rec.carrier = x.intern(d.CarrierID)
	rec.home = geo.Point{Lat: d.HomeBase.Lat, Lon: d.HomeBase.Lon}
	x.regrid(rec)
	return rec
}

// regrid puts a driver in the grid at their anchor, or out of it when they
// cannot be matched. Caller holds the lock.
func (x *Index) regrid(rec *driverRec) {
	x.dg.remove(rec)
	if rec.matchable() && rec.anchor().Validate() == nil {
		x.dg.add(rec, layer(rec.Equipment), rec.anchor(), struct{}{})
	}
}

// setActive records the active loads of a driver, by pickup time. Caller
// holds the lock.
func (x *Index) setActive(driverID string, a activeLoad) {
	if prev, ok := x.activeOf[a.id]; ok && prev != driverID {
		x.clearActive(a.id)
	}
	x.activeOf[a.id] = driverID
	rec, ok := x.drivers[driverID]
	if !ok {
		return
	}
	i := slices.IndexFunc(rec.active, func(v activeLoad) bool { return v.id == a.id })
	if i >= 0 {
		rec.active[i] = a
	} else {
		rec.active = append(rec.active, a)
	}
	slices.SortFunc(rec.active, func(a, b activeLoad) int {
		return cmp.Or(a.pickup.Start.Compare(b.pickup.Start), cmp.Compare(a.id, b.id))
	})
	x.regrid(rec)
}

// clearActive forgets an active load. Caller holds the lock.
func (x *Index) clearActive(loadID string) {
	driverID, ok := x.activeOf[loadID]
	if !ok {
		return
	}
	delete(x.activeOf, loadID)
	if rec, ok := x.drivers[driverID]; ok {
		rec.active = slices.DeleteFunc(rec.active, func(v activeLoad) bool { return v.id == loadID })
		x.regrid(rec)
	}
}

// setDelivered records a driver's latest delivery. Caller holds the lock.
func (x *Index) setDelivered(driverID string, p geo.Point, at time.Time) {
	rec, ok := x.drivers[driverID]
	if !ok || (rec.lastDrop != nil && at.Before(rec.lastDropAt)) {
		return
	}
	rec.lastDrop, rec.lastDropAt = &p, at
	x.regrid(rec)
}

func (x *Index) setPrefs(driverID string, p *Preferences) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.setPrefsLocked(driverID, p)
}

func (x *Index) setPrefsLocked(driverID string, p *Preferences) {
	if p == nil {
		delete(x.prefs, driverID)
	} else {
		x.prefs[driverID] = p
		if p.MaxDeadheadMiles != nil {
			x.maxPrefDH = max(x.maxPrefDH, *p.MaxDeadheadMiles)
		}
	}
}

// setLive records a driver's live position for the grid.
func (x *Index) setLive(driverID string, p geo.Point, at time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	rec, ok := x.drivers[driverID]
	if !ok || p.Validate() != nil {
		return
	}
	rec.live, rec.liveAt = &p, at
	x.regrid(rec)
}

// The store queries. Matching reads the loads and drivers tables of the
// load and driver services (read-only) and owns driver_preferences.

const loadCols = `id, org_id, reference, origin_address, origin_city, origin_state, origin_zip, origin_lat, origin_lon,
	dest_address, dest_city, dest_state, dest_zip, dest_lat, dest_lon, pickup_start, pickup_end, delivery_start, delivery_end,
	equipment, weight_lbs, commodity, rate_cents, notes, miles, status, carrier_id, driver_id, created_by, created_at, updated_at, version`

func scanLoad(row interface{ Scan(...any) error }) (freight.Load, error) {
	var l freight.Load
	o, d := &l.Origin, &l.Destination
	var rate int64
	err := row.Scan(&l.ID, &l.OrgID, &l.Reference, &o.Address, &o.City, &o.State, &o.ZIP, &o.Lat, &o.Lon,
		&d.Address, &d.City, &d.State, &d.ZIP, &d.Lat, &d.Lon, store.Time(&l.Pickup.Start), store.Time(&l.Pickup.End),
		store.Time(&l.Delivery.Start), store.Time(&l.Delivery.End), &l.Equipment, &l.WeightLbs, &l.Commodity, &rate, &l.Notes,
		&l.Miles, &l.Status, &l.CarrierID, &l.DriverID, &l.CreatedBy, store.Time(&l.CreatedAt), store.Time(&l.UpdatedAt), &l.Version)
	l.Rate = freight.Money(rate)
	return l, err
}

const driverCols = `id, carrier_id, name, phone, home_address, home_city, home_state, home_zip, home_lat, home_lon,
	equipment, capacity_lbs, truck_id, status, hos_driving_left, hos_window_left, hos_cycle_left, hos_until_break,
	hos_updated_at, created_at, updated_at`

func scanDriver(row interface{ Scan(...any) error }) (freight.Driver, error) {
	var d freight.Driver
	h := &d.HomeBase
	err := row.Scan(&d.ID, &d.CarrierID, &d.Name, &d.Phone, &h.Address, &h.City, &h.State, &h.ZIP, &h.Lat, &h.Lon,
		&d.Equipment, &d.CapacityLbs, &d.TruckID, &d.Status, &d.HOS.DrivingLeft, &d.HOS.WindowLeft, &d.HOS.CycleLeft,
		&d.HOS.UntilBreak, store.Time(&d.HOS.UpdatedAt), store.Time(&d.CreatedAt), store.Time(&d.UpdatedAt))
	return d, err
}

func activeFrom(l freight.Load) activeLoad {
	return activeLoad{id: l.ID, status: l.Status, o: geo.Point{Lat: l.Origin.Lat, Lon: l.Origin.Lon},
		d: geo.Point{Lat: l.Destination.Lat, Lon: l.Destination.Lon}, dState: stateOf(l.Destination),
		pickup: l.Pickup, delivery: l.Delivery, loadedMiles: l.Miles}
}

// load builds the index from the store. The caller replays the events from
// before it began, so that nothing committed meanwhile is missed.
func (x *Index) load(ctx context.Context, db *store.DB, miles geo.Distancer) error {
	drivers, err := queryAll(ctx, db, `SELECT `+driverCols+` FROM drivers ORDER BY id`, scanDriver)
	if err != nil {
		return fmt.Errorf("index drivers: %w", err)
	}
	open, err := queryAll(ctx, db, `SELECT `+loadCols+` FROM loads WHERE status = 'posted'`, scanLoad)
	if err != nil {
		return fmt.Errorf("index open loads: %w", err)
	}
	active, err := queryAll(ctx, db, `SELECT `+loadCols+` FROM loads WHERE driver_id <> ''
		AND status IN ('booked', 'dispatched', 'at_pickup', 'in_transit', 'at_delivery')`, scanLoad)
	if err != nil {
		return fmt.Errorf("index active loads: %w", err)
	}
	type drop struct {
		driverID string
		p        geo.Point
		at       time.Time
	}
	drops, err := queryAll(ctx, db, `SELECT l.driver_id, l.dest_lat, l.dest_lon, l.updated_at FROM loads l
		WHERE l.status = 'delivered' AND l.driver_id <> '' AND l.updated_at = (SELECT MAX(m.updated_at) FROM loads m
		WHERE m.driver_id = l.driver_id AND m.status = 'delivered')`, func(r interface{ Scan(...any) error }) (drop, error) {
		var d drop
		err := r.Scan(&d.driverID, &d.p.Lat, &d.p.Lon, store.Time(&d.at))
		return d, err
	})
	if err != nil {
		return fmt.Errorf("index last deliveries: %w", err)
	}
	prefs, err := queryAll(ctx, db, `SELECT `+prefCols+` FROM driver_preferences`, scanPreferences)
	if err != nil {
		return fmt.Errorf("index preferences: %w", err)
	}
	entries := make([]*openLoad, 0, len(open))
	for _, l := range open {
		if e, ok := newOpenLoad(l, miles); ok {
			entries = append(entries, e)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, d := range drivers {
		x.putDriver(d)
	}
	for _, e := range entries {
		x.putLoad(e)
	}
	for _, l := range active {
		x.setActive(l.DriverID, activeFrom(l))
	}
	for _, d := range drops {
		x.setDelivered(d.driverID, d.p, d.at)
	}
	for i := range prefs {
		x.setPrefsLocked(prefs[i].DriverID, &prefs[i])
	}
	return nil
}

func queryAll[T any](ctx context.Context, db *store.DB, q string, scan func(interface{ Scan(...any) error }) (T, error), args ...any) ([]T, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// refreshLoad makes the index agree with the store's row of one load.
func (x *Index) refreshLoad(ctx context.Context, db *store.DB, miles geo.Distancer, id string) error {
	l, err := scanLoad(db.QueryRow(ctx, `SELECT `+loadCols+` FROM loads WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		x.mu.Lock()
		x.dropLoad(id)
		x.clearActive(id)
		x.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("refresh load %s: %w", id, err)
	}
	x.applyLoad(l, miles)
	return nil
}

// applyLoad makes the index agree with a load row.
func (x *Index) applyLoad(l freight.Load, miles geo.Distancer) {
	e, open := (*openLoad)(nil), false
	if l.Status == freight.StatusPosted {
		e, open = newOpenLoad(l, miles)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if open {
		x.putLoad(e)
	} else {
		x.dropLoad(l.ID)
	}
	switch {
	case l.Status.Active() && l.DriverID != "":
		x.setActive(l.DriverID, activeFrom(l))
	case l.Status == freight.StatusDelivered && l.DriverID != "":
		x.clearActive(l.ID)
		x.setDelivered(l.DriverID, geo.Point{Lat: l.Destination.Lat, Lon: l.Destination.Lon}, l.UpdatedAt)
	default:
		x.clearActive(l.ID)
	}
}

// refreshDriver makes the index agree with the store's row of one driver.
func (x *Index) refreshDriver(ctx context.Context, db *store.DB, id string) error {
	d, err := scanDriver(db.QueryRow(ctx, `SELECT `+driverCols+` FROM drivers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		x.mu.Lock()
		if rec, ok := x.drivers[id]; ok {
			x.dg.remove(rec)
			delete(x.drivers, id)
		}
		x.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("refresh driver %s: %w", id, err)
	}
	x.mu.Lock()
	x.putDriver(d)
	x.mu.Unlock()
	return nil
}

// refreshPrefs makes the index agree with the store's preferences of one
// driver.
func (x *Index) refreshPrefs(ctx context.Context, db *store.DB, driverID string) error {
	p, err := loadPreferences(ctx, db, driverID)
	if errors.Is(err, sql.ErrNoRows) {
		x.setPrefs(driverID, nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("refresh preferences of %s: %w", driverID, err)
	}
	x.setPrefs(driverID, &p)
	return nil
}

package tracking

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
)

// Stops of a load that carry a geofence.
const (
	StopPickup   = "pickup"
	StopDelivery = "delivery"
)

// Visit is a driver's stay at a stop of a load: arrival once inside the
// geofence for the dwell time, departure once outside for the dwell time,
// and detention for the time on site past the free time.
type Visit struct {
	LoadID       string     `json:"load_id"`
	Stop         string     `json:"stop"`
	DriverID     string     `json:"driver_id"`
	ArrivedAt    *time.Time `json:"arrived_at,omitempty"`
	DepartedAt   *time.Time `json:"departed_at,omitempty"`
	DetentionMin int        `json:"detention_min"`
	// While the driver is inside but the dwell has not passed.
	InsideSince *time.Time `json:"inside_since,omitempty"`

	carrierID, shipperID string
	outsideSince         *time.Time
	lastFixAt            *time.Time
}

// fenceEngine evaluates the geofences (and the ETA) of active loads on
// committed fixes, off the ingest path: one goroutine, in commit order, so
// a driver's fixes are seen in the order they were stored.
type fenceEngine struct {
	s  *Service
	in chan []row

	mu      sync.Mutex
	active  map[string]activeLoads // by driver
	visits  map[string]*Visit      // by load and stop
	closing chan struct{}
	once    sync.Once
}

type activeLoads struct {
	loads []freight.Load
	until time.Time
}

// activeTTL bounds how long a driver's active loads are cached: a new
// booking is picked up within it.
const activeTTL = 30 * time.Second

func newFenceEngine(s *Service) *fenceEngine {
	return &fenceEngine{s: s, in: make(chan []row, 1024), active: map[string]activeLoads{},
		visits: map[string]*Visit{}, closing: make(chan struct{})}
}

// feed hands committed rows over without waiting. When the engine falls
// behind, a batch is dropped and counted: the next fixes of the driver
// still move the geofences, only a little later.
func (e *fenceEngine) feed(rows []row) {
	select {
	case e.in <- rows:
	default:
		e.s.m.fenceDropped.Inc()
	}
}

func (e *fenceEngine) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.closing:
			return
		case rows := <-e.in:
			e.process(ctx, rows)
		}
	}
}

// drain processes what is queued now (tests, and shutdown).
func (e *fenceEngine) drain(ctx context.Context) {
	for {
		select {
		case rows := <-e.in:
			e.process(ctx, rows)
		default:
			return
		}
	}
}

func (e *fenceEngine) close() { e.once.Do(func() { close(e.closing) }) }

// process evaluates one committed batch, driver by driver.
func (e *fenceEngine) process(ctx context.Context, rows []row) {
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].driverID == rows[i].driverID {
			j++
		}
		if err := e.driver(ctx, rows[i].driverID, rows[i:j]); err != nil && ctx.Err() == nil {
			e.s.log.Warn("geofences", "driver", rows[i].driverID, "err", err)
		}
		i = j
	}
}

func (e *fenceEngine) loadsOf(ctx context.Context, driverID string) ([]freight.Load, error) {
	now := time.Now()
	e.mu.Lock()
	a, ok := e.active[driverID]
	e.mu.Unlock()
	if ok && now.Before(a.until) {
		return a.loads, nil
	}
	ls, err := e.s.deps.Loads.ActiveLoads(ctx, driverID)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.active) > 200_000 {
		clear(e.active)
	}
	e.active[driverID] = activeLoads{loads: ls, until: now.Add(activeTTL)}
	e.mu.Unlock()
	return ls, nil
}

func (e *fenceEngine) forgetLoads(driverID string) {
	e.mu.Lock()
	delete(e.active, driverID)
	e.mu.Unlock()
}

func (e *fenceEngine) driver(ctx context.Context, driverID string, rows []row) error {
	ls, err := e.loadsOf(ctx, driverID)
	if err != nil || len(ls) == 0 {
		return err
	}
	for _, l := range ls {
		if err := e.load(ctx, l, rows); err != nil {
			return fmt.Errorf("load %s: %w", l.ID, err)
		}
	}
	return nil
}

// stage is the stop a load's driver is heading for or standing at, or ""
// when both are behind it.
func stage(l freight.Load, pickup, delivery *Visit) string {
	switch {
	case pickup.DepartedAt == nil && (l.Status == freight.StatusBooked || l.Status == freight.StatusDispatched || l.Status == freight.StatusAtPickup):
		return StopPickup
	case delivery.DepartedAt == nil:
		return StopDelivery
	}
	return ""
}

// load runs the fixes through the geofence of the stop the load is at.
func (e *fenceEngine) load(ctx context.Context, l freight.Load, rows []row) error {
	pickup, err := e.visit(ctx, l, StopPickup)
	if err != nil {
		return err
	}
	delivery, err := e.visit(ctx, l, StopDelivery)
	if err != nil {
		return err
	}
	cfg := e.s.cfg
	for _, r := range rows {
		st := stage(l, pickup, delivery)
		if st == "" {
			break
		}
		v, at := pickup, l.Origin
		if st == StopDelivery {
			v, at = delivery, l.Destination
		}
		d := geo.GreatCircleMiles(geo.Point{Lat: r.lat, Lon: r.lon}, geo.Point{Lat: at.Lat, Lon: at.Lon})
		// Between the radius and one and a half times it nothing changes,
		// so a driver parked at the rim does not flap in and out.
		inside, outside := d <= cfg.GeofenceMiles, d > 1.5*cfg.GeofenceMiles
		t := r.recordedAt
		changed, recorded := false, false
		switch {
		case v.ArrivedAt == nil && inside:
			if v.InsideSince == nil {
				v.InsideSince, changed = &t, true
			}
			if t.Sub(*v.InsideSince) >= cfg.Dwell {
				arrived := *v.InsideSince
				v.ArrivedAt, v.InsideSince, recorded = &arrived, nil, true
				if err := e.arrive(ctx, &l, v); err != nil {
					return err
				}
			}
		case v.ArrivedAt == nil && outside && v.InsideSince != nil:
			v.InsideSince, changed = nil, true // GPS jitter, or passing by
		case v.ArrivedAt != nil && outside:
			if v.outsideSince == nil {
				v.outsideSince, changed = &t, true
			}
			if t.Sub(*v.outsideSince) >= cfg.Dwell {
				departed := *v.outsideSince
				v.DepartedAt, v.outsideSince, recorded = &departed, nil, true
				v.DetentionMin = detention(*v.ArrivedAt, departed, cfg.FreeTime)
				if err := e.depart(ctx, &l, v); err != nil {
					return err
				}
			}
		case v.ArrivedAt != nil && inside && v.outsideSince != nil:
			v.outsideSince, changed = nil, true
		}
		v.lastFixAt = &t
		if changed && !recorded { // arrivals and departures save themselves
			if err := e.save(ctx, nil, v); err != nil {
				return err
			}
		}
	}
	if st := stage(l, pickup, delivery); st != "" && len(rows) > 0 {
		e.s.updateETA(ctx, l, st, pickup, delivery, rows[len(rows)-1])
	}
	return nil
}

// detention is the time on site past the free time, in whole minutes.
func detention(arrived, departed time.Time, free time.Duration) int {
	return int(max(0, departed.Sub(arrived)-free) / time.Minute)
}

func visitKey(loadID, stop string) string { return loadID + "/" + stop }

// visit returns the state of a stop, from memory or the store.
func (e *fenceEngine) visit(ctx context.Context, l freight.Load, stop string) (*Visit, error) {
	key := visitKey(l.ID, stop)
	e.mu.Lock()
	v := e.visits[key]
	e.mu.Unlock()
	if v != nil {
		return v, nil
	}
	v, err := e.s.readVisit(ctx, l.ID, stop)
	if errors.Is(err, sql.ErrNoRows) {
		v, err = &Visit{LoadID: l.ID, Stop: stop, DriverID: l.DriverID, carrierID: l.CarrierID, shipperID: l.OrgID}, nil
	}
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.visits) > 200_000 {
		clear(e.visits)
	}
	e.visits[key] = v
	e.mu.Unlock()
	return v, nil
}

const visitCols = `load_id, stop, driver_id, carrier_id, shipper_id, inside_since, outside_since, arrived_at, departed_at, last_fix_at, detention_min`

func scanVisit(row interface{ Scan(...any) error }) (*Visit, error) {
	v := &Visit{}
	err := row.Scan(&v.LoadID, &v.Stop, &v.DriverID, &v.carrierID, &v.shipperID, store.NullTime(&v.InsideSince), store.NullTime(&v.outsideSince),
		store.NullTime(&v.ArrivedAt), store.NullTime(&v.DepartedAt), store.NullTime(&v.lastFixAt), &v.DetentionMin)
	return v, err
}

func (s *Service) readVisit(ctx context.Context, loadID, stop string) (*Visit, error) {
	return scanVisit(s.db.QueryRow(ctx, `SELECT `+visitCols+` FROM geofence_visits WHERE load_id = ? AND stop = ?`, loadID, stop))
}

// visits returns the recorded visits of a load.
func (s *Service) visits(ctx context.Context, loadID string) ([]*Visit, error) {
	rows, err := s.db.Query(ctx, `SELECT `+visitCols+` FROM geofence_visits WHERE load_id = ? ORDER BY stop DESC`, loadID)
	if err != nil {
		return nil, fmt.Errorf("visits: %w", err)
	}
	defer rows.Close()
	var out []*Visit
	for rows.Next() {
		v, err := scanVisit(rows)
		if err != nil {
			return nil, fmt.Errorf("visits: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// save writes the visit, in tx when given.
func (e *fenceEngine) save(ctx context.Context, tx *store.Tx, v *Visit) error {
	q := `INSERT INTO geofence_visits (` + visitCols + `, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (load_id, stop) DO UPDATE SET inside_since = excluded.inside_since, outside_since = excluded.outside_since,
		arrived_at = excluded.arrived_at, departed_at = excluded.departed_at, last_fix_at = excluded.last_fix_at,
		detention_min = excluded.detention_min, updated_at = excluded.updated_at`
	args := []any{v.LoadID, v.Stop, v.DriverID, v.carrierID, v.shipperID, v.InsideSince, v.outsideSince, v.ArrivedAt, v.DepartedAt,
		v.lastFixAt, v.DetentionMin, e.s.now()}
	var err error
	if tx != nil {
		_, err = tx.Exec(ctx, q, args...)
	} else {
		_, err = e.s.db.Exec(ctx, q, args...)
	}
	if err != nil {
		return fmt.Errorf("save visit: %w", err)
	}
	return nil
}

// GeofenceEvent is the data of tracking.geofence.v1.
type GeofenceEvent struct {
	LoadID       string    `json:"load_id"`
	Stop         string    `json:"stop"`
	Kind         string    `json:"kind"` // arrived or departed
	At           time.Time `json:"at"`
	DriverID     string    `json:"driver_id"`
	CarrierID    string    `json:"carrier_id"`
	ShipperID    string    `json:"shipper_id"`
	DetentionMin int       `json:"detention_min,omitempty"`
}

// record saves the visit and its event in one transaction.
func (e *fenceEngine) record(ctx context.Context, v *Visit, kind string, at time.Time) error {
	return e.s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := e.save(ctx, tx, v); err != nil {
			return err
		}
		return tx.EmitNew(ctx, "tracking.geofence.v1", v.shipperID, v.LoadID, GeofenceEvent{LoadID: v.LoadID, Stop: v.Stop, Kind: kind,
			At: at, DriverID: v.DriverID, CarrierID: v.carrierID, ShipperID: v.shipperID, DetentionMin: v.DetentionMin})
	})
}

// actor is who the automatic transitions are recorded as: the driver's
// own device, acting through the geofence.
func actor(l freight.Load) freight.Principal {
	return freight.Principal{OrgID: l.CarrierID, OrgKind: freight.OrgCarrier, KeyID: "geofence", Role: freight.RoleDriver, DriverID: l.DriverID}
}

// setStatus moves the load, tolerating a load another hand moved already.
func (e *fenceEngine) setStatus(ctx context.Context, l *freight.Load, to freight.LoadStatus, note string) {
	if e.s.deps.Status == nil || !l.Status.CanMoveTo(to) {
		return
	}
	nl, err := e.s.deps.Status.SetStatus(ctx, actor(*l), l.ID, loads.StatusInput{Status: to, Note: note})
	if err != nil {
		e.s.log.Warn("geofence status change", "load", l.ID, "to", to, "err", err)
		e.forgetLoads(l.DriverID)
		return
	}
	l.Status, l.Version = nl.Status, nl.Version
	e.forgetLoads(l.DriverID)
}

func (e *fenceEngine) arrive(ctx context.Context, l *freight.Load, v *Visit) error {
	if err := e.record(ctx, v, "arrived", *v.ArrivedAt); err != nil {
		return err
	}
	note := "arrived at the " + v.Stop + " geofence at " + v.ArrivedAt.Format(time.RFC3339)
	if v.Stop == StopPickup {
		if l.Status == freight.StatusBooked {
			e.setStatus(ctx, l, freight.StatusDispatched, "driver on the way: "+note)
		}
		e.setStatus(ctx, l, freight.StatusAtPickup, note)
	} else {
		e.setStatus(ctx, l, freight.StatusAtDelivery, note)
	}
	return nil
}

func (e *fenceEngine) depart(ctx context.Context, l *freight.Load, v *Visit) error {
	if err := e.record(ctx, v, "departed", *v.DepartedAt); err != nil {
		return err
	}
	// Leaving the pickup moves the load on; leaving the delivery does not:
	// delivered needs a proof of delivery or an explicit action.
	if v.Stop == StopPickup {
		e.setStatus(ctx, l, freight.StatusInTransit, "left the pickup geofence at "+v.DepartedAt.Format(time.RFC3339))
	}
	return nil
}

package tracking

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/tracking/eta"
)

// DriverReader reads a driver, for the hours-of-service clock (the
// driver-service implements it).
type DriverReader interface {
	Driver(ctx context.Context, p freight.Principal, id string) (freight.Driver, error)
}

// ETA is the live estimate of a load's arrival at its next stop.
type ETA struct {
	LoadID         string     `json:"load_id"`
	Stop           string     `json:"stop"`
	ComputedAt     time.Time  `json:"computed_at"`
	RemainingMiles float64    `json:"remaining_miles"`
	P50            time.Time  `json:"p50"`
	P90            time.Time  `json:"p90"`
	WindowEnd      time.Time  `json:"window_end"`
	LateRiskAt     *time.Time `json:"late_risk_at,omitempty"` // when P50 first passed the window's end
}

// LateRiskEvent is the data of tracking.late_risk.v1.
type LateRiskEvent struct {
	LoadID    string    `json:"load_id"`
	Stop      string    `json:"stop"`
	DriverID  string    `json:"driver_id"`
	CarrierID string    `json:"carrier_id"`
	ShipperID string    `json:"shipper_id"`
	P50       time.Time `json:"p50"`
	P90       time.Time `json:"p90"`
	WindowEnd time.Time `json:"window_end"`
}

// etaEvery is the least time between two estimates of a load, by fix time.
const etaEvery = time.Minute

// etaState remembers per load when it was last estimated, and per driver
// the learned speed model.
type etaState struct {
	mu     sync.Mutex
	last   map[string]time.Time
	models map[string]modelAt
}

type modelAt struct {
	m     eta.Model
	until time.Time
}

func newETAState() *etaState {
	return &etaState{last: map[string]time.Time{}, models: map[string]modelAt{}}
}

// speedModel learns the driver's speeds from its last week of hourly
// rollups, remembered for fifteen minutes.
func (s *Service) speedModel(ctx context.Context, driverID string) (eta.Model, error) {
	st := s.etas
	now := s.now()
	st.mu.Lock()
	c, ok := st.models[driverID]
	st.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.m, nil
	}
	rows, err := s.db.Query(ctx, `SELECT miles, first_at, last_at FROM position_rollups WHERE driver_id = ? AND hour >= ?`,
		driverID, now.Add(-7*24*time.Hour))
	if err != nil {
		return eta.Model{}, fmt.Errorf("speed history: %w", err)
	}
	defer rows.Close()
	var hourly []float64
	for rows.Next() {
		var (
			miles       float64
			first, last time.Time
		)
		if err := rows.Scan(&miles, store.Time(&first), store.Time(&last)); err != nil {
			return eta.Model{}, fmt.Errorf("speed history: %w", err)
		}
		// Only hours mostly covered by fixes say how fast the truck goes.
		if span := last.Sub(first); span >= 30*time.Minute {
			hourly = append(hourly, miles/span.Hours())
		}
	}
	if err := rows.Err(); err != nil {
		return eta.Model{}, err
	}
	m := eta.Learn(hourly)
	st.mu.Lock()
	if len(st.models) > 100_000 {
		clear(st.models)
	}
	st.models[driverID] = modelAt{m: m, until: now.Add(15 * time.Minute)}
	st.mu.Unlock()
	return m, nil
}

// hos returns the driver's hours-of-service clock, or a fresh one when no
// driver reader is configured or the driver cannot be read.
func (s *Service) hos(ctx context.Context, driverID string) freight.HOSClock {
	if s.deps.Fleet == nil {
		return freight.FreshHOS(s.now())
	}
	d, err := s.deps.Fleet.Driver(ctx, freight.Principal{OrgKind: freight.OrgPlatform, Role: freight.RoleOperator, KeyID: "tracking-eta"}, driverID)
	if err != nil {
		s.log.Warn("eta: driver clock", "driver", driverID, "err", err)
		return freight.FreshHOS(s.now())
	}
	return d.HOS
}

// updateETA estimates the arrival at the stop the load is heading for from
// the driver's newest fix, at most once a minute per load, and publishes
// tracking.late_risk.v1 the first time the median arrival passes the end
// of the stop's window.
func (s *Service) updateETA(ctx context.Context, l freight.Load, stop string, pickup, delivery *Visit, fix row) {
	st := s.etas
	st.mu.Lock()
	last, ok := st.last[l.ID]
	due := !ok || fix.recordedAt.Sub(last) >= etaEvery
	if due {
		st.last[l.ID] = fix.recordedAt
	}
	st.mu.Unlock()
	if !due {
		return
	}
	if err := s.estimate(ctx, l, stop, pickup, fix); err != nil && ctx.Err() == nil {
		s.log.Warn("eta", "load", l.ID, "err", err)
	}
}

func (s *Service) estimate(ctx context.Context, l freight.Load, stop string, pickup *Visit, fix row) error {
	here := geo.Point{Lat: fix.lat, Lon: fix.lon}
	target, window := l.Origin, l.Pickup.End
	if stop == StopDelivery {
		target, window = l.Destination, l.Delivery.End
	}
	if stop == StopPickup && pickup.ArrivedAt != nil {
		// Standing at the pickup: the next stop to estimate is the delivery.
		stop, target, window = StopDelivery, l.Destination, l.Delivery.End
	}
	miles := geo.DefaultCircuity.RoadMiles(here, geo.Point{Lat: target.Lat, Lon: target.Lon})
	if miles <= s.cfg.GeofenceMiles {
		miles = 0
	}
	m, err := s.speedModel(ctx, l.DriverID)
	if err != nil {
		return err
	}
	now := s.now()
	e := eta.Compute(eta.Input{Now: now, Miles: miles, Model: m, HOS: s.hos(ctx, l.DriverID)})
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		var lateAt *time.Time
		err := tx.QueryRow(ctx, `SELECT late_risk_at FROM load_etas WHERE load_id = ?`+tx.ForUpdate(), l.ID).Scan(store.NullTime(&lateAt))
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("eta: %w", err)
		}
		late := e.P50.After(window)
		if late && lateAt == nil {
			lateAt = &now
			if err := tx.EmitNew(ctx, "tracking.late_risk.v1", l.OrgID, l.ID, LateRiskEvent{LoadID: l.ID, Stop: stop, DriverID: l.DriverID,
				CarrierID: l.CarrierID, ShipperID: l.OrgID, P50: e.P50, P90: e.P90, WindowEnd: window}); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO load_etas (load_id, driver_id, stop, computed_at, remaining_miles, p50, p90, window_end, late_risk_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (load_id) DO UPDATE SET driver_id = excluded.driver_id, stop = excluded.stop, computed_at = excluded.computed_at,
			remaining_miles = excluded.remaining_miles, p50 = excluded.p50, p90 = excluded.p90, window_end = excluded.window_end,
			late_risk_at = excluded.late_risk_at`, l.ID, l.DriverID, stop, now, miles, e.P50, e.P90, window, lateAt)
		if err != nil {
			return fmt.Errorf("save eta: %w", err)
		}
		return nil
	})
}

// loadETA returns the stored estimate of a load.
func (s *Service) loadETA(ctx context.Context, loadID string) (*ETA, error) {
	e := &ETA{LoadID: loadID}
	err := s.db.QueryRow(ctx, `SELECT stop, computed_at, remaining_miles, p50, p90, window_end, late_risk_at FROM load_etas WHERE load_id = ?`, loadID).Scan(
		&e.Stop, store.Time(&e.ComputedAt), &e.RemainingMiles, store.Time(&e.P50), store.Time(&e.P90), store.Time(&e.WindowEnd), store.NullTime(&e.LateRiskAt))
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eta: %w", err)
	}
	return e, nil
}

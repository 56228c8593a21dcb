package tracking

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

// LoadFinder tells the tracking service which loads a driver is hauling
// and what it may show of a load. The load-service owns loads; storeLoads
// reads its table read-only from the shared store (every layout shares
// one database), and a remote implementation could replace it.
type LoadFinder interface {
	// ActiveLoads returns the driver's loads that are booked and not yet
	// delivered or cancelled.
	ActiveLoads(ctx context.Context, driverID string) ([]freight.Load, error)
	// Load returns a load by ID, whoever owns it (ENOTFOUND when none).
	Load(ctx context.Context, id string) (freight.Load, error)
	// Dispatched returns when the load was dispatched and delivered, each
	// nil when it has not been: a shipper sees the driver in between.
	Dispatched(ctx context.Context, id string) (dispatched, delivered *freight.LoadTransition, err error)
}

type storeLoads struct{ db *store.DB }

const trackedLoadCols = `id, org_id, origin_lat, origin_lon, dest_lat, dest_lon, pickup_start, pickup_end,
	delivery_start, delivery_end, miles, status, carrier_id, driver_id, version`

func scanTrackedLoad(row interface{ Scan(...any) error }) (freight.Load, error) {
	var l freight.Load
	err := row.Scan(&l.ID, &l.OrgID, &l.Origin.Lat, &l.Origin.Lon, &l.Destination.Lat, &l.Destination.Lon,
		store.Time(&l.Pickup.Start), store.Time(&l.Pickup.End), store.Time(&l.Delivery.Start), store.Time(&l.Delivery.End),
		&l.Miles, &l.Status, &l.CarrierID, &l.DriverID, &l.Version)
	return l, err
}

func (s storeLoads) ActiveLoads(ctx context.Context, driverID string) ([]freight.Load, error) {
	rows, err := s.db.Query(ctx, `SELECT `+trackedLoadCols+` FROM loads WHERE driver_id = ?
		AND status IN ('booked', 'dispatched', 'at_pickup', 'in_transit', 'at_delivery') ORDER BY pickup_start`, driverID)
	if err != nil {
		return nil, fmt.Errorf("active loads: %w", err)
	}
	defer rows.Close()
	var out []freight.Load
	for rows.Next() {
		l, err := scanTrackedLoad(rows)
		if err != nil {
			return nil, fmt.Errorf("active loads: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (s storeLoads) Load(ctx context.Context, id string) (freight.Load, error) {
	l, err := scanTrackedLoad(s.db.QueryRow(ctx, `SELECT `+trackedLoadCols+` FROM loads WHERE id = ?`, id))
	if err != nil {
		if isNoRows(err) {
			return l, freight.NotFound("load")
		}
		return l, fmt.Errorf("load: %w", err)
	}
	return l, nil
}

func (s storeLoads) Dispatched(ctx context.Context, id string) (dispatched, delivered *freight.LoadTransition, err error) {
	rows, err := s.db.Query(ctx, `SELECT load_id, from_status, to_status, actor_id, at FROM load_transitions
		WHERE load_id = ? AND to_status IN ('dispatched', 'delivered', 'booked', 'cancelled') ORDER BY seq`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("load transitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t freight.LoadTransition
		if err := rows.Scan(&t.LoadID, &t.From, &t.To, &t.ActorID, store.Time(&t.At)); err != nil {
			return nil, nil, fmt.Errorf("load transitions: %w", err)
		}
		switch t.To {
		case freight.StatusDispatched:
			dispatched, delivered = &t, nil
		case freight.StatusDelivered:
			delivered = &t
		case freight.StatusCancelled:
			if delivered == nil {
				delivered = &t // the shipper's view ends with the load
			}
		case freight.StatusBooked:
			if t.From == freight.StatusDispatched { // dispatch undone
				dispatched = nil
			}
		}
	}
	return dispatched, delivered, rows.Err()
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

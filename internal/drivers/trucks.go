package drivers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

const truckCols = `id, carrier_id, unit, equipment, capacity_lbs, plate, vin, created_at`

func scanTruck(row interface{ Scan(...any) error }) (freight.Truck, error) {
	var t freight.Truck
	err := row.Scan(&t.ID, &t.CarrierID, &t.Unit, &t.Equipment, &t.CapacityLbs, &t.Plate, &t.VIN, store.Time(&t.CreatedAt))
	return t, err
}

// CreateTruck adds a truck to the caller's carrier.
func (s *Service) CreateTruck(ctx context.Context, p freight.Principal, in freight.TruckInput) (freight.Truck, error) {
	if !fleetManager(p) {
		return freight.Truck{}, freight.Errorf(freight.EFORBIDDEN, "only a carrier's dispatcher or admin may add trucks")
	}
	if err := in.Validate(); err != nil {
		return freight.Truck{}, err
	}
	var t freight.Truck
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		t = freight.Truck{ID: newID(), CarrierID: p.OrgID, Unit: strings.TrimSpace(in.Unit), Equipment: in.Equipment,
			CapacityLbs: in.CapacityLbs, Plate: in.Plate, VIN: strings.ToUpper(in.VIN), CreatedAt: tx.Now()}
		_, err := tx.Exec(ctx, `INSERT INTO trucks (`+truckCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.CarrierID, t.Unit, string(t.Equipment), t.CapacityLbs, t.Plate, t.VIN, t.CreatedAt)
		if store.IsUniqueViolation(err) {
			return &freight.Error{Code: freight.ECONFLICT, Message: "unit number already used",
				Fields: []freight.FieldError{{Field: "unit", Detail: "this carrier already has a truck with this unit number"}}}
		}
		if err != nil {
			return fmt.Errorf("insert truck: %w", err)
		}
		return tx.EmitNew(ctx, "trucks.created.v1", t.CarrierID, t.ID, t)
	})
	return t, err
}

// Trucks lists the caller's trucks (operators see all).
func (s *Service) Trucks(ctx context.Context, p freight.Principal) ([]freight.Truck, error) {
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case p.Is(freight.RoleOperator):
		rows, err = s.db.Query(ctx, `SELECT `+truckCols+` FROM trucks ORDER BY id LIMIT 1000`)
	case fleetManager(p):
		rows, err = s.db.Query(ctx, `SELECT `+truckCols+` FROM trucks WHERE carrier_id = ? ORDER BY unit`, p.OrgID)
	default:
		return nil, freight.Errorf(freight.EFORBIDDEN, "role %s may not list trucks", p.Role)
	}
	if err != nil {
		return nil, fmt.Errorf("trucks: %w", err)
	}
	defer rows.Close()
	out := []freight.Truck{}
	for rows.Next() {
		t, err := scanTruck(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Truck returns one truck the caller may see.
func (s *Service) Truck(ctx context.Context, p freight.Principal, id string) (freight.Truck, error) {
	q, args := `SELECT `+truckCols+` FROM trucks WHERE id = ? AND carrier_id = ?`, []any{id, p.OrgID}
	switch {
	case p.Is(freight.RoleOperator):
		q, args = `SELECT `+truckCols+` FROM trucks WHERE id = ?`, []any{id}
	case !fleetManager(p):
		return freight.Truck{}, freight.NotFound("truck")
	}
	t, err := scanTruck(s.db.QueryRow(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return t, freight.NotFound("truck")
	}
	return t, err
}

// Carriers lists carrier and broker organizations: their names, USDOT and
// MC numbers are public registry facts, so every signed-in user sees them.
func (s *Service) Carriers(ctx context.Context) ([]freight.Organization, error) {
	rows, err := s.db.Query(ctx, `SELECT id, name, kind, usdot, mc, created_at FROM organizations WHERE kind IN ('carrier', 'broker') ORDER BY name, id LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("carriers: %w", err)
	}
	defer rows.Close()
	out := []freight.Organization{}
	for rows.Next() {
		var o freight.Organization
		if err := rows.Scan(&o.ID, &o.Name, &o.Kind, &o.USDOT, &o.MC, store.Time(&o.CreatedAt)); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Carrier returns one carrier.
func (s *Service) Carrier(ctx context.Context, id string) (freight.Organization, error) {
	var o freight.Organization
	err := s.db.QueryRow(ctx, `SELECT id, name, kind, usdot, mc, created_at FROM organizations WHERE id = ? AND kind IN ('carrier', 'broker')`, id).Scan(
		&o.ID, &o.Name, &o.Kind, &o.USDOT, &o.MC, store.Time(&o.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return o, freight.NotFound("carrier")
	}
	return o, err
}

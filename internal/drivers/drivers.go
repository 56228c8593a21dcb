// Package drivers is the driver-service: carriers' drivers and trucks, each
// driver's status and hours-of-service clock, and the carrier directory.
package drivers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// Geocoder fills in the coordinates of a location given by city/state or ZIP.
type Geocoder interface {
	Resolve(l freight.Location) (freight.Location, bool)
}

// Service manages drivers and trucks.
type Service struct {
	db       *store.DB
	geo      Geocoder
	log      *slog.Logger
	sessions *Sessions
}

// New returns the driver service.
func New(db *store.DB, geo Geocoder, log *slog.Logger) *Service {
	return &Service{db: db, geo: geo, log: log, sessions: NewSessions(time.Now)}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// fleetManager reports whether p manages its organization's fleet.
func fleetManager(p freight.Principal) bool {
	return p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin)
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

// DriverBelongs implements accounts.DriverChecker.
func (s *Service) DriverBelongs(ctx context.Context, carrierID, driverID string) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM drivers WHERE id = ? AND carrier_id = ?`, driverID, carrierID).Scan(&n)
	return n == 1, err
}

func (s *Service) resolveHome(in *freight.DriverInput) error {
	if in.HomeBase.HasPoint() {
		return nil
	}
	loc, ok := s.geo.Resolve(in.HomeBase)
	if !ok {
		return &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "home_base", Detail: "unknown place; give lat/lon, a US ZIP code, or a US city and state"}}}
	}
	in.HomeBase = loc
	return nil
}

// CreateDriver adds a driver to the caller's carrier.
func (s *Service) CreateDriver(ctx context.Context, p freight.Principal, in freight.DriverInput) (freight.Driver, error) {
	if !fleetManager(p) {
		return freight.Driver{}, freight.Errorf(freight.EFORBIDDEN, "only a carrier's dispatcher or admin may add drivers")
	}
	if err := in.Validate(); err != nil {
		return freight.Driver{}, err
	}
	if err := s.resolveHome(&in); err != nil {
		return freight.Driver{}, err
	}
	var d freight.Driver
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := checkTruck(ctx, tx, p.OrgID, in.TruckID); err != nil {
			return err
		}
		now := tx.Now()
		d = freight.Driver{ID: newID(), CarrierID: p.OrgID, Name: strings.TrimSpace(in.Name), Phone: in.Phone, HomeBase: in.HomeBase,
			Equipment: in.Equipment, CapacityLbs: in.CapacityLbs, TruckID: in.TruckID, Status: in.Status, HOS: freight.FreshHOS(now),
			CreatedAt: now, UpdatedAt: now}
		if d.Status == "" {
			d.Status = freight.DriverAvailable
		}
		if in.HOS != nil {
			d.HOS = *in.HOS
			d.HOS.UpdatedAt = now
		}
		h := d.HomeBase
		_, err := tx.Exec(ctx, `INSERT INTO drivers (`+driverCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.CarrierID, d.Name, d.Phone, h.Address, h.City, h.State, h.ZIP, h.Lat, h.Lon, string(d.Equipment), d.CapacityLbs,
			d.TruckID, string(d.Status), int(d.HOS.DrivingLeft), int(d.HOS.WindowLeft), int(d.HOS.CycleLeft), int(d.HOS.UntilBreak),
			d.HOS.UpdatedAt, d.CreatedAt, d.UpdatedAt)
		if err != nil {
			return fmt.Errorf("insert driver: %w", err)
		}
		return tx.EmitNew(ctx, "drivers.created.v1", d.CarrierID, d.ID, d)
	})
	return d, err
}

func checkTruck(ctx context.Context, tx *store.Tx, carrierID, truckID string) error {
	if truckID == "" {
		return nil
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM trucks WHERE id = ? AND carrier_id = ?`, truckID, carrierID).Scan(&n); err != nil {
		return fmt.Errorf("check truck: %w", err)
	}
	if n != 1 {
		return &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "truck_id", Detail: "no such truck in this carrier"}}}
	}
	return nil
}

// visibleDriver is the WHERE clause limiting drivers to those p may see.
func visibleDriver(p freight.Principal) (string, []any, bool) {
	switch {
	case p.Is(freight.RoleOperator):
		return "1=1", nil, true
	case p.Is(freight.RoleDriver):
		return "id = ?", []any{p.DriverID}, true
	case fleetManager(p):
		return "carrier_id = ?", []any{p.OrgID}, true
	}
	return "", nil, false
}

// Driver returns one driver the caller may see.
func (s *Service) Driver(ctx context.Context, p freight.Principal, id string) (freight.Driver, error) {
	where, args, ok := visibleDriver(p)
	if !ok {
		return freight.Driver{}, freight.NotFound("driver")
	}
	d, err := scanDriver(s.db.QueryRow(ctx, `SELECT `+driverCols+` FROM drivers WHERE id = ? AND `+where, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return d, freight.NotFound("driver")
	}
	if err != nil {
		return d, fmt.Errorf("driver: %w", err)
	}
	return d, nil
}

// DriverFilter narrows a driver list.
type DriverFilter struct {
	Status freight.DriverStatus
	Cursor string
	Limit  int
}

// Drivers lists the drivers the caller may see, by ID (time-ordered).
func (s *Service) Drivers(ctx context.Context, p freight.Principal, f DriverFilter) (httpapi.Page[freight.Driver], error) {
	page := httpapi.Page[freight.Driver]{Items: []freight.Driver{}}
	where, args, ok := visibleDriver(p)
	if !ok {
		return page, freight.Errorf(freight.EFORBIDDEN, "role %s may not list drivers", p.Role)
	}
	if f.Status != "" {
		if !f.Status.Valid() {
			return page, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
				Fields: []freight.FieldError{{Field: "status", Detail: "unknown driver status"}}}
		}
		where += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.Cursor != "" {
		keys, err := httpapi.DecodeCursor(f.Cursor, 1)
		if err != nil {
			return page, err
		}
		where += " AND id > ?"
		args = append(args, keys[0])
	}
	rows, err := s.db.Query(ctx, `SELECT `+driverCols+` FROM drivers WHERE `+where+` ORDER BY id LIMIT ?`, append(args, f.Limit+1)...)
	if err != nil {
		return page, fmt.Errorf("drivers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDriver(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, d)
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		page.NextCursor = httpapi.EncodeCursor(page.Items[f.Limit-1].ID)
	}
	return page, rows.Err()
}

// UpdateDriver replaces a driver's profile (fleet managers only).
func (s *Service) UpdateDriver(ctx context.Context, p freight.Principal, id string, in freight.DriverInput) (freight.Driver, error) {
	if _, err := s.Driver(ctx, p, id); err != nil {
		return freight.Driver{}, err
	}
	if !fleetManager(p) {
		return freight.Driver{}, freight.Errorf(freight.EFORBIDDEN, "only a carrier's dispatcher or admin may edit drivers")
	}
	if in.Status != "" || in.HOS != nil {
		var fs freight.Fields
		if in.Status != "" {
			fs.Add("status", "set a driver's status with POST /api/v1/drivers/{id}/status")
		}
		if in.HOS != nil {
			fs.Add("hos", "set a driver's hours-of-service clock with POST /api/v1/drivers/{id}/status")
		}
		return freight.Driver{}, fs.Err()
	}
	if err := in.Validate(); err != nil {
		return freight.Driver{}, err
	}
	if err := s.resolveHome(&in); err != nil {
		return freight.Driver{}, err
	}
	var d freight.Driver
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := checkTruck(ctx, tx, p.OrgID, in.TruckID); err != nil {
			return err
		}
		h := in.HomeBase
		_, err := tx.Exec(ctx, `UPDATE drivers SET name = ?, phone = ?, home_address = ?, home_city = ?, home_state = ?, home_zip = ?,
			home_lat = ?, home_lon = ?, equipment = ?, capacity_lbs = ?, truck_id = ?, updated_at = ? WHERE id = ? AND carrier_id = ?`,
			strings.TrimSpace(in.Name), in.Phone, h.Address, h.City, h.State, h.ZIP, h.Lat, h.Lon, string(in.Equipment), in.CapacityLbs,
			in.TruckID, tx.Now(), id, p.OrgID)
		if err != nil {
			return fmt.Errorf("update driver: %w", err)
		}
		d, err = scanDriver(tx.QueryRow(ctx, `SELECT `+driverCols+` FROM drivers WHERE id = ?`, id))
		if err != nil {
			return err
		}
		return tx.EmitNew(ctx, "drivers.updated.v1", d.CarrierID, d.ID, d)
	})
	return d, err
}

// StatusInput reports a driver's status and, optionally, the HOS clock.
type StatusInput struct {
	Status freight.DriverStatus `json:"status"`
	HOS    *freight.HOSClock    `json:"hos"`
}

// SetStatus records a driver's status (the driver themself or a fleet
// manager) and publishes drivers.status.v1.
func (s *Service) SetStatus(ctx context.Context, p freight.Principal, id string, in StatusInput) (freight.Driver, error) {
	if _, err := s.Driver(ctx, p, id); err != nil {
		return freight.Driver{}, err
	}
	if !fleetManager(p) && !(p.Is(freight.RoleDriver) && p.DriverID == id) {
		return freight.Driver{}, freight.Errorf(freight.EFORBIDDEN, "role %s may not set a driver's status", p.Role)
	}
	var fs freight.Fields
	if !in.Status.Valid() {
		fs.Add("status", "must be one of off_duty, available, on_load, resting")
	}
	if in.HOS != nil {
		if err := in.HOS.Validate(); err != nil {
			var fe *freight.Error
			if errors.As(err, &fe) {
				fs = append(fs, fe.Fields...)
			}
		}
	}
	if err := fs.Err(); err != nil {
		return freight.Driver{}, err
	}
	var d freight.Driver
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := scanDriver(tx.QueryRow(ctx, `SELECT `+driverCols+` FROM drivers WHERE id = ?`+tx.ForUpdate(), id))
		if err != nil {
			return fmt.Errorf("driver: %w", err)
		}
		hos := cur.HOS
		if in.HOS != nil {
			hos = *in.HOS
			hos.UpdatedAt = tx.Now()
		}
		_, err = tx.Exec(ctx, `UPDATE drivers SET status = ?, hos_driving_left = ?, hos_window_left = ?, hos_cycle_left = ?,
			hos_until_break = ?, hos_updated_at = ?, updated_at = ? WHERE id = ?`,
			string(in.Status), int(hos.DrivingLeft), int(hos.WindowLeft), int(hos.CycleLeft), int(hos.UntilBreak), hos.UpdatedAt, tx.Now(), id)
		if err != nil {
			return fmt.Errorf("set driver status: %w", err)
		}
		d = cur
		d.Status, d.HOS, d.UpdatedAt = in.Status, hos, tx.Now()
		return tx.EmitNew(ctx, "drivers.status.v1", d.CarrierID, d.ID, map[string]any{
			"driver_id": d.ID, "carrier_id": d.CarrierID, "from": cur.Status, "to": d.Status, "hos": d.HOS, "actor": p.Subject()})
	})
	return d, err
}

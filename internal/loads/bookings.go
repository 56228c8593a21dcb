package loads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// BookingInput books a posted load.
type BookingInput struct {
	LoadID   string         `json:"load_id"`
	Rate     *freight.Money `json:"rate_usd"` // defaults to the offered rate
	DriverID string         `json:"driver_id"`
	TruckID  string         `json:"truck_id"`
}

// AssignInput assigns a driver (and truck) to a booking.
type AssignInput struct {
	DriverID string `json:"driver_id"`
	TruckID  string `json:"truck_id"`
}

const bookingCols = `id, load_id, carrier_id, driver_id, truck_id, rate_cents, status, created_by, created_at`

func scanBooking(row interface{ Scan(...any) error }) (freight.Booking, error) {
	var b freight.Booking
	var rate int64
	err := row.Scan(&b.ID, &b.LoadID, &b.CarrierID, &b.DriverID, &b.TruckID, &rate, &b.Status, &b.CreatedBy, store.Time(&b.CreatedAt))
	b.Rate = freight.Money(rate)
	return b, err
}

// checkAssignment verifies the driver and truck belong to the carrier and
// can haul the load.
func checkAssignment(ctx context.Context, tx *store.Tx, carrierID string, l freight.Load, driverID, truckID string) error {
	var fs freight.Fields
	if driverID != "" {
		var eq freight.Equipment
		var capacity int
		err := tx.QueryRow(ctx, `SELECT equipment, capacity_lbs FROM drivers WHERE id = ? AND carrier_id = ?`, driverID, carrierID).Scan(&eq, &capacity)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			fs.Add("driver_id", "no such driver in this carrier")
		case err != nil:
			return fmt.Errorf("check driver: %w", err)
		case eq != l.Equipment:
			fs.Add("driver_id", "driver runs %s equipment; the load needs %s", eq, l.Equipment)
		case capacity < l.WeightLbs:
			fs.Add("driver_id", "driver's capacity %d lb is below the load's %d lb", capacity, l.WeightLbs)
		}
	}
	if truckID != "" {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM trucks WHERE id = ? AND carrier_id = ?`, truckID, carrierID).Scan(&n); err != nil {
			return fmt.Errorf("check truck: %w", err)
		}
		if n != 1 {
			fs.Add("truck_id", "no such truck in this carrier")
		}
	}
	return fs.Err()
}

// Book books a posted load for the caller's carrier. The load row is locked
// and its status checked, and a partial unique index allows one active
// booking per load, so of two concurrent bookings exactly one wins; the
// other gets 409.
func (s *Service) Book(ctx context.Context, p freight.Principal, in BookingInput) (freight.Booking, error) {
	if !hauler(p) {
		return freight.Booking{}, freight.Errorf(freight.EFORBIDDEN, "only a carrier's dispatcher or admin may book loads")
	}
	if in.LoadID == "" {
		return freight.Booking{}, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "load_id", Detail: "required"}}}
	}
	if in.Rate != nil && *in.Rate <= 0 {
		return freight.Booking{}, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "rate_usd", Detail: "must be positive"}}}
	}
	var b freight.Booking
	var err error
	defer func() { s.forgetAfter(ctx, in.LoadID, err) }()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		l, err := lockLoad(ctx, tx, p, in.LoadID)
		if err != nil {
			// A load that was on the public board and is gone meanwhile is a
			// lost race, not a missing load: say so. A load never posted
			// stays invisible.
			var posted int
			if tx.QueryRow(ctx, `SELECT COUNT(*) FROM load_transitions WHERE load_id = ? AND to_status = 'posted'`, in.LoadID).Scan(&posted) == nil && posted > 0 {
				return freight.Errorf(freight.ECONFLICT, "the load is no longer available")
			}
			return err
		}
		if l.Status != freight.StatusPosted {
			return freight.Errorf(freight.ECONFLICT, "the load is %s, not open for booking", l.Status)
		}
		if l.OrgID == p.OrgID {
			return freight.Errorf(freight.ECONFLICT, "an organization cannot book its own load")
		}
		if err := checkAssignment(ctx, tx, p.OrgID, l, in.DriverID, in.TruckID); err != nil {
			return err
		}
		b = freight.Booking{ID: newID(), LoadID: l.ID, CarrierID: p.OrgID, DriverID: in.DriverID, TruckID: in.TruckID,
			Rate: l.Rate, Status: freight.BookingActive, CreatedBy: p.Subject(), CreatedAt: tx.Now()}
		if in.Rate != nil {
			b.Rate = *in.Rate
		}
		_, err = tx.Exec(ctx, `INSERT INTO bookings (`+bookingCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.LoadID, b.CarrierID, b.DriverID, b.TruckID, int64(b.Rate), b.Status, b.CreatedBy, b.CreatedAt)
		if store.IsUniqueViolation(err) {
			return freight.Errorf(freight.ECONFLICT, "the load is already booked")
		}
		if err != nil {
			return fmt.Errorf("insert booking: %w", err)
		}
		l.CarrierID, l.DriverID = p.OrgID, in.DriverID
		if err := s.transition(ctx, tx, &l, freight.StatusBooked, p.Subject(), "booking "+b.ID); err != nil {
			return err
		}
		return tx.EmitNew(ctx, "bookings.created.v1", b.CarrierID, b.ID, map[string]any{"booking": b, "shipper_id": l.OrgID})
	})
	return b, err
}

// visibleBooking is the WHERE clause of the bookings p may read.
func visibleBooking(p freight.Principal) (string, []any) {
	switch {
	case p.Is(freight.RoleOperator):
		return "1=1", nil
	case p.Is(freight.RoleDriver):
		return "b.driver_id = ? AND b.carrier_id = ?", []any{p.DriverID, p.OrgID}
	case hauler(p) && poster(p):
		return "(b.carrier_id = ? OR l.org_id = ?)", []any{p.OrgID, p.OrgID}
	case hauler(p):
		return "b.carrier_id = ?", []any{p.OrgID}
	case poster(p):
		return "l.org_id = ?", []any{p.OrgID}
	}
	return "1=0", nil
}

// Booking returns one booking the caller may see.
func (s *Service) Booking(ctx context.Context, p freight.Principal, id string) (freight.Booking, error) {
	where, args := visibleBooking(p)
	b, err := scanBooking(s.db.QueryRow(ctx, `SELECT b.id, b.load_id, b.carrier_id, b.driver_id, b.truck_id, b.rate_cents, b.status, b.created_by, b.created_at
		FROM bookings b JOIN loads l ON l.id = b.load_id WHERE b.id = ? AND `+where, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return b, freight.NotFound("booking")
	}
	return b, err
}

// Bookings lists the bookings the caller may see, newest first.
func (s *Service) Bookings(ctx context.Context, p freight.Principal, cursor string, limit int) (httpapi.Page[freight.Booking], error) {
	page := httpapi.Page[freight.Booking]{Items: []freight.Booking{}}
	where, args := visibleBooking(p)
	if cursor != "" {
		keys, err := httpapi.DecodeCursor(cursor, 1)
		if err != nil {
			return page, err
		}
		where += " AND b.id < ?"
		args = append(args, keys[0])
	}
	rows, err := s.db.Query(ctx, `SELECT b.id, b.load_id, b.carrier_id, b.driver_id, b.truck_id, b.rate_cents, b.status, b.created_by, b.created_at
		FROM bookings b JOIN loads l ON l.id = b.load_id WHERE `+where+` ORDER BY b.id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("bookings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		b, err := scanBooking(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, b)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextCursor = httpapi.EncodeCursor(page.Items[limit-1].ID)
	}
	return page, rows.Err()
}

// lockBooking reads an active booking of the caller's carrier for update.
func lockBooking(ctx context.Context, tx *store.Tx, p freight.Principal, id string) (freight.Booking, error) {
	b, err := scanBooking(tx.QueryRow(ctx, `SELECT `+bookingCols+` FROM bookings WHERE id = ? AND carrier_id = ?`+tx.ForUpdate(), id, p.OrgID))
	if errors.Is(err, sql.ErrNoRows) {
		return b, freight.NotFound("booking")
	}
	if err != nil {
		return b, fmt.Errorf("booking: %w", err)
	}
	if b.Status != freight.BookingActive {
		return b, freight.Errorf(freight.ECONFLICT, "the booking is %s", b.Status)
	}
	return b, nil
}

// lockBeforePickup locks an active booking of the caller's carrier and its
// load, which must not have been picked up yet.
func lockBeforePickup(ctx context.Context, tx *store.Tx, p freight.Principal, id, why string) (freight.Booking, freight.Load, error) {
	b, err := lockBooking(ctx, tx, p, id)
	if err != nil {
		return b, freight.Load{}, err
	}
	l, err := scanLoad(tx.QueryRow(ctx, `SELECT `+loadCols+` FROM loads WHERE id = ?`+tx.ForUpdate(), b.LoadID))
	if err != nil {
		return b, l, fmt.Errorf("load: %w", err)
	}
	if l.Status != freight.StatusBooked && l.Status != freight.StatusDispatched {
		return b, l, freight.Errorf(freight.ECONFLICT, "the load is %s; %s", l.Status, why)
	}
	return b, l, nil
}

// Assign sets the driver (and truck) who will haul a booked load.
func (s *Service) Assign(ctx context.Context, p freight.Principal, id string, in AssignInput) (freight.Booking, error) {
	if _, err := s.Booking(ctx, p, id); err != nil {
		return freight.Booking{}, err
	}
	if !hauler(p) {
		return freight.Booking{}, freight.Errorf(freight.EFORBIDDEN, "only the carrier's dispatcher or admin may assign drivers")
	}
	if in.DriverID == "" {
		return freight.Booking{}, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "driver_id", Detail: "required"}}}
	}
	var b freight.Booking
	var err error
	defer func() { s.forgetAfter(ctx, b.LoadID, err) }()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var (
			l   freight.Load
			err error
		)
		if b, l, err = lockBeforePickup(ctx, tx, p, id, "drivers are assigned before pickup"); err != nil {
			return err
		}
		if err := checkAssignment(ctx, tx, p.OrgID, l, in.DriverID, in.TruckID); err != nil {
			return err
		}
		b.DriverID, b.TruckID = in.DriverID, in.TruckID
		if _, err := tx.Exec(ctx, `UPDATE bookings SET driver_id = ?, truck_id = ? WHERE id = ?`, b.DriverID, b.TruckID, b.ID); err != nil {
			return fmt.Errorf("assign: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE loads SET driver_id = ?, updated_at = ?, version = version + 1 WHERE id = ?`, b.DriverID, tx.Now(), l.ID); err != nil {
			return fmt.Errorf("assign: %w", err)
		}
		return tx.EmitNew(ctx, "bookings.assigned.v1", b.CarrierID, b.ID, map[string]any{"booking": b, "shipper_id": l.OrgID})
	})
	return b, err
}

// CancelBooking releases a booked (not yet picked-up) load back to the board.
func (s *Service) CancelBooking(ctx context.Context, p freight.Principal, id string) (freight.Booking, error) {
	if _, err := s.Booking(ctx, p, id); err != nil {
		return freight.Booking{}, err
	}
	if !hauler(p) {
		return freight.Booking{}, freight.Errorf(freight.EFORBIDDEN, "only the carrier's dispatcher or admin may cancel its booking")
	}
	var b freight.Booking
	var err error
	defer func() { s.forgetAfter(ctx, b.LoadID, err) }()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var (
			l   freight.Load
			err error
		)
		if b, l, err = lockBeforePickup(ctx, tx, p, id, "a booking can be cancelled only before pickup"); err != nil {
			return err
		}
		if err := cancelActiveBooking(ctx, tx, l.ID); err != nil {
			return err
		}
		b.Status = freight.BookingCancelled
		if l.Status == freight.StatusDispatched {
			if err := s.transition(ctx, tx, &l, freight.StatusBooked, p.Subject(), "booking cancelled"); err != nil {
				return err
			}
		}
		l.CarrierID, l.DriverID = "", ""
		if err := s.transition(ctx, tx, &l, freight.StatusPosted, p.Subject(), "booking cancelled"); err != nil {
			return err
		}
		return tx.EmitNew(ctx, "bookings.cancelled.v1", b.CarrierID, b.ID, map[string]any{"booking": b, "shipper_id": l.OrgID})
	})
	return b, err
}

func cancelActiveBooking(ctx context.Context, tx *store.Tx, loadID string) error {
	if _, err := tx.Exec(ctx, `UPDATE bookings SET status = 'cancelled' WHERE load_id = ? AND status = 'active'`, loadID); err != nil {
		return fmt.Errorf("cancel booking: %w", err)
	}
	return nil
}

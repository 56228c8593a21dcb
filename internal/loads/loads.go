// Package loads is the load-service: loads and their status machine,
// bookings, and the load board.
package loads

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/backhaul/backhaul/internal/cache"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/store"
)

// Geocoder fills in the coordinates of a location given by city/state or ZIP.
type Geocoder interface {
	Resolve(l freight.Location) (freight.Location, bool)
}

// Quoter proposes a rate for a load when the shipper offers none (the
// market-intelligence service; nil until it runs).
type Quoter interface {
	Quote(ctx context.Context, l freight.Load) (freight.Money, error)
}

// Service manages loads and bookings.
type Service struct {
	db     *store.DB
	geo    Geocoder
	miles  geo.Distancer
	quoter Quoter
	log    *slog.Logger

	// board caches encoded board pages for boardTTL. Every committed change
	// in this process bumps gen, so a page never outlives a local write;
	// other replicas' writes show within boardTTL.
	board    *cache.Local
	boardTTL time.Duration
	gen      atomic.Uint64

	// entities caches load rows by ID for entityTTL (the data cache); nil
	// reads every load from the store. Visibility is applied after the
	// cache, so one entry serves every caller.
	entities  EntityCache
	entityTTL time.Duration
}

// EntityCache holds loads by ID: in the process, or in Redis shared by
// every replica.
type EntityCache interface {
	cache.Store
	Delete(ctx context.Context, keys ...string) error
}

// SetEntityCache caches loads read by ID in c for ttl. This service's own
// writes remove the entry after they commit; other replicas' writes arrive
// through ForgetLoad, called by the process's event follower.
func (s *Service) SetEntityCache(c EntityCache, ttl time.Duration) {
	s.entities, s.entityTTL = c, ttl
}

func loadKey(id string) string { return "load:" + id }

// ForgetLoad drops a load from the entity cache and every cached board
// page of this process.
func (s *Service) ForgetLoad(ctx context.Context, id string) {
	s.gen.Add(1)
	if s.entities == nil || id == "" {
		return
	}
	if err := s.entities.Delete(ctx, loadKey(id)); err != nil {
		s.log.Warn("drop load from the entity cache", "load", id, "err", err)
	}
}

// forgetAfter drops a load from the cache after a write of it committed.
func (s *Service) forgetAfter(ctx context.Context, id string, err error) {
	if err == nil {
		s.ForgetLoad(context.WithoutCancel(ctx), id)
	}
}

// DefaultBoardTTL bounds how stale a board page served by another replica
// can be.
const DefaultBoardTTL = 2 * time.Second

// New returns the load service. quoter may be nil.
func New(db *store.DB, g Geocoder, miles geo.Distancer, quoter Quoter, log *slog.Logger) *Service {
	s := &Service{db: db, geo: g, miles: miles, quoter: quoter, log: log, board: cache.NewLocal(2048, time.Now), boardTTL: DefaultBoardTTL}
	db.OnCommit(func() { s.gen.Add(1) })
	return s
}

// SetBoardCacheTTL sets how long board pages are cached; 0 disables the cache.
func (s *Service) SetBoardCacheTTL(d time.Duration) { s.boardTTL = d }

// BoardCache exposes the board page cache for its metrics.
func (s *Service) BoardCache() *cache.Local { return s.board }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// poster reports whether p may post and manage its organization's loads.
func poster(p freight.Principal) bool {
	return p.OrgKind.PostsLoads() && p.Is(freight.RoleShipper, freight.RoleAdmin)
}

// hauler reports whether p books loads and manages its organization's fleet.
func hauler(p freight.Principal) bool {
	return p.OrgKind.HaulsLoads() && p.Is(freight.RoleDispatcher, freight.RoleAdmin)
}

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

func (s *Service) resolve(field string, l freight.Location) (freight.Location, error) {
	if l.HasPoint() {
		return l, nil
	}
	r, ok := s.geo.Resolve(l)
	if !ok {
		return l, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: field, Detail: "unknown place; give lat/lon, a US ZIP code, or a US city and state"}}}
	}
	return r, nil
}

// Create stores a new load as a draft, or posts it at once.
func (s *Service) Create(ctx context.Context, p freight.Principal, in freight.LoadInput) (freight.Load, error) {
	if !poster(p) {
		return freight.Load{}, freight.Errorf(freight.EFORBIDDEN, "only a shipper or broker may post loads")
	}
	if err := in.Validate(s.db.Now()); err != nil {
		return freight.Load{}, err
	}
	origin, err := s.resolve("origin", in.Origin)
	if err != nil {
		return freight.Load{}, err
	}
	dest, err := s.resolve("destination", in.Destination)
	if err != nil {
		return freight.Load{}, err
	}
	miles := s.miles.RoadMiles(geo.Point{Lat: origin.Lat, Lon: origin.Lon}, geo.Point{Lat: dest.Lat, Lon: dest.Lon})
	if miles < 1 {
		return freight.Load{}, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "destination", Detail: "destination is the same place as the origin"}}}
	}
	l := freight.Load{
		ID: newID(), OrgID: p.OrgID, Reference: strings.TrimSpace(in.Reference), Origin: origin, Destination: dest,
		Pickup: utcWindow(in.Pickup), Delivery: utcWindow(in.Delivery), Equipment: in.Equipment, WeightLbs: in.WeightLbs,
		Commodity: strings.TrimSpace(in.Commodity), Notes: in.Notes, Miles: round1(miles), Status: freight.StatusDraft,
		CreatedBy: p.Subject(), Version: 1,
	}
	switch {
	case in.Rate != nil:
		l.Rate = *in.Rate
	case s.quoter != nil:
		if l.Rate, err = s.quoter.Quote(ctx, l); err != nil {
			return freight.Load{}, fmt.Errorf("default rate: %w", err)
		}
	case in.Post:
		return freight.Load{}, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "rate_usd", Detail: "required to post a load"}}}
	}
	if in.Post && l.Rate <= 0 {
		return freight.Load{}, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "rate_usd", Detail: "must be positive to post a load"}}}
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		l.CreatedAt, l.UpdatedAt = tx.Now(), tx.Now()
		if err := insertLoad(ctx, tx, l); err != nil {
			return err
		}
		if err := tx.EmitNew(ctx, "loads.created.v1", l.OrgID, l.ID, l); err != nil {
			return err
		}
		if in.Post {
			return s.transition(ctx, tx, &l, freight.StatusPosted, p.Subject(), "")
		}
		return nil
	})
	return l, err
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }

func utcWindow(w freight.Window) freight.Window {
	return freight.Window{Start: store.Now(w.Start), End: store.Now(w.End)}
}

// insertLoad stores a load row as it is (the demo data uses it too).
func insertLoad(ctx context.Context, tx *store.Tx, l freight.Load) error {
	o, d := l.Origin, l.Destination
	_, err := tx.Exec(ctx, `INSERT INTO loads (`+loadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.OrgID, l.Reference, o.Address, o.City, o.State, o.ZIP, o.Lat, o.Lon, d.Address, d.City, d.State, d.ZIP, d.Lat, d.Lon,
		l.Pickup.Start, l.Pickup.End, l.Delivery.Start, l.Delivery.End, string(l.Equipment), l.WeightLbs, l.Commodity, int64(l.Rate),
		l.Notes, l.Miles, string(l.Status), l.CarrierID, l.DriverID, l.CreatedBy, l.CreatedAt, l.UpdatedAt, l.Version)
	if err != nil {
		return fmt.Errorf("insert load: %w", err)
	}
	return nil
}

// transition moves l to status `to`, recording who and when, and publishes
// loads.status.v1 (and loads.posted.v1 when a load reaches the board).
func (s *Service) transition(ctx context.Context, tx *store.Tx, l *freight.Load, to freight.LoadStatus, actor, note string) error {
	from := l.Status
	if !from.CanMoveTo(to) {
		return freight.Errorf(freight.ECONFLICT, "a %s load cannot become %s", from, to)
	}
	res, err := tx.Exec(ctx, `UPDATE loads SET status = ?, carrier_id = ?, driver_id = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND status = ? AND version = ?`, string(to), l.CarrierID, l.DriverID, tx.Now(), l.ID, string(from), l.Version)
	if err != nil {
		return fmt.Errorf("update load status: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return freight.Errorf(freight.ECONFLICT, "the load changed meanwhile; reload it and retry")
	}
	l.Status, l.UpdatedAt, l.Version = to, tx.Now(), l.Version+1
	if _, err := tx.Exec(ctx, `INSERT INTO load_transitions (load_id, from_status, to_status, actor_id, at, note) VALUES (?, ?, ?, ?, ?, ?)`,
		l.ID, string(from), string(to), actor, tx.Now(), note); err != nil {
		return fmt.Errorf("record transition: %w", err)
	}
	ev := map[string]any{"load_id": l.ID, "from": from, "to": to, "actor": actor, "at": tx.Now(),
		"carrier_id": l.CarrierID, "driver_id": l.DriverID, "shipper_id": l.OrgID}
	if err := tx.EmitNew(ctx, "loads.status.v1", l.OrgID, l.ID, ev); err != nil {
		return err
	}
	if to == freight.StatusPosted {
		return tx.EmitNew(ctx, "loads.posted.v1", l.OrgID, l.ID, l)
	}
	return nil
}

// visible is the WHERE clause of the loads p may read.
func visible(p freight.Principal) (string, []any) {
	switch {
	case p.Is(freight.RoleOperator):
		return "1=1", nil
	case p.Is(freight.RoleDriver):
		return "driver_id = ? AND carrier_id = ?", []any{p.DriverID, p.OrgID}
	}
	var parts []string
	var args []any
	if poster(p) {
		parts, args = append(parts, "org_id = ?"), append(args, p.OrgID)
	}
	if hauler(p) {
		parts, args = append(parts, "carrier_id = ?", "status = 'posted'"), append(args, p.OrgID)
	}
	if len(parts) == 0 {
		return "1=0", nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// canSee is visible in Go, for loads read through the entity cache; a test
// checks that both agree on every kind of caller and load.
func canSee(p freight.Principal, l freight.Load) bool {
	switch {
	case p.Is(freight.RoleOperator):
		return true
	case p.Is(freight.RoleDriver):
		return l.DriverID == p.DriverID && l.CarrierID == p.OrgID
	}
	return poster(p) && l.OrgID == p.OrgID ||
		hauler(p) && (l.CarrierID == p.OrgID || l.Status == freight.StatusPosted)
}

// Get returns a load the caller may see.
func (s *Service) Get(ctx context.Context, p freight.Principal, id string) (freight.Load, error) {
	if s.entities != nil && s.entityTTL > 0 {
		l, err := cache.GetOrLoad(ctx, s.entities, loadKey(id), s.entityTTL, func(ctx context.Context) (freight.Load, error) {
			return s.get(ctx, freight.Principal{Role: freight.RoleOperator}, id)
		})
		if err != nil {
			return freight.Load{}, err
		}
		if !canSee(p, l) {
			return freight.Load{}, freight.NotFound("load")
		}
		return l, nil
	}
	return s.get(ctx, p, id)
}

func (s *Service) get(ctx context.Context, p freight.Principal, id string) (freight.Load, error) {
	where, args := visible(p)
	l, err := scanLoad(s.db.QueryRow(ctx, `SELECT `+loadCols+` FROM loads WHERE id = ? AND `+where, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return l, freight.NotFound("load")
	}
	if err != nil {
		return l, fmt.Errorf("load: %w", err)
	}
	return l, nil
}

// lockLoad reads a load for update inside tx, applying visibility.
func lockLoad(ctx context.Context, tx *store.Tx, p freight.Principal, id string) (freight.Load, error) {
	where, args := visible(p)
	l, err := scanLoad(tx.QueryRow(ctx, `SELECT `+loadCols+` FROM loads WHERE id = ? AND `+where+tx.ForUpdate(), append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return l, freight.NotFound("load")
	}
	if err != nil {
		return l, fmt.Errorf("load: %w", err)
	}
	return l, nil
}

// StatusInput asks for a status change.
type StatusInput struct {
	Status freight.LoadStatus `json:"status"`
	Note   string             `json:"note"`
}

// SetStatus moves a load along its status machine. Posting, withdrawing and
// cancelling belong to the posting organization; the haul's progress
// (dispatched through delivered) to the booked carrier and its driver.
// Booking goes through Book.
func (s *Service) SetStatus(ctx context.Context, p freight.Principal, id string, in StatusInput) (freight.Load, error) {
	var fs freight.Fields
	if !in.Status.Valid() {
		fs.Add("status", "unknown status")
	}
	if len(in.Note) > 1000 {
		fs.Add("note", "at most 1000 bytes")
	}
	if err := fs.Err(); err != nil {
		return freight.Load{}, err
	}
	var l freight.Load
	var err error
	defer func() { s.forgetAfter(ctx, id, err) }()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if l, err = lockLoad(ctx, tx, p, id); err != nil {
			return err
		}
		owner := poster(p) && l.OrgID == p.OrgID
		haul := (hauler(p) && l.CarrierID == p.OrgID) || (p.Is(freight.RoleDriver) && l.DriverID == p.DriverID && l.DriverID != "")
		switch in.Status {
		case freight.StatusPosted, freight.StatusDraft:
			if !owner {
				return freight.Errorf(freight.EFORBIDDEN, "only the posting organization may post or withdraw a load")
			}
			if in.Status == freight.StatusPosted && l.Status == freight.StatusBooked {
				return freight.Errorf(freight.ECONFLICT, "a booked load returns to the board when its booking is cancelled")
			}
			if in.Status == freight.StatusPosted && l.Rate <= 0 {
				return freight.Errorf(freight.ECONFLICT, "set a rate before posting the load")
			}
		case freight.StatusBooked:
			return freight.Errorf(freight.ECONFLICT, "a load is booked by creating a booking")
		case freight.StatusCancelled:
			if !owner {
				return freight.Errorf(freight.EFORBIDDEN, "only the posting organization may cancel a load")
			}
		case freight.StatusDispatched:
			if !haul {
				return freight.Errorf(freight.EFORBIDDEN, "only the booked carrier or its driver may dispatch a load")
			}
			if l.DriverID == "" && l.Status == freight.StatusBooked {
				return freight.Errorf(freight.ECONFLICT, "assign a driver before dispatching the load")
			}
		default:
			if !haul {
				return freight.Errorf(freight.EFORBIDDEN, "only the booked carrier or its driver may report the load's progress")
			}
		}
		if in.Status == freight.StatusCancelled && l.Status.Active() {
			if err := cancelActiveBooking(ctx, tx, l.ID); err != nil {
				return err
			}
		}
		return s.transition(ctx, tx, &l, in.Status, p.Subject(), in.Note)
	})
	return l, err
}

// History returns a load's status transitions, oldest first.
func (s *Service) History(ctx context.Context, p freight.Principal, id string) ([]freight.LoadTransition, error) {
	if _, err := s.Get(ctx, p, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT load_id, from_status, to_status, actor_id, at, note FROM load_transitions WHERE load_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	out := []freight.LoadTransition{}
	for rows.Next() {
		var t freight.LoadTransition
		if err := rows.Scan(&t.LoadID, &t.From, &t.To, &t.ActorID, store.Time(&t.At), &t.Note); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

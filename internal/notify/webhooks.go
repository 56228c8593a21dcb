package notify

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// Endpoint is an organization's webhook endpoint.
type Endpoint struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Description    string     `json:"description"`
	EventTypes     []string   `json:"event_types"`
	Status         string     `json:"status"` // active or disabled
	DisabledReason string     `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	LastSuccessAt  *time.Time `json:"last_success_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// Secret signs the requests; it is shown once, when the endpoint is
	// created.
	Secret string `json:"secret,omitempty"`
}

// EndpointInput creates or changes an endpoint.
type EndpointInput struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	// Enabled, on update, re-enables a disabled endpoint (true) or
	// disables one (false).
	Enabled *bool `json:"enabled,omitempty"`
}

// Limits of the webhook API.
const (
	MaxEndpoints      = 20
	maxDescription    = 200
	allEvents         = "*"
	maxEndpointEvents = 32
)

func (s *Service) validateEndpoint(ctx context.Context, in EndpointInput) error {
	var fs freight.Fields
	if in.URL == "" {
		fs.Add("url", "required")
	} else if err := s.policy.CheckURL(ctx, in.URL); err != nil {
		fs.Add("url", "%v", err)
	}
	if len(in.Description) > maxDescription {
		fs.Add("description", "at most %d characters", maxDescription)
	}
	if len(in.EventTypes) == 0 {
		fs.Add("event_types", "list the kinds to receive, or [\"*\"] for all")
	}
	if len(in.EventTypes) > maxEndpointEvents {
		fs.Add("event_types", "at most %d entries", maxEndpointEvents)
	}
	for i, t := range in.EventTypes {
		if t != allEvents && !Kind(t).Valid() {
			fs.Add(fmt.Sprintf("event_types[%d]", i), "unknown kind %q; valid: *, %s", t, kindList())
		}
	}
	return fs.Err()
}

func webhookAdmin(p freight.Principal) error {
	if !p.Is(freight.RoleAdmin) {
		return freight.Errorf(freight.EFORBIDDEN, "webhooks are managed by the organization's admins")
	}
	return nil
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

// CreateEndpoint registers a webhook endpoint for the caller's organization.
func (s *Service) CreateEndpoint(ctx context.Context, p freight.Principal, in EndpointInput) (Endpoint, error) {
	if err := webhookAdmin(p); err != nil {
		return Endpoint{}, err
	}
	if err := s.validateEndpoint(ctx, in); err != nil {
		return Endpoint{}, err
	}
	types, _ := json.Marshal(in.EventTypes)
	id, secret := newID(), newSecret()
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM notify_endpoints WHERE org_id = ? AND deleted_at IS NULL`, p.OrgID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxEndpoints {
			return freight.Errorf(freight.ECONFLICT, "an organization has at most %d webhook endpoints", MaxEndpoints)
		}
		now := tx.Now()
		_, err := tx.Exec(ctx, `INSERT INTO notify_endpoints (id, org_id, url, description, event_types, secret, status, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)`, id, p.OrgID, in.URL, in.Description, string(types), secret, p.Subject(), now, now)
		return err
	})
	if err != nil {
		return Endpoint{}, err
	}
	ep, err := s.Endpoint(ctx, p, id)
	ep.Secret = secret
	return ep, err
}

const endpointCols = `id, url, description, event_types, status, disabled_reason, failing_since, last_success_at, created_at, updated_at`

func scanEndpoint(sc interface{ Scan(...any) error }) (Endpoint, error) {
	var e Endpoint
	var types string
	if err := sc.Scan(&e.ID, &e.URL, &e.Description, &types, &e.Status, &e.DisabledReason, store.NullTime(&e.FailingSince),
		store.NullTime(&e.LastSuccessAt), store.Time(&e.CreatedAt), store.Time(&e.UpdatedAt)); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return e, fmt.Errorf("endpoint %s event types: %w", e.ID, err)
	}
	return e, nil
}

// Endpoint returns one of the caller organization's endpoints.
func (s *Service) Endpoint(ctx context.Context, p freight.Principal, id string) (Endpoint, error) {
	if err := webhookAdmin(p); err != nil {
		return Endpoint{}, err
	}
	e, err := scanEndpoint(s.db.QueryRow(ctx, `SELECT `+endpointCols+` FROM notify_endpoints WHERE id = ? AND org_id = ? AND deleted_at IS NULL`, id, p.OrgID))
	if errors.Is(err, sql.ErrNoRows) {
		return Endpoint{}, freight.NotFound("webhook endpoint")
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhook endpoint: %w", err)
	}
	return e, nil
}

// Endpoints lists the caller organization's endpoints.
func (s *Service) Endpoints(ctx context.Context, p freight.Principal) ([]Endpoint, error) {
	if err := webhookAdmin(p); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+endpointCols+` FROM notify_endpoints WHERE org_id = ? AND deleted_at IS NULL ORDER BY id`, p.OrgID)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints: %w", err)
	}
	defer rows.Close()
	out := []Endpoint{}
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// UpdateEndpoint replaces an endpoint's URL, description and kinds, and
// enables or disables it. Re-enabling forgets the failures.
func (s *Service) UpdateEndpoint(ctx context.Context, p freight.Principal, id string, in EndpointInput) (Endpoint, error) {
	if _, err := s.Endpoint(ctx, p, id); err != nil {
		return Endpoint{}, err
	}
	if err := s.validateEndpoint(ctx, in); err != nil {
		return Endpoint{}, err
	}
	types, _ := json.Marshal(in.EventTypes)
	now := s.opts.Now()
	q := `UPDATE notify_endpoints SET url = ?, description = ?, event_types = ?, updated_at = ?`
	args := []any{in.URL, in.Description, string(types), now}
	if in.Enabled != nil {
		if *in.Enabled {
			q += `, status = 'active', disabled_reason = '', failing_since = NULL`
		} else {
			q += `, status = 'disabled', disabled_reason = ?`
			args = append(args, "disabled by "+p.Subject())
		}
	}
	q += ` WHERE id = ? AND org_id = ? AND deleted_at IS NULL`
	args = append(args, id, p.OrgID)
	if _, err := s.db.Exec(ctx, q, args...); err != nil {
		return Endpoint{}, fmt.Errorf("update webhook endpoint: %w", err)
	}
	return s.Endpoint(ctx, p, id)
}

// DeleteEndpoint removes an endpoint; its pending deliveries are
// dead-lettered, and its history stays readable to nobody.
func (s *Service) DeleteEndpoint(ctx context.Context, p freight.Principal, id string) error {
	if _, err := s.Endpoint(ctx, p, id); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		if _, err := tx.Exec(ctx, `UPDATE notify_endpoints SET deleted_at = ?, status = 'disabled', updated_at = ? WHERE id = ? AND org_id = ?`,
			now, now, id, p.OrgID); err != nil {
			return fmt.Errorf("delete webhook endpoint: %w", err)
		}
		_, err := tx.Exec(ctx, `UPDATE notify_deliveries SET status = 'dead', last_error = 'endpoint deleted', updated_at = ?
			WHERE endpoint_id = ? AND status = 'pending'`, now, id)
		return err
	})
}

// activeEndpoints returns the active endpoints of an organization.
func activeEndpoints(ctx context.Context, tx *store.Tx, orgID string) ([]orgEndpoint, error) {
	rows, err := tx.Query(ctx, `SELECT id, event_types FROM notify_endpoints WHERE org_id = ? AND status = 'active' AND deleted_at IS NULL ORDER BY id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []orgEndpoint
	for rows.Next() {
		var ep orgEndpoint
		var raw string
		if err := rows.Scan(&ep.id, &raw); err != nil {
			return nil, err
		}
		if json.Unmarshal([]byte(raw), &ep.types) != nil {
			continue
		}
		out = append(out, ep)
	}
	return out, rows.Err()
}

// Delivery is a webhook delivery as the API shows it.
type Delivery struct {
	ID          string     `json:"id"`
	EndpointID  string     `json:"endpoint_id"`
	Kind        Kind       `json:"kind"`
	EventID     string     `json:"event_id"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	NextAt      *time.Time `json:"next_attempt_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	ReplayOf    string     `json:"replay_of,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

func (d delivery) view() Delivery {
	v := Delivery{ID: d.ID, EndpointID: d.EndpointID, Kind: d.Kind, EventID: d.EventID, Status: d.Status, Attempts: d.Attempts,
		LastError: d.LastError, ReplayOf: d.ReplayOf, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, DeliveredAt: d.Delivered}
	if d.Status == "pending" {
		next := d.NextAt
		v.NextAt = &next
	}
	return v
}

// DeliveryStatuses are the statuses the deliveries list filters on; dead
// is the dead-letter list.
var DeliveryStatuses = []string{"pending", "delivered", "dead", "replayed"}

// DeliveryFilter selects a page of an endpoint's deliveries.
type DeliveryFilter struct {
	Status string
	Cursor string
	Limit  int
}

// Deliveries lists an endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, p freight.Principal, endpointID string, f DeliveryFilter) (httpapi.Page[Delivery], error) {
	if _, err := s.Endpoint(ctx, p, endpointID); err != nil {
		return httpapi.Page[Delivery]{}, err
	}
	if f.Status != "" && !slices.Contains(DeliveryStatuses, f.Status) {
		var fs freight.Fields
		fs.Add("status", "must be one of pending, delivered, dead, replayed")
		return httpapi.Page[Delivery]{}, fs.Err()
	}
	q := `SELECT ` + deliveryCols + ` FROM notify_deliveries WHERE endpoint_id = ? AND org_id = ?`
	args := []any{endpointID, p.OrgID}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Cursor != "" {
		keys, err := httpapi.DecodeCursor(f.Cursor, 1)
		if err != nil {
			return httpapi.Page[Delivery]{}, err
		}
		seq, err := strconv.ParseInt(keys[0], 10, 64)
		if err != nil {
			return httpapi.Page[Delivery]{}, freight.Errorf(freight.EINVALID, "malformed cursor")
		}
		q += ` AND seq < ?`
		args = append(args, seq)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, f.Limit+1)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return httpapi.Page[Delivery]{}, fmt.Errorf("deliveries: %w", err)
	}
	defer rows.Close()
	page := httpapi.Page[Delivery]{Items: []Delivery{}}
	var last int64
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return page, err
		}
		if len(page.Items) == f.Limit {
			page.NextCursor = httpapi.EncodeCursor(strconv.FormatInt(last, 10))
			break
		}
		page.Items = append(page.Items, d.view())
		last = d.Seq
	}
	return page, rows.Err()
}

// Replay queues a dead delivery again, as a new delivery at the end of its
// endpoint's lane; the dead one is marked replayed.
func (s *Service) Replay(ctx context.Context, p freight.Principal, endpointID, deliveryID string) (Delivery, error) {
	ep, err := s.Endpoint(ctx, p, endpointID)
	if err != nil {
		return Delivery{}, err
	}
	if ep.Status != "active" {
		return Delivery{}, freight.Errorf(freight.ECONFLICT, "the endpoint is disabled; enable it before replaying")
	}
	var fresh delivery
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		old, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries WHERE id = ? AND endpoint_id = ? AND org_id = ?`+tx.ForUpdate(),
			deliveryID, endpointID, p.OrgID))
		if errors.Is(err, sql.ErrNoRows) {
			return freight.NotFound("delivery")
		}
		if err != nil {
			return err
		}
		if old.Status != "dead" {
			return freight.Errorf(freight.ECONFLICT, "only dead deliveries are replayed; this one is %s", old.Status)
		}
		now := tx.Now()
		id := newID()
		payload, _ := json.Marshal(old.Payload)
		if _, err := tx.Exec(ctx, `INSERT INTO notify_deliveries (id, dedup_key, lane, channel, org_id, user_id, endpoint_id, kind, urgent, digest,
			event_id, occurred_at, payload, status, next_at, replay_of, created_at, updated_at)
			SELECT ?, ?, lane, channel, org_id, user_id, endpoint_id, kind, urgent, 0,
			event_id, occurred_at, ?, 'pending', ?, id, ?, ? FROM notify_deliveries WHERE id = ?`,
			id, "replay/"+id, string(payload), now, now, now, old.ID); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE notify_deliveries SET status = 'replayed', updated_at = ? WHERE id = ?`, now, old.ID); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		fresh, err = scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryCols+` FROM notify_deliveries WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return Delivery{}, err
	}
	if err := s.enqueue(ctx, fresh.Lane, fresh.ID); err != nil {
		s.log.Warn("queue replayed delivery", "delivery", fresh.ID, "err", err)
	}
	return fresh.view(), nil
}

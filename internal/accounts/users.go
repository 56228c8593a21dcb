package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/auth"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

// UserInput adds a user to the caller's organization.
type UserInput struct {
	Email    string       `json:"email"`
	Name     string       `json:"name"`
	Role     freight.Role `json:"role"`
	Password string       `json:"password"`
	DriverID string       `json:"driver_id"`
}

func (s *Service) checkRoleBinding(ctx context.Context, fs *freight.Fields, p freight.Principal, role freight.Role, driverID string) {
	if !role.Valid() || !role.AllowedIn(p.OrgKind) {
		fs.Add("role", "role %q is not available in a %s organization", role, p.OrgKind)
		return
	}
	switch {
	case role == freight.RoleDriver && driverID == "":
		fs.Add("driver_id", "required for the driver role")
	case role != freight.RoleDriver && driverID != "":
		fs.Add("driver_id", "only the driver role is bound to a driver")
	case driverID != "":
		ok, err := s.drivers.DriverBelongs(ctx, p.OrgID, driverID)
		if err != nil || !ok {
			fs.Add("driver_id", "no such driver in this organization")
		}
	}
}

// CreateUser adds a user to the admin's organization.
func (s *Service) CreateUser(ctx context.Context, p freight.Principal, in UserInput) (freight.User, error) {
	if !p.Is(freight.RoleAdmin) || p.UserID == "" {
		return freight.User{}, freight.Errorf(freight.EFORBIDDEN, "only an organization admin may add users")
	}
	var fs freight.Fields
	in.Email = validEmail(&fs, "email", in.Email)
	if in.Name = strings.TrimSpace(in.Name); in.Name == "" || len(in.Name) > 200 {
		fs.Add("name", "required, at most 200 bytes")
	}
	validPassword(&fs, in.Password)
	s.checkRoleBinding(ctx, &fs, p, in.Role, in.DriverID)
	if err := fs.Err(); err != nil {
		return freight.User{}, err
	}
	var u freight.User
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		u = freight.User{ID: newID(), OrgID: p.OrgID, Email: in.Email, Name: in.Name, Role: in.Role, DriverID: in.DriverID, CreatedAt: tx.Now()}
		if err := CreateUserWithPassword(ctx, tx, u, in.Password); err != nil {
			return err
		}
		return tx.EmitNew(ctx, "orgs.user_added.v1", p.OrgID, u.ID, u)
	})
	return u, err
}

// Users lists the users of the caller's organization.
func (s *Service) Users(ctx context.Context, p freight.Principal) ([]freight.User, error) {
	if !p.Is(freight.RoleAdmin) {
		return nil, freight.Errorf(freight.EFORBIDDEN, "only an organization admin may list users")
	}
	rows, err := s.db.Query(ctx, `SELECT id, org_id, email, name, role, driver_id, created_at FROM users WHERE org_id = ? ORDER BY created_at, id`, p.OrgID)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer rows.Close()
	out := []freight.User{}
	for rows.Next() {
		var u freight.User
		if err := rows.Scan(&u.ID, &u.OrgID, &u.Email, &u.Name, &u.Role, &u.DriverID, store.Time(&u.CreatedAt)); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// User returns the caller's own user record.
func (s *Service) User(ctx context.Context, id string) (freight.User, error) {
	var u freight.User
	err := s.db.QueryRow(ctx, `SELECT id, org_id, email, name, role, driver_id, created_at FROM users WHERE id = ?`, id).Scan(
		&u.ID, &u.OrgID, &u.Email, &u.Name, &u.Role, &u.DriverID, store.Time(&u.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return u, freight.NotFound("user")
	}
	if err != nil {
		return u, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

// APIKeyInput creates an API key.
type APIKeyInput struct {
	Name     string       `json:"name"`
	Role     freight.Role `json:"role"`
	DriverID string       `json:"driver_id"`
}

// NewAPIKey is a created key with its secret, shown once.
type NewAPIKey struct {
	freight.APIKey
	Secret string `json:"secret"`
}

// CreateAPIKey issues a key for the admin's organization.
func (s *Service) CreateAPIKey(ctx context.Context, p freight.Principal, in APIKeyInput) (NewAPIKey, error) {
	if !p.Is(freight.RoleAdmin) {
		return NewAPIKey{}, freight.Errorf(freight.EFORBIDDEN, "only an organization admin may create API keys")
	}
	var fs freight.Fields
	if in.Name = strings.TrimSpace(in.Name); in.Name == "" || len(in.Name) > 200 {
		fs.Add("name", "required, at most 200 bytes")
	}
	if in.Role == freight.RoleAdmin {
		fs.Add("role", "an API key cannot be an admin")
	} else {
		s.checkRoleBinding(ctx, &fs, p, in.Role, in.DriverID)
	}
	if err := fs.Err(); err != nil {
		return NewAPIKey{}, err
	}
	secret, hash, err := auth.NewAPIKey()
	if err != nil {
		return NewAPIKey{}, err
	}
	k := NewAPIKey{Secret: secret}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		k.APIKey = freight.APIKey{ID: newID(), OrgID: p.OrgID, Name: in.Name, Prefix: secret[:len(auth.KeyPrefix)+6],
			Role: in.Role, DriverID: in.DriverID, CreatedBy: p.Subject(), CreatedAt: tx.Now()}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, org_id, name, prefix, hash, role, driver_id, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.OrgID, k.Name, k.Prefix, hash, string(k.Role), k.DriverID, k.CreatedBy, k.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		return tx.EmitNew(ctx, "orgs.apikey_created.v1", p.OrgID, k.ID, k.APIKey)
	})
	return k, err
}

// APIKeys lists the organization's keys, revoked ones included.
func (s *Service) APIKeys(ctx context.Context, p freight.Principal) ([]freight.APIKey, error) {
	if !p.Is(freight.RoleAdmin) {
		return nil, freight.Errorf(freight.EFORBIDDEN, "only an organization admin may list API keys")
	}
	rows, err := s.db.Query(ctx, `SELECT id, org_id, name, prefix, role, driver_id, created_by, created_at, last_used_at, revoked_at
		FROM api_keys WHERE org_id = ? ORDER BY created_at, id`, p.OrgID)
	if err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	defer rows.Close()
	out := []freight.APIKey{}
	for rows.Next() {
		var k freight.APIKey
		if err := rows.Scan(&k.ID, &k.OrgID, &k.Name, &k.Prefix, &k.Role, &k.DriverID, &k.CreatedBy, store.Time(&k.CreatedAt),
			store.NullTime(&k.LastUsedAt), store.NullTime(&k.RevokedAt)); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey revokes a key of the admin's organization. Revoking twice is
// not an error.
func (s *Service) RevokeAPIKey(ctx context.Context, p freight.Principal, id string) error {
	if !p.Is(freight.RoleAdmin) {
		return freight.Errorf(freight.EFORBIDDEN, "only an organization admin may revoke API keys")
	}
	var hash string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT revoked_at, hash FROM api_keys WHERE id = ? AND org_id = ?`+tx.ForUpdate(), id, p.OrgID).Scan(store.NullTime(&revoked), &hash)
		if errors.Is(err, sql.ErrNoRows) {
			return freight.NotFound("API key")
		}
		if err != nil {
			return fmt.Errorf("api key: %w", err)
		}
		if revoked != nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, tx.Now(), id); err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		return tx.EmitNew(ctx, "orgs.apikey_revoked.v1", p.OrgID, id, map[string]string{"id": id})
	})
	if err != nil {
		return err
	}
	// The key is refused from here on, on every replica sharing the cache;
	// a failed removal is retried by the cache when Redis is back.
	if err := s.forgetHash(ctx, hash); err != nil {
		s.log.Warn("drop revoked api key from the session cache", "key", id, "err", err)
	}
	time.AfterFunc(revokeDelay, func() { _ = s.forgetHash(context.Background(), hash) })
	return nil
}

// Package accounts owns organizations (the tenants), their users and API
// keys: sign-up, login and the authentication of every request. The
// api-gateway target serves it.
package accounts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/backhaul/backhaul/internal/auth"
	"github.com/backhaul/backhaul/internal/cache"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

// DriverChecker confirms that a driver belongs to a carrier, so a driver
// login can only be bound to one of its own organization's drivers.
type DriverChecker interface {
	DriverBelongs(ctx context.Context, carrierID, driverID string) (bool, error)
}

// Service manages accounts.
type Service struct {
	db      *store.DB
	tokens  *auth.Tokens
	drivers DriverChecker
	log     *slog.Logger

	// keyUse throttles last_used_at writes to one per key per interval.
	keyUseMu sync.Mutex
	keyUse   map[string]time.Time

	// verified remembers tokens whose signature checked out, until they
	// expire: verifying is pure, so its result can be reused, and it is the
	// largest cost of an authenticated read.
	verified *cache.Local

	// sessions caches API-key lookups by key hash for sessionTTL (the
	// session cache); nil looks every key up in the store.
	sessions   SessionCache
	sessionTTL time.Duration
}

// SessionCache holds API-key lookups: in the process, or in Redis shared by
// every replica so that a revocation is seen by all of them at once.
type SessionCache interface {
	cache.Store
	Delete(ctx context.Context, keys ...string) error
}

// SetSessionCache caches API-key lookups in c for ttl. Revoking a key
// removes its entry at once.
func (s *Service) SetSessionCache(c SessionCache, ttl time.Duration) {
	s.sessions, s.sessionTTL = c, ttl
}

// keyLookup is a cached answer for one API key hash. Unknown and revoked
// keys are cached too: both are final, and a flood of bad keys then costs
// the store nothing.
type keyLookup struct {
	Principal freight.Principal `json:"principal"`
	Known     bool              `json:"known"`
	Revoked   bool              `json:"revoked"`
}

func sessionKey(hash string) string { return "apikey:" + hash }

// lookupKey finds the key with hash, through the session cache.
func (s *Service) lookupKey(ctx context.Context, hash string) (keyLookup, error) {
	load := func(ctx context.Context) (keyLookup, error) {
		var k keyLookup
		var revoked *time.Time
		p := &k.Principal
		err := s.db.QueryRow(ctx, `SELECT k.id, k.org_id, o.kind, k.role, k.driver_id, k.revoked_at
			FROM api_keys k JOIN organizations o ON o.id = k.org_id WHERE k.hash = ?`, hash).Scan(
			&p.KeyID, &p.OrgID, &p.OrgKind, &p.Role, &p.DriverID, store.NullTime(&revoked))
		if errors.Is(err, sql.ErrNoRows) {
			return keyLookup{}, nil
		}
		if err != nil {
			return k, fmt.Errorf("authenticate key: %w", err)
		}
		k.Known, k.Revoked = true, revoked != nil
		return k, nil
	}
	if s.sessions == nil || s.sessionTTL <= 0 {
		return load(ctx)
	}
	return cache.GetOrLoad(ctx, s.sessions, sessionKey(hash), s.sessionTTL, load)
}

// ForgetAPIKey drops the cached lookup of a key, by ID (a replica that
// learns of a revocation from the event stream).
func (s *Service) ForgetAPIKey(ctx context.Context, id string) error {
	if s.sessions == nil {
		return nil
	}
	var hash string
	err := s.db.QueryRow(ctx, `SELECT hash FROM api_keys WHERE id = ?`, id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("forget api key: %w", err)
	}
	return s.forgetHash(ctx, hash)
}

// revokeDelay is when a revoked key's entry is dropped a second time: a
// lookup that read the store just before the revocation committed may
// cache its stale answer just after the first removal.
const revokeDelay = 2 * time.Second

func (s *Service) forgetHash(ctx context.Context, hash string) error {
	if s.sessions == nil {
		return nil
	}
	return s.sessions.Delete(ctx, sessionKey(hash))
}

// New returns the accounts service.
func New(db *store.DB, tokens *auth.Tokens, drivers DriverChecker, log *slog.Logger) *Service {
	return &Service{db: db, tokens: tokens, drivers: drivers, log: log, keyUse: map[string]time.Time{},
		verified: cache.NewLocal(100_000, time.Now)}
}

// Tokens returns the token signer.
func (s *Service) Tokens() *auth.Tokens { return s.tokens }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// SignupInput creates an organization and its first user, its admin.
type SignupInput struct {
	OrgName  string          `json:"org_name"`
	OrgKind  freight.OrgKind `json:"org_kind"`
	USDOT    string          `json:"usdot"`
	MC       string          `json:"mc"`
	Name     string          `json:"name"`
	Email    string          `json:"email"`
	Password string          `json:"password"`
}

// Session is what sign-up and login return.
type Session struct {
	Token     string               `json:"token"`
	ExpiresAt time.Time            `json:"expires_at"`
	User      freight.User         `json:"user"`
	Org       freight.Organization `json:"organization"`
}

func validEmail(fs *freight.Fields, field, email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		fs.Add(field, "must be a valid e-mail address")
	}
	return email
}

func validPassword(fs *freight.Fields, pw string) {
	if len(pw) < auth.MinPasswordLen || len(pw) > 72 {
		fs.Add("password", "must be %d to 72 bytes long", auth.MinPasswordLen)
	}
}

func validDigits(fs *freight.Fields, field, v string, maxLen int) {
	if v == "" {
		return
	}
	if len(v) > maxLen || strings.Trim(v, "0123456789") != "" {
		fs.Add(field, "must be up to %d digits", maxLen)
	}
}

// Signup creates an organization with its admin and signs them in.
func (s *Service) Signup(ctx context.Context, in SignupInput) (Session, error) {
	var fs freight.Fields
	in.OrgName = strings.TrimSpace(in.OrgName)
	if in.OrgName == "" || len(in.OrgName) > 200 {
		fs.Add("org_name", "required, at most 200 bytes")
	}
	kindOK := false
	for _, k := range freight.SignupKinds {
		kindOK = kindOK || k == in.OrgKind
	}
	if !kindOK {
		fs.Add("org_kind", "must be one of shipper, carrier, broker")
	}
	validDigits(&fs, "usdot", in.USDOT, 8)
	validDigits(&fs, "mc", in.MC, 8)
	if in.Name = strings.TrimSpace(in.Name); in.Name == "" || len(in.Name) > 200 {
		fs.Add("name", "required, at most 200 bytes")
	}
	in.Email = validEmail(&fs, "email", in.Email)
	validPassword(&fs, in.Password)
	if err := fs.Err(); err != nil {
		return Session{}, err
	}
	hash, err := auth.HashPassword(in.Password)
	if err != nil {
		return Session{}, err
	}
	var sess Session
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		org := freight.Organization{ID: newID(), Name: in.OrgName, Kind: in.OrgKind, USDOT: in.USDOT, MC: in.MC, CreatedAt: tx.Now()}
		if err := InsertOrg(ctx, tx, org); err != nil {
			return err
		}
		u := freight.User{ID: newID(), OrgID: org.ID, Email: in.Email, Name: in.Name, Role: freight.RoleAdmin, CreatedAt: tx.Now()}
		if err := insertUser(ctx, tx, u, hash); err != nil {
			return err
		}
		sess.User, sess.Org = u, org
		return tx.EmitNew(ctx, "orgs.created.v1", org.ID, org.ID, org)
	})
	if err != nil {
		return Session{}, err
	}
	sess.Token, sess.ExpiresAt, err = s.tokens.Issue(sess.User, sess.Org.Kind)
	return sess, err
}

// InsertOrg stores an organization (sign-up and demo data).
func InsertOrg(ctx context.Context, tx *store.Tx, o freight.Organization) error {
	_, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, kind, usdot, mc, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		o.ID, o.Name, string(o.Kind), o.USDOT, o.MC, o.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert organization: %w", err)
	}
	return nil
}

func insertUser(ctx context.Context, tx *store.Tx, u freight.User, hash string) error {
	_, err := tx.Exec(ctx, `INSERT INTO users (id, org_id, email, name, role, driver_id, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.Email, u.Name, string(u.Role), u.DriverID, hash, u.CreatedAt)
	if store.IsUniqueViolation(err) {
		return &freight.Error{Code: freight.ECONFLICT, Message: "e-mail already registered",
			Fields: []freight.FieldError{{Field: "email", Detail: "already registered"}}}
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// CreateUserWithPassword adds a user to an existing organization (the demo
// data and admins use it).
func CreateUserWithPassword(ctx context.Context, tx *store.Tx, u freight.User, password string) error {
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	return insertUser(ctx, tx, u, hash)
}

// LoginInput signs a user in.
type LoginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Login checks a password and issues a token.
func (s *Service) Login(ctx context.Context, in LoginInput) (Session, error) {
	var fs freight.Fields
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if email == "" {
		fs.Add("email", "required")
	}
	if in.Password == "" {
		fs.Add("password", "required")
	}
	if err := fs.Err(); err != nil {
		return Session{}, err
	}
	var (
		sess Session
		hash string
	)
	err := s.db.QueryRow(ctx, `SELECT u.id, u.org_id, u.email, u.name, u.role, u.driver_id, u.password_hash, u.created_at,
			o.name, o.kind, o.usdot, o.mc, o.created_at
		FROM users u JOIN organizations o ON o.id = u.org_id WHERE u.email = ?`, email).Scan(
		&sess.User.ID, &sess.User.OrgID, &sess.User.Email, &sess.User.Name, &sess.User.Role, &sess.User.DriverID, &hash, store.Time(&sess.User.CreatedAt),
		&sess.Org.Name, &sess.Org.Kind, &sess.Org.USDOT, &sess.Org.MC, store.Time(&sess.Org.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		auth.WasteCheck(in.Password)
		return Session{}, freight.Errorf(freight.EUNAUTHORIZED, "wrong e-mail or password")
	}
	if err != nil {
		return Session{}, fmt.Errorf("login: %w", err)
	}
	if !auth.CheckPassword(hash, in.Password) {
		return Session{}, freight.Errorf(freight.EUNAUTHORIZED, "wrong e-mail or password")
	}
	sess.Org.ID = sess.User.OrgID
	sess.Token, sess.ExpiresAt, err = s.tokens.Issue(sess.User, sess.Org.Kind)
	return sess, err
}

// Authenticate implements httpapi.Authenticator: JWTs are verified by
// signature alone; API keys are looked up by hash.
func (s *Service) Authenticate(ctx context.Context, cred string) (freight.Principal, error) {
	if !auth.LooksLikeAPIKey(cred) {
		return s.verifyToken(ctx, cred)
	}
	if len(cred) > 200 {
		return freight.Principal{}, freight.Errorf(freight.EUNAUTHORIZED, "invalid API key")
	}
	k, err := s.lookupKey(ctx, auth.HashAPIKey(cred))
	if err != nil {
		return freight.Principal{}, err
	}
	if !k.Known || k.Revoked {
		return freight.Principal{}, freight.Errorf(freight.EUNAUTHORIZED, "invalid API key")
	}
	s.touchKey(ctx, k.Principal.KeyID)
	return k.Principal, nil
}

func (s *Service) verifyToken(ctx context.Context, token string) (freight.Principal, error) {
	if b, ok, _ := s.verified.Get(ctx, token); ok {
		var p freight.Principal
		if json.Unmarshal(b, &p) == nil {
			return p, nil
		}
	}
	p, exp, err := s.tokens.VerifyExpiry(token)
	if err != nil {
		return p, err
	}
	if b, err := json.Marshal(p); err == nil {
		_ = s.verified.Set(ctx, token, b, time.Until(exp))
	}
	return p, nil
}

func (s *Service) touchKey(ctx context.Context, id string) {
	now := s.db.Now()
	s.keyUseMu.Lock()
	last := s.keyUse[id]
	if now.Sub(last) < time.Minute {
		s.keyUseMu.Unlock()
		return
	}
	s.keyUse[id] = now
	s.keyUseMu.Unlock()
	if _, err := s.db.Exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, now, id); err != nil {
		s.log.Warn("record api key use", "key", id, "err", err)
	}
}

// Org returns an organization by ID.
func (s *Service) Org(ctx context.Context, id string) (freight.Organization, error) {
	var o freight.Organization
	err := s.db.QueryRow(ctx, `SELECT id, name, kind, usdot, mc, created_at FROM organizations WHERE id = ?`, id).Scan(
		&o.ID, &o.Name, &o.Kind, &o.USDOT, &o.MC, store.Time(&o.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return o, freight.NotFound("organization")
	}
	if err != nil {
		return o, fmt.Errorf("organization: %w", err)
	}
	return o, nil
}

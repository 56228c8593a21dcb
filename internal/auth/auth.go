// Package auth issues and verifies credentials: passwords, signed JWT access
// tokens for people and hashed API keys for integrations and devices. It
// knows nothing of HTTP or storage.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/backhaul/backhaul/internal/freight"
)

// MinPasswordLen is the shortest password accepted at sign-up.
const MinPasswordLen = 10

// HashPassword hashes a password with bcrypt.
func HashPassword(pw string) (string, error) {
	if len(pw) > 72 {
		return "", errors.New("password longer than 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw matches hash.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// dummyHash lets a login for an unknown e-mail spend as long as one for a
// known e-mail, so response times do not reveal which accounts exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("backhaul-no-such-user"), bcrypt.DefaultCost)

// WasteCheck spends the time of a password check.
func WasteCheck(pw string) { _ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw)) }

// Tokens signs and verifies access tokens (HS256).
type Tokens struct {
	secret []byte
	ttl    time.Duration
	issuer string
	now    func() time.Time
}

// NewTokens returns a signer. The secret must be at least 32 bytes.
func NewTokens(secret []byte, ttl time.Duration, now func() time.Time) (*Tokens, error) {
	if len(secret) < 32 {
		return nil, errors.New("token secret must be at least 32 bytes")
	}
	if ttl <= 0 {
		return nil, errors.New("token lifetime must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{secret: secret, ttl: ttl, issuer: "backhaul", now: now}, nil
}

// TTL is how long an issued token is valid.
func (t *Tokens) TTL() time.Duration { return t.ttl }

type claims struct {
	Org      string `json:"org"`
	Kind     string `json:"kind"`
	Role     string `json:"role"`
	DriverID string `json:"drv,omitempty"`
	jwt.RegisteredClaims
}

// Issue signs a token for a user.
func (t *Tokens) Issue(u freight.User, kind freight.OrgKind) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	c := claims{
		Org: u.OrgID, Kind: string(kind), Role: string(u.Role), DriverID: u.DriverID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks a token's signature, issuer and lifetime and returns its
// principal.
func (t *Tokens) Verify(token string) (freight.Principal, error) {
	p, _, err := t.VerifyExpiry(token)
	return p, err
}

// VerifyExpiry is Verify that also returns when the token expires.
func (t *Tokens) VerifyExpiry(token string) (freight.Principal, time.Time, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(t.issuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now), jwt.WithLeeway(30*time.Second))
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return freight.Principal{}, time.Time{}, freight.Errorf(freight.EUNAUTHORIZED, "token expired")
		}
		return freight.Principal{}, time.Time{}, freight.Errorf(freight.EUNAUTHORIZED, "invalid token")
	}
	p := freight.Principal{OrgID: c.Org, OrgKind: freight.OrgKind(c.Kind), UserID: c.Subject, Role: freight.Role(c.Role), DriverID: c.DriverID}
	if p.OrgID == "" || p.UserID == "" || !p.Role.Valid() || !p.OrgKind.Valid() {
		return freight.Principal{}, time.Time{}, freight.Errorf(freight.EUNAUTHORIZED, "invalid token")
	}
	return p, c.ExpiresAt.Time, nil
}

// KeyPrefix starts every API key, so that leaked keys are recognisable by
// secret scanners and never confused with tokens.
const KeyPrefix = "bhk_"

// NewAPIKey returns a fresh secret and the hash to store.
func NewAPIKey() (secret, hash string, err error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("api key: %w", err)
	}
	secret = KeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	return secret, HashAPIKey(secret), nil
}

// HashAPIKey hashes a key for lookup. The secret has 240 bits of entropy, so a
// fast hash is safe and keeps authentication cheap.
func HashAPIKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LooksLikeAPIKey reports whether a bearer credential is an API key.
func LooksLikeAPIKey(s string) bool { return strings.HasPrefix(s, KeyPrefix) }

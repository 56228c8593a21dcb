package freight

import (
	"slices"
	"time"
)

// OrgKind says what an organization does on the marketplace.
type OrgKind string

const (
	OrgShipper  OrgKind = "shipper"  // posts loads
	OrgCarrier  OrgKind = "carrier"  // hauls loads with its drivers and trucks
	OrgBroker   OrgKind = "broker"   // posts loads for shippers and books them with carriers
	OrgPlatform OrgKind = "platform" // runs the marketplace; never created by sign-up
)

// SignupKinds are the kinds an organization may choose when it signs up.
var SignupKinds = []OrgKind{OrgShipper, OrgCarrier, OrgBroker}

// Valid reports whether k is a known kind.
func (k OrgKind) Valid() bool {
	return slices.Contains([]OrgKind{OrgShipper, OrgCarrier, OrgBroker, OrgPlatform}, k)
}

// PostsLoads reports whether the organization's users may post loads.
func (k OrgKind) PostsLoads() bool { return k == OrgShipper || k == OrgBroker }

// HaulsLoads reports whether the organization books loads and runs drivers.
func (k OrgKind) HaulsLoads() bool { return k == OrgCarrier || k == OrgBroker }

// Role is what a user may do inside an organization.
type Role string

const (
	RoleShipper    Role = "shipper"    // posts and follows the organization's loads
	RoleDispatcher Role = "dispatcher" // books loads, manages drivers and trucks, assigns drivers
	RoleDriver     Role = "driver"     // sees and updates only the loads assigned to them
	RoleOperator   Role = "operator"   // watches the whole marketplace (platform organizations)
	RoleAdmin      Role = "admin"      // everything inside the organization, including users and keys
)

// Roles lists every role.
var Roles = []Role{RoleShipper, RoleDispatcher, RoleDriver, RoleOperator, RoleAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// AllowedIn reports whether a user of an organization of kind k may hold r.
func (r Role) AllowedIn(k OrgKind) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleShipper:
		return k.PostsLoads()
	case RoleDispatcher, RoleDriver:
		return k.HaulsLoads()
	case RoleOperator:
		return k == OrgPlatform
	}
	return false
}

// Organization is a tenant. Carriers carry their USDOT and MC numbers.
type Organization struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      OrgKind   `json:"kind"`
	USDOT     string    `json:"usdot,omitempty"`
	MC        string    `json:"mc,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// User belongs to exactly one organization.
type User struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	DriverID  string    `json:"driver_id,omitempty"` // set for users with the driver role
	CreatedAt time.Time `json:"created_at"`
}

// APIKey authenticates an integration or a device. Only its hash is stored;
// the secret is shown once, at creation.
type APIKey struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"org_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"` // the first characters of the secret, to recognise it
	Role       Role       `json:"role"`
	DriverID   string     `json:"driver_id,omitempty"` // a device bound to one driver
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Principal is who is making a request: a user (by token) or an API key.
type Principal struct {
	OrgID    string
	OrgKind  OrgKind
	UserID   string // empty for API keys
	KeyID    string // empty for users
	Role     Role
	DriverID string // the driver a driver-role principal acts as
}

// Is reports whether the principal holds one of roles.
func (p Principal) Is(roles ...Role) bool { return slices.Contains(roles, p.Role) }

// Subject names the principal for audit records and rate limits.
func (p Principal) Subject() string {
	if p.KeyID != "" {
		return "key:" + p.KeyID
	}
	return "user:" + p.UserID
}

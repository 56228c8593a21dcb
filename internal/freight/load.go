package freight

import (
	"strings"
	"time"
)

// LoadStatus is where a load is in its life.
type LoadStatus string

const (
	StatusDraft      LoadStatus = "draft"
	StatusPosted     LoadStatus = "posted"
	StatusBooked     LoadStatus = "booked"
	StatusDispatched LoadStatus = "dispatched"
	StatusAtPickup   LoadStatus = "at_pickup"
	StatusInTransit  LoadStatus = "in_transit"
	StatusAtDelivery LoadStatus = "at_delivery"
	StatusDelivered  LoadStatus = "delivered"
	StatusCancelled  LoadStatus = "cancelled"
)

// transitions is the load status machine: the states each state may move to.
var transitions = map[LoadStatus][]LoadStatus{
	StatusDraft:      {StatusPosted, StatusCancelled},
	StatusPosted:     {StatusBooked, StatusCancelled, StatusDraft},
	StatusBooked:     {StatusDispatched, StatusPosted, StatusCancelled},
	StatusDispatched: {StatusAtPickup, StatusBooked, StatusCancelled},
	StatusAtPickup:   {StatusInTransit},
	StatusInTransit:  {StatusAtDelivery},
	StatusAtDelivery: {StatusDelivered},
}

// LoadStatuses lists every status in life order.
var LoadStatuses = []LoadStatus{StatusDraft, StatusPosted, StatusBooked, StatusDispatched,
	StatusAtPickup, StatusInTransit, StatusAtDelivery, StatusDelivered, StatusCancelled}

// Valid reports whether s is a known status.
func (s LoadStatus) Valid() bool {
	for _, v := range LoadStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// CanMoveTo reports whether the status machine allows s -> to.
func (s LoadStatus) CanMoveTo(to LoadStatus) bool {
	for _, t := range transitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s LoadStatus) Terminal() bool { return len(transitions[s]) == 0 }

// Active reports whether a truck is committed to the load (booked and not
// yet delivered or cancelled).
func (s LoadStatus) Active() bool {
	switch s {
	case StatusBooked, StatusDispatched, StatusAtPickup, StatusInTransit, StatusAtDelivery:
		return true
	}
	return false
}

// Window is a time interval [Start, End].
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Load is a truckload posted by a shipper (or broker).
type Load struct {
	ID          string     `json:"id"`
	OrgID       string     `json:"org_id"` // the posting organization
	Reference   string     `json:"reference,omitempty"`
	Origin      Location   `json:"origin"`
	Destination Location   `json:"destination"`
	Pickup      Window     `json:"pickup"`
	Delivery    Window     `json:"delivery"`
	Equipment   Equipment  `json:"equipment"`
	WeightLbs   int        `json:"weight_lbs"`
	Commodity   string     `json:"commodity,omitempty"`
	Rate        Money      `json:"rate_usd"`
	Notes       string     `json:"notes,omitempty"`
	Miles       float64    `json:"miles"` // estimated road miles origin to destination
	Status      LoadStatus `json:"status"`
	CarrierID   string     `json:"carrier_id,omitempty"` // set once booked
	DriverID    string     `json:"driver_id,omitempty"`  // set once a driver is assigned
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	Version     int        `json:"version"` // increases on every change; optimistic concurrency
}

// RatePerMile is the offered rate per loaded mile, or 0 without miles.
func (l Load) RatePerMile() float64 {
	if l.Miles <= 0 {
		return 0
	}
	return l.Rate.Dollars() / l.Miles
}

// LoadTransition records one status change: who, when, from and to.
type LoadTransition struct {
	LoadID  string     `json:"load_id"`
	From    LoadStatus `json:"from"`
	To      LoadStatus `json:"to"`
	ActorID string     `json:"actor_id"` // user or API key subject
	At      time.Time  `json:"at"`
	Note    string     `json:"note,omitempty"`
}

// Text field limits keep rows small and pages readable.
const (
	maxShortText = 200
	maxLongText  = 4000
)

// LoadInput is what a client sends to create or replace a draft load.
type LoadInput struct {
	Reference   string    `json:"reference"`
	Origin      Location  `json:"origin"`
	Destination Location  `json:"destination"`
	Pickup      Window    `json:"pickup"`
	Delivery    Window    `json:"delivery"`
	Equipment   Equipment `json:"equipment"`
	WeightLbs   int       `json:"weight_lbs"`
	Commodity   string    `json:"commodity"`
	Rate        *Money    `json:"rate_usd"`
	Notes       string    `json:"notes"`
	Post        bool      `json:"post"` // post at once instead of saving a draft
}

// Validate checks everything that does not need geocoding. Locations must
// carry coordinates or something to geocode (city and state, or ZIP); the
// caller geocodes before calling ValidateGeocoded.
func (in *LoadInput) Validate(now time.Time) error {
	var fs Fields
	checkText(&fs, "reference", in.Reference, maxShortText)
	checkText(&fs, "commodity", in.Commodity, maxShortText)
	checkText(&fs, "notes", in.Notes, maxLongText)
	checkLocation(&fs, "origin", in.Origin)
	checkLocation(&fs, "destination", in.Destination)
	checkWindow(&fs, "pickup", in.Pickup)
	checkWindow(&fs, "delivery", in.Delivery)
	switch {
	case in.Pickup.Start.IsZero() || in.Delivery.Start.IsZero() || in.Delivery.End.IsZero():
	case !in.Delivery.End.After(in.Pickup.Start):
		fs.Add("delivery.end", "delivery window ends before the pickup window starts")
	case in.Delivery.Start.Before(in.Pickup.Start):
		fs.Add("delivery.start", "delivery window starts before the pickup window")
	}
	if !in.Pickup.End.IsZero() && !in.Pickup.End.After(now.Add(-24*time.Hour)) {
		fs.Add("pickup.end", "pickup window is in the past")
	}
	if !in.Equipment.Valid() {
		fs.Add("equipment", "must be one of van, reefer, flatbed")
	}
	switch {
	case in.WeightLbs <= 0:
		fs.Add("weight_lbs", "must be a positive number of pounds")
	case in.WeightLbs > MaxLoadLbs:
		fs.Add("weight_lbs", "must be at most %d pounds", MaxLoadLbs)
	}
	if in.Rate != nil && *in.Rate < 0 {
		fs.Add("rate_usd", "must not be negative")
	}
	return fs.Err()
}

func checkText(fs *Fields, field, v string, max int) {
	if len(v) > max {
		fs.Add(field, "must be at most %d bytes", max)
	}
	if strings.ContainsRune(v, 0) {
		fs.Add(field, "must not contain NUL characters")
	}
}

func checkLocation(fs *Fields, field string, l Location) {
	checkText(fs, field+".address", l.Address, maxShortText)
	checkText(fs, field+".city", l.City, 100)
	if l.State != "" && len(l.State) != 2 {
		fs.Add(field+".state", "must be a two-letter state code")
	}
	if l.ZIP != "" && !validZIP(l.ZIP) {
		fs.Add(field+".zip", "must be a 5-digit ZIP code")
	}
	if l.HasPoint() {
		l.ValidatePoint(field, fs)
	} else if l.ZIP == "" && (l.City == "" || l.State == "") {
		fs.Add(field, "give lat/lon, a ZIP code, or a city and state")
	}
}

func validZIP(z string) bool {
	if len(z) == 10 && z[5] == '-' {
		z = z[:5] + z[6:]
	} else if len(z) != 5 {
		return false
	}
	for _, c := range z {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func checkWindow(fs *Fields, field string, w Window) {
	switch {
	case w.Start.IsZero():
		fs.Add(field+".start", "required")
	case w.End.IsZero():
		fs.Add(field+".end", "required")
	case w.End.Before(w.Start):
		fs.Add(field+".end", "window ends before it starts")
	case w.End.Sub(w.Start) > 14*24*time.Hour:
		fs.Add(field+".end", "window longer than 14 days")
	}
}

package notify

import (
	"slices"
	"time"
)

// Kind names what a notification is about. Kinds are what users choose in
// their preferences and what webhook endpoints subscribe to.
type Kind string

// The kinds of notification.
const (
	KindLoadPosted       Kind = "load.posted"
	KindLoadBooked       Kind = "load.booked"
	KindLoadDispatched   Kind = "load.dispatched"
	KindLoadAtPickup     Kind = "load.at_pickup"
	KindLoadInTransit    Kind = "load.in_transit"
	KindLoadAtDelivery   Kind = "load.at_delivery"
	KindLoadDelivered    Kind = "load.delivered"
	KindLoadCancelled    Kind = "load.cancelled"
	KindLateRisk         Kind = "load.late_risk"
	KindDetention        Kind = "load.detention"
	KindRecommended      Kind = "match.recommended"
	KindBookingConfirmed Kind = "booking.confirmed"
	KindBookingAssigned  Kind = "booking.assigned"
	KindBookingCancelled Kind = "booking.cancelled"
	KindDocumentUploaded Kind = "document.uploaded"
	KindJobFinished      Kind = "optimize.job_finished"
)

// Kinds lists every kind, in the order the API documents them.
var Kinds = []Kind{
	KindLoadPosted, KindLoadBooked, KindLoadDispatched, KindLoadAtPickup, KindLoadInTransit, KindLoadAtDelivery,
	KindLoadDelivered, KindLoadCancelled, KindLateRisk, KindDetention, KindRecommended, KindBookingConfirmed,
	KindBookingAssigned, KindBookingCancelled, KindDocumentUploaded, KindJobFinished,
}

// urgentKinds cut through quiet hours and digests: something is going wrong
// with freight that is moving.
var urgentKinds = []Kind{KindLoadCancelled, KindLateRisk, KindDetention, KindBookingCancelled}

// Urgent reports whether notifications of k are sent during quiet hours.
func (k Kind) Urgent() bool { return slices.Contains(urgentKinds, k) }

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Channel is a way of reaching people.
type Channel string

// The channels. Webhooks belong to organizations, the others to users.
const (
	ChannelInApp   Channel = "in_app"
	ChannelEmail   Channel = "email"
	ChannelSMS     Channel = "sms"
	ChannelWebhook Channel = "webhook"
)

// UserChannels are the channels a user chooses between.
var UserChannels = []Channel{ChannelInApp, ChannelEmail, ChannelSMS}

// Notification is what one audience is told about one event.
type Notification struct {
	Kind       Kind           `json:"kind"`
	Urgent     bool           `json:"urgent"`
	Title      string         `json:"title"`
	Body       string         `json:"body"`
	SubjectID  string         `json:"subject_id,omitempty"`
	Data       map[string]any `json:"data"`
	EventID    string         `json:"event_id"`
	EventType  string         `json:"event_type"`
	OccurredAt time.Time      `json:"occurred_at"`
	// TemplateError records why the templated text could not be rendered
	// and a plain one was sent instead.
	TemplateError string `json:"template_error,omitempty"`
}

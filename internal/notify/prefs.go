package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on hosts and images without a zoneinfo database

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

// Preferences say what a user, or an organization for its users, wants to
// receive. Every field is optional: a user's unset field takes the
// organization's, and an unset organization field the default.
type Preferences struct {
	// Events maps a kind to the channels it is sent on; an empty list
	// mutes the kind. Kinds left out keep the inherited choice.
	Events map[Kind][]Channel `json:"events,omitempty"`
	// TimeZone is an IANA name ("America/Chicago"); quiet hours are read
	// in it. Default UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// QuietHours hold email and SMS that are not urgent until they end.
	QuietHours *QuietHours `json:"quiet_hours,omitempty"`
	// DigestMinutes, when positive, collects email and SMS that are not
	// urgent into one message every so many minutes.
	DigestMinutes *int `json:"digest_minutes,omitempty"`
	// Phone is where SMS go, in E.164 form ("+15125550100"). Users only.
	Phone string `json:"phone,omitempty"`
}

// QuietHours is a daily period, in the preferences' time zone, that may
// wrap midnight ("22:00" to "07:00").
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// defaultChannels is what a kind is sent on when nobody chose: the inbox
// always, email too when it is urgent.
func defaultChannels(k Kind) []Channel {
	if k.Urgent() {
		return []Channel{ChannelInApp, ChannelEmail}
	}
	return []Channel{ChannelInApp}
}

var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// maxDigestMinutes bounds the digest period to a day.
const maxDigestMinutes = 24 * 60

// Validate checks preferences, naming every offending field.
func (p Preferences) Validate(forUser bool) error {
	var fs freight.Fields
	for k, chs := range p.Events {
		if !k.Valid() {
			fs.Add("events."+string(k), "unknown kind; valid: %s", kindList())
			continue
		}
		seen := map[Channel]bool{}
		for i, c := range chs {
			if !slices.Contains(UserChannels, c) {
				fs.Add(fmt.Sprintf("events.%s[%d]", k, i), "unknown channel %q; valid: in_app, email, sms", c)
			} else if seen[c] {
				fs.Add(fmt.Sprintf("events.%s[%d]", k, i), "channel %q listed twice", c)
			}
			seen[c] = true
		}
	}
	if p.TimeZone != "" {
		if _, err := loadZone(p.TimeZone); err != nil {
			fs.Add("time_zone", "unknown time zone %q; use an IANA name such as America/Chicago", p.TimeZone)
		}
	}
	if q := p.QuietHours; q != nil {
		s, err1 := ParseClock(q.Start)
		if err1 != nil {
			fs.Add("quiet_hours.start", "%v", err1)
		}
		e, err2 := ParseClock(q.End)
		if err2 != nil {
			fs.Add("quiet_hours.end", "%v", err2)
		}
		if err1 == nil && err2 == nil && s == e {
			fs.Add("quiet_hours.end", "must differ from start")
		}
	}
	if d := p.DigestMinutes; d != nil && (*d < 0 || (*d > 0 && *d < 5) || *d > maxDigestMinutes) {
		fs.Add("digest_minutes", "must be 0 (one message per notification) or between 5 and %d", maxDigestMinutes)
	}
	if p.Phone != "" {
		if !forUser {
			fs.Add("phone", "an organization has no phone; each user sets their own")
		} else if !phonePattern.MatchString(p.Phone) {
			fs.Add("phone", "must be in E.164 form, such as +15125550100")
		}
	}
	return fs.Err()
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func loadZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "local") {
		return nil, errors.New("time zone must be an IANA name")
	}
	return time.LoadLocation(name)
}

// ParseClock parses a time of day "HH:MM" (24-hour) into the offset from
// midnight.
func ParseClock(s string) (time.Duration, error) {
	bad := fmt.Errorf("want a time of day HH:MM (00:00 to 23:59), got %q", s)
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, bad
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || h[0] == '+' || m[0] == '+' || h[0] == '-' || m[0] == '-' {
		return 0, bad
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

// merge returns p with the fields over sets replaced.
func (p Preferences) merge(over Preferences) Preferences {
	out := p
	if len(over.Events) > 0 {
		out.Events = map[Kind][]Channel{}
		for k, v := range p.Events {
			out.Events[k] = v
		}
		for k, v := range over.Events {
			out.Events[k] = v
		}
	}
	if over.TimeZone != "" {
		out.TimeZone = over.TimeZone
	}
	if over.QuietHours != nil {
		out.QuietHours = over.QuietHours
	}
	if over.DigestMinutes != nil {
		out.DigestMinutes = over.DigestMinutes
	}
	if over.Phone != "" {
		out.Phone = over.Phone
	}
	return out
}

// channels returns the channels kind k goes on under p.
func (p Preferences) channels(k Kind) []Channel {
	if chs, ok := p.Events[k]; ok {
		return chs
	}
	return defaultChannels(k)
}

// location returns the preferences' time zone, UTC when unset or unknown.
func (p Preferences) location() *time.Location {
	if loc, err := loadZone(p.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// holdUntil returns when a message that is not urgent, due at now, may be
// sent: now outside quiet hours, their end inside them.
func (p Preferences) holdUntil(now time.Time) time.Time {
	q := p.QuietHours
	if q == nil {
		return now
	}
	start, err1 := ParseClock(q.Start)
	end, err2 := ParseClock(q.End)
	if err1 != nil || err2 != nil || start == end {
		return now
	}
	local := now.In(p.location())
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, local.Location())
	// Times of day are wall-clock times: Date normalises them across
	// daylight-saving changes.
	at := func(day int, d time.Duration) time.Time {
		return time.Date(midnight.Year(), midnight.Month(), midnight.Day()+day, 0, int(d/time.Minute), 0, 0, midnight.Location())
	}
	tod := local.Sub(midnight)
	if start < end { // same day, e.g. 12:00-14:00
		if tod >= start && tod < end {
			return at(0, end)
		}
		return now
	}
	// Wraps midnight, e.g. 22:00-07:00.
	switch {
	case tod >= start:
		return at(1, end)
	case tod < end:
		return at(0, end)
	}
	return now
}

// digestAt returns when a digest collecting a message due at now goes
// out: the next multiple of the period, so every message of the period
// shares it.
func (p Preferences) digestAt(now time.Time) (time.Time, bool) {
	if p.DigestMinutes == nil || *p.DigestMinutes <= 0 {
		return now, false
	}
	period := time.Duration(*p.DigestMinutes) * time.Minute
	return now.Truncate(period).Add(period), true
}

// Preferences returns the caller's own preferences as stored (unset fields
// inherit) and the effective ones.
func (s *Service) Preferences(ctx context.Context, p freight.Principal) (PreferencesView, error) {
	if p.UserID == "" {
		return PreferencesView{}, freight.Errorf(freight.EFORBIDDEN, "notification preferences belong to users; API keys have none")
	}
	org, err := s.loadPrefs(ctx, p.OrgID, "")
	if err != nil {
		return PreferencesView{}, err
	}
	own, err := s.loadPrefs(ctx, p.OrgID, p.UserID)
	if err != nil {
		return PreferencesView{}, err
	}
	return newView(own, Preferences{}.merge(org).merge(own)), nil
}

// PreferencesView is what the preferences endpoints answer: the stored
// preferences and the result of inheritance, with every kind spelled out.
type PreferencesView struct {
	Preferences Preferences `json:"preferences"`
	Effective   Preferences `json:"effective"`
}

func newView(own, eff Preferences) PreferencesView {
	full := eff
	full.Events = map[Kind][]Channel{}
	for _, k := range Kinds {
		full.Events[k] = eff.channels(k)
	}
	if full.TimeZone == "" {
		full.TimeZone = "UTC"
	}
	if own.Events == nil {
		own.Events = map[Kind][]Channel{}
	}
	return PreferencesView{Preferences: own, Effective: full}
}

// SetPreferences replaces the caller's own preferences.
func (s *Service) SetPreferences(ctx context.Context, p freight.Principal, prefs Preferences) (PreferencesView, error) {
	if p.UserID == "" {
		return PreferencesView{}, freight.Errorf(freight.EFORBIDDEN, "notification preferences belong to users; API keys have none")
	}
	if err := prefs.Validate(true); err != nil {
		return PreferencesView{}, err
	}
	if err := s.storePrefs(ctx, p, p.UserID, prefs); err != nil {
		return PreferencesView{}, err
	}
	return s.Preferences(ctx, p)
}

// OrgPreferences returns the organization's defaults.
func (s *Service) OrgPreferences(ctx context.Context, p freight.Principal) (PreferencesView, error) {
	org, err := s.loadPrefs(ctx, p.OrgID, "")
	if err != nil {
		return PreferencesView{}, err
	}
	return newView(org, Preferences{}.merge(org)), nil
}

// SetOrgPreferences replaces the organization's defaults; admins only.
func (s *Service) SetOrgPreferences(ctx context.Context, p freight.Principal, prefs Preferences) (PreferencesView, error) {
	if !p.Is(freight.RoleAdmin) {
		return PreferencesView{}, freight.Errorf(freight.EFORBIDDEN, "only admins set the organization's notification defaults")
	}
	if err := prefs.Validate(false); err != nil {
		return PreferencesView{}, err
	}
	if err := s.storePrefs(ctx, p, "", prefs); err != nil {
		return PreferencesView{}, err
	}
	return s.OrgPreferences(ctx, p)
}

func (s *Service) storePrefs(ctx context.Context, p freight.Principal, userID string, prefs Preferences) error {
	raw, err := json.Marshal(prefs)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO notify_prefs (org_id, user_id, prefs, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (org_id, user_id) DO UPDATE SET prefs = excluded.prefs, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		p.OrgID, userID, string(raw), p.Subject(), s.db.Now())
	if err != nil {
		return fmt.Errorf("store notification preferences: %w", err)
	}
	return nil
}

type querier interface {
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
}

func (s *Service) loadPrefs(ctx context.Context, orgID, userID string) (Preferences, error) {
	return loadPrefs(ctx, s.db, orgID, userID)
}

func loadPrefs(ctx context.Context, q querier, orgID, userID string) (Preferences, error) {
	var raw string
	err := q.QueryRow(ctx, `SELECT prefs FROM notify_prefs WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return Preferences{}, nil
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("notification preferences: %w", err)
	}
	var p Preferences
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return Preferences{}, fmt.Errorf("notification preferences of %s/%s: %w", orgID, userID, err)
	}
	return p, nil
}

var _ querier = (*store.DB)(nil)
var _ querier = (*store.Tx)(nil)

package notify

import (
	"errors"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

func fields(err error) []string {
	var fe *freight.Error
	if !errors.As(err, &fe) {
		return nil
	}
	out := make([]string, len(fe.Fields))
	for i, f := range fe.Fields {
		out[i] = f.Field
	}
	return out
}

func TestPreferencesValidate(t *testing.T) {
	zero, four, day := 0, 4, 24*60
	tests := []struct {
		name    string
		p       Preferences
		forUser bool
		want    []string // offending fields, in order
	}{
		{"empty", Preferences{}, true, nil},
		{"full", Preferences{Events: map[Kind][]Channel{KindLateRisk: {ChannelSMS, ChannelEmail}, KindLoadPosted: {}}, TimeZone: "America/Chicago",
			QuietHours: &QuietHours{"22:00", "07:00"}, DigestMinutes: &day, Phone: "+15125550100"}, true, nil},
		{"digest off", Preferences{DigestMinutes: &zero}, true, nil},
		{"unknown kind", Preferences{Events: map[Kind][]Channel{"load.exploded": {ChannelEmail}}}, true, []string{"events.load.exploded"}},
		{"unknown channel", Preferences{Events: map[Kind][]Channel{KindLoadBooked: {"pigeon"}}}, true, []string{"events.load.booked[0]"}},
		{"webhook is not a user channel", Preferences{Events: map[Kind][]Channel{KindLoadBooked: {ChannelWebhook}}}, true, []string{"events.load.booked[0]"}},
		{"channel twice", Preferences{Events: map[Kind][]Channel{KindLoadBooked: {ChannelEmail, ChannelEmail}}}, true, []string{"events.load.booked[1]"}},
		{"time zone", Preferences{TimeZone: "Mars/Olympus"}, true, []string{"time_zone"}},
		{"local is not a zone", Preferences{TimeZone: "Local"}, true, []string{"time_zone"}},
		{"quiet hours", Preferences{QuietHours: &QuietHours{"25:00", "7"}}, true, []string{"quiet_hours.start", "quiet_hours.end"}},
		{"quiet hours empty", Preferences{QuietHours: &QuietHours{"08:00", "08:00"}}, true, []string{"quiet_hours.end"}},
		{"digest too short", Preferences{DigestMinutes: &four}, true, []string{"digest_minutes"}},
		{"phone", Preferences{Phone: "512-555-0100"}, true, []string{"phone"}},
		{"organizations have no phone", Preferences{Phone: "+15125550100"}, false, []string{"phone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fields(tt.p.Validate(tt.forUser))
			if len(got) != len(tt.want) {
				t.Fatalf("fields = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("fields = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestHoldUntil(t *testing.T) {
	chicago, _ := time.LoadLocation("America/Chicago")
	ny, _ := time.LoadLocation("America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	tests := []struct {
		name  string
		zone  string
		quiet *QuietHours
		now   time.Time
		want  time.Time
	}{
		{"no quiet hours", "", nil, at(time.UTC, 2026, 3, 2, 23, 0), at(time.UTC, 2026, 3, 2, 23, 0)},
		{"outside", "America/Chicago", &QuietHours{"22:00", "07:00"}, at(chicago, 2026, 3, 2, 12, 0), at(chicago, 2026, 3, 2, 12, 0)},
		{"late evening", "America/Chicago", &QuietHours{"22:00", "07:00"}, at(chicago, 2026, 3, 2, 23, 30), at(chicago, 2026, 3, 3, 7, 0)},
		{"early morning", "America/Chicago", &QuietHours{"22:00", "07:00"}, at(chicago, 2026, 3, 3, 6, 59), at(chicago, 2026, 3, 3, 7, 0)},
		{"at the end", "America/Chicago", &QuietHours{"22:00", "07:00"}, at(chicago, 2026, 3, 3, 7, 0), at(chicago, 2026, 3, 3, 7, 0)},
		{"same-day period", "UTC", &QuietHours{"12:00", "14:00"}, at(time.UTC, 2026, 3, 2, 13, 0), at(time.UTC, 2026, 3, 2, 14, 0)},
		{"read in the user's zone", "America/Chicago", &QuietHours{"22:00", "07:00"}, at(time.UTC, 2026, 3, 3, 4, 0), at(chicago, 2026, 3, 3, 7, 0)},
		// Clocks spring forward at 02:00 on 8 March 2026 in New York: the
		// night is an hour shorter, and 07:00 is still 07:00.
		{"across daylight saving", "America/New_York", &QuietHours{"22:00", "07:00"}, at(ny, 2026, 3, 7, 23, 0), at(ny, 2026, 3, 8, 7, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Preferences{TimeZone: tt.zone, QuietHours: tt.quiet}
			if got := p.holdUntil(tt.now); !got.Equal(tt.want) {
				t.Errorf("holdUntil(%s) = %s, want %s", tt.now, got, tt.want)
			}
		})
	}
}

func TestDigestAt(t *testing.T) {
	fifteen := 15
	p := Preferences{DigestMinutes: &fifteen}
	now := time.Date(2026, 3, 2, 10, 7, 30, 0, time.UTC)
	got, ok := p.digestAt(now)
	if !ok || !got.Equal(time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)) {
		t.Errorf("digestAt = %s, %v", got, ok)
	}
	if _, ok := new(Preferences).digestAt(now); ok {
		t.Error("no digest configured, but digestAt says there is one")
	}
}

func TestMergeInherits(t *testing.T) {
	org := Preferences{Events: map[Kind][]Channel{KindLoadBooked: {ChannelEmail}, KindLoadPosted: {}}, TimeZone: "America/Denver"}
	user := Preferences{Events: map[Kind][]Channel{KindLoadBooked: {ChannelSMS}}}
	got := Preferences{}.merge(org).merge(user)
	if ch := got.channels(KindLoadBooked); len(ch) != 1 || ch[0] != ChannelSMS {
		t.Errorf("booked = %v: the user's choice wins", ch)
	}
	if ch := got.channels(KindLoadPosted); len(ch) != 0 {
		t.Errorf("posted = %v: the organization muted it", ch)
	}
	if ch := got.channels(KindLateRisk); len(ch) != 2 {
		t.Errorf("late risk = %v: urgent kinds default to in-app and email", ch)
	}
	if got.TimeZone != "America/Denver" {
		t.Errorf("time zone = %q, inherited from the organization", got.TimeZone)
	}
}

func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"00:00", "23:59", "24:00", "7:00", "+1:00", "-1:-1", "12:3a", "", "1234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseClock(s)
		if err != nil {
			return
		}
		if d < 0 || d >= 24*time.Hour || d%time.Minute != 0 {
			t.Fatalf("ParseClock(%q) = %s", s, d)
		}
		if got := (time.Time{}).Add(d).Format("15:04"); got != s {
			t.Fatalf("ParseClock(%q) = %s, which prints as %s", s, d, got)
		}
	})
}

// Preferences arrive as JSON from users: whatever decodes and validates
// must schedule sanely, never before now and within a day and a digest.
func FuzzPreferences(f *testing.F) {
	for _, s := range []string{`{}`, `{"time_zone":"America/Chicago","quiet_hours":{"start":"22:00","end":"07:00"},"digest_minutes":60}`,
		`{"events":{"load.booked":["email","sms"]},"phone":"+15125550100"}`, `{"quiet_hours":{"start":"00:00","end":"23:59"}}`, `{"events":{"x":[1]}}`} {
		f.Add([]byte(s), int64(1_772_000_000))
	}
	f.Fuzz(func(t *testing.T, body []byte, unix int64) {
		var p Preferences
		if httpapi.DecodeBytes(body, &p) != nil || p.Validate(true) != nil {
			return
		}
		now := time.Unix(unix%4_000_000_000, 0).UTC()
		held := p.holdUntil(now)
		if held.Before(now) || held.Sub(now) > 25*time.Hour {
			t.Fatalf("holdUntil(%s) = %s for %s", now, held, body)
		}
		if at, ok := p.digestAt(now); ok && (!at.After(now) || at.Sub(now) > maxDigestMinutes*time.Minute) {
			t.Fatalf("digestAt(%s) = %s for %s", now, at, body)
		}
		_ = p.channels(KindLoadBooked)
	})
}

package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

func TestDecodeFormats(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		points     []int // indexes of decoded points
		rejected   []int // indexes of malformed points
		code       string
		wantDriver string
	}{
		{name: "array", body: `[{"driver_id":"d1","time":"2030-01-01T00:00:00Z","lat":32.7,"lon":-96.8},{"driver_id":"d1","time":"2030-01-01T00:00:10Z","lat":32.7,"lon":-96.8,"speed_mph":55,"heading_deg":90,"accuracy_m":5}]`,
			points: []int{0, 1}, wantDriver: "d1"},
		{name: "ndjson", body: "{\"driver_id\":\"d2\",\"time\":\"2030-01-01T00:00:00Z\",\"lat\":1,\"lon\":2}\n\n{\"time\":\"2030-01-01T00:00:01Z\",\"lat\":1,\"lon\":2}\r\n",
			points: []int{0, 1}, wantDriver: "d2"},
		{name: "array with a wrong type and an unknown field", body: `[{"lat":"north"},{"lat":1,"lon":2,"time":"2030-01-01T00:00:00Z"},{"altitude":3},7]`,
			points: []int{1}, rejected: []int{0, 2, 3}},
		{name: "ndjson keeps lines after a broken one", body: "{\"lat\":1,\"lon\":2,\"time\":\"2030-01-01T00:00:00Z\"}\n{\"lat\":\n{\"lat\":1,\"lon\":2,\"time\":\"2030-01-01T00:00:01Z\"} trailing\n{\"lat\":3,\"lon\":4,\"time\":\"2030-01-01T00:00:02Z\"}",
			points: []int{0, 3}, rejected: []int{1, 2}},
		{name: "bad time", body: `[{"lat":1,"lon":2,"time":"yesterday"}]`, rejected: []int{0}},
		{name: "empty array", body: ` [] `},
		{name: "empty body", body: "  \n", code: freight.EINVALID},
		{name: "not json", body: "lat=1", code: freight.EINVALID},
		{name: "broken array", body: `[{"lat":1},`, code: freight.EINVALID},
		{name: "array syntax error", body: `[{"lat":1} {"lat":2}]`, code: freight.EINVALID},
		{name: "trailing data", body: `[] []`, code: freight.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			points, idx, rej, err := Decode([]byte(tt.body), 100)
			if got := freight.ErrorCode(err); err != nil && got != tt.code || err == nil && tt.code != "" {
				t.Fatalf("got error %v, want code %q", err, tt.code)
			}
			if err != nil {
				return
			}
			if fmt.Sprint(idx) != fmt.Sprint(ints(tt.points)) || len(points) != len(idx) {
				t.Errorf("got points at %v, want %v", idx, tt.points)
			}
			var ri []int
			for _, r := range rej {
				if r.Reason != Malformed || r.Detail == "" {
					t.Errorf("got rejection %+v, want malformed with a detail", r)
				}
				ri = append(ri, r.Index)
			}
			if fmt.Sprint(ri) != fmt.Sprint(ints(tt.rejected)) {
				t.Errorf("got rejections at %v, want %v", ri, tt.rejected)
			}
			if tt.wantDriver != "" && points[0].DriverID != tt.wantDriver {
				t.Errorf("got driver %q, want %q", points[0].DriverID, tt.wantDriver)
			}
		})
	}
}

func ints(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

func TestDecodeBoundsTheBatch(t *testing.T) {
	one := `{"lat":1,"lon":2,"time":"2030-01-01T00:00:00Z"}`
	for _, body := range []string{"[" + strings.Repeat(one+",", 10) + one + "]", strings.Repeat(one+"\n", 11)} {
		if _, _, _, err := Decode([]byte(body), 10); freight.ErrorCode(err) != freight.ETOOLARGE {
			t.Errorf("11 points with a limit of 10: got %v, want too_large", err)
		}
	}
	if p, _, _, err := Decode([]byte(strings.Repeat(one+"\n", 10)), 10); err != nil || len(p) != 10 {
		t.Errorf("10 points with a limit of 10: got %d, %v", len(p), err)
	}
}

func f64(v float64) *float64 { return &v }

func TestLimitsCheck(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	ok := Point{Time: now.Add(-time.Minute), Lat: 32.7, Lon: -96.8}
	with := func(f func(p *Point)) Point { p := ok; f(&p); return p }
	tests := []struct {
		name string
		p    Point
		want Reason
	}{
		{"valid", ok, ""},
		{"latitude over 90", with(func(p *Point) { p.Lat = 91 }), InvalidCoordinates},
		{"longitude under -180", with(func(p *Point) { p.Lon = -180.5 }), InvalidCoordinates},
		{"null island", with(func(p *Point) { p.Lat, p.Lon = 0, 0 }), InvalidCoordinates},
		{"NaN", with(func(p *Point) { p.Lat = math.NaN() }), InvalidCoordinates},
		{"no time", with(func(p *Point) { p.Time = time.Time{} }), Malformed},
		{"future", with(func(p *Point) { p.Time = now.Add(6 * time.Minute) }), Future},
		{"small skew", with(func(p *Point) { p.Time = now.Add(4 * time.Minute) }), ""},
		{"too old", with(func(p *Point) { p.Time = now.Add(-8 * 24 * time.Hour) }), TooOld},
		{"poor accuracy", with(func(p *Point) { p.AccuracyM = f64(500) }), PoorAccuracy},
		{"good accuracy", with(func(p *Point) { p.AccuracyM = f64(8) }), ""},
		{"negative accuracy", with(func(p *Point) { p.AccuracyM = f64(-1) }), InvalidReading},
		{"negative speed", with(func(p *Point) { p.SpeedMph = f64(-3) }), InvalidReading},
		{"heading 360", with(func(p *Point) { p.HeadingDeg = f64(360) }), InvalidReading},
	}
	for _, tt := range tests {
		got, detail := DefaultLimits.Check(tt.p, now)
		if got != tt.want {
			t.Errorf("%s: got %q (%s), want %q", tt.name, got, detail, tt.want)
		}
		if got != "" && detail == "" {
			t.Errorf("%s: rejection without a detail", tt.name)
		}
	}
}

func TestTrackHistoryChecks(t *testing.T) {
	t0 := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(sec int, lat, lon float64) Point {
		return Point{Time: t0.Add(time.Duration(sec) * time.Second), Lat: lat, Lon: lon}
	}
	// 0.01 degrees of latitude is 0.69 miles: 60 s apart that is 41 mph.
	steps := []struct {
		p    Point
		want Reason
	}{
		{at(0, 32.00, -96), ""},
		{at(60, 32.01, -96), ""},
		{at(60, 32.01, -96), Duplicate},   // resent
		{at(0, 32.00, -96), Duplicate},    // resent, older
		{at(60, 32.02, -96), Duplicate},   // another fix for the same instant
		{at(30, 32.005, -96), OutOfOrder}, // late
		{at(120, 33.00, -96), ImpossibleJump},
		{at(180, 32.02, -96), ""}, // the jump was a glitch
		{at(240, 35.00, -96), ImpossibleJump},
		{at(300, 35.01, -96), ImpossibleJump},
		{at(360, 35.02, -96), ""}, // three jumps that agree: the truck is there
		{at(420, 35.03, -96), ""},
	}
	tr := NewTrack(Fix{})
	for i, s := range steps {
		got, detail := tr.Accept(s.p, DefaultLimits.MaxSpeedMph)
		if got != s.want {
			t.Errorf("step %d (%v): got %q (%s), want %q", i, s.p.Time.Sub(t0), got, detail, s.want)
		}
	}
	if got := tr.Last(); !got.Time.Equal(t0.Add(420 * time.Second)) {
		t.Errorf("got last fix at %v, want 420s", got.Time.Sub(t0))
	}
	resumed := NewTrack(Fix{Time: t0, Lat: 32, Lon: -96})
	if got, _ := resumed.Accept(at(0, 32, -96), 110); got != Duplicate {
		t.Errorf("a track resumed from the stored fix: got %q for that fix, want duplicate", got)
	}
}

// FuzzDecode feeds arbitrary bodies to the batch decoder: it may refuse a
// batch, never panic, and every index it reports is in range and reported
// once.
func FuzzDecode(f *testing.F) {
	f.Add(`[{"driver_id":"d1","time":"2030-01-01T00:00:00Z","lat":32.7,"lon":-96.8,"speed_mph":55}]`)
	f.Add("{\"lat\":1,\"lon\":2}\n{\"lat\":\n[1]\n")
	f.Add(`[{"lat":"x"},null,1,"s",{"time":"2030-13-01T00:00:00Z"}]`)
	f.Add(`[[[[`)
	f.Add("\n\n")
	f.Fuzz(func(t *testing.T, body string) {
		points, idx, rej, err := Decode([]byte(body), 50)
		if err != nil {
			if c := freight.ErrorCode(err); c != freight.EINVALID && c != freight.ETOOLARGE {
				t.Fatalf("error with code %s: %v", c, err)
			}
			return
		}
		if len(points) != len(idx) {
			t.Fatalf("%d points with %d indexes", len(points), len(idx))
		}
		seen := map[int]bool{}
		for _, i := range idx {
			seen[i] = true
		}
		for _, r := range rej {
			if seen[r.Index] || r.Reason != Malformed {
				t.Fatalf("rejection %+v repeats an index or has the wrong reason", r)
			}
			seen[r.Index] = true
		}
		for i := range len(seen) {
			if !seen[i] {
				t.Fatalf("indexes %v skip %d", seen, i)
			}
		}
		if len(seen) > 50 {
			t.Fatalf("%d points accepted past the limit", len(seen))
		}
		// Whatever decoded must survive the filter without a panic.
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		tr := NewTrack(Fix{})
		for _, p := range points {
			if r, _ := DefaultLimits.Check(p, now); r == "" {
				tr.Accept(p, DefaultLimits.MaxSpeedMph)
			}
		}
		if _, err := json.Marshal(rej); err != nil {
			t.Fatal(err)
		}
	})
}

package tracking

import (
	"context"
	"fmt"
	"time"

	"github.com/backhaul/backhaul/internal/store"
)

// TrackPoint is one fix of a track.
type TrackPoint struct {
	Time       time.Time `json:"time"`
	Lat        float64   `json:"lat"`
	Lon        float64   `json:"lon"`
	SpeedMph   *float64  `json:"speed_mph,omitempty"`
	HeadingDeg *float64  `json:"heading_deg,omitempty"`
}

// Track is a driver's path over a time range, downsampled.
type Track struct {
	DriverID string       `json:"driver_id"`
	From     time.Time    `json:"from"`
	To       time.Time    `json:"to"`
	Stored   int          `json:"stored_points"` // fixes stored in the range
	Points   []TrackPoint `json:"points"`
}

// MaxTrackRange bounds one track query, so a request reads at most a
// month of one driver's fixes.
const MaxTrackRange = 31 * 24 * time.Hour

// track reads a driver's fixes in [from, to) and keeps at most maxPoints:
// the range is cut into maxPoints-1 equal spans of time, the first fix of
// each span is kept, and so is the last fix of the range. Streaming keeps
// the memory to the points returned however many are stored; equal time
// spans keep the points evenly spread in time, which is what a map of a
// trip and an arrival check need. carrierID, when set, restricts the read
// to that carrier's fixes.
func (s *Service) track(ctx context.Context, driverID, carrierID string, from, to time.Time, maxPoints int) (Track, error) {
	t := Track{DriverID: driverID, From: from, To: to, Points: []TrackPoint{}}
	q := `SELECT recorded_at, lat, lon, speed_mph, heading_deg FROM positions WHERE driver_id = ? AND recorded_at >= ? AND recorded_at < ?`
	args := []any{driverID, from, to}
	if carrierID != "" {
		q += ` AND carrier_id = ?`
		args = append(args, carrierID)
	}
	// History tolerates a replica's few seconds of staleness.
	rows, err := s.db.ReadQuery(ctx, q+` ORDER BY recorded_at`, args...)
	if err != nil {
		return t, fmt.Errorf("track: %w", err)
	}
	defer rows.Close()
	spans := max(maxPoints-1, 1)
	width := to.Sub(from) / time.Duration(spans)
	if width <= 0 {
		width = 1
	}
	lastSpan, kept := -1, false
	var last TrackPoint
	for rows.Next() {
		var p TrackPoint
		if err := rows.Scan(store.Time(&p.Time), &p.Lat, &p.Lon, &p.SpeedMph, &p.HeadingDeg); err != nil {
			return t, fmt.Errorf("track: %w", err)
		}
		t.Stored++
		last, kept = p, false
		if span := int(p.Time.Sub(from) / width); span != lastSpan && len(t.Points) < spans {
			t.Points = append(t.Points, p)
			lastSpan, kept = span, true
		}
	}
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("track: %w", err)
	}
	if t.Stored > 0 && !kept {
		t.Points = append(t.Points, last)
	}
	return t, nil
}

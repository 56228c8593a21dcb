package tracking

import (
	"context"
	"fmt"
	"time"

	"github.com/backhaul/backhaul/internal/store"
)

// Rollup summarises one driver's hour.
type Rollup struct {
	DriverID    string    `json:"driver_id"`
	Hour        time.Time `json:"hour"`
	Points      int       `json:"points"`
	Miles       float64   `json:"miles"`
	AvgSpeedMph *float64  `json:"avg_speed_mph"`
	MaxSpeedMph *float64  `json:"max_speed_mph"`
	FirstAt     time.Time `json:"first_at"`
	LastAt      time.Time `json:"last_at"`
	FirstLat    float64   `json:"first_lat"`
	FirstLon    float64   `json:"first_lon"`
	LastLat     float64   `json:"last_lat"`
	LastLon     float64   `json:"last_lon"`
}

// rollupSQL aggregates one hour of fixes per driver: the miles are the sum
// of great-circle steps between consecutive fixes (haversine, in SQL on
// both engines; PostgreSQL's LEAST skips NULLs, hence the CASE for the
// first fix). Each hour is recomputed whole, so a refresh after late
// fixes replaces the row with the right figures.
func rollupSQL(d store.Dialect) string {
	// PostgreSQL must be told the type of a parameter in a select list;
	// SQLite keeps times as text and would turn a cast into a number.
	least, hour := "LEAST", "CAST(? AS TIMESTAMPTZ)"
	if d == store.SQLite {
		least, hour = "MIN", "?"
	}
	return `INSERT INTO position_rollups (driver_id, carrier_id, hour, points, miles, avg_speed_mph, max_speed_mph,
		first_at, last_at, first_lat, first_lon, last_lat, last_lon)
	SELECT driver_id, MIN(carrier_id), ` + hour + `, COUNT(*), COALESCE(SUM(step), 0), AVG(speed_mph), MAX(speed_mph),
		MIN(recorded_at), MAX(recorded_at),
		MAX(CASE WHEN rn = 1 THEN lat END), MAX(CASE WHEN rn = 1 THEN lon END),
		MAX(CASE WHEN rd = 1 THEN lat END), MAX(CASE WHEN rd = 1 THEN lon END)
	FROM (
		SELECT driver_id, carrier_id, recorded_at, lat, lon, speed_mph,
			ROW_NUMBER() OVER (PARTITION BY driver_id ORDER BY recorded_at) AS rn,
			ROW_NUMBER() OVER (PARTITION BY driver_id ORDER BY recorded_at DESC) AS rd,
			CASE WHEN plat IS NULL THEN 0 ELSE 7917.6 * asin(sqrt(` + least + `(1.0,
				sin(radians(lat - plat) / 2) * sin(radians(lat - plat) / 2) +
				cos(radians(lat)) * cos(radians(plat)) * sin(radians(lon - plon) / 2) * sin(radians(lon - plon) / 2)))) END AS step
		FROM (
			SELECT driver_id, carrier_id, recorded_at, lat, lon, speed_mph,
				LAG(lat) OVER (PARTITION BY driver_id ORDER BY recorded_at) AS plat,
				LAG(lon) OVER (PARTITION BY driver_id ORDER BY recorded_at) AS plon
			FROM positions WHERE recorded_at >= ? AND recorded_at < ?
		) steps
	) ranked
	GROUP BY driver_id
	ON CONFLICT (driver_id, hour) DO UPDATE SET carrier_id = excluded.carrier_id, points = excluded.points,
		miles = excluded.miles, avg_speed_mph = excluded.avg_speed_mph, max_speed_mph = excluded.max_speed_mph,
		first_at = excluded.first_at, last_at = excluded.last_at, first_lat = excluded.first_lat,
		first_lon = excluded.first_lon, last_lat = excluded.last_lat, last_lon = excluded.last_lon`
}

// RefreshRollups recomputes the rollups of the closed hours within the
// lookback, the continuous-aggregate policy of a time-series database: the
// current hour is never rolled up, since fixes still arrive in it. It
// returns the hours refreshed.
func (s *Service) RefreshRollups(ctx context.Context) ([]time.Time, error) {
	end := s.now().UTC().Truncate(time.Hour) // the current hour starts here
	q := rollupSQL(s.db.Dialect())
	var hours []time.Time
	for h := end.Add(-s.cfg.RollupLookback); h.Before(end); h = h.Add(time.Hour) {
		if _, err := s.db.Exec(ctx, q, h, h, h.Add(time.Hour)); err != nil {
			return hours, fmt.Errorf("rollup %s: %w", h.Format(time.RFC3339), err)
		}
		hours = append(hours, h)
	}
	return hours, nil
}

// Rollups returns a driver's hourly rollups in [from, to).
func (s *Service) rollups(ctx context.Context, driverID, carrierID string, from, to time.Time) ([]Rollup, error) {
	q := `SELECT driver_id, hour, points, miles, avg_speed_mph, max_speed_mph, first_at, last_at, first_lat, first_lon, last_lat, last_lon
		FROM position_rollups WHERE driver_id = ? AND hour >= ? AND hour < ?`
	args := []any{driverID, from, to}
	if carrierID != "" {
		q += ` AND carrier_id = ?`
		args = append(args, carrierID)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY hour`, args...)
	if err != nil {
		return nil, fmt.Errorf("rollups: %w", err)
	}
	defer rows.Close()
	out := []Rollup{}
	for rows.Next() {
		var r Rollup
		if err := rows.Scan(&r.DriverID, store.Time(&r.Hour), &r.Points, &r.Miles, &r.AvgSpeedMph, &r.MaxSpeedMph,
			store.Time(&r.FirstAt), store.Time(&r.LastAt), &r.FirstLat, &r.FirstLon, &r.LastLat, &r.LastLon); err != nil {
			return nil, fmt.Errorf("rollups: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Package latest keeps the last known position of every driver and answers
// "who is within R miles of here" fast: in the process (a grid of one-degree
// cells) or in Redis (GEO sets sharded by region), with the same behaviour.
package latest

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
)

// Fix is a driver's position at an instant.
type Fix struct {
	DriverID   string    `json:"driver_id"`
	CarrierID  string    `json:"carrier_id"`
	Time       time.Time `json:"time"`
	Lat        float64   `json:"lat"`
	Lon        float64   `json:"lon"`
	SpeedMph   float64   `json:"speed_mph"`
	HeadingDeg float64   `json:"heading_deg"`
}

// Point returns where the fix is.
func (f Fix) Point() geo.Point { return geo.Point{Lat: f.Lat, Lon: f.Lon} }

// Near is a fix and its distance from the query's centre.
type Near struct {
	Fix
	Miles float64 `json:"miles"`
}

// Query selects drivers near a point.
type Query struct {
	Center    geo.Point
	Miles     float64
	CarrierID string    // only this carrier's drivers; "" for all
	Since     time.Time // only fixes at or after; zero for all
	Limit     int       // at most this many, nearest first; 0 for all
}

// Index is the latest position of every driver.
type Index interface {
	// Update stores each fix unless the index holds a newer one for its
	// driver, so fixes may arrive in any order.
	Update(ctx context.Context, fixes []Fix) error
	// Get returns a driver's latest fix.
	Get(ctx context.Context, driverID string) (Fix, bool, error)
	// Within returns the drivers within q.Miles of q.Center, nearest first.
	Within(ctx context.Context, q Query) ([]Near, error)
}

// region is the shard of a point: a cell of regionDeg degrees.
const regionDeg = 5

// cell is a grid cell of size deg degrees.
type cell struct{ lat, lon int }

func cellOf(p geo.Point, deg float64) cell {
	return cell{int(math.Floor(p.Lat / deg)), int(math.Floor(p.Lon / deg))}
}

// cellsCovering lists the cells of size deg that can hold a point within
// miles of center.
func cellsCovering(center geo.Point, miles, deg float64) []cell {
	minLat, maxLat, minLon, maxLon := geo.BoundingBox(center, miles)
	lo, hi := cellOf(geo.Point{Lat: minLat, Lon: minLon}, deg), cellOf(geo.Point{Lat: maxLat, Lon: maxLon}, deg)
	var out []cell
	for la := lo.lat; la <= hi.lat; la++ {
		for lo := lo.lon; lo <= hi.lon; lo++ {
			out = append(out, cell{la, lo})
		}
	}
	return out
}

// keep filters, sorts and trims candidate fixes for q.
func keep(q Query, candidates []Fix) []Near {
	out := []Near{}
	for _, f := range candidates {
		if q.CarrierID != "" && f.CarrierID != q.CarrierID {
			continue
		}
		if !q.Since.IsZero() && f.Time.Before(q.Since) {
			continue
		}
		if d := geo.GreatCircleMiles(q.Center, f.Point()); d <= q.Miles {
			out = append(out, Near{Fix: f, Miles: d})
		}
	}
	slices.SortFunc(out, func(a, b Near) int {
		if a.Miles != b.Miles {
			if a.Miles < b.Miles {
				return -1
			}
			return 1
		}
		if a.DriverID < b.DriverID {
			return -1
		}
		if a.DriverID > b.DriverID {
			return 1
		}
		return 0
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

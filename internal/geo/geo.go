// Package geo is the platform's spherical geometry: points, great-circle and
// estimated road distances, bearings and bounding boxes for database
// pre-filters. It does no I/O and imports only the standard library.
package geo

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// EarthRadiusMiles is the mean Earth radius used for every distance, so that
// figures agree across services, the simulator and the benchmark scenarios.
const EarthRadiusMiles = 3958.8

// ErrInvalidPoint is wrapped by every error Validate returns.
var ErrInvalidPoint = errors.New("invalid point")

// Point is a WGS84 position in decimal degrees.
type Point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Validate reports whether p is a usable position: both coordinates finite,
// latitude in [-90, 90] and longitude in [-180, 180].
func (p Point) Validate() error {
	switch {
	case math.IsNaN(p.Lat) || math.IsInf(p.Lat, 0):
		return fmt.Errorf("%w: latitude %v is not a finite number", ErrInvalidPoint, p.Lat)
	case math.IsNaN(p.Lon) || math.IsInf(p.Lon, 0):
		return fmt.Errorf("%w: longitude %v is not a finite number", ErrInvalidPoint, p.Lon)
	case p.Lat < -90 || p.Lat > 90:
		return fmt.Errorf("%w: latitude %v outside [-90, 90]", ErrInvalidPoint, p.Lat)
	case p.Lon < -180 || p.Lon > 180:
		return fmt.Errorf("%w: longitude %v outside [-180, 180]", ErrInvalidPoint, p.Lon)
	}
	return nil
}

// String formats p as "lat,lon" with six decimals (about 10 cm).
func (p Point) String() string {
	return strconv.FormatFloat(p.Lat, 'f', 6, 64) + "," + strconv.FormatFloat(p.Lon, 'f', 6, 64)
}

func radians(deg float64) float64 { return deg * math.Pi / 180 }
func degrees(rad float64) float64 { return rad * 180 / math.Pi }

// GreatCircleMiles is the haversine distance between a and b in miles.
func GreatCircleMiles(a, b Point) float64 {
	return EarthRadiusMiles * centralAngle(a, b)
}

// centralAngle is the angle between a and b seen from the Earth's centre, in
// radians. The haversine form stays accurate for short distances, which is
// where freight distances (deadhead, geofences) need precision.
func centralAngle(a, b Point) float64 {
	lat1, lat2 := radians(a.Lat), radians(b.Lat)
	sinDLat := math.Sin((lat2 - lat1) / 2)
	sinDLon := math.Sin(radians(b.Lon-a.Lon) / 2)
	h := sinDLat*sinDLat + math.Cos(lat1)*math.Cos(lat2)*sinDLon*sinDLon
	// Rounding can push h a hair past 1 for antipodal points.
	return 2 * math.Asin(math.Sqrt(math.Min(1, h)))
}

// Bearing is the initial compass bearing from a towards b along the great
// circle, in degrees clockwise from true north, in [0, 360). It is 0 when a
// and b coincide.
func Bearing(a, b Point) float64 {
	lat1, lat2 := radians(a.Lat), radians(b.Lat)
	dLon := radians(b.Lon - a.Lon)
	y := math.Sin(dLon) * math.Cos(lat2)
	x := math.Cos(lat1)*math.Sin(lat2) - math.Sin(lat1)*math.Cos(lat2)*math.Cos(dLon)
	return normalizeBearing(degrees(math.Atan2(y, x)))
}

// Destination is the point reached by travelling miles along the great
// circle from p with the initial bearing bearingDeg. The longitude is
// normalised to [-180, 180).
func Destination(p Point, bearingDeg, miles float64) Point {
	delta := miles / EarthRadiusMiles
	theta := radians(bearingDeg)
	lat1, lon1 := radians(p.Lat), radians(p.Lon)
	sinLat2 := math.Sin(lat1)*math.Cos(delta) + math.Cos(lat1)*math.Sin(delta)*math.Cos(theta)
	sinLat2 = math.Max(-1, math.Min(1, sinLat2))
	lat2 := math.Asin(sinLat2)
	lon2 := lon1 + math.Atan2(
		math.Sin(theta)*math.Sin(delta)*math.Cos(lat1),
		math.Cos(delta)-math.Sin(lat1)*sinLat2,
	)
	return Point{Lat: degrees(lat2), Lon: normalizeLon(degrees(lon2))}
}

func normalizeBearing(deg float64) float64 {
	deg = math.Mod(deg, 360)
	if deg < 0 {
		deg += 360
	}
	if deg >= 360 { // -tiny + 360 rounds to 360
		deg = 0
	}
	return deg
}

// normalizeLon maps any finite longitude into [-180, 180).
func normalizeLon(deg float64) float64 {
	deg = math.Mod(deg+180, 360)
	if deg < 0 {
		deg += 360
	}
	deg -= 180
	if deg >= 180 {
		deg = -180
	}
	return deg
}

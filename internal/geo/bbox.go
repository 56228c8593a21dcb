package geo

import "math"

// BoundingBox returns a latitude/longitude box that contains every point
// within radiusMiles (great-circle) of center, for use as an index-friendly
// pre-filter such as
//
//	WHERE lat BETWEEN $minLat AND $maxLat AND lon BETWEEN $minLon AND $maxLon
//
// followed by an exact distance check. The box is conservative: it may hold
// points farther away, never misses a nearer one. Always minLat <= maxLat
// and minLon <= maxLon: when the circle reaches a pole or crosses the
// antimeridian, the longitude range widens to the full [-180, 180] rather
// than wrapping, so the single BETWEEN above stays correct. A negative
// radius counts as zero; a NaN or infinite radius gives the whole globe.
// center is expected to be valid (see Point.Validate).
func BoundingBox(center Point, radiusMiles float64) (minLat, maxLat, minLon, maxLon float64) {
	if math.IsNaN(radiusMiles) || math.IsInf(radiusMiles, 1) {
		return -90, 90, -180, 180
	}
	radiusMiles = math.Max(0, radiusMiles)
	// Pad the angular radius a little so rounding in the caller's distance
	// check or in the trigonometry below cannot exclude a point on the rim.
	const slack = 1e-9
	d := radiusMiles/EarthRadiusMiles*(1+slack) + slack // radians
	if d >= math.Pi {
		return -90, 90, -180, 180
	}
	lat := radians(center.Lat)
	minLat, maxLat = lat-d, lat+d
	if minLat <= -math.Pi/2 || maxLat >= math.Pi/2 {
		// The circle holds a pole, so it holds every longitude.
		return degrees(math.Max(minLat, -math.Pi/2)), degrees(math.Min(maxLat, math.Pi/2)), -180, 180
	}
	// Widest longitude reached by a spherical cap not containing a pole:
	// asin(sin d / cos lat). The ratio is below 1 here because the cap stops
	// short of both poles.
	dLon := math.Asin(math.Min(1, math.Sin(d)/math.Cos(lat)))
	minLon = center.Lon - degrees(dLon)
	maxLon = center.Lon + degrees(dLon)
	if minLon < -180 || maxLon > 180 {
		minLon, maxLon = -180, 180
	}
	return degrees(minLat), degrees(maxLat), minLon, maxLon
}

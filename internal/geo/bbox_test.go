package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

func inBox(p Point, minLat, maxLat, minLon, maxLon float64) bool {
	return p.Lat >= minLat && p.Lat <= maxLat && p.Lon >= minLon && p.Lon <= maxLon
}

// checkBox fails the test when the box is malformed or excludes q although q
// lies within radius of c.
func checkBox(t testing.TB, c Point, radius float64, q Point) {
	t.Helper()
	minLat, maxLat, minLon, maxLon := BoundingBox(c, radius)
	if !(minLat <= maxLat && minLon <= maxLon) || minLat < -90 || maxLat > 90 || minLon < -180 || maxLon > 180 {
		t.Fatalf("BoundingBox(%v, %v) = [%v, %v] x [%v, %v]: malformed", c, radius, minLat, maxLat, minLon, maxLon)
	}
	if !inBox(c, minLat, maxLat, minLon, maxLon) {
		t.Fatalf("BoundingBox(%v, %v) = [%v, %v] x [%v, %v] excludes its own centre", c, radius, minLat, maxLat, minLon, maxLon)
	}
	if d := GreatCircleMiles(c, q); d <= radius && !inBox(q, minLat, maxLat, minLon, maxLon) {
		t.Fatalf("BoundingBox(%v, %v) = [%v, %v] x [%v, %v] excludes %v at %v miles", c, radius, minLat, maxLat, minLon, maxLon, q, d)
	}
}

func TestBoundingBoxKnown(t *testing.T) {
	tests := []struct {
		name                           string
		c                              Point
		radius                         float64
		minLat, maxLat, minLon, maxLon float64
	}{
		// One degree of latitude is 69.09 miles; at the equator so is one of longitude.
		{"equator", Point{0, 0}, EarthRadiusMiles * math.Pi / 180, -1, 1, -1, 1},
		{"dallas 100 miles", dallas, 100, 31.3294, 34.2240, -98.5184, -95.0756},
		{"zero radius", dallas, 0, dallas.Lat, dallas.Lat, dallas.Lon, dallas.Lon},
		{"negative radius is zero", dallas, -5, dallas.Lat, dallas.Lat, dallas.Lon, dallas.Lon},
		{"reaches north pole", Point{89.5, 10}, 50, 88.7763, 90, -180, 180},
		{"reaches south pole", Point{-89.9, 10}, 10, -90, -89.7553, -180, 180},
		{"crosses antimeridian", Point{52, 179.9}, 30, 51.5658, 52.4342, -180, 180},
		{"whole globe", dallas, 20000, -90, 90, -180, 180},
		{"NaN radius", dallas, math.NaN(), -90, 90, -180, 180},
		{"infinite radius", dallas, math.Inf(1), -90, 90, -180, 180},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			minLat, maxLat, minLon, maxLon := BoundingBox(tt.c, tt.radius)
			got := []float64{minLat, maxLat, minLon, maxLon}
			want := []float64{tt.minLat, tt.maxLat, tt.minLon, tt.maxLon}
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-4 {
					t.Fatalf("got box %v, want %v", got, want)
				}
			}
		})
	}
}

// TestBoundingBoxNoFalseExclusions draws centres everywhere (with extra weight
// near the poles and the antimeridian) and points at random distances and
// bearings from them, including exactly on the rim.
func TestBoundingBoxNoFalseExclusions(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	centre := func() Point {
		switch r.IntN(4) {
		case 0: // near a pole
			lat := 90 - r.Float64()*3
			if r.IntN(2) == 0 {
				lat = -lat
			}
			return Point{lat, r.Float64()*360 - 180}
		case 1: // near the antimeridian
			lon := 180 - r.Float64()*2
			if r.IntN(2) == 0 {
				lon = -lon
			}
			return Point{r.Float64()*160 - 80, lon}
		default:
			return Point{math.Asin(r.Float64()*2-1) * 180 / math.Pi, r.Float64()*360 - 180}
		}
	}
	for i := 0; i < 200000; i++ {
		c := centre()
		radius := math.Pow(10, r.Float64()*4) // 1 to 10,000 miles
		var q Point
		switch r.IntN(3) {
		case 0: // on the rim
			q = Destination(c, r.Float64()*360, radius)
		case 1: // inside
			q = Destination(c, r.Float64()*360, radius*r.Float64())
		default: // anywhere
			q = Point{math.Asin(r.Float64()*2-1) * 180 / math.Pi, r.Float64()*360 - 180}
		}
		checkBox(t, c, radius, q)
	}
}

// The box must not be trivially the whole globe: for US-scale radii away
// from the poles and the antimeridian it should be tight.
func TestBoundingBoxTight(t *testing.T) {
	minLat, maxLat, minLon, maxLon := BoundingBox(chicago, 250)
	if h := maxLat - minLat; h > 7.3 {
		t.Errorf("got latitude span %.3f degrees, want at most 7.3", h)
	}
	if w := maxLon - minLon; w > 9.8 {
		t.Errorf("got longitude span %.3f degrees, want at most 9.8", w)
	}
	// A corner of the box is farther than the radius, showing the box is
	// conservative, not exact.
	if d := GreatCircleMiles(chicago, Point{maxLat, maxLon}); d <= 250 {
		t.Errorf("got corner at %.1f miles, want beyond 250", d)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add(40.7128, -74.006)
	f.Add(90.0, 180.0)
	f.Add(-90.0000001, 0.0)
	f.Add(math.NaN(), 0.0)
	f.Add(0.0, math.Inf(-1))
	f.Fuzz(func(t *testing.T, lat, lon float64) {
		p := Point{lat, lon}
		err := p.Validate()
		valid := !math.IsNaN(lat) && !math.IsNaN(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
		if valid != (err == nil) {
			t.Fatalf("Validate(%v) = %v, want valid=%v", p, err, valid)
		}
		if err != nil {
			return
		}
		if d := GreatCircleMiles(p, p); d != 0 {
			t.Fatalf("GreatCircleMiles(%v, itself) = %v, want 0", p, d)
		}
		if b := Bearing(p, Point{0, 0}); math.IsNaN(b) || b < 0 || b >= 360 {
			t.Fatalf("Bearing(%v, 0,0) = %v, want within [0, 360)", p, b)
		}
	})
}

func FuzzBoundingBox(f *testing.F) {
	f.Add(32.7767, -96.797, 100.0, 90.0, 99.0)
	f.Add(89.99, 0.0, 5.0, 180.0, 5.0)
	f.Add(0.0, 180.0, 0.0, 0.0, 0.0)
	f.Add(-45.0, -179.99, 50.0, 270.0, 50.0)
	f.Fuzz(func(t *testing.T, lat, lon, radius, bearing, miles float64) {
		c := Point{lat, lon}
		if c.Validate() != nil || math.IsNaN(bearing) || math.IsInf(bearing, 0) || math.IsNaN(miles) || math.IsInf(miles, 0) {
			t.Skip()
		}
		q := Destination(c, bearing, miles)
		if err := q.Validate(); err != nil {
			t.Fatalf("Destination(%v, %v, %v) = %v: %v", c, bearing, miles, q, err)
		}
		checkBox(t, c, radius, q)
	})
}

func BenchmarkBoundingBox(b *testing.B) {
	for b.Loop() {
		BoundingBox(dallas, 250)
	}
}

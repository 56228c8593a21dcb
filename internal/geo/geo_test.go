package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	newYork     = Point{40.7128, -74.0060}
	losAngeles  = Point{34.0522, -118.2437}
	chicago     = Point{41.8781, -87.6298}
	dallas      = Point{32.7767, -96.7970}
	miami       = Point{25.7617, -80.1918}
	seattle     = Point{47.6062, -122.3321}
	anchorage   = Point{61.2181, -149.9003}
	honolulu    = Point{21.3069, -157.8583}
	london      = Point{51.5074, -0.1278}
	paris       = Point{48.8566, 2.3522}
	northPole   = Point{90, 0}
	southPole   = Point{-90, 0}
	nullIsland  = Point{0, 0}
	antipodeNYC = Point{-40.7128, 105.9940}
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       Point
		wantErr string // substring; "" means valid
	}{
		{"new york", newYork, ""},
		{"null island", nullIsland, ""},
		{"north pole", Point{90, 180}, ""},
		{"south pole", Point{-90, -180}, ""},
		{"lat too high", Point{90.0001, 0}, "latitude"},
		{"lat too low", Point{-91, 0}, "latitude"},
		{"lon too high", Point{0, 180.5}, "longitude"},
		{"lon too low", Point{0, -181}, "longitude"},
		{"lat NaN", Point{math.NaN(), 0}, "latitude"},
		{"lon NaN", Point{0, math.NaN()}, "longitude"},
		{"lat +Inf", Point{math.Inf(1), 0}, "latitude"},
		{"lon -Inf", Point{0, math.Inf(-1)}, "longitude"},
		{"swapped lat lon", Point{-96.797, 32.7767}, "latitude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil error, want one mentioning %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to mention %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidPoint) {
				t.Errorf("got error %v, want it to wrap ErrInvalidPoint", err)
			}
		})
	}
}

// Expected figures come from the spherical Vincenty formula with the same
// Earth radius, computed independently of this package.
func TestGreatCircleMiles(t *testing.T) {
	tests := []struct {
		name string
		a, b Point
		want float64
	}{
		{"new york to los angeles", newYork, losAngeles, 2445.587},
		{"chicago to dallas", chicago, dallas, 804.657},
		{"miami to seattle", miami, seattle, 2731.637},
		{"anchorage to honolulu", anchorage, honolulu, 2784.176},
		{"london to paris", london, paris, 213.478},
		{"same point", newYork, newYork, 0},
		{"across the antimeridian", Point{0, 179.5}, Point{0, -179.5}, 69.094},
		{"over the pole", Point{89, 0}, Point{89, 180}, 138.188},
		{"pole to pole", northPole, southPole, math.Pi * EarthRadiusMiles},
		{"antipodes", newYork, antipodeNYC, math.Pi * EarthRadiusMiles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := GreatCircleMiles(tt.a, tt.b)
			if math.Abs(got-tt.want) > 0.01 {
				t.Errorf("got %.3f miles, want %.3f", got, tt.want)
			}
			if back := GreatCircleMiles(tt.b, tt.a); math.Abs(back-got) > 1e-9 {
				t.Errorf("got %.6f miles back, want %.6f (symmetric)", back, got)
			}
		})
	}
}

func TestBearing(t *testing.T) {
	tests := []struct {
		name string
		a, b Point
		want float64
	}{
		{"new york to los angeles", newYork, losAngeles, 273.687},
		{"chicago to dallas", chicago, dallas, 221.573},
		{"anchorage to honolulu", anchorage, honolulu, 191.504},
		{"london to paris", london, paris, 148.116},
		{"due north", Point{10, 20}, Point{20, 20}, 0},
		{"due south", Point{10, 20}, Point{0, 20}, 180},
		{"east along equator", Point{0, 0}, Point{0, 1}, 90},
		{"west along equator", Point{0, 0}, Point{0, -1}, 270},
		{"east across antimeridian", Point{0, 179.5}, Point{0, -179.5}, 90},
		{"same point", dallas, dallas, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Bearing(tt.a, tt.b)
			if math.Abs(got-tt.want) > 0.001 {
				t.Errorf("got %.4f degrees, want %.4f", got, tt.want)
			}
			if got < 0 || got >= 360 {
				t.Errorf("got %v degrees, want within [0, 360)", got)
			}
		})
	}
}

func TestDestination(t *testing.T) {
	tests := []struct {
		name    string
		p       Point
		bearing float64
		miles   float64
		want    Point
	}{
		{"zero miles", dallas, 123, 0, dallas},
		{"one degree north", Point{0, 0}, 0, EarthRadiusMiles * math.Pi / 180, Point{1, 0}},
		{"one degree east", Point{0, 0}, 90, EarthRadiusMiles * math.Pi / 180, Point{0, 1}},
		{"wraps the antimeridian", Point{0, 179.5}, 90, EarthRadiusMiles * math.Pi / 180, Point{0, -179.5}},
		{"over the north pole", Point{89, 0}, 0, 2 * EarthRadiusMiles * math.Pi / 180, Point{89, -180}},
		{"new york towards los angeles", newYork, 273.687, 2445.587, losAngeles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Destination(tt.p, tt.bearing, tt.miles)
			if d := GreatCircleMiles(got, tt.want); d > 0.05 {
				t.Errorf("got %v, want %v (%.3f miles apart)", got, tt.want, d)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("got invalid point: %v", err)
			}
			if got.Lon < -180 || got.Lon >= 180 {
				t.Errorf("got longitude %v, want within [-180, 180)", got.Lon)
			}
		})
	}
}

// Destination and Bearing/GreatCircleMiles must agree: travelling d miles on
// bearing b lands d miles away, and the bearing back out is b.
func TestDestinationRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		p := Point{Lat: r.Float64()*178 - 89, Lon: r.Float64()*360 - 180}
		b := r.Float64() * 360
		miles := r.Float64() * 10000
		q := Destination(p, b, miles)
		if got := GreatCircleMiles(p, q); math.Abs(got-miles) > 1e-6 {
			t.Fatalf("Destination(%v, %.3f, %.3f) = %v: got %.9f miles away, want %.9f", p, b, miles, q, got, miles)
		}
		if miles < 1 {
			continue // the bearing of a tiny hop is numerically noisy
		}
		got := Bearing(p, q)
		if diff := math.Abs(math.Remainder(got-b, 360)); diff > 1e-6 {
			t.Fatalf("Bearing(%v, Destination(%v, %.6f, %.3f)) = %.9f, want %.9f", p, p, b, miles, got, b)
		}
	}
}

func TestCircuity(t *testing.T) {
	gc := GreatCircleMiles(newYork, losAngeles)
	tests := []struct {
		name string
		d    Distancer
		want float64
	}{
		{"default", DefaultCircuity, gc * 1.2},
		{"zero value uses default", Circuity{}, gc * 1.2},
		{"negative uses default", Circuity{Factor: -3}, gc * 1.2},
		{"NaN uses default", Circuity{Factor: math.NaN()}, gc * 1.2},
		{"custom", Circuity{Factor: 1.35}, gc * 1.35},
		{"straight line", Circuity{Factor: 1}, gc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.RoadMiles(newYork, losAngeles); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("got %.6f road miles, want %.6f", got, tt.want)
			}
		})
	}
}

func TestPointString(t *testing.T) {
	if got, want := (Point{32.7767, -96.797}).String(), "32.776700,-96.797000"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNormalizeLon(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0, 0}, {180, -180}, {-180, -180}, {190, -170}, {-190, 170}, {540, -180}, {359.5, -0.5}, {-720.25, -0.25},
	}
	for _, tt := range tests {
		if got := normalizeLon(tt.in); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("normalizeLon(%v): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func BenchmarkGreatCircleMiles(b *testing.B) {
	for b.Loop() {
		GreatCircleMiles(newYork, losAngeles)
	}
}

func BenchmarkDestination(b *testing.B) {
	for b.Loop() {
		Destination(newYork, 273.687, 2445.587)
	}
}

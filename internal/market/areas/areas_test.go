package areas_test

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/market/areas"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
)

var _ ratemodel.Areas = (*areas.Set)(nil)

func TestAreasAreWellFormed(t *testing.T) {
	s := areas.Default()
	all := s.All()
	if n := len(all); n < 100 || n > 150 {
		t.Errorf("got %d areas, want 100 to 150", n)
	}
	name := regexp.MustCompile(`^[A-Z][^,]*, [A-Z]{2}$`)
	id := regexp.MustCompile(`^[a-z]{2}-[a-z0-9-]+$`)
	zip3s := 0
	for _, a := range all {
		if !id.MatchString(a.ID) || !name.MatchString(a.Name) {
			t.Errorf("area %q named %q: malformed", a.ID, a.Name)
		}
		if len(a.ZIP3s) == 0 {
			t.Errorf("area %s has no ZIP3 region", a.ID)
		}
		if err := a.Centroid.Validate(); err != nil {
			t.Errorf("area %s centroid: %v", a.ID, err)
		}
		zip3s += len(a.ZIP3s)
		got, ok := s.Get(a.ID)
		if !ok || got.Name != a.Name {
			t.Errorf("Get(%s) = %v, %v", a.ID, got, ok)
		}
	}
	if zip3s < 900 {
		t.Errorf("got %d ZIP3 regions, want every region of the data (over 900)", zip3s)
	}
	if _, ok := s.Get("xx-nowhere"); ok {
		t.Error("Get of an unknown ID succeeded")
	}
	if s.Name() == "" || s.Name() == ratemodel.DefaultAreas().Name() {
		t.Errorf("scheme name %q", s.Name())
	}
}

// TestEveryZIPHasAnArea walks every ZIP code the geocoder knows.
func TestEveryZIPHasAnArea(t *testing.T) {
	s, g := areas.Default(), geocode.Default()
	n, differ := 0, 0
	for i := range 100000 {
		zip := fmt.Sprintf("%05d", i)
		p, ok := g.ZIP(zip)
		if !ok {
			continue
		}
		n++
		a, ok := s.OfZIP(zip)
		if !ok {
			t.Errorf("ZIP %s (%s) has no area", zip, p)
			continue
		}
		b := s.Of(p.Point.Lat, p.Point.Lon)
		if b.ID == "" {
			t.Errorf("ZIP %s point %v has no area", zip, p.Point)
			continue
		}
		if b.ID != a.ID {
			// Only a ZIP code sharing its centroid with one of another
			// region may map elsewhere by its point.
			near, _ := g.Nearest(p.Point)
			if near.Point != p.Point {
				t.Errorf("ZIP %s: by code %s, by point %s", zip, a.ID, b.ID)
			}
			differ++
		}
		if s.Area(p.Point.Lat, p.Point.Lon) != b.ID {
			t.Errorf("Area(%v) = %q, want %q", p.Point, s.Area(p.Point.Lat, p.Point.Lon), b.ID)
		}
	}
	if n < 40000 {
		t.Errorf("walked %d ZIP codes, want the geocoder's 41,906", n)
	}
	t.Logf("%d ZIP codes, %d map elsewhere by their shared centroid", n, differ)
}

// TestEveryCityHasANearbyArea checks the 1,000 largest cities: each lies in
// an area whose middle is within reach, and none is split off from the
// market it belongs to by a far-away hub.
func TestEveryCityHasANearbyArea(t *testing.T) {
	f, err := os.Open(sharedData(t, "us-cities-top-1k.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	s := areas.Default()
	for _, r := range rows[1:] {
		lat, _ := strconv.ParseFloat(r[3], 64)
		lon, _ := strconv.ParseFloat(r[4], 64)
		a := s.Of(lat, lon)
		if a.ID == "" {
			t.Errorf("%s, %s: no area", r[0], r[1])
			continue
		}
		limit := 250.0
		if r[1] == "Alaska" {
			limit = 600
		}
		if d := geo.GreatCircleMiles(geo.Point{Lat: lat, Lon: lon}, a.Centroid); d > limit {
			t.Errorf("%s, %s: area %s centred %.0f miles away", r[0], r[1], a.ID, d)
		}
	}
	if len(rows) < 1001 {
		t.Errorf("read %d cities, want 1,000", len(rows)-1)
	}
}

func TestKnownMarkets(t *testing.T) {
	s := areas.Default()
	tests := []struct {
		place string
		want  string
	}{
		{"Dallas, TX", "tx-dallas"},
		{"Fort Worth, TX", "tx-dallas"},
		{"Chicago, IL", "il-chicago"},
		{"Gary, IN", "il-chicago"},         // across the state line, 30 miles away
		{"Southaven, MS", "tn-memphis"},    // Memphis's suburb in Mississippi
		{"Covington, KY", "oh-cincinnati"}, // likewise for Cincinnati
		{"Camden, NJ", "pa-philadelphia"},  // and Philadelphia
		{"Youngstown, OH", "oh-cleveland"}, // stays in Ohio though Pittsburgh is as near
		{"Los Angeles, CA", "ca-los-angeles"},
		{"Honolulu, HI", "hi-honolulu"},
		{"San Juan, PR", "pr-san-juan"},
		{"Anchorage, AK", "ak-anchorage"},
	}
	g := geocode.Default()
	for _, tt := range tests {
		p, ok := g.Parse(tt.place)
		if !ok {
			t.Fatalf("geocode %q failed", tt.place)
		}
		if got := s.Of(p.Point.Lat, p.Point.Lon).ID; got != tt.want {
			t.Errorf("Of(%s) = %s, want %s", tt.place, got, tt.want)
		}
		if got, _ := s.OfZIP(p.ZIP); got.ID != tt.want {
			t.Errorf("OfZIP(%s, %s) = %s, want %s", p.ZIP, tt.place, got.ID, tt.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	s := areas.Default()
	for _, zip := range []string{"", "7520", "752011", "7520x", "75201-12", "abcde", "00000", " 75201 x"} {
		if a, ok := s.OfZIP(zip); ok {
			t.Errorf("OfZIP(%q) = %s, want none", zip, a.ID)
		}
	}
	if a, ok := s.OfZIP(" 75201-1234 "); !ok || a.ID != "tx-dallas" {
		t.Errorf("OfZIP(ZIP+4) = %s, %v; want tx-dallas", a.ID, ok)
	}
	for _, p := range [][2]float64{{math.NaN(), 0}, {91, 0}, {0, 181}, {math.Inf(1), 0}} {
		if a := s.Of(p[0], p[1]); a.ID != "" {
			t.Errorf("Of(%v) = %s, want the zero Area", p, a.ID)
		}
		if id := s.Area(p[0], p[1]); id != "" {
			t.Errorf("Area(%v) = %q, want empty", p, id)
		}
	}
}

func FuzzOfZIP(f *testing.F) {
	for _, s := range []string{"75201", "75201-1234", "00601", "9999", "x", "99950"} {
		f.Add(s)
	}
	set := areas.Default()
	f.Fuzz(func(t *testing.T, zip string) {
		a, ok := set.OfZIP(zip)
		if ok != (a.ID != "") {
			t.Fatalf("OfZIP(%q) = %+v, %v", zip, a, ok)
		}
		if ok {
			if _, found := geocode.Default().ZIP(zip); !found {
				// The region has ZIP codes even if this one is not listed;
				// the area must still hold the region.
				z3 := zip3(zip)
				for _, r := range a.ZIP3s {
					if r == z3 {
						return
					}
				}
				t.Fatalf("OfZIP(%q) = %s, which does not hold region %s", zip, a.ID, z3)
			}
		}
	})
}

func zip3(zip string) string { return strings.TrimSpace(zip)[:3] }

func BenchmarkOf(b *testing.B) {
	s := areas.Default()
	pts := make([]geo.Point, 1000)
	for i := range pts {
		pts[i] = geo.Point{Lat: 30 + float64(i%17), Lon: -120 + float64(i%43)}
	}
	s.Of(0, 0)
	i := 0
	for b.Loop() {
		p := pts[i%len(pts)]
		s.Area(p.Lat, p.Lon)
		i++
	}
}

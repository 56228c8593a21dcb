// Package areas groups the United States into market areas the way the
// freight industry does: key market areas built from 3-digit ZIP regions
// (ZIP3), each named after the freight market at its centre ("Dallas, TX").
// Every location maps to exactly one area: a point through its nearest ZIP
// code, a ZIP code through its first three digits.
//
// The areas are generated once into data/areas.csv by the program in
// internal/gen (its doc comment gives the rules and the command) from the
// geocoding data the binary already embeds.
package areas

//go:generate go run ./internal/gen -zipcodes ../../geocode/data/zipcodes.csv.gz -cities ../../geocode/data/cities.csv -out data

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
)

//go:embed data/areas.csv
var areasCSV []byte

// Area is one market area.
type Area struct {
	ID       string    `json:"id"`   // "tx-dallas"
	Name     string    `json:"name"` // "Dallas, TX"
	State    string    `json:"state"`
	Centroid geo.Point `json:"centroid"` // the middle of its ZIP codes
	ZIP3s    []string  `json:"zip3s"`    // the 3-digit ZIP regions it is made of
}

// Set is a complete division of the country into areas. It is immutable and
// safe for concurrent use. It implements ratemodel.Areas, so the rate model
// learns lane levels per market area.
type Set struct {
	name   string
	areas  []Area // by ID
	byID   map[string]int
	byZIP3 [1000]int16 // index into areas, -1 where no ZIP code exists
	geo    *geocode.Geocoder
}

var defaultSet = sync.OnceValue(func() *Set {
	s, err := parse(areasCSV, geocode.Default())
	if err != nil {
		// The data is compiled in and checked by the tests.
		panic(fmt.Sprintf("areas: embedded data: %v", err))
	}
	return s
})

// Default returns the areas embedded in the binary.
func Default() *Set { return defaultSet() }

func parse(data []byte, g *geocode.Geocoder) (*Set, error) {
	sum := sha256.Sum256(data)
	s := &Set{name: "kma-" + hex.EncodeToString(sum[:4]), byID: map[string]int{}, geo: g}
	for i := range s.byZIP3 {
		s.byZIP3[i] = -1
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			if h := sc.Text(); h != "id,city,state,lat,lon,zip3s" {
				return nil, fmt.Errorf("header %q", h)
			}
			continue
		}
		f := strings.Split(sc.Text(), ",")
		if len(f) != 6 {
			return nil, fmt.Errorf("line %d: %d fields, want 6", line, len(f))
		}
		lat, err1 := strconv.ParseFloat(f[3], 64)
		lon, err2 := strconv.ParseFloat(f[4], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: bad coordinates", line)
		}
		a := Area{ID: f[0], Name: f[1] + ", " + f[2], State: f[2], Centroid: geo.Point{Lat: lat, Lon: lon}, ZIP3s: strings.Fields(f[5])}
		if _, dup := s.byID[a.ID]; dup {
			return nil, fmt.Errorf("line %d: area %s twice", line, a.ID)
		}
		idx := len(s.areas)
		for _, z := range a.ZIP3s {
			n, err := strconv.Atoi(z)
			if err != nil || len(z) != 3 || n < 0 {
				return nil, fmt.Errorf("line %d: bad ZIP3 %q", line, z)
			}
			if s.byZIP3[n] >= 0 {
				return nil, fmt.Errorf("line %d: ZIP3 %s in two areas", line, z)
			}
			s.byZIP3[n] = int16(idx)
		}
		s.byID[a.ID] = idx
		s.areas = append(s.areas, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(s.areas) == 0 {
		return nil, fmt.Errorf("no areas")
	}
	if !slices.IsSortedFunc(s.areas, func(a, b Area) int { return strings.Compare(a.ID, b.ID) }) {
		return nil, fmt.Errorf("areas not sorted by ID")
	}
	return s, nil
}

// Name identifies the division; it changes whenever the data does, so a
// rate model trained on other areas is never loaded with these.
func (s *Set) Name() string { return s.name }

// All lists the areas by ID. The slice is shared: do not modify it.
func (s *Set) All() []Area { return s.areas }

// Get returns the area with the given ID.
func (s *Set) Get(id string) (Area, bool) {
	i, ok := s.byID[id]
	if !ok {
		return Area{}, false
	}
	return s.areas[i], true
}

// OfZIP returns the area of a ZIP code ("75201", "75201-1234"), or false
// when its 3-digit region has no ZIP code in the data.
func (s *Set) OfZIP(zip string) (Area, bool) {
	i := s.zipIndex(strings.TrimSpace(zip))
	if i < 0 {
		return Area{}, false
	}
	return s.areas[i], true
}

func (s *Set) zipIndex(zip string) int {
	if len(zip) != 5 && !(len(zip) == 10 && zip[5] == '-') {
		return -1
	}
	n := 0
	for i := range len(zip) {
		if i == 5 {
			continue
		}
		if zip[i] < '0' || zip[i] > '9' {
			return -1
		}
		if i < 3 {
			n = n*10 + int(zip[i]-'0')
		}
	}
	return int(s.byZIP3[n])
}

// Of returns the area of a location: that of its nearest ZIP code. Every
// valid point has one; only an invalid point (NaN, out of range) gets the
// zero Area.
func (s *Set) Of(lat, lon float64) Area {
	i := s.index(lat, lon)
	if i < 0 {
		return Area{}
	}
	return s.areas[i]
}

func (s *Set) index(lat, lon float64) int {
	p, ok := s.geo.Nearest(geo.Point{Lat: lat, Lon: lon})
	if !ok {
		return -1
	}
	return s.zipIndex(p.ZIP)
}

// Area implements ratemodel.Areas: the ID of the area of a location, or ""
// for an invalid point.
func (s *Set) Area(lat, lon float64) string {
	i := s.index(lat, lon)
	if i < 0 {
		return ""
	}
	return s.areas[i].ID
}

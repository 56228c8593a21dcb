// Package geocode turns US ZIP codes, city names and free text such as
// "Dallas, TX" into coordinates, and coordinates back into the nearest ZIP
// code, entirely offline from data embedded in the binary.
//
// The data is the npm package zipcodes (41,906 US ZIP codes with city, state
// and centroid, military post offices left out) and the 1,000 largest US
// cities with their populations, which rank suggestions and place a city
// spread over many ZIP codes. See data/README.md for sources and licences.
package geocode

//go:generate go run ./internal/gen -zipcodes $ZIPCODES_DIR -cities ../../../shared/data/us-cities-top-1k.csv -out data

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode/internal/placename"
)

var (
	//go:embed data/zipcodes.csv.gz
	zipcodesGz []byte
	//go:embed data/cities.csv
	citiesCSV []byte
)

// Place is a geocoded location: a ZIP code, or a city and the ZIP code that
// represents it.
type Place struct {
	City  string `json:"city"`
	State string `json:"state"` // two-letter USPS code
	// ZIP is the place's ZIP code. For a city it is the city's ZIP code
	// nearest to the city's point (or, for a city the postal data does not
	// name, the nearest ZIP code of any city).
	ZIP   string    `json:"zip"`
	Point geo.Point `json:"point"`
	// Population is the city's population when the city is among the
	// largest 1,000 in the US, and 0 otherwise.
	Population int `json:"population,omitempty"`
}

// ZIP3 is the first three digits of the ZIP code, the sectional center
// facility region that freight market areas are built from, or "" when the
// place has no ZIP code.
func (p Place) ZIP3() string {
	if len(p.ZIP) < 3 {
		return ""
	}
	return p.ZIP[:3]
}

// String formats p as an address line, "Dallas, TX 75201".
func (p Place) String() string {
	s := p.City + ", " + p.State
	if p.ZIP != "" {
		s += " " + p.ZIP
	}
	return s
}

// State is a US state, district or territory.
type State struct {
	Code string `json:"code"` // two-letter USPS code, e.g. "TX"
	Name string `json:"name"` // e.g. "Texas"
}

// States lists the 50 states, the District of Columbia and the territories
// that have ZIP codes, ordered by code.
func States() []State {
	out := make([]State, len(placename.States))
	for i, s := range placename.States {
		out[i] = State{Code: s.Code, Name: s.Name}
	}
	return out
}

// StateCode resolves a state given as a code or a full name, in any case
// ("tx", "Texas", "new york", "D.C."), to its two-letter code.
func StateCode(s string) (string, bool) {
	return placename.StateCode(s)
}

// Geocoder answers lookups from one decoded copy of the data. It is
// immutable, so any number of goroutines may use it at once.
type Geocoder struct {
	zips   []zipEntry // ascending by code
	cities []city
	// byCity finds a city by state and placename.CityKey.
	byCity map[cityID]int32
	// byName finds, for a city key, the best-known city of that name in
	// any state.
	byName map[string]int32
	grid   grid
	// suggest builds the autocomplete index on first use: sorting the
	// cities costs more than the rest of decoding and only Suggest needs it.
	suggest func() *suggestIndex
}

type zipEntry struct {
	code string
	city int32 // index into Geocoder.cities
	pt   geo.Point
	// lat (radians) and its cosine, kept for nearest-neighbour search.
	lat, cosLat float64
}

type cityID struct {
	state, key string
}

type city struct {
	name, state, key string
	pt               geo.Point
	pop              int
	zip              int32 // representative ZIP code, index into Geocoder.zips
	nzips            int32
}

var defaultGeocoder = sync.OnceValue(func() *Geocoder {
	g, err := decode(zipcodesGz, citiesCSV)
	if err != nil {
		// The data is compiled in and checked by the tests: failing here
		// means a broken build, not a condition to handle at run time.
		panic(fmt.Sprintf("geocode: embedded data: %v", err))
	}
	return g
})

// Default returns the geocoder over the embedded data, decoding it on first
// use (a few tens of milliseconds) and sharing it afterwards.
func Default() *Geocoder { return defaultGeocoder() }

// ZIP looks up a ZIP code written as five digits, optionally followed by a
// hyphen and the four-digit add-on ("02134", "02134-1234"). Surrounding
// spaces are ignored; anything else, such as a four-digit "2134" that lost
// its leading zero, is rejected rather than guessed.
func (g *Geocoder) ZIP(zip string) (Place, bool) {
	code, ok := zip5(strings.TrimSpace(zip))
	if !ok {
		return Place{}, false
	}
	i, found := slices.BinarySearchFunc(g.zips, code, func(z zipEntry, code string) int {
		return strings.Compare(z.code, code)
	})
	if !found {
		return Place{}, false
	}
	return g.zipPlace(int32(i)), true
}

// zip5 returns the five-digit code of a well-formed ZIP or ZIP+4.
func zip5(s string) (string, bool) {
	switch {
	case len(s) == 5 && allDigits(s):
		return s, true
	case len(s) == 10 && s[5] == '-' && allDigits(s[:5]) && allDigits(s[6:]):
		return s[:5], true
	}
	return "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// City looks up a city by name and state. Case, spacing, punctuation and the
// abbreviations "St."/"Saint", "Ste."/"Sainte", "Ft."/"Fort", "Mt."/"Mount"
// do not matter. The state is a code or full name; an empty state means the
// best-known city of that name in any state (the most populous, else the
// one with the most ZIP codes). The point is the city's own coordinate when
// it is among the 1,000 largest US cities, else the centroid of its ZIP
// codes.
func (g *Geocoder) City(name, state string) (Place, bool) {
	key := placename.CityKey(name)
	if key == "" {
		return Place{}, false
	}
	if strings.TrimSpace(state) == "" {
		i, ok := g.byName[key]
		if !ok {
			return Place{}, false
		}
		return g.cityPlace(i), true
	}
	code, ok := placename.StateCode(state)
	if !ok {
		return Place{}, false
	}
	i, ok := g.byCity[cityID{code, key}]
	if !ok {
		return Place{}, false
	}
	return g.cityPlace(i), true
}

// Nearest returns the ZIP code whose centroid is nearest to p, the usual
// reverse geocode of a truck's position. It reports false only for an
// invalid point.
func (g *Geocoder) Nearest(p geo.Point) (Place, bool) {
	if p.Validate() != nil {
		return Place{}, false
	}
	i := g.grid.nearest(g.zips, p)
	if i < 0 {
		return Place{}, false
	}
	return g.zipPlace(i), true
}

func (g *Geocoder) zipPlace(i int32) Place {
	z := &g.zips[i]
	c := &g.cities[z.city]
	return Place{City: c.name, State: c.state, ZIP: z.code, Point: z.pt, Population: c.pop}
}

func (g *Geocoder) cityPlace(i int32) Place {
	c := &g.cities[i]
	return Place{City: c.name, State: c.state, ZIP: g.zips[c.zip].code, Point: c.pt, Population: c.pop}
}

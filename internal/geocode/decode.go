package geocode

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode/internal/placename"
)

// decode builds a Geocoder from the gzipped ZIP code table and the city
// population table, both as written by internal/gen.
func decode(zipsGz, citiesCSV []byte) (*Geocoder, error) {
	zr, err := gzip.NewReader(bytes.NewReader(zipsGz))
	if err != nil {
		return nil, fmt.Errorf("zipcodes: %w", err)
	}
	var raw strings.Builder
	raw.Grow(2 << 20) // the table is about 1.5 MB
	if _, err := io.Copy(&raw, zr); err != nil {
		return nil, fmt.Errorf("zipcodes: %w", err)
	}
	return build(raw.String(), string(citiesCSV))
}

// builder holds the state of one build.
type builder struct {
	g *Geocoder
	// sums accumulates each city's ZIP code centroids as unit vectors, for a
	// centroid that is right even across the antimeridian.
	sums [][3]float64
	// spellings counts, for the few cities whose ZIP codes spell the name
	// in more than one way ("Mc Allen", "Mcallen"), the ZIP codes of each
	// spelling; the most common names the city.
	spellings map[int32]map[string]int
}

// build parses the two tables. Rows are plain comma-separated values (the
// generator guarantees no field holds a comma or quote), which keeps
// decoding well under the time a CSV reader would need.
func build(zipsCSV, citiesCSV string) (*Geocoder, error) {
	b := &builder{
		g: &Geocoder{
			byCity: make(map[cityID]int32, 32000),
		},
		spellings: make(map[int32]map[string]int),
	}
	if err := b.readZips(zipsCSV); err != nil {
		return nil, fmt.Errorf("zipcodes: %w", err)
	}
	if len(b.g.zips) == 0 {
		return nil, errors.New("zipcodes: no rows")
	}
	b.nameCities()
	if err := b.readCities(citiesCSV); err != nil {
		return nil, fmt.Errorf("cities: %w", err)
	}
	b.finish()
	return b.g, nil
}

// rows calls fn with the fields of each data row after checking the header.
func rows(text, header string, nfields int, fn func(line int, f []string) error) error {
	first, rest, _ := strings.Cut(text, "\n")
	if strings.TrimSuffix(first, "\r") != header {
		return fmt.Errorf("line 1: got header %q, want %q", first, header)
	}
	f := make([]string, nfields)
	for line := 2; rest != ""; line++ {
		var row string
		row, rest, _ = strings.Cut(rest, "\n")
		row = strings.TrimSuffix(row, "\r")
		if row == "" {
			continue
		}
		n := 0
		for n < nfields-1 {
			var ok bool
			f[n], row, ok = strings.Cut(row, ",")
			if !ok {
				break
			}
			n++
		}
		f[n] = row
		if n != nfields-1 || strings.Contains(row, ",") {
			return fmt.Errorf("line %d: want %d fields", line, nfields)
		}
		if err := fn(line, f); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	return nil
}

func parsePoint(lat, lon string) (geo.Point, error) {
	la, err := strconv.ParseFloat(lat, 64)
	if err != nil {
		return geo.Point{}, fmt.Errorf("latitude: %w", err)
	}
	lo, err := strconv.ParseFloat(lon, 64)
	if err != nil {
		return geo.Point{}, fmt.Errorf("longitude: %w", err)
	}
	p := geo.Point{Lat: la, Lon: lo}
	return p, p.Validate()
}

func (b *builder) readZips(text string) error {
	g := b.g
	n := strings.Count(text, "\n")
	g.zips = make([]zipEntry, 0, n)
	g.cities = make([]city, 0, n*3/4)
	b.sums = make([][3]float64, 0, n*3/4)
	// Rows come sorted by ZIP code, so rows of one city tend to follow each
	// other: remembering the last name saves most key computations.
	var lastName, lastState string
	var lastCity int32 = -1
	return rows(text, "zip,city,state,lat,lon", 5, func(_ int, f []string) error {
		code, name, state := f[0], f[1], f[2]
		if len(code) != 5 || !allDigits(code) {
			return fmt.Errorf("bad ZIP code %q", code)
		}
		if n := len(g.zips); n > 0 && g.zips[n-1].code >= code {
			return fmt.Errorf("ZIP code %s out of order", code)
		}
		if _, ok := placename.StateName(state); !ok {
			return fmt.Errorf("ZIP code %s: unknown state %q", code, state)
		}
		pt, err := parsePoint(f[3], f[4])
		if err != nil {
			return fmt.Errorf("ZIP code %s: %w", code, err)
		}
		ci := lastCity
		if name != lastName || state != lastState {
			key := placename.CityKey(name)
			if key == "" {
				return fmt.Errorf("ZIP code %s: empty city name %q", code, name)
			}
			id := cityID{state, key}
			var ok bool
			if ci, ok = g.byCity[id]; !ok {
				ci = int32(len(g.cities))
				g.byCity[id] = ci
				g.cities = append(g.cities, city{name: name, state: state, key: key, zip: -1})
				b.sums = append(b.sums, [3]float64{})
			} else if c := &g.cities[ci]; name != c.name && b.spellings[ci] == nil {
				// Every earlier ZIP code of this city used its first spelling.
				b.spellings[ci] = map[string]int{c.name: int(c.nzips)}
			}
			lastName, lastState, lastCity = name, state, ci
		}
		if sp := b.spellings[ci]; sp != nil {
			sp[name]++
		}
		v := unitVector(pt)
		s := &b.sums[ci]
		s[0], s[1], s[2] = s[0]+v[0], s[1]+v[1], s[2]+v[2]
		g.cities[ci].nzips++
		lat := pt.Lat * math.Pi / 180
		g.zips = append(g.zips, zipEntry{code: code, city: ci, pt: pt, lat: lat, cosLat: math.Cos(lat)})
		return nil
	})
}

// nameCities names each city by its most common spelling, the
// alphabetically first on a tie, and places it at its ZIP codes' centroid.
func (b *builder) nameCities() {
	for ci, sp := range b.spellings {
		best, bestN := "", 0
		for name, n := range sp {
			if n > bestN || n == bestN && name < best {
				best, bestN = name, n
			}
		}
		b.g.cities[ci].name = best
	}
	for i := range b.g.cities {
		b.g.cities[i].pt = fromVector(b.sums[i], b.g.zips[0].pt)
	}
	b.spellings, b.sums = nil, nil
}

func (b *builder) readCities(text string) error {
	g := b.g
	return rows(text, "city,state,population,lat,lon", 5, func(_ int, f []string) error {
		name, state := f[0], f[1]
		if _, ok := placename.StateName(state); !ok {
			return fmt.Errorf("%s: unknown state %q", name, state)
		}
		key := placename.CityKey(name)
		if key == "" {
			return fmt.Errorf("empty city name %q", name)
		}
		pop, err := strconv.Atoi(f[2])
		if err != nil || pop < 0 {
			return fmt.Errorf("%s, %s: bad population %q", name, state, f[2])
		}
		pt, err := parsePoint(f[3], f[4])
		if err != nil {
			return fmt.Errorf("%s, %s: %w", name, state, err)
		}
		id := cityID{state, key}
		ci, ok := g.byCity[id]
		if !ok {
			// A census place the postal data files under a neighbouring
			// city's name (Eagan, MN is "Saint Paul"): known by its own
			// coordinates only.
			ci = int32(len(g.cities))
			g.byCity[id] = ci
			g.cities = append(g.cities, city{state: state, key: key, zip: -1})
		}
		c := &g.cities[ci]
		// The list's spelling ("St. Louis") is the one people use.
		c.name, c.pop, c.pt = name, pop, pt
		return nil
	})
}

// finish picks each city's representative ZIP code and builds the indexes.
func (b *builder) finish() {
	g := b.g
	g.grid = newGrid(g.zips)
	best := make([]float64, len(g.cities))
	for i := range best {
		best[i] = math.Inf(1)
	}
	for zi, z := range g.zips {
		if d := geo.GreatCircleMiles(g.cities[z.city].pt, z.pt); d < best[z.city] {
			best[z.city] = d
			g.cities[z.city].zip = int32(zi)
		}
	}
	for i := range g.cities {
		if c := &g.cities[i]; c.zip < 0 {
			c.zip = g.grid.nearest(g.zips, c.pt)
		}
	}

	// For a name without a state, the most populous city wins, then the
	// one with the most ZIP codes (a fair proxy for size below the
	// population list), then the first state by code.
	g.byName = make(map[string]int32, len(g.cities))
	for i := range g.cities {
		c := &g.cities[i]
		j, ok := g.byName[c.key]
		if !ok {
			g.byName[c.key] = int32(i)
			continue
		}
		b := &g.cities[j]
		if c.pop > b.pop || c.pop == b.pop && (c.nzips > b.nzips || c.nzips == b.nzips && c.state < b.state) {
			g.byName[c.key] = int32(i)
		}
	}
	g.suggest = sync.OnceValue(g.buildSuggestIndex)
}

func unitVector(p geo.Point) [3]float64 {
	lat, lon := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	return [3]float64{math.Cos(lat) * math.Cos(lon), math.Cos(lat) * math.Sin(lon), math.Sin(lat)}
}

// fromVector converts a sum of unit vectors back to a point, or returns
// fallback when the vectors cancel out.
func fromVector(v [3]float64, fallback geo.Point) geo.Point {
	h := math.Hypot(v[0], v[1])
	if h == 0 && v[2] == 0 {
		return fallback
	}
	p := geo.Point{Lat: math.Atan2(v[2], h) * 180 / math.Pi, Lon: math.Atan2(v[1], v[0]) * 180 / math.Pi}
	// Round to the data's own precision so a one-ZIP city sits exactly on
	// its ZIP code.
	p.Lat = math.Round(p.Lat*1e6) / 1e6
	p.Lon = math.Round(p.Lon*1e6) / 1e6
	return p
}

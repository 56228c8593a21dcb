// Command gen builds the market areas that package areas embeds: every
// 3-digit ZIP region (ZIP3) of the embedded geocoding data is assigned to
// one market hub, as the industry's key market areas group ZIP3 regions
// around freight markets. It runs once, when the geocoding data or the rules
// below change, never at build time:
//
//	go run ./internal/market/areas/internal/gen \
//		-zipcodes internal/geocode/data/zipcodes.csv.gz \
//		-cities internal/geocode/data/cities.csv \
//		-out internal/market/areas/data
//
// (or `go generate ./internal/market/areas`). The rules:
//
//  1. A ZIP3 region is the set of ZIP codes sharing their first three
//     digits. Its state is the state most of its ZIP codes are in; its
//     point is the middle (median latitude, median longitude) of the
//     centroids of those ZIP codes.
//  2. Hubs come from the embedded cities (the 1,000 largest), biggest metro
//     first: a city's metro weight is the population of the listed cities
//     within 25 miles, and its metro's hub is the most populous of them.
//     A hub is kept unless one already chosen lies within -separation
//     miles, so a metro area and its suburbs make one hub.
//  3. A ZIP3 region farther than 250 miles from every hub (islands,
//     Alaska, northern Maine) gets a hub of its own, at the region with the
//     most ZIP codes among such regions, named after the city with the most
//     ZIP codes there.
//  4. Each ZIP3 region joins the nearest hub of its own state, unless a hub
//     across the state line is much nearer: the state's hub must be at most
//     1.5 times as far as the nearest hub plus 25 miles. Freight markets
//     straddle state lines (Memphis reaches into Mississippi, Chicago into
//     Indiana), yet the industry's areas keep to states where they can.
//     A hub that wins no region is dropped.
//
// The output, sorted so that reruns are byte-identical, is one row per area:
//
//	areas.csv  id,city,state,lat,lon,zip3s
//
// where city and state name the hub, lat,lon is the middle of the area (the
// median latitude and the median longitude of its ZIP code centroids, which
// a far-flung island cannot drag) and zip3s its regions separated by
// spaces. No field contains a comma or a quote.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/backhaul/backhaul/internal/geo"
)

func main() {
	zipFile := flag.String("zipcodes", "", "zipcodes.csv.gz of package geocode (zip,city,state,lat,lon)")
	citiesFile := flag.String("cities", "", "cities.csv of package geocode (city,state,population,lat,lon)")
	outDir := flag.String("out", "", "directory to write areas.csv into")
	sep := flag.Float64("separation", defaultSeparation, "miles within which a smaller metro joins a bigger hub")
	flag.Parse()
	if *zipFile == "" || *citiesFile == "" || *outDir == "" {
		fmt.Fprintln(os.Stderr, "gen: -zipcodes, -cities and -out are required")
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*zipFile, *citiesFile, *outDir, *sep, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// defaultSeparation gives 148 areas, the size of the industry's key market
// area maps (about 135), with a hub for each major freight market
// (Philadelphia apart from New York, Milwaukee from Chicago).
const defaultSeparation = 80

const (
	// metroMiles is the radius within which cities count as one metro area
	// when ranking hubs.
	metroMiles = 25
	// isolatedMiles is the farthest a region may be from every hub before it
	// gets its own.
	isolatedMiles = 250
	// A region stays in its state when the state's nearest hub is at most
	// stateBias times as far as the nearest hub anywhere, plus
	// stateSlackMiles.
	stateBias       = 1.5
	stateSlackMiles = 25
)

type zipRow struct {
	zip, city, state string
	pt               geo.Point
}

type cityRow struct {
	city, state string
	population  int
	pt          geo.Point
}

// region is one ZIP3 region.
type region struct {
	zip3  string
	state string
	pt    geo.Point
	zips  []zipRow
}

type hub struct {
	city, state string
	pt          geo.Point
	regions     []*region
}

func run(zipFile, citiesFile, outDir string, sep float64, log io.Writer) error {
	zips, err := readZips(zipFile)
	if err != nil {
		return err
	}
	cities, err := readCities(citiesFile)
	if err != nil {
		return err
	}
	areas, err := build(zips, cities, sep)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("id,city,state,lat,lon,zip3s\n")
	nregions := 0
	for _, h := range areas {
		var codes []string
		var zips []zipRow
		for _, r := range h.regions {
			codes = append(codes, r.zip3)
			zips = append(zips, r.zips...)
		}
		mid := middle(zips)
		nregions += len(codes)
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s\n", areaID(h), h.city, h.state, coord(mid.Lat), coord(mid.Lon), strings.Join(codes, " "))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "areas.csv"), b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(log, "%d ZIP codes in %d ZIP3 regions grouped into %d areas (separation %g miles); wrote areas.csv, %d bytes\n",
		len(zips), nregions, len(areas), sep, b.Len())
	return nil
}

// build applies the rules of the package comment and returns the areas
// ordered by ID, each with its regions in ZIP3 order.
func build(zips []zipRow, cities []cityRow, sep float64) ([]*hub, error) {
	if len(zips) == 0 {
		return nil, errors.New("no ZIP codes")
	}
	byZip3 := map[string]*region{}
	for _, z := range zips {
		k := z.zip[:3]
		r := byZip3[k]
		if r == nil {
			r = &region{zip3: k}
			byZip3[k] = r
		}
		r.zips = append(r.zips, z)
	}
	regions := make([]*region, 0, len(byZip3))
	for _, r := range byZip3 {
		count := map[string]int{}
		for _, z := range r.zips {
			count[z.state]++
		}
		r.state = most(count)
		// A few regions reach another state or territory (96799, American
		// Samoa, is in Hawaii's 967); its ZIP codes would drag the point
		// across an ocean.
		var own []zipRow
		for _, z := range r.zips {
			if z.state == r.state {
				own = append(own, z)
			}
		}
		r.pt = middle(own)
		regions = append(regions, r)
	}
	slices.SortFunc(regions, func(a, b *region) int { return strings.Compare(a.zip3, b.zip3) })

	// rule 2: hubs from the cities, biggest metro first; a metro's hub is
	// its most populous city
	cs := slices.Clone(cities)
	metro := make([]int, len(cs))
	principal := make([]int, len(cs))
	for i, c := range cs {
		principal[i] = i
		for j, o := range cs {
			if geo.GreatCircleMiles(c.pt, o.pt) > metroMiles {
				continue
			}
			metro[i] += o.population
			if p := cs[principal[i]]; o.population > p.population || o.population == p.population && o.state+o.city < p.state+p.city {
				principal[i] = j
			}
		}
	}
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if metro[a] != metro[b] {
			return metro[b] - metro[a]
		}
		return strings.Compare(cs[a].state+cs[a].city, cs[b].state+cs[b].city)
	})
	var hubs []*hub
	for _, i := range order {
		c := cs[principal[i]]
		if _, d := nearestHub(hubs, c.pt, ""); d < sep {
			continue
		}
		hubs = append(hubs, &hub{city: c.city, state: c.state, pt: c.pt})
	}

	// rule 3: a hub for regions no hub reaches (islands, the far north)
	for {
		var best *region
		for _, r := range regions {
			if _, d := nearestHub(hubs, r.pt, ""); d > isolatedMiles && (best == nil || len(r.zips) > len(best.zips)) {
				best = r
			}
		}
		if best == nil {
			break
		}
		count := map[string]int{}
		for _, z := range best.zips {
			if z.state == best.state {
				count[z.city]++
			}
		}
		hubs = append(hubs, &hub{city: most(count), state: best.state, pt: best.pt})
	}

	// rule 4: each region to the nearest hub of its state unless one across
	// the state line is much nearer
	for _, r := range regions {
		h0, d0 := nearestHub(hubs, r.pt, "")
		h1, d1 := nearestHub(hubs, r.pt, r.state)
		if h1 != nil && d1 <= stateBias*d0+stateSlackMiles {
			h0 = h1
		}
		h0.regions = append(h0.regions, r)
	}
	hubs = slices.DeleteFunc(hubs, func(h *hub) bool { return len(h.regions) == 0 })
	seen := map[string]bool{}
	for _, h := range hubs {
		id := areaID(h)
		if seen[id] {
			return nil, fmt.Errorf("two areas named %s", id)
		}
		seen[id] = true
	}
	slices.SortFunc(hubs, func(a, b *hub) int { return strings.Compare(areaID(a), areaID(b)) })
	return hubs, nil
}

// most returns the key with the highest count, the smallest key on a tie.
func most(count map[string]int) string {
	best, n := "", -1
	for k, c := range count {
		if c > n || c == n && k < best {
			best, n = k, c
		}
	}
	return best
}

// areaID is the state and the hub city, lower case with dashes:
// "tx-dallas", "mo-st-louis".
func areaID(h *hub) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(h.state))
	b.WriteByte('-')
	dash := false
	for _, c := range strings.ToLower(h.city) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func coord(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

func readZips(path string) ([]zipRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []zipRow
	err = eachRow(zr, path, "zip,city,state,lat,lon", func(f []string) error {
		if len(f[0]) != 5 {
			return fmt.Errorf("bad ZIP code %q", f[0])
		}
		pt, err := point(f[3], f[4])
		if err != nil {
			return err
		}
		out = append(out, zipRow{zip: f[0], city: f[1], state: f[2], pt: pt})
		return nil
	})
	return out, err
}

func readCities(path string) ([]cityRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cityRow
	err = eachRow(f, path, "city,state,population,lat,lon", func(f []string) error {
		pop, err := strconv.Atoi(f[2])
		if err != nil {
			return fmt.Errorf("bad population %q", f[2])
		}
		pt, err := point(f[3], f[4])
		if err != nil {
			return err
		}
		out = append(out, cityRow{city: f[0], state: f[1], population: pop, pt: pt})
		return nil
	})
	return out, err
}

func point(lat, lon string) (geo.Point, error) {
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lon, 64)
	p := geo.Point{Lat: la, Lon: lo}
	if err := errors.Join(err1, err2); err != nil {
		return p, fmt.Errorf("bad coordinates %s,%s", lat, lon)
	}
	return p, p.Validate()
}

// eachRow reads comma-separated rows after the expected header; the
// geocoding files quote nothing.
func eachRow(r io.Reader, name, header string, f func([]string) error) error {
	sc := bufio.NewScanner(r)
	line := 0
	want := strings.Count(header, ",") + 1
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			if text != header {
				return fmt.Errorf("%s: header %q, want %q", name, text, header)
			}
			continue
		}
		fields := strings.Split(text, ",")
		if len(fields) != want {
			return fmt.Errorf("%s:%d: %d fields, want %d", name, line, len(fields), want)
		}
		if err := f(fields); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if line < 2 {
		return fmt.Errorf("%s: no rows", name)
	}
	return nil
}

// nearestHub is the hub nearest to p, of state when it is not empty, and
// its distance; nil and +Inf when there is none.
func nearestHub(hubs []*hub, p geo.Point, state string) (*hub, float64) {
	var best *hub
	bestD := math.Inf(1)
	for _, h := range hubs {
		if state != "" && h.state != state {
			continue
		}
		if d := geo.GreatCircleMiles(h.pt, p); d < bestD {
			best, bestD = h, d
		}
	}
	return best, bestD
}

// middle is the median latitude and median longitude of the ZIP codes.
func middle(zips []zipRow) geo.Point {
	lats := make([]float64, len(zips))
	lons := make([]float64, len(zips))
	for i, z := range zips {
		lats[i], lons[i] = z.pt.Lat, z.pt.Lon
	}
	return geo.Point{Lat: median(lats), Lon: median(lons)}
}

func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

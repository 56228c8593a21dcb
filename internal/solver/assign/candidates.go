package assign

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
)

// Edge is a feasible driver-load pair.
type Edge struct {
	Driver int     // index in Scenario.Drivers
	Load   int     // index in Scenario.Loads
	Miles  float64 // deadhead miles from the driver to the load's origin
}

// Feasible reports whether driver d can take load l under p, and the
// deadhead miles if so. The rules are those of the scenario format: same
// equipment; the load's weight within the truck's capacity; deadhead (road
// miles, estimated as circuity times great-circle miles) within
// p.MaxDeadheadMiles; the deadhead drive fits in the driver's hours left;
// and the truck reaches the origin by the end of the pickup window, leaving
// when it becomes available. Arriving early is allowed (the truck waits).
func Feasible(p Params, d *Driver, l *Load) (miles float64, ok bool) {
	if d.Equipment != l.Equipment || l.WeightLbs > d.CapacityLbs {
		return 0, false
	}
	return p.reach(d, l, geo.GreatCircleMiles(d.Position(), l.Origin))
}

// reach applies the distance and time rules to a pair whose great-circle
// distance is known.
func (p Params) reach(d *Driver, l *Load, greatCircle float64) (float64, bool) {
	miles := p.Circuity * greatCircle
	if !(miles <= p.MaxDeadheadMiles) {
		return 0, false
	}
	hours := miles / p.SpeedMPH
	if hours > d.HoursLeft || hours*3600 > l.PickupLatest.Sub(d.AvailableAt).Seconds() {
		return 0, false
	}
	return miles, true
}

// site is a point prepared for repeated distance tests: its unit vector for
// a cheap chord-length pre-filter, and the radian latitude and its cosine
// for the haversine formula of package geo, evaluated in the same order of
// operations so the miles agree with Feasible to the last bit.
type site struct {
	x, y, z        float64
	latRad, cosLat float64
	lon            float64
}

func newSite(p geo.Point) site {
	lat, lon := p.Lat*math.Pi/180, p.Lon*math.Pi/180
	cl := math.Cos(lat)
	return site{x: cl * math.Cos(lon), y: cl * math.Sin(lon), z: math.Sin(lat), latRad: lat, cosLat: cl, lon: p.Lon}
}

// greatCircle is geo.GreatCircleMiles(a, b) with the cosines precomputed.
func greatCircle(a, b *site) float64 {
	sinDLat := math.Sin((b.latRad - a.latRad) / 2)
	sinDLon := math.Sin((b.lon - a.lon) * math.Pi / 180 / 2)
	h := sinDLat*sinDLat + a.cosLat*b.cosLat*sinDLon*sinDLon
	return geo.EarthRadiusMiles * (2 * math.Asin(math.Sqrt(math.Min(1, h))))
}

// grid buckets load origins by equipment and by latitude/longitude cell, so
// that a driver only looks at loads within reach instead of all of them.
type grid struct {
	cellDeg    float64 // cell side in degrees; 360/cellDeg is a whole number
	nLat, nLon int
	nEquip     int
	cells      map[int64][]int32 // key: (latCell*nLon + lonCell)*nEquip + equipment
	// occupied lists, per latitude row, the longitude cells holding any
	// load, for rows where a driver's reach spans more cells than that
	// (near the poles, or with a tiny radius).
	occupied map[int][]int
}

func (g *grid) key(latCell, lonCell, equip int) int64 {
	return (int64(latCell)*int64(g.nLon)+int64(lonCell))*int64(g.nEquip) + int64(equip)
}

func (g *grid) latCell(lat float64) int {
	return min(max(int(math.Floor((lat+90)/g.cellDeg)), 0), g.nLat-1)
}

func (g *grid) lonCell(lon float64) int {
	c := int(math.Floor((lon + 180) / g.cellDeg))
	return ((c % g.nLon) + g.nLon) % g.nLon
}

// Candidates returns every feasible driver-load pair of s (see Feasible),
// ordered by driver index. It looks only at loads whose origin lies in grid
// cells that the driver's deadhead radius can reach, so the work grows with
// the number of nearby pairs rather than drivers times loads. s must be
// valid (see Scenario.Validate).
func Candidates(ctx context.Context, s *Scenario) ([]Edge, error) {
	angleDeg := s.Params.reachAngle(math.Inf(1)) * 180 / math.Pi

	equip := map[string]int{}
	for i := range s.Loads {
		if _, ok := equip[s.Loads[i].Equipment]; !ok {
			equip[s.Loads[i].Equipment] = len(equip)
		}
	}
	// Cells about half the radius wide keep the scanned area near twice
	// the disc's; the floor keeps the cell count bounded for tiny radii.
	nLon := int(math.Ceil(360 / math.Min(360, math.Max(angleDeg/2, 0.01))))
	g := &grid{nLon: nLon, cellDeg: 360 / float64(nLon), nEquip: max(len(equip), 1), cells: map[int64][]int32{}, occupied: map[int][]int{}}
	g.nLat = int(math.Ceil(180 / g.cellDeg))
	loads := make([]site, len(s.Loads))
	occupied := map[int64]bool{}
	for i := range s.Loads {
		l := &s.Loads[i]
		loads[i] = newSite(l.Origin)
		lat, lon := g.latCell(l.Origin.Lat), g.lonCell(l.Origin.Lon)
		if cell := int64(lat)*int64(g.nLon) + int64(lon); !occupied[cell] {
			occupied[cell] = true
			g.occupied[lat] = append(g.occupied[lat], lon)
		}
		k := g.key(lat, lon, equip[l.Equipment])
		g.cells[k] = append(g.cells[k], int32(i))
	}
	latest := make([]float64, len(s.Loads))
	for i := range s.Loads {
		latest[i] = unixSeconds(s.Loads[i].PickupLatest)
	}
	c := &scanner{s: s, g: g, equip: equip, loads: loads, latest: latest}

	const chunk = 256
	nChunks := (len(s.Drivers) + chunk - 1) / chunk
	out := make([][]Edge, nChunks)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), nChunks) {
		wg.Go(func() {
			for {
				ci := int(next.Add(1) - 1)
				if ci >= nChunks || ctx.Err() != nil {
					return
				}
				edges := make([]Edge, 0, 64*chunk)
				for di := ci * chunk; di < min((ci+1)*chunk, len(s.Drivers)); di++ {
					edges = c.scan(di, edges)
				}
				out[ci] = edges
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := 0
	for _, e := range out {
		n += len(e)
	}
	edges := make([]Edge, 0, n)
	for _, e := range out {
		edges = append(edges, e...)
	}
	return edges, nil
}

// reachAngle is the largest central angle, in radians, between a driver
// and a load origin that the deadhead limit and hoursLeft allow, padded so
// that rounding in the pre-filters never drops a pair on the rim; the exact
// rules are applied afterwards.
func (p Params) reachAngle(hoursLeft float64) float64 {
	miles := math.Min(p.MaxDeadheadMiles, p.SpeedMPH*hoursLeft)
	return math.Min(miles/(p.Circuity*geo.EarthRadiusMiles)*(1+1e-9)+1e-12, math.Pi)
}

func unixSeconds(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// scanner holds what the per-driver scans share, read-only.
type scanner struct {
	s      *Scenario
	g      *grid
	equip  map[string]int
	loads  []site
	latest []float64 // end of each load's pickup window, Unix seconds
}

// scan appends the feasible pairs of driver di. Cheap tests reject most
// pairs before the exact rules: the equipment (by grid), the weight, and
// the chord between the unit vectors, which is never longer than the
// great-circle angle, against the reach allowed by the deadhead limit, the
// hours left and the time until the window closes.
func (c *scanner) scan(di int, edges []Edge) []Edge {
	s, g := c.s, c.g
	d := &s.Drivers[di]
	eq, ok := c.equip[d.Equipment]
	if !ok {
		return edges
	}
	angle := s.Params.reachAngle(d.HoursLeft)
	chord := 2 * math.Sin(angle/2)
	maxChord2 := chord*chord*(1+1e-9) + 1e-15
	avail := unixSeconds(d.AvailableAt)
	ds := newSite(d.Position())

	angleDeg := angle * 180 / math.Pi
	const pad = 1e-7 // degrees; covers rounding in the cell arithmetic
	latLo, latHi := d.Lat-angleDeg-pad, d.Lat+angleDeg+pad
	lonFirst, lonLast := 0, g.nLon-1
	if latLo > -90 && latHi < 90 {
		// Widest longitude of a spherical cap that holds no pole.
		ratio := math.Sin(angle) / ds.cosLat
		if ratio < 1 {
			dLon := math.Asin(ratio)*180/math.Pi + pad
			first := int(math.Floor((d.Lon - dLon + 180) / g.cellDeg))
			last := int(math.Floor((d.Lon + dLon + 180) / g.cellDeg))
			if last-first+1 < g.nLon {
				lonFirst, lonLast = first, last
			}
		}
	}
	span := lonLast - lonFirst + 1
	for lc := g.latCell(latLo); lc <= g.latCell(latHi); lc++ {
		if occupied := g.occupied[lc]; len(occupied) < span {
			for _, lo := range occupied {
				// Is lo within [lonFirst, lonLast], modulo the wrap?
				if ((lo-lonFirst)%g.nLon+g.nLon)%g.nLon < span {
					edges = c.scanCell(d, &ds, di, g.key(lc, lo, eq), maxChord2, avail, edges)
				}
			}
			continue
		}
		for lo := lonFirst; lo <= lonLast; lo++ {
			edges = c.scanCell(d, &ds, di, g.key(lc, ((lo%g.nLon)+g.nLon)%g.nLon, eq), maxChord2, avail, edges)
		}
	}
	return edges
}

// scanCell appends the feasible pairs of driver d (index di, site ds) with
// the loads of one grid cell.
func (c *scanner) scanCell(d *Driver, ds *site, di int, key int64, maxChord2, avail float64, edges []Edge) []Edge {
	p := c.s.Params
	// Road miles per unit of chord, at least, since the great-circle angle
	// is never shorter than the chord.
	milesPerChord := p.Circuity * geo.EarthRadiusMiles
	for _, li := range c.g.cells[key] {
		l := &c.s.Loads[li]
		if l.WeightLbs > d.CapacityLbs {
			continue
		}
		ls := &c.loads[li]
		dx, dy, dz := ds.x-ls.x, ds.y-ls.y, ds.z-ls.z
		chord2 := dx*dx + dy*dy + dz*dz
		if chord2 > maxChord2 {
			continue
		}
		// Reach before the window closes, with a millisecond and a
		// relative margin for rounding.
		slackMiles := p.SpeedMPH * (c.latest[li] - avail + 1e-3) / 3600
		if slackMiles < 0 || chord2*milesPerChord*milesPerChord > slackMiles*slackMiles*(1+1e-9) {
			continue
		}
		if miles, ok := p.reach(d, l, greatCircle(ds, ls)); ok {
			edges = append(edges, Edge{Driver: di, Load: int(li), Miles: miles})
		}
	}
	return edges
}

package assign

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

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
	p := s.Params
	// Largest central angle a feasible pair can span, padded so that
	// rounding in the pre-filters below never drops a pair on the rim; the
	// exact rule is applied afterwards.
	maxGC := p.MaxDeadheadMiles / p.Circuity
	angle := maxGC/geo.EarthRadiusMiles*(1+1e-9) + 1e-12
	angleDeg := angle * 180 / math.Pi

	equip := map[string]int{}
	for i := range s.Loads {
		if _, ok := equip[s.Loads[i].Equipment]; !ok {
			equip[s.Loads[i].Equipment] = len(equip)
		}
	}
	// Cells about half the radius wide keep the scanned area near twice
	// the disc's; the floor keeps the cell count bounded for tiny radii.
	nLon := int(math.Ceil(360 / math.Min(360, math.Max(angleDeg/2, 0.01))))
	g := &grid{nLon: nLon, cellDeg: 360 / float64(nLon), nEquip: max(len(equip), 1), cells: map[int64][]int32{}}
	g.nLat = int(math.Ceil(180 / g.cellDeg))
	loads := make([]site, len(s.Loads))
	for i := range s.Loads {
		l := &s.Loads[i]
		loads[i] = newSite(l.Origin)
		k := g.key(g.latCell(l.Origin.Lat), g.lonCell(l.Origin.Lon), equip[l.Equipment])
		g.cells[k] = append(g.cells[k], int32(i))
	}
	// Two unit vectors are within the angle when their chord is within
	// 2 sin(angle/2).
	chord := 2 * math.Sin(math.Min(angle, math.Pi)/2)
	maxChord2 := chord*chord*(1+1e-9) + 1e-15

	const chunk = 256
	nChunks := (len(s.Drivers) + chunk - 1) / chunk
	out := make([][]Edge, nChunks)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), nChunks) {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= nChunks || ctx.Err() != nil {
					return
				}
				var edges []Edge
				for di := c * chunk; di < min((c+1)*chunk, len(s.Drivers)); di++ {
					edges = g.scan(s, di, equip, loads, angleDeg, maxChord2, edges)
				}
				out[c] = edges
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

// scan appends the feasible pairs of driver di.
func (g *grid) scan(s *Scenario, di int, equip map[string]int, loads []site, angleDeg, maxChord2 float64, edges []Edge) []Edge {
	d := &s.Drivers[di]
	eq, ok := equip[d.Equipment]
	if !ok {
		return edges
	}
	ds := newSite(d.Position())
	const pad = 1e-7 // degrees; covers rounding in the cell arithmetic
	latLo, latHi := d.Lat-angleDeg-pad, d.Lat+angleDeg+pad
	lonFirst, lonLast := 0, g.nLon-1
	if latLo > -90 && latHi < 90 {
		// Widest longitude of a spherical cap that holds no pole.
		ratio := math.Sin(angleDeg*math.Pi/180) / ds.cosLat
		if ratio < 1 {
			dLon := math.Asin(ratio)*180/math.Pi + pad
			first := int(math.Floor((d.Lon - dLon + 180) / g.cellDeg))
			last := int(math.Floor((d.Lon + dLon + 180) / g.cellDeg))
			if last-first+1 < g.nLon {
				lonFirst, lonLast = first, last
			}
		}
	}
	for lc := g.latCell(latLo); lc <= g.latCell(latHi); lc++ {
		for c := lonFirst; c <= lonLast; c++ {
			for _, li := range g.cells[g.key(lc, ((c%g.nLon)+g.nLon)%g.nLon, eq)] {
				l := &s.Loads[li]
				if l.WeightLbs > d.CapacityLbs {
					continue
				}
				ls := &loads[li]
				dx, dy, dz := ds.x-ls.x, ds.y-ls.y, ds.z-ls.z
				if dx*dx+dy*dy+dz*dz > maxChord2 {
					continue
				}
				if miles, ok := s.Params.reach(d, l, greatCircle(&ds, ls)); ok {
					edges = append(edges, Edge{Driver: di, Load: int(li), Miles: miles})
				}
			}
		}
	}
	return edges
}

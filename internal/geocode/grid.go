package geocode

import (
	"math"

	"github.com/backhaul/backhaul/internal/geo"
)

// grid buckets ZIP codes into half-degree cells (about 35 by 25 miles in the
// US) so that a nearest-neighbour query reads a handful of cells, a few
// dozen ZIP codes, instead of every one.
type grid struct {
	// start[c]..start[c+1] delimit the ZIP indices of cell c in idx.
	start []int32
	idx   []int32
}

const (
	cellsPerDegree = 2
	gridRows       = 180 * cellsPerDegree
	gridCols       = 360 * cellsPerDegree
)

func cellRow(lat float64) int {
	return clampInt(int(math.Floor((lat+90)*cellsPerDegree)), 0, gridRows-1)
}
func cellCol(lon float64) int {
	return clampInt(int(math.Floor((lon+180)*cellsPerDegree)), 0, gridCols-1)
}

func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }

func newGrid(zips []zipEntry) grid {
	counts := make([]int32, gridRows*gridCols+1)
	cells := make([]int32, len(zips))
	for i, z := range zips {
		c := int32(cellRow(z.pt.Lat)*gridCols + cellCol(z.pt.Lon))
		cells[i] = c
		counts[c+1]++
	}
	for c := 1; c < len(counts); c++ {
		counts[c] += counts[c-1]
	}
	idx := make([]int32, len(zips))
	next := make([]int32, gridRows*gridCols)
	copy(next, counts)
	for i, c := range cells {
		idx[next[c]] = int32(i)
		next[c]++
	}
	return grid{start: counts, idx: idx}
}

// nearest returns the index of the ZIP code nearest to p, or -1 when there
// are none. It searches growing bounding boxes: geo.BoundingBox never
// leaves out a point within the radius, so once the best candidate inside
// the box is within the radius, nothing outside the box can beat it.
func (g *grid) nearest(zips []zipEntry, p geo.Point) int32 {
	if len(zips) == 0 {
		return -1
	}
	lat := p.Lat * math.Pi / 180
	cosLat := math.Cos(lat)
	// Start about one cell wide: most positions (trucks on US roads) have
	// a ZIP code centroid that close.
	// Start about one cell wide: most positions (trucks on US roads) have
	// a ZIP code centroid that close.
	for radius := 15.0; ; radius *= 4 {
		minLat, maxLat, minLon, maxLon := geo.BoundingBox(p, radius)
		// Compare the haversine term h rather than miles: it grows with
		// the distance and saves an arcsine and a square root per
		// candidate.
		best, bestH := int32(-1), math.Inf(1)
		for r := cellRow(minLat); r <= cellRow(maxLat); r++ {
			for c := cellCol(minLon); c <= cellCol(maxLon); c++ {
				cell := r*gridCols + c
				for _, i := range g.idx[g.start[cell]:g.start[cell+1]] {
					z := &zips[i]
					sinDLat := math.Sin((z.lat - lat) / 2)
					sinDLon := math.Sin((z.pt.Lon - p.Lon) * math.Pi / 360)
					h := sinDLat*sinDLat + cosLat*z.cosLat*sinDLon*sinDLon
					if h < bestH || h == bestH && i < best {
						best, bestH = i, h
					}
				}
			}
		}
		if best >= 0 && geo.GreatCircleMiles(p, zips[best].pt) <= radius {
			return best
		}
		if minLat <= -90 && maxLat >= 90 && minLon <= -180 && maxLon >= 180 {
			return best // the whole globe was searched
		}
	}
}

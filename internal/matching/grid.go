package matching

import (
	"math"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
)

// The grid covers the globe in cells of cellDeg degrees, one layer per
// equipment type, so that "loads near here for a van" reads only the van
// layer's cells under the search circle's bounding box. A one-degree cell is
// about 69 by 50 miles in the US; a 250-mile search reads some 80 of them.
const (
	cellDeg = 1.0
	nLat    = int(180 / cellDeg)
	nLon    = int(360 / cellDeg)
	nCells  = nLat * nLon
)

// equipments are the grid's layers, in order.
var equipments = []freight.Equipment{freight.Van, freight.Reefer, freight.Flatbed}

// layer returns the grid layer of an equipment type, or -1.
func layer(e freight.Equipment) int {
	switch e {
	case freight.Van:
		return 0
	case freight.Reefer:
		return 1
	case freight.Flatbed:
		return 2
	}
	return -1
}

func latCell(lat float64) int { return min(max(int(math.Floor((lat+90)/cellDeg)), 0), nLat-1) }
func lonCell(lon float64) int { return min(max(int(math.Floor((lon+180)/cellDeg)), 0), nLon-1) }

// cellOf is the index of the cell holding p in layer l.
func cellOf(l int, p geo.Point) int { return l*nCells + latCell(p.Lat)*nLon + lonCell(p.Lon) }

// slot is where an entry sits in the grid, for removal in constant time.
type slot struct {
	cell int32 // -1 when not in the grid
	pos  int32
}

// gridEntry is anything the grid holds.
type gridEntry interface {
	comparable
	gridSlot() *slot
}

// grid is a spatial index of entries by point and equipment. It is not
// safe for concurrent use; the Index guards it.
type grid[T gridEntry, H any] struct {
	cells [][]cellEntry[T, H]
}

// cellEntry keeps an entry's point and hot fields (H) beside it, so that a
// search measures distances and applies its cheapest rules reading one
// cell's memory, and follows only the pointers of the entries that pass.
type cellEntry[T gridEntry, H any] struct {
	p geo.Point
	h H
	e T
}

func newGrid[T gridEntry, H any]() *grid[T, H] {
	return &grid[T, H]{cells: make([][]cellEntry[T, H], len(equipments)*nCells)}
}

// add puts e in the cell of p in layer l, with its hot fields h. e must not
// be in the grid.
func (g *grid[T, H]) add(e T, l int, p geo.Point, h H) {
	c := cellOf(l, p)
	*e.gridSlot() = slot{cell: int32(c), pos: int32(len(g.cells[c]))}
	g.cells[c] = append(g.cells[c], cellEntry[T, H]{p: p, h: h, e: e})
}

// remove takes e out of the grid, if it is there.
func (g *grid[T, H]) remove(e T) {
	s := e.gridSlot()
	if s.cell < 0 {
		return
	}
	cell := g.cells[s.cell]
	last := len(cell) - 1
	if int(s.pos) != last {
		moved := cell[last]
		cell[s.pos] = moved
		moved.e.gridSlot().pos = s.pos
	}
	cell[last] = cellEntry[T, H]{}
	g.cells[s.cell] = cell[:last]
	*s = slot{cell: -1}
}

// count is the number of entries in cell c.
func (g *grid[T, H]) count(c int) int { return len(g.cells[c]) }

// within calls f with every entry of layer l within radiusMiles
// (great-circle) of center, its hot fields and the distance to it, until f
// returns false. It reads only the cells under the circle's bounding box.
func (g *grid[T, H]) within(center geo.Point, radiusMiles float64, l int, f func(e T, h *H, miles float64) bool) {
	minLat, maxLat, minLon, maxLon := geo.BoundingBox(center, radiusMiles)
	base := l * nCells
	limit := radiusMiles * (1 + 1e-9)
	// A degree of latitude is never shorter than 68.7 miles: a cheap
	// test before the exact one.
	maxDLat := limit / 68.7
	for la := latCell(minLat); la <= latCell(maxLat); la++ {
		row := base + la*nLon
		for lo := lonCell(minLon); lo <= lonCell(maxLon); lo++ {
			for i := range g.cells[row+lo] {
				ce := &g.cells[row+lo][i]
				if d := ce.p.Lat - center.Lat; d > maxDLat || d < -maxDLat {
					continue
				}
				miles := geo.GreatCircleMiles(center, ce.p)
				if miles > limit {
					continue
				}
				if !f(ce.e, &ce.h, miles) {
					return
				}
			}
		}
	}
}

// around sums n over the 3x3 cells centred on p's cell in layer l.
func around(l int, p geo.Point, n func(c int) float64) float64 {
	la, lo := latCell(p.Lat), lonCell(p.Lon)
	var sum float64
	for dla := -1; dla <= 1; dla++ {
		if la+dla < 0 || la+dla >= nLat {
			continue
		}
		for dlo := -1; dlo <= 1; dlo++ {
			c := ((lo + dlo) + nLon) % nLon
			sum += n(l*nCells + (la+dla)*nLon + c)
		}
	}
	return sum
}

package ratemodel

import (
	"fmt"
	"math"
	"strconv"
)

// Areas maps a location to a market area. The model learns lane levels per
// area, so a scheme that matches how freight markets behave (key market areas
// built from 3-digit ZIP regions, H3 cells) plugs in here.
type Areas interface {
	// Name identifies the scheme; a stored model can only be used with the
	// scheme it was trained with.
	Name() string
	// Area is the market area of a location.
	Area(lat, lon float64) string
}

// Grid is a plain latitude/longitude grid, the default area scheme.
type Grid struct {
	LatStep float64 // degrees
	LonStep float64 // degrees
}

// DefaultAreas is a grid of cells of about 140 by 130 miles across the lower
// 48, similar in size to the industry's key market areas.
func DefaultAreas() Areas { return Grid{LatStep: 2, LonStep: 2.5} }

// Name implements Areas.
func (g Grid) Name() string { return fmt.Sprintf("grid-%gx%g", g.LatStep, g.LonStep) }

// Area implements Areas.
func (g Grid) Area(lat, lon float64) string {
	var buf [24]byte
	b := strconv.AppendInt(buf[:0], int64(math.Floor(lat/g.LatStep)), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(math.Floor(lon/g.LonStep)), 10)
	return string(b)
}

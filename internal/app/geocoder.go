package app

import (
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geocode"
)

// Geocoder resolves stop locations with the embedded offline geocoder: a ZIP
// code wins over a city and state, being the more precise.
type Geocoder struct{}

// Resolve fills in coordinates (and the missing parts of the address).
func (Geocoder) Resolve(l freight.Location) (freight.Location, bool) {
	g := geocode.Default()
	var (
		p  geocode.Place
		ok bool
	)
	if l.ZIP != "" {
		p, ok = g.ZIP(l.ZIP)
	}
	if !ok && l.City != "" {
		p, ok = g.City(l.City, l.State)
	}
	if !ok {
		return l, false
	}
	if l.City == "" {
		l.City = p.City
	}
	if l.State == "" {
		l.State = p.State
	}
	if l.ZIP == "" {
		l.ZIP = p.ZIP
	}
	l.Lat, l.Lon = p.Point.Lat, p.Point.Lon
	return l, true
}

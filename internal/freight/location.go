package freight

import (
	"math"
	"strings"
)

// Location is a stop's address with its coordinates (WGS84).
type Location struct {
	Address string  `json:"address,omitempty"`
	City    string  `json:"city,omitempty"`
	State   string  `json:"state,omitempty"` // two-letter US state code
	ZIP     string  `json:"zip,omitempty"`
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
}

// HasPoint reports whether coordinates were given (0,0 is in the Gulf of
// Guinea, never a US stop, so it means "not set").
func (l Location) HasPoint() bool { return l.Lat != 0 || l.Lon != 0 }

// ValidatePoint checks the coordinates, reporting problems under prefix.
func (l Location) ValidatePoint(prefix string, fs *Fields) {
	if math.IsNaN(l.Lat) || math.IsInf(l.Lat, 0) || l.Lat < -90 || l.Lat > 90 {
		fs.Add(prefix+".lat", "latitude must be within [-90, 90]")
	}
	if math.IsNaN(l.Lon) || math.IsInf(l.Lon, 0) || l.Lon < -180 || l.Lon > 180 {
		fs.Add(prefix+".lon", "longitude must be within [-180, 180]")
	}
}

// Label is "City, ST" or the ZIP, for lists and messages.
func (l Location) Label() string {
	switch {
	case l.City != "" && l.State != "":
		return l.City + ", " + l.State
	case l.ZIP != "":
		return l.ZIP
	}
	return strings.TrimSpace(l.Address)
}

package geo

// DefaultCircuityFactor is the ratio of road miles to great-circle miles
// assumed when no routing engine is configured; 1.2 is the usual figure for
// US truck routes between metro areas.
const DefaultCircuityFactor = 1.2

// Distancer estimates driving distance. A routing engine (OSRM, Valhalla)
// can implement it in place of Circuity.
type Distancer interface {
	RoadMiles(a, b Point) float64
}

// Circuity estimates road miles as great-circle miles times Factor. The zero
// value uses DefaultCircuityFactor.
type Circuity struct {
	Factor float64
}

// DefaultCircuity is the estimator used unless configured otherwise.
var DefaultCircuity = Circuity{Factor: DefaultCircuityFactor}

var _ Distancer = Circuity{}

// RoadMiles is the great-circle distance between a and b times the factor.
// A factor that is not positive (including the zero value) means
// DefaultCircuityFactor, so an unset configuration never yields zero miles.
func (c Circuity) RoadMiles(a, b Point) float64 {
	f := c.Factor
	if !(f > 0) {
		f = DefaultCircuityFactor
	}
	return GreatCircleMiles(a, b) * f
}

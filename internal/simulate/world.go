package simulate

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
)

// City is a freight market of the simulated world.
type City struct {
	Name, State string
	Point       geo.Point
	Population  int
	Region      string
	Out, In     float64 // freight leaving and arriving relative to size: the headhaul/backhaul imbalance
}

// region is a part of the US with its freight imbalance: ports, farms and
// factories ship more than they receive; consumer and mountain regions the
// other way round, so trucks that deliver there leave empty or cheap.
type region struct {
	name    string
	out, in float64
	states  []string
}

var regions = []region{
	{"west-coast", 1.30, 0.90, []string{"CA", "WA", "OR"}},
	{"mountain", 0.70, 1.20, []string{"CO", "UT", "NV", "AZ", "NM", "ID"}},
	{"south-central", 1.15, 1.00, []string{"TX", "OK", "LA", "AR"}},
	{"midwest", 1.10, 1.00, []string{"IL", "IN", "OH", "MI", "WI", "MN", "MO", "IA", "NE", "KY", "KS"}},
	{"southeast", 1.00, 1.05, []string{"GA", "TN", "NC", "SC", "AL", "VA", "MS"}},
	{"florida", 0.55, 1.45, []string{"FL"}},
	{"northeast", 0.90, 1.20, []string{"NY", "NJ", "PA", "MA", "MD", "CT", "DE"}},
}

// marketCities are the freight markets the world uses; population and
// coordinates come from the embedded geocoder.
var marketCities = [][2]string{
	{"Los Angeles", "CA"}, {"Chicago", "IL"}, {"Dallas", "TX"}, {"Houston", "TX"}, {"Atlanta", "GA"},
	{"Phoenix", "AZ"}, {"Philadelphia", "PA"}, {"San Antonio", "TX"}, {"San Diego", "CA"}, {"Jacksonville", "FL"},
	{"Columbus", "OH"}, {"Indianapolis", "IN"}, {"Charlotte", "NC"}, {"Seattle", "WA"}, {"Denver", "CO"},
	{"Nashville", "TN"}, {"Memphis", "TN"}, {"Louisville", "KY"}, {"Kansas City", "MO"}, {"Omaha", "NE"},
	{"Minneapolis", "MN"}, {"Milwaukee", "WI"}, {"Detroit", "MI"}, {"Cleveland", "OH"}, {"Cincinnati", "OH"},
	{"Pittsburgh", "PA"}, {"Baltimore", "MD"}, {"Richmond", "VA"}, {"Raleigh", "NC"}, {"Savannah", "GA"},
	{"Miami", "FL"}, {"Orlando", "FL"}, {"Tampa", "FL"}, {"Birmingham", "AL"}, {"New Orleans", "LA"},
	{"Oklahoma City", "OK"}, {"Tulsa", "OK"}, {"El Paso", "TX"}, {"Laredo", "TX"}, {"Albuquerque", "NM"},
	{"Salt Lake City", "UT"}, {"Las Vegas", "NV"}, {"Reno", "NV"}, {"Sacramento", "CA"}, {"Fresno", "CA"},
	{"Portland", "OR"}, {"Boise", "ID"}, {"Spokane", "WA"}, {"St. Louis", "MO"}, {"Des Moines", "IA"},
	{"Little Rock", "AR"}, {"Fort Worth", "TX"}, {"Austin", "TX"}, {"Newark", "NJ"}, {"New York", "NY"},
	{"Boston", "MA"}, {"Buffalo", "NY"}, {"Wichita", "KS"}, {"Greenville", "SC"}, {"Jackson", "MS"},
}

// Cities returns the world's markets, geocoded offline.
func Cities() ([]City, error) {
	g := geocode.Default()
	byState := map[string]region{}
	for _, r := range regions {
		for _, s := range r.states {
			byState[s] = r
		}
	}
	out := make([]City, 0, len(marketCities))
	for _, c := range marketCities {
		p, ok := g.City(c[0], c[1])
		if !ok || p.Population == 0 {
			return nil, fmt.Errorf("simulate: city %s, %s is not among the geocoder's largest cities", c[0], c[1])
		}
		r, ok := byState[c[1]]
		if !ok {
			return nil, fmt.Errorf("simulate: state %s has no region", c[1])
		}
		out = append(out, City{Name: p.City, State: p.State, Point: p.Point, Population: p.Population,
			Region: r.name, Out: r.out, In: r.in})
	}
	return out, nil
}

// Equipment mix of posted freight: dry van dominates the US truckload market.
var equipmentMix = []struct {
	eq freight.Equipment
	w  float64
}{{freight.Van, 0.62}, {freight.Reefer, 0.24}, {freight.Flatbed, 0.14}}

// baseRPM is a typical all-in rate per loaded mile by equipment.
var baseRPM = map[freight.Equipment]float64{freight.Van: 2.35, freight.Reefer: 2.75, freight.Flatbed: 2.95}

var commodities = map[freight.Equipment][]string{
	freight.Van:     {"Consumer electronics", "Paper products", "Packaged foods", "Auto parts", "Furniture", "Beverages"},
	freight.Reefer:  {"Fresh produce", "Frozen foods", "Dairy", "Meat", "Pharmaceuticals"},
	freight.Flatbed: {"Steel coils", "Lumber", "Machinery", "Building materials", "Pipe"},
}

// Lane limits: shorter hauls are local delivery, not truckload; longer ones
// are rare enough to leave out.
const (
	minLaneMiles = 120
	maxLaneMiles = 3000
)

// Gravity is the lane model: freight from i to j is proportional to the
// size of both markets (square roots, so giants do not take everything),
// i's outbound and j's inbound strength, and inversely to road miles.
type Gravity struct {
	Cities []City
	Miles  [][]float64 // road miles between cities
	W      [][]float64 // lane weights; 0 for lanes out of range
	rowSum []float64
	outW   []float64 // origin weights
}

// NewGravity builds the lane weights.
func NewGravity(cities []City, miles geo.Distancer) *Gravity {
	n := len(cities)
	g := &Gravity{Cities: cities, Miles: make([][]float64, n), W: make([][]float64, n), rowSum: make([]float64, n), outW: make([]float64, n)}
	for i, a := range cities {
		g.Miles[i], g.W[i] = make([]float64, n), make([]float64, n)
		for j, b := range cities {
			d := miles.RoadMiles(a.Point, b.Point)
			g.Miles[i][j] = d
			if i == j || d < minLaneMiles || d > maxLaneMiles {
				continue
			}
			w := math.Sqrt(float64(a.Population)) * a.Out * math.Sqrt(float64(b.Population)) * b.In / d
			g.W[i][j] = w
			g.rowSum[i] += w
		}
		g.outW[i] = g.rowSum[i]
	}
	return g
}

// Origin picks an origin market.
func (g *Gravity) Origin(r *rand.Rand) int { return pick(r, g.outW) }

// Destination picks a destination for freight leaving i.
func (g *Gravity) Destination(r *rand.Rand, i int) int { return pick(r, g.W[i]) }

// Share is the expected share of all freight on lane i->j.
func (g *Gravity) Share(i, j int) float64 {
	var total float64
	for _, s := range g.rowSum {
		total += s
	}
	return g.W[i][j] / total
}

func pick(r *rand.Rand, w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	x := r.Float64() * sum
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	for i := len(w) - 1; i >= 0; i-- {
		if w[i] > 0 {
			return i
		}
	}
	return 0
}

// dayShape is the share of a day's freight posted at hour h of the world's
// day (the world starts at midnight, US time), averaging 1: most freight
// is posted in business hours.
func dayShape(h float64) float64 {
	return 1 + 0.6*math.Sin((h-6)/24*2*math.Pi)
}

// LoadSpec is a load the simulated world posts: the truth the simulator
// measures against, in simulated time.
type LoadSpec struct {
	Index       int
	Shipper     int
	Origin      int
	Dest        int
	Equipment   freight.Equipment
	WeightLbs   int
	Commodity   string
	RateUSD     float64
	Miles       float64
	Pickup      Window
	Delivery    Window
	PickupDwell time.Duration // how long loading takes at the dock
	DropDwell   time.Duration // how long unloading takes
	SpeedMph    float64       // the average road speed of the haul (traffic, weather)
}

// Window is a time window in simulated time.
type Window struct{ Start, End time.Time }

// Demand generates the world's loads from its own random stream, so that
// the same seed posts the same loads whatever the dispatchers do.
type Demand struct {
	g       *Gravity
	r       *rand.Rand
	seed    uint64
	shipper []int // per origin city: the shipper whose desk is nearest
	perDay  float64
	next    int
	// Origin is the world's start: time of day and window boundaries are
	// counted from it, so a seed makes the same loads whenever it runs.
	Origin time.Time
}

// NewDemand posts perDay loads a simulated day on average. shippers are
// the cities of the shippers' desks: freight leaving a city is posted by
// the nearest desk, as a national shipper's regional office would.
func NewDemand(g *Gravity, shippers []int, seed uint64, perDay float64) *Demand {
	d := &Demand{g: g, r: rand.New(rand.NewPCG(seed, 0xd3ad)), seed: seed, perDay: perDay,
		shipper: make([]int, len(g.Cities))}
	for i := range g.Cities {
		best := -1.0
		for s, c := range shippers {
			if m := g.Miles[i][c]; best < 0 || m < best {
				best, d.shipper[i] = m, s
			}
		}
	}
	return d
}

// Step returns the loads posted during [now, now+dt).
func (d *Demand) Step(now time.Time, dt time.Duration) []LoadSpec {
	if d.Origin.IsZero() {
		d.Origin = now
	}
	mean := d.perDay * dt.Hours() / 24 * dayShape(math.Mod(now.Sub(d.Origin).Hours(), 24))
	n := poisson(d.r, mean)
	out := make([]LoadSpec, 0, n)
	for range n {
		out = append(out, d.load(now))
	}
	return out
}

// load draws one load from the gravity model.
func (d *Demand) load(now time.Time) LoadSpec {
	o := d.g.Origin(d.r)
	dst := d.g.Destination(d.r, o)
	shipper := d.shipper[o]
	var eq freight.Equipment
	x := d.r.Float64()
	for _, m := range equipmentMix {
		if x < m.w {
			eq = m.eq
			break
		}
		x -= m.w
	}
	if eq == "" {
		eq = freight.Van
	}
	miles := d.g.Miles[o][dst]
	oc, dc := d.g.Cities[o], d.g.Cities[dst]
	rpm := baseRPM[eq] * math.Pow(oc.Out/dc.Out, 0.35) * (0.92 + 0.16*d.r.Float64())
	if miles < 300 {
		rpm *= 1 + 0.4*(300-miles)/300 // short hauls pay more per mile
	}
	rate := math.Max(450, math.Round(rpm*miles))
	lead := 3*time.Hour + time.Duration(d.r.Float64()*float64(27*time.Hour))
	pStart := d.Origin.Add((now.Sub(d.Origin) + lead).Truncate(30 * time.Minute))
	pLen := time.Duration(2+d.r.IntN(3)) * time.Hour
	speed := 47.0 // planning speed shippers assume, with fuel and traffic
	drive := time.Duration(miles / speed * float64(time.Hour))
	rests := time.Duration(int(drive/freight.MaxDriving)) * freight.RestLength
	transit := drive + rests + 2*time.Hour + time.Duration(d.r.IntN(6))*time.Hour
	dStart := d.Origin.Add((pStart.Sub(d.Origin) + transit).Truncate(time.Hour))
	ls := LoadSpec{
		Index: d.next, Shipper: shipper, Origin: o, Dest: dst, Equipment: eq,
		WeightLbs: 18000 + 1000*d.r.IntN(26), Commodity: commodities[eq][d.r.IntN(len(commodities[eq]))],
		RateUSD: rate, Miles: miles,
		Pickup:   Window{pStart, pStart.Add(pLen)},
		Delivery: Window{dStart, dStart.Add(4 * time.Hour)},
	}
	// Operations of this load come from a stream keyed by the load alone,
	// so they are the same whichever truck hauls it.
	or := rand.New(rand.NewPCG(d.seed, hash64(fmt.Sprint("ops", ls.Index))))
	ls.PickupDwell = dwell(or)
	ls.DropDwell = dwell(or)
	ls.SpeedMph = 44 + 10*or.Float64()
	d.next++
	return ls
}

// dwell is time at a dock: usually one to two hours, with a long tail of
// facilities that keep trucks waiting (detention starts after two hours).
func dwell(r *rand.Rand) time.Duration {
	m := 60 + r.IntN(60)
	if r.Float64() < 0.2 {
		m += 60 + r.IntN(180)
	}
	return time.Duration(m) * time.Minute
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// poisson draws from a Poisson distribution (Knuth; means here are small).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// Detention is time at a dock beyond the two free hours.
func Detention(d time.Duration) time.Duration { return max(0, d-2*time.Hour) }

package ratemodel

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// Features of a quote, in the order of the model's input vector.
const (
	fLogMiles = iota
	fEquipment
	fOriginLat
	fOriginLon
	fDestLat
	fDestLon
	fOriginArea   // level of the origin area, from training history
	fDestArea     // level of the destination area
	fLane         // level of the area pair
	fOriginAreaEq // level of the origin area for this equipment
	fDestAreaEq
	fOriginPlace // level of the origin city itself
	fDestPlace
	fDayOfYear // of pickup
	fPickupDow
	fHoliday // signed days from the nearest holiday to pickup
	fPickupHour
	fLeadHours // log of hours from booking to pickup
	fBookedDow
	fWeight
	fDiesel
	fMarketEq7 // recent level of this equipment, nationwide
	fMarketEq28
	fMarketOrigin28 // recent level of loads leaving the origin area
	fMarketDest28   // recent level of loads entering the destination area
	fVolumeOrigin28 // recent number of bookings leaving the origin area
	fVolumeDest28
	numFeatures
)

// Groups of features, as the factors of a quote are reported.
const (
	GroupLane     = "lane"
	GroupHaul     = "distance and equipment"
	GroupDate     = "pickup date"
	GroupLeadTime = "lead time"
	GroupWeight   = "weight"
	GroupDiesel   = "diesel price"
	GroupMarket   = "recent market"
)

var featureGroup = [numFeatures]string{
	fLogMiles: GroupHaul, fEquipment: GroupHaul,
	fOriginLat: GroupLane, fOriginLon: GroupLane, fDestLat: GroupLane, fDestLon: GroupLane,
	fOriginArea: GroupLane, fDestArea: GroupLane, fLane: GroupLane, fOriginAreaEq: GroupLane, fDestAreaEq: GroupLane,
	fOriginPlace: GroupLane, fDestPlace: GroupLane,
	fDayOfYear: GroupDate, fPickupDow: GroupDate, fHoliday: GroupDate, fPickupHour: GroupDate,
	fLeadHours: GroupLeadTime, fBookedDow: GroupLeadTime,
	fWeight:    GroupWeight,
	fDiesel:    GroupDiesel,
	fMarketEq7: GroupMarket, fMarketEq28: GroupMarket, fMarketOrigin28: GroupMarket, fMarketDest28: GroupMarket,
	fVolumeOrigin28: GroupMarket, fVolumeDest28: GroupMarket,
}

// loadKeys are the market-area keys of a load, computed once.
type loadKeys struct {
	origin, dest, lane, originEq, destEq string
	originPlace, destPlace               string
	eq                                   string
}

func keysOf(l *Load, areas Areas) loadKeys {
	o := areas.Area(l.Origin.Lat, l.Origin.Lon)
	d := areas.Area(l.Dest.Lat, l.Dest.Lon)
	e := string(l.Equipment)
	return loadKeys{
		origin: "o" + o, dest: "d" + d, lane: "l" + o + ">" + d, originEq: "o" + o + "/" + e, destEq: "d" + d + "/" + e, eq: "e" + e,
		originPlace: "p" + placeKey(l.Origin), destPlace: "q" + placeKey(l.Dest),
	}
}

// placeKey identifies a city by its coordinates to about a kilometre, so the
// same city spelled two ways is one place.
func placeKey(p Place) string {
	return strconv.FormatFloat(math.Round(p.Lat*100)/100, 'f', 2, 64) + "," + strconv.FormatFloat(math.Round(p.Lon*100)/100, 'f', 2, 64)
}

// baseFeatures fills the features that depend on the load alone.
func baseFeatures(l *Load, diesel *Diesel, x []float64) {
	x[fLogMiles] = math.Log(l.Miles)
	x[fEquipment] = float64(l.Equipment.index())
	x[fOriginLat], x[fOriginLon] = l.Origin.Lat, l.Origin.Lon
	x[fDestLat], x[fDestLon] = l.Dest.Lat, l.Dest.Lon
	p := l.PickupAt
	x[fDayOfYear] = float64(p.YearDay())
	x[fPickupDow] = float64(p.Weekday())
	x[fHoliday] = float64(holidayOffset(p, 14))
	x[fPickupHour] = float64(p.Hour())
	x[fLeadHours] = math.Log1p(max(0, p.Sub(l.BookedAt).Hours()))
	x[fBookedDow] = float64(l.BookedAt.Weekday())
	x[fWeight] = l.WeightLbs
	x[fDiesel] = diesel.At(l.BookedAt)
}

// curve is the smooth part of the rate: log(rate) as a cubic in log(miles),
// one per equipment. The trees learn what is left, which spares them from
// building a staircase along the strongest feature.
type curve struct {
	Coef [][4]float64 `json:"coef"` // per equipment index
}

func (c *curve) at(e Equipment, miles float64) float64 {
	k := c.Coef[e.index()]
	z := math.Log(miles) - 6
	return k[0] + z*(k[1]+z*(k[2]+z*k[3]))
}

// fitCurve fits the curve by least squares. An equipment with too few rows
// borrows the curve of all rows, shifted to its mean.
func fitCurve(rows []Booking) curve {
	all := fitCubic(rows, func(*Booking) bool { return true })
	c := curve{Coef: make([][4]float64, len(Equipments))}
	for i, e := range Equipments {
		n := 0
		for j := range rows {
			if rows[j].Equipment == e {
				n++
			}
		}
		if n >= 50 {
			c.Coef[i] = fitCubic(rows, func(b *Booking) bool { return b.Equipment == e })
			continue
		}
		c.Coef[i] = all
		if n > 0 {
			var shift float64
			for j := range rows {
				if b := &rows[j]; b.Equipment == e {
					shift += math.Log(b.RateUSD) - cubic(all, b.Miles)
				}
			}
			c.Coef[i][0] += shift / float64(n)
		}
	}
	return c
}

func cubic(k [4]float64, miles float64) float64 {
	z := math.Log(miles) - 6
	return k[0] + z*(k[1]+z*(k[2]+z*k[3]))
}

func fitCubic(rows []Booking, use func(*Booking) bool) [4]float64 {
	var a [4][5]float64 // normal equations, augmented
	n := 0
	for i := range rows {
		b := &rows[i]
		if !use(b) {
			continue
		}
		n++
		z := math.Log(b.Miles) - 6
		p := [4]float64{1, z, z * z, z * z * z}
		y := math.Log(b.RateUSD)
		for r := 0; r < 4; r++ {
			for c := 0; c < 4; c++ {
				a[r][c] += p[r] * p[c]
			}
			a[r][4] += p[r] * y
		}
	}
	if n == 0 {
		return [4]float64{}
	}
	for r := 0; r < 4; r++ {
		a[r][r] += 1e-6 * float64(n) // keeps a narrow range of distances solvable
	}
	// Gaussian elimination with partial pivoting
	for c := 0; c < 4; c++ {
		p := c
		for r := c + 1; r < 4; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		if a[c][c] == 0 {
			continue
		}
		for r := 0; r < 4; r++ {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for k := c; k < 5; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	var k [4]float64
	for r := 0; r < 4; r++ {
		if a[r][r] != 0 {
			k[r] = a[r][4] / a[r][r]
		}
	}
	return k
}

// encoding is the mean residual (log rate over the curve) per key, shrunk
// towards zero by Prior pseudo-rows so that a key seen twice says little.
type encoding struct {
	Sum   map[string]float64 `json:"sum"`
	N     map[string]float64 `json:"n"`
	Prior float64            `json:"prior"`
}

func newEncoding(prior float64) *encoding {
	return &encoding{Sum: map[string]float64{}, N: map[string]float64{}, Prior: prior}
}

func (e *encoding) add(key string, r float64) {
	e.Sum[key] += r
	e.N[key]++
}

func (e *encoding) value(key string) float64 {
	return e.Sum[key] / (e.N[key] + e.Prior)
}

// encode fills the area features from the encodings.
func encode(k *loadKeys, enc *encoding, x []float64) {
	x[fOriginArea] = enc.value(k.origin)
	x[fDestArea] = enc.value(k.dest)
	x[fLane] = enc.value(k.lane)
	x[fOriginAreaEq] = enc.value(k.originEq)
	x[fDestAreaEq] = enc.value(k.destEq)
	x[fOriginPlace] = enc.value(k.originPlace)
	x[fDestPlace] = enc.value(k.destPlace)
}

func addEncoding(k *loadKeys, enc *encoding, r float64) {
	enc.add(k.origin, r)
	enc.add(k.dest, r)
	enc.add(k.lane, r)
	enc.add(k.originEq, r)
	enc.add(k.destEq, r)
	enc.add(k.originPlace, r)
	enc.add(k.destPlace, r)
}

// market is the recent-market index: per key (equipment nationwide, origin
// area, destination area) and UTC day, the number of bookings and the sum of
// their residuals. A quote reads only days before the day it is asked on, so
// it never sees a booking made after it, nor one made later the same day.
type market struct {
	Series map[string]*daySeries `json:"series"`
	// LastDay is the last day with a booking. A quote after it reads the
	// market as of the day after: the latest known, not an empty window.
	LastDay int32 `json:"last_day"`
}

// daySeries holds running totals by day, ascending.
type daySeries struct {
	Days []int32   `json:"days"`
	Sum  []float64 `json:"sum"` // running total up to and including Days[i]
	N    []float64 `json:"n"`
}

type marketPoint struct {
	day int32
	sum float64 // of residuals
	n   float64 // bookings
}

func dayOf(t time.Time) int32 { return int32(math.Floor(float64(t.Unix()) / 86400)) }

func newMarket(points map[string][]marketPoint) *market {
	m := &market{Series: map[string]*daySeries{}}
	for key, pts := range points {
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].day < pts[j].day })
		s := &daySeries{}
		var sum, n float64
		for _, p := range pts {
			sum += p.sum
			n += p.n
			if k := len(s.Days); k > 0 && s.Days[k-1] == p.day {
				s.Sum[k-1], s.N[k-1] = sum, n
				continue
			}
			s.Days = append(s.Days, p.day)
			s.Sum = append(s.Sum, sum)
			s.N = append(s.N, n)
		}
		m.Series[key] = s
	}
	first := true
	for _, s := range m.Series {
		if k := len(s.Days); k > 0 && (first || s.Days[k-1] > m.LastDay) {
			m.LastDay, first = s.Days[k-1], false
		}
	}
	return m
}

// points unrolls the running totals into one point per day.
func (s *daySeries) points() []marketPoint {
	pts := make([]marketPoint, len(s.Days))
	var prevS, prevN float64
	for i, d := range s.Days {
		pts[i] = marketPoint{d, s.Sum[i] - prevS, s.N[i] - prevN}
		prevS, prevN = s.Sum[i], s.N[i]
	}
	return pts
}

func (m *market) valid() bool {
	for _, s := range m.Series {
		if s == nil || len(s.Sum) != len(s.Days) || len(s.N) != len(s.Days) {
			return false
		}
	}
	return true
}

// totalsBefore is the running total over days strictly before day.
func (s *daySeries) totalsBefore(day int32) (sum, n float64) {
	i := sort.Search(len(s.Days), func(i int) bool { return s.Days[i] >= day })
	if i == 0 {
		return 0, 0
	}
	return s.Sum[i-1], s.N[i-1]
}

// window is the sum and count over days [day-days, day-1].
func (m *market) window(key string, day int32, days int32) (sum, n float64) {
	s := m.Series[key]
	if s == nil {
		return 0, 0
	}
	s1, n1 := s.totalsBefore(day)
	s0, n0 := s.totalsBefore(day - days)
	return s1 - s0, n1 - n0
}

// marketPrior is how many bookings' worth of "no news" a window's mean is
// shrunk with.
const marketPrior = 5

func (m *market) features(k *loadKeys, at time.Time, x []float64) {
	day := min(dayOf(at), m.LastDay+1)
	level := func(key string, days int32) (float64, float64) {
		s, n := m.window(key, day, days)
		return s / (n + marketPrior), n
	}
	x[fMarketEq7], _ = level(k.eq, 7)
	x[fMarketEq28], _ = level(k.eq, 28)
	var no, nd float64
	x[fMarketOrigin28], no = level(k.origin, 28)
	x[fMarketDest28], nd = level(k.dest, 28)
	x[fVolumeOrigin28] = math.Log1p(no)
	x[fVolumeDest28] = math.Log1p(nd)
}

func marketKeys(k *loadKeys) []string { return []string{k.eq, k.origin, k.dest} }

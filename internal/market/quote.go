package market

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
)

// QuoteRequest asks for the rate of a lane. Each end is given as lat/lon,
// a ZIP code, or a city and state.
type QuoteRequest struct {
	Origin      freight.Location  `json:"origin"`
	Destination freight.Location  `json:"destination"`
	Equipment   freight.Equipment `json:"equipment"`
	// PickupDate is a date (YYYY-MM-DD, a morning pickup) or an RFC 3339
	// time; empty means tomorrow.
	PickupDate string `json:"pickup_date"`
	WeightLbs  int    `json:"weight_lbs"`
}

// DecodeQuoteRequest reads a quote request strictly: unknown fields, wrong
// types and trailing data are errors that name the field.
func DecodeQuoteRequest(body []byte) (QuoteRequest, error) {
	var req QuoteRequest
	err := httpapi.DecodeBytes(body, &req)
	return req, err
}

// Range is a quoted P10, P50 and P90.
type Range[T any] struct {
	P10 T `json:"p10"`
	P50 T `json:"p50"`
	P90 T `json:"p90"`
}

// AreaRef names a market area.
type AreaRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// RateQuote is an instant quote of the all-in rate (linehaul and fuel).
type RateQuote struct {
	Origin          freight.Location     `json:"origin"`
	Destination     freight.Location     `json:"destination"`
	OriginArea      AreaRef              `json:"origin_area"`
	DestinationArea AreaRef              `json:"destination_area"`
	Equipment       freight.Equipment    `json:"equipment"`
	PickupAt        time.Time            `json:"pickup_at"`
	WeightLbs       int                  `json:"weight_lbs"`
	Miles           float64              `json:"miles"` // estimated road miles
	Rate            Range[freight.Money] `json:"rate_usd"`
	RatePerMile     Range[float64]       `json:"rate_per_mile"`
	// Baseline is the rate of a typical load of this equipment and
	// distance; the factors, largest first, move it to P50. The rate table
	// gives neither.
	Baseline *freight.Money     `json:"baseline_usd,omitempty"`
	Factors  []ratemodel.Factor `json:"factors"`
	Model    Model              `json:"model"`
	QuotedAt time.Time          `json:"quoted_at"`
}

// lane is a quote request checked and geocoded.
type lane struct {
	origin, dest freight.Location
	// the ZIP codes nearest to each end, which place them in their areas
	originZIP, destZIP string
	load               ratemodel.Load
}

// maxFromZIPMiles is how far from every US ZIP code a point may be and still
// count as in the country: the outline the rate model checks is drawn well
// out to sea.
const maxFromZIPMiles = 100

// resolve checks a request and geocodes both ends, reporting every field at
// fault at once.
func resolve(req QuoteRequest, now time.Time, miles geo.Distancer) (lane, error) {
	var fs freight.Fields
	origin, oz := resolvePlace(&fs, "origin", req.Origin)
	dest, dz := resolvePlace(&fs, "destination", req.Destination)
	if origin != nil && dest != nil {
		if d := miles.RoadMiles(geo.Point{Lat: origin.Lat, Lon: origin.Lon}, geo.Point{Lat: dest.Lat, Lon: dest.Lon}); !(d >= 1) {
			fs.Add("destination", "the same place as the origin")
		}
	}
	if !req.Equipment.Valid() {
		fs.Add("equipment", "must be one of van, reefer, flatbed")
	}
	switch {
	case req.WeightLbs <= 0:
		fs.Add("weight_lbs", "must be a positive number of pounds")
	case req.WeightLbs > freight.MaxLoadLbs:
		fs.Add("weight_lbs", "must be at most %d pounds", freight.MaxLoadLbs)
	}
	pickup, ok := pickupTime(req.PickupDate, now)
	switch {
	case !ok:
		fs.Add("pickup_date", "want a YYYY-MM-DD date or an RFC 3339 time")
	case pickup.Before(now.Add(-24 * time.Hour)):
		fs.Add("pickup_date", "in the past")
	case pickup.After(now.Add(366 * 24 * time.Hour)):
		fs.Add("pickup_date", "more than a year ahead")
	}
	if err := fs.Err(); err != nil {
		return lane{}, err
	}
	l := lane{origin: *origin, dest: *dest, originZIP: oz, destZIP: dz}
	l.load = ratemodel.Load{
		BookedAt:  now,
		PickupAt:  pickup,
		Origin:    ratemodel.Place{City: origin.City, State: origin.State, Lat: origin.Lat, Lon: origin.Lon},
		Dest:      ratemodel.Place{City: dest.City, State: dest.State, Lat: dest.Lat, Lon: dest.Lon},
		Equipment: ratemodel.Equipment(req.Equipment),
		WeightLbs: float64(req.WeightLbs),
		Miles:     math.Round(miles.RoadMiles(geo.Point{Lat: origin.Lat, Lon: origin.Lon}, geo.Point{Lat: dest.Lat, Lon: dest.Lon})*10) / 10,
	}
	return l, nil
}

// pickupTime reads a date (a pickup at 12:00 UTC, the morning across the
// country) or an RFC 3339 time; empty is tomorrow.
func pickupTime(s string, now time.Time) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		d := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		return d.Add(12 * time.Hour), true
	}
	if len(s) > 64 {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(12 * time.Hour), true
	}
	return time.Time{}, false
}

// resolvePlace geocodes one end of a lane and checks it lies in the US. It
// also returns the ZIP code nearest to the point, which places it in its
// market area.
func resolvePlace(fs *freight.Fields, field string, l freight.Location) (*freight.Location, string) {
	before := len(*fs)
	g := geocode.Default()
	switch {
	case len(l.Address) > 200:
		fs.Add(field+".address", "must be at most 200 bytes")
	case len(l.City) > 100:
		fs.Add(field+".city", "must be at most 100 bytes")
	case len(l.State) > 40:
		fs.Add(field+".state", "must be a two-letter state code")
	case len(l.ZIP) > 10:
		fs.Add(field+".zip", "must be a 5-digit ZIP code")
	}
	if len(*fs) > before {
		return nil, ""
	}
	switch {
	case l.HasPoint():
		l.ValidatePoint(field, fs)
		if len(*fs) > before {
			return nil, ""
		}
	case l.ZIP != "":
		p, ok := g.ZIP(l.ZIP)
		if !ok {
			fs.Add(field+".zip", "unknown US ZIP code %q", l.ZIP)
			return nil, ""
		}
		l.City, l.State, l.ZIP, l.Lat, l.Lon = p.City, p.State, p.ZIP, p.Point.Lat, p.Point.Lon
	case l.City != "" && l.State != "":
		p, ok := g.City(l.City, l.State)
		if !ok {
			fs.Add(field, "unknown US city %q, %q", l.City, l.State)
			return nil, ""
		}
		l.City, l.State, l.ZIP, l.Lat, l.Lon = p.City, p.State, p.ZIP, p.Point.Lat, p.Point.Lon
	default:
		fs.Add(field, "give lat/lon, a ZIP code, or a city and state")
		return nil, ""
	}
	pt := geo.Point{Lat: l.Lat, Lon: l.Lon}
	near, ok := g.Nearest(pt)
	if !ok || !inUSNear(pt, near) {
		fs.Add(field, "outside the United States (the lower 48, Alaska, Hawaii and Puerto Rico)")
		return nil, ""
	}
	if l.ZIP == "" && l.City == "" {
		l.City, l.State, l.ZIP = near.City, near.State, near.ZIP
	}
	return &l, near.ZIP
}

// outline answers whether a point is inside the rate model's outline of the
// country: the model owns that outline and refuses a load with an end
// outside it, so a load from the point to the middle of Kansas is asked
// about. The table's rates are irrelevant; it only has to be valid.
var outline = ratemodel.FitTable(nil)

var probes = [2]ratemodel.Place{{Lat: 39.5, Lon: -98.35}, {Lat: 38.0, Lon: -97.0}}

// inUS reports whether a point lies in the United States: near a US ZIP code
// and inside the rate model's outline.
func inUS(p geo.Point) bool {
	near, ok := geocode.Default().Nearest(p)
	return ok && inUSNear(p, near)
}

// inUSNear is inUS given the ZIP code nearest to p.
func inUSNear(p geo.Point, near geocode.Place) bool {
	if p.Validate() != nil || geo.GreatCircleMiles(p, near.Point) > maxFromZIPMiles {
		return false
	}
	probe := probes[0]
	if p.Lat == probe.Lat && p.Lon == probe.Lon {
		probe = probes[1]
	}
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := outline.Predict(ratemodel.Load{BookedAt: t, PickupAt: t, Origin: ratemodel.Place{Lat: p.Lat, Lon: p.Lon}, Dest: probe,
		Equipment: ratemodel.Van, Miles: 100})
	return !errors.Is(err, ratemodel.ErrImpossibleLane)
}

// QuoteLane quotes the all-in rate of a lane: P10, P50 and P90 with the
// factors that moved the price, from the rate model in service or, while
// there is none, the rate table.
func (s *Service) QuoteLane(ctx context.Context, req QuoteRequest) (RateQuote, error) {
	start := time.Now()
	defer func() { s.met.quote.Observe(time.Since(start).Seconds()) }()
	now := s.opts.Now().UTC()
	l, err := resolve(req, now, s.opts.Miles)
	if err != nil {
		return RateQuote{}, err
	}
	p := s.pricer.Load()
	if p == nil {
		return RateQuote{}, errNoData
	}
	q, err := p.quote(l.load)
	if err != nil {
		return RateQuote{}, quoteError(err)
	}
	m, _ := s.InService()
	out := RateQuote{
		Origin: l.origin, Destination: l.dest,
		OriginArea: s.areaRef(l.originZIP), DestinationArea: s.areaRef(l.destZIP),
		Equipment: req.Equipment, PickupAt: l.load.PickupAt, WeightLbs: req.WeightLbs, Miles: l.load.Miles,
		Rate:        Range[freight.Money]{P10: freight.FromDollars(q.P10), P50: freight.FromDollars(q.P50), P90: freight.FromDollars(q.P90)},
		RatePerMile: Range[float64]{P10: perMile(q.P10, l.load.Miles), P50: perMile(q.P50, l.load.Miles), P90: perMile(q.P90, l.load.Miles)},
		Factors:     q.Factors,
		Model:       m,
		QuotedAt:    now,
	}
	if out.Factors == nil {
		out.Factors = []ratemodel.Factor{}
	}
	if q.Baseline > 0 {
		b := freight.FromDollars(q.Baseline)
		out.Baseline = &b
	}
	for i := range out.Factors {
		f := &out.Factors[i]
		f.Effect, f.USD = math.Round(f.Effect*10000)/10000, math.Round(f.USD*100)/100
	}
	return out, nil
}

func perMile(usd, miles float64) float64 { return math.Round(usd/miles*100) / 100 }

func (s *Service) areaRef(zip string) AreaRef {
	a, _ := s.areas.OfZIP(zip)
	return AreaRef{ID: a.ID, Name: a.Name}
}

// quoteError turns a refusal of the rate model into an error naming the
// field; resolve has already caught every case it knows.
func quoteError(err error) error {
	switch {
	case errors.Is(err, ratemodel.ErrUnknownEquip):
		return &freight.Error{Code: freight.EINVALID, Message: "invalid input", Fields: []freight.FieldError{{Field: "equipment", Detail: err.Error()}}}
	case errors.Is(err, ratemodel.ErrImpossibleLane):
		return &freight.Error{Code: freight.EINVALID, Message: "invalid input", Fields: []freight.FieldError{{Field: "destination", Detail: err.Error()}}}
	}
	return fmt.Errorf("quote: %w", err)
}

// Quote implements loads.Quoter: the P50 of the rate model in service,
// rounded to whole dollars, as the offered rate of a load posted without
// one. With no market data at all it proposes nothing (0, nil), so the load
// service asks the shipper for a rate as it does without this service.
func (s *Service) Quote(ctx context.Context, l freight.Load) (freight.Money, error) {
	start := time.Now()
	defer func() { s.met.quote.Observe(time.Since(start).Seconds()) }()
	p := s.pricer.Load()
	if p == nil {
		return 0, nil
	}
	var fs freight.Fields
	for _, end := range []struct {
		field string
		loc   freight.Location
	}{{"origin", l.Origin}, {"destination", l.Destination}} {
		if !inUS(geo.Point{Lat: end.loc.Lat, Lon: end.loc.Lon}) {
			fs.Add(end.field, "outside the United States; give rate_usd to post it")
		}
	}
	if err := fs.Err(); err != nil {
		return 0, err
	}
	pickup := l.Pickup.Start
	if pickup.IsZero() {
		pickup = s.opts.Now()
	}
	q, err := p.quote(ratemodel.Load{
		LoadID:    l.ID,
		BookedAt:  s.opts.Now().UTC(),
		PickupAt:  pickup.UTC(),
		Origin:    ratemodel.Place{City: l.Origin.City, State: l.Origin.State, Lat: l.Origin.Lat, Lon: l.Origin.Lon},
		Dest:      ratemodel.Place{City: l.Destination.City, State: l.Destination.State, Lat: l.Destination.Lat, Lon: l.Destination.Lon},
		Equipment: ratemodel.Equipment(l.Equipment),
		WeightLbs: float64(l.WeightLbs),
		Miles:     l.Miles,
	})
	if err != nil {
		return 0, quoteError(err)
	}
	return freight.FromDollars(math.Round(q.P50)), nil
}

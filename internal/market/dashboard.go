package market

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/market/areas"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
)

// equipments are the dashboard's trailer types, in the order of its
// per-equipment arrays.
var equipments = freight.EquipmentTypes

func eqIndex(e string) int { return slices.Index(equipments, freight.Equipment(e)) }

// areaIndex is the position in areas.All of the area of a point, -1 for an
// invalid point.
func (s *Service) areaIndex(lat, lon float64) int {
	i, ok := s.indexOf(s.areas.Area(lat, lon))
	if !ok {
		return -1
	}
	return i
}

// indexOf is the position in areas.All (sorted by ID) of an area.
func (s *Service) indexOf(id string) (int, bool) {
	return slices.BinarySearchFunc(s.areas.All(), id, func(a areas.Area, id string) int { return strings.Compare(a.ID, id) })
}

// Live is the load board against the trucks ready to haul, now.
type Live struct {
	OpenLoads       int `json:"open_loads"`       // posted, pickup not yet past, picking up in the area
	AvailableTrucks int `json:"available_trucks"` // drivers available in the area
	// LoadToTruck is OpenLoads over AvailableTrucks; null when no truck is
	// available.
	LoadToTruck *float64 `json:"load_to_truck"`
}

func liveOf(loads, trucks int) Live {
	l := Live{OpenLoads: loads, AvailableTrucks: trucks}
	if trucks > 0 {
		r := math.Round(float64(loads)/float64(trucks)*100) / 100
		l.LoadToTruck = &r
	}
	return l
}

// liveSnapshot counts open loads and available trucks per area and
// equipment.
type liveSnapshot struct {
	at     time.Time
	loads  [][]int // [area][equipment]
	trucks [][]int
	// national totals per equipment
	totalLoads, totalTrucks []int
}

// positionMaxAge is how old a driver's last reported position may be to
// place the driver; older, the driver counts at the home base.
const positionMaxAge = 6 * time.Hour

func (s *Service) liveFigures(ctx context.Context) (*liveSnapshot, error) {
	return s.live.get(time.Now(), func() (*liveSnapshot, error) { return s.countLive(ctx) })
}

func (s *Service) countLive(ctx context.Context) (*liveSnapshot, error) {
	now := s.opts.Now().UTC()
	n := len(s.areas.All())
	snap := &liveSnapshot{at: now, loads: grid(n), trucks: grid(n),
		totalLoads: make([]int, len(equipments)), totalTrucks: make([]int, len(equipments))}
	rows, err := s.db.Query(ctx, `SELECT origin_lat, origin_lon, equipment FROM loads WHERE status = 'posted' AND pickup_end >= ?`, now)
	if err != nil {
		return nil, fmt.Errorf("count open loads: %w", err)
	}
	for rows.Next() {
		var lat, lon float64
		var eq string
		if err := rows.Scan(&lat, &lon, &eq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("count open loads: %w", err)
		}
		if a, e := s.areaIndex(lat, lon), eqIndex(eq); a >= 0 && e >= 0 {
			snap.loads[a][e]++
			snap.totalLoads[e]++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count open loads: %w", err)
	}
	// Where a driver is: the last position reported recently, else the
	// home base.
	where := map[string]geo.Point{}
	prow, err := s.db.Query(ctx, `SELECT p.driver_id, p.lat, p.lon FROM positions p
		JOIN (SELECT driver_id, MAX(recorded_at) AS at FROM positions WHERE recorded_at >= ? GROUP BY driver_id) m
		ON p.driver_id = m.driver_id AND p.recorded_at = m.at`, now.Add(-positionMaxAge))
	if err != nil {
		s.log.Warn("market: read drivers' positions; counting drivers at their home bases", "err", err)
	} else {
		for prow.Next() {
			var id string
			var p geo.Point
			if err := prow.Scan(&id, &p.Lat, &p.Lon); err == nil {
				where[id] = p
			}
		}
		prow.Close()
	}
	rows, err = s.db.Query(ctx, `SELECT id, home_lat, home_lon, equipment FROM drivers WHERE status = 'available'`)
	if err != nil {
		return nil, fmt.Errorf("count available trucks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, eq string
		var p geo.Point
		if err := rows.Scan(&id, &p.Lat, &p.Lon, &eq); err != nil {
			return nil, fmt.Errorf("count available trucks: %w", err)
		}
		if at, ok := where[id]; ok {
			p = at
		}
		if a, e := s.areaIndex(p.Lat, p.Lon), eqIndex(eq); a >= 0 && e >= 0 {
			snap.trucks[a][e]++
			snap.totalTrucks[e]++
		}
	}
	return snap, rows.Err()
}

func grid(n int) [][]int {
	g := make([][]int, n)
	for i := range g {
		g[i] = make([]int, len(equipments))
	}
	return g
}

// IndexWindow is a rate index over the days before the report's date.
type IndexWindow struct {
	// Index is 100 for rates at the national level of the equipment and
	// distance (the rate table), 110 for rates 10% above it. It is shrunk
	// towards 100 when bookings are few, and null without any.
	Index *float64 `json:"index"`
	// Change is against the window of the same length before it (0.05 is
	// 5% up); null unless both windows hold three bookings or more.
	Change   *float64 `json:"change"`
	Bookings int      `json:"bookings"`
}

// RateIndex is a rate index over the last 7, 30 and 90 days.
type RateIndex struct {
	D7  IndexWindow `json:"7d"`
	D30 IndexWindow `json:"30d"`
	D90 IndexWindow `json:"90d"`
}

var indexDays = [3]float64{7, 30, 90}

// indexShrink is how many bookings' worth of "national level" an index is
// shrunk with.
const indexShrink = 3

// acc sums log(rate / national rate) of bookings in a window and the one
// before it.
type acc struct {
	n, prevN     [3]int
	sum, prevSum [3]float64
}

func (a *acc) add(ageDays, v float64) {
	for w, d := range indexDays {
		switch {
		case ageDays >= 0 && ageDays < d:
			a.n[w]++
			a.sum[w] += v
		case ageDays >= d && ageDays < 2*d:
			a.prevN[w]++
			a.prevSum[w] += v
		}
	}
}

func (a *acc) index() RateIndex {
	var out [3]IndexWindow
	for w := range out {
		out[w].Bookings = a.n[w]
		if a.n[w] == 0 {
			continue
		}
		cur := 100 * math.Exp(a.sum[w]/float64(a.n[w]+indexShrink))
		out[w].Index = round2(cur)
		if a.n[w] >= 3 && a.prevN[w] >= 3 {
			prev := 100 * math.Exp(a.prevSum[w]/float64(a.prevN[w]+indexShrink))
			out[w].Change = round4(cur/prev - 1)
		}
	}
	return RateIndex{D7: out[0], D30: out[1], D90: out[2]}
}

func round2(v float64) *float64 { r := math.Round(v*100) / 100; return &r }
func round4(v float64) *float64 { r := math.Round(v*10000) / 10000; return &r }

// statRow is a booking as the dashboard keeps it.
type statRow struct {
	o, d     int16
	e        int8
	booked   time.Time
	pickup   time.Time
	rate     float32
	miles    float32
	logIndex float32 // log of the rate over the national rate
}

// marketStats are the figures learned from the booking history, as of the
// latest booking (or now, if bookings are current).
type marketStats struct {
	asOf     time.Time
	rows     []statRow
	out, in  [][]acc            // [area][equipment]
	forecast [][][7]DayForecast // [area][equipment]
}

// statsDays is how much history the dashboard reads: a year for the
// seasonal forecast, and the month before that year's window.
const statsDays = 400

// forecastBaseDays is the window the demand level of a forecast is measured
// over.
const forecastBaseDays = 28

func (s *Service) marketStats(ctx context.Context) (*marketStats, error) {
	return s.stats.get(time.Now(), func() (*marketStats, error) { return s.computeStats(ctx) })
}

func (s *Service) computeStats(ctx context.Context) (*marketStats, error) {
	now := s.opts.Now().UTC()
	n, latest, err := historySize(ctx, s.db)
	if err != nil {
		return nil, err
	}
	st := &marketStats{asOf: now}
	na := len(s.areas.All())
	st.out, st.in = make([][]acc, na), make([][]acc, na)
	st.forecast = make([][][7]DayForecast, na)
	for i := range na {
		st.out[i], st.in[i] = make([]acc, len(equipments)), make([]acc, len(equipments))
		st.forecast[i] = make([][7]DayForecast, len(equipments))
	}
	// With history that has stopped (an import of past years), figures
	// are as of its last booking rather than empty windows before now.
	if n > 0 && latest.Before(now) {
		st.asOf = latest
	}
	bookings, err := history(ctx, s.db, st.asOf.Add(-statsDays*24*time.Hour))
	if err != nil {
		return nil, err
	}
	bookings = slices.DeleteFunc(bookings, func(b ratemodel.Booking) bool { return b.BookedAt.After(st.asOf) })
	table := ratemodel.FitTable(bookings)
	for _, b := range bookings {
		p, err := table.Predict(b.Load)
		if err != nil || !(p.P50 > 0) {
			continue
		}
		o, d, e := s.areaIndex(b.Origin.Lat, b.Origin.Lon), s.areaIndex(b.Dest.Lat, b.Dest.Lon), eqIndex(string(b.Equipment))
		if o < 0 || d < 0 || e < 0 {
			continue
		}
		r := statRow{o: int16(o), d: int16(d), e: int8(e), booked: b.BookedAt, pickup: b.PickupAt,
			rate: float32(b.RateUSD), miles: float32(b.Miles), logIndex: float32(math.Log(b.RateUSD / p.P50))}
		st.rows = append(st.rows, r)
		age := st.asOf.Sub(b.BookedAt).Hours() / 24
		st.out[o][e].add(age, float64(r.logIndex))
		st.in[d][e].add(age, float64(r.logIndex))
	}
	st.forecastDemand()
	return st, nil
}

// DayForecast is the expected number of loads picking up on a day.
type DayForecast struct {
	Date  string  `json:"date"`
	Loads float64 `json:"loads"`
}

// forecastDemand forecasts each area's loads for the 7 days after the
// report's date: its level over the last 28 days, times the day-of-week
// factor of the equipment nationwide, times the season, which is how much
// the equipment's national volume around the same day a year earlier
// stood above or below its level of the 28 days before that year's date.
func (st *marketStats) forecastDemand() {
	day := 24 * time.Hour
	asOf := st.asOf
	level := make([][]float64, len(st.out))
	for i := range level {
		level[i] = make([]float64, len(equipments))
	}
	var dow [3][7]float64
	var dowN [3]float64
	lastYear := asOf.Add(-364 * day)
	for _, r := range st.rows {
		if r.pickup.After(asOf) {
			continue
		}
		dow[r.e][r.pickup.Weekday()]++
		dowN[r.e]++
		if asOf.Sub(r.pickup) < forecastBaseDays*day {
			level[r.o][r.e] += 1.0 / forecastBaseDays
		}
	}
	// national pickups a year earlier, by day, for the season
	span := forecastBaseDays + 11
	var byDay [3][]float64
	for e := range byDay {
		byDay[e] = make([]float64, span)
	}
	start := lastYear.Add(-forecastBaseDays * day)
	for _, r := range st.rows {
		k := int(math.Floor(r.pickup.Sub(start).Hours() / 24))
		if k >= 0 && k < span {
			byDay[r.e][k]++
		}
	}
	first := asOf.Truncate(day).Add(day)
	for e := range equipments {
		base := sum(byDay[e][:forecastBaseDays]) / forecastBaseDays
		for k := range 7 {
			d := first.Add(time.Duration(k) * day)
			f := 1.0
			if dowN[e] >= 70 {
				f = dow[e][d.Weekday()] / (dowN[e] / 7)
			}
			// the week centred on the same weekday a year earlier
			c := int(math.Floor(d.Add(-364*day).Sub(start).Hours() / 24))
			if lo, hi := c-3, c+4; lo >= forecastBaseDays-3 && hi <= span && base*forecastBaseDays >= 20 {
				if wk := sum(byDay[e][lo:hi]); wk >= 20 {
					f *= (wk / 7) / base
				}
			}
			for a := range level {
				st.forecast[a][e][k] = DayForecast{Date: d.Format(time.DateOnly), Loads: math.Round(level[a][e]*f*100) / 100}
			}
		}
	}
}

func sum(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t
}

// Heat thresholds: a market is hot when its heat is at least heatHot,
// cold when at most -heatHot.
const heatHot = 5

// heat scores how tight a market is for trucks: how far its outbound rates
// over 30 days stand above the national level (in percent, roughly), plus
// 10 points for each e-fold its live load-to-truck ratio stands above the
// national ratio, when the area has three or more loads and trucks.
func heat(out RateIndex, loads, trucks, natLoads, natTrucks int) float64 {
	h := 0.0
	if out.D30.Index != nil {
		h += 100 * math.Log(*out.D30.Index/100)
	}
	if loads+trucks >= 3 {
		area := float64(loads+1) / float64(trucks+1)
		nat := float64(natLoads+1) / float64(natTrucks+1)
		h += 10 * math.Log(area/nat)
	}
	return math.Round(h*10) / 10
}

func marketOf(h float64) string {
	switch {
	case h >= heatHot:
		return "hot"
	case h <= -heatHot:
		return "cold"
	}
	return "neutral"
}

// reloadScores rank every area for one equipment as a place to find the
// next load, from 0 (worst) to 1 (best): the demand forecast for the next 7
// days counts most, then the outbound rates and, when trucks and loads are
// on the board, the live load-to-truck ratio.
func reloadScores(st *marketStats, lv *liveSnapshot, e int) []float64 {
	n := len(st.out)
	demand, rates, ratio := make([]float64, n), make([]float64, n), make([]float64, n)
	for a := range n {
		for _, f := range st.forecast[a][e] {
			demand[a] += f.Loads
		}
		rates[a] = 100
		if x := st.out[a][e].index().D30.Index; x != nil {
			rates[a] = *x
		}
		ratio[a] = float64(lv.loads[a][e]+1) / float64(lv.trucks[a][e]+1)
	}
	pd, pr, pl := percentiles(demand), percentiles(rates), percentiles(ratio)
	out := make([]float64, n)
	liveData := lv.totalLoads[e]+lv.totalTrucks[e] > 0
	for a := range out {
		if liveData {
			out[a] = 0.6*pd[a] + 0.2*pr[a] + 0.2*pl[a]
		} else {
			out[a] = 0.75*pd[a] + 0.25*pr[a]
		}
		out[a] = math.Round(out[a]*1000) / 1000
	}
	return out
}

// percentiles ranks values in [0, 1], ties sharing their mean rank.
func percentiles(v []float64) []float64 {
	out := make([]float64, len(v))
	if len(v) < 2 {
		return out
	}
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	for i, x := range v {
		lo, _ := slices.BinarySearch(sorted, x)
		hi := lo
		for hi < len(sorted) && sorted[hi] == x {
			hi++
		}
		out[i] = (float64(lo) + float64(hi-1)) / 2 / float64(len(v)-1)
	}
	return out
}

// EquipmentMarket is one equipment's market in one area.
type EquipmentMarket struct {
	Equipment freight.Equipment `json:"equipment"`
	Live      Live              `json:"live"`
	Outbound  RateIndex         `json:"outbound"` // loads leaving the area
	Inbound   RateIndex         `json:"inbound"`  // loads arriving
	Heat      float64           `json:"heat"`
	Market    string            `json:"market"` // hot, cold or neutral
	// Forecast is the expected number of loads picking up in the area on
	// each of the next 7 days, learned from the bookings' seasons.
	Forecast    []DayForecast `json:"forecast"`
	ReloadScore float64       `json:"reload_score"` // 0 to 1, see Outlook
}

// AreaMarket is the dashboard of one market area.
type AreaMarket struct {
	areas.Area
	// AsOf is the date of the rate indexes and forecasts: now, or the
	// latest booking when the history stops earlier.
	AsOf      time.Time         `json:"as_of"`
	LiveAt    time.Time         `json:"live_at"`
	Equipment []EquipmentMarket `json:"equipment"`
}

// view gathers the figures of a dashboard request.
func (s *Service) view(ctx context.Context) (*marketStats, *liveSnapshot, error) {
	st, err := s.marketStats(ctx)
	if err != nil {
		return nil, nil, err
	}
	lv, err := s.liveFigures(ctx)
	if err != nil {
		return nil, nil, err
	}
	return st, lv, nil
}

func (s *Service) equipmentMarket(st *marketStats, lv *liveSnapshot, scores [][]float64, a, e int) EquipmentMarket {
	out := st.out[a][e].index()
	h := heat(out, lv.loads[a][e], lv.trucks[a][e], lv.totalLoads[e], lv.totalTrucks[e])
	return EquipmentMarket{
		Equipment:   equipments[e],
		Live:        liveOf(lv.loads[a][e], lv.trucks[a][e]),
		Outbound:    out,
		Inbound:     st.in[a][e].index(),
		Heat:        h,
		Market:      marketOf(h),
		Forecast:    slices.Clone(st.forecast[a][e][:]),
		ReloadScore: scores[e][a],
	}
}

// Area returns the dashboard of one market area, every equipment.
func (s *Service) Area(ctx context.Context, id string) (AreaMarket, error) {
	area, ok := s.areas.Get(id)
	if !ok {
		return AreaMarket{}, freight.NotFound("market area")
	}
	st, lv, err := s.view(ctx)
	if err != nil {
		return AreaMarket{}, err
	}
	a, _ := s.indexOf(id)
	scores := make([][]float64, len(equipments))
	for e := range equipments {
		scores[e] = reloadScores(st, lv, e)
	}
	out := AreaMarket{Area: area, AsOf: st.asOf, LiveAt: lv.at}
	for e := range equipments {
		out.Equipment = append(out.Equipment, s.equipmentMarket(st, lv, scores, a, e))
	}
	return out, nil
}

// AreaSummary is a market area with its live figures, all equipment
// together.
type AreaSummary struct {
	areas.Area
	Live
}

// Areas lists every market area with its live load-to-truck ratio.
func (s *Service) Areas(ctx context.Context) ([]AreaSummary, time.Time, error) {
	lv, err := s.liveFigures(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	var out []AreaSummary
	for i, a := range s.areas.All() {
		var loads, trucks int
		for e := range equipments {
			loads += lv.loads[i][e]
			trucks += lv.trucks[i][e]
		}
		out = append(out, AreaSummary{Area: a, Live: liveOf(loads, trucks)})
	}
	return out, lv.at, nil
}

// HeatItem is one area and equipment on the hot or cold list.
type HeatItem struct {
	Area          AreaRef           `json:"area"`
	Equipment     freight.Equipment `json:"equipment"`
	Heat          float64           `json:"heat"`
	Market        string            `json:"market"`
	OutboundIndex *float64          `json:"outbound_index"` // 30 days
	Bookings30d   int               `json:"bookings_30d"`
	Live          Live              `json:"live"`
}

// HotMarkets are the hottest and the coldest markets.
type HotMarkets struct {
	AsOf   time.Time  `json:"as_of"`
	LiveAt time.Time  `json:"live_at"`
	Hot    []HeatItem `json:"hot"`  // hottest first
	Cold   []HeatItem `json:"cold"` // coldest first
}

// Hot lists up to limit of the hottest markets flagged hot and of the
// coldest flagged cold, by area and equipment (one equipment, or all when eq
// is empty). A market needs 5 bookings in 30 days or 3 loads and trucks on
// the board to be ranked.
func (s *Service) Hot(ctx context.Context, eq freight.Equipment, limit int) (HotMarkets, error) {
	st, lv, err := s.view(ctx)
	if err != nil {
		return HotMarkets{}, err
	}
	var items []HeatItem
	for a, area := range s.areas.All() {
		for e, q := range equipments {
			if eq != "" && q != eq {
				continue
			}
			out := st.out[a][e].index()
			if out.D30.Bookings < 5 && lv.loads[a][e]+lv.trucks[a][e] < 3 {
				continue
			}
			h := heat(out, lv.loads[a][e], lv.trucks[a][e], lv.totalLoads[e], lv.totalTrucks[e])
			items = append(items, HeatItem{Area: AreaRef{ID: area.ID, Name: area.Name}, Equipment: q, Heat: h, Market: marketOf(h),
				OutboundIndex: out.D30.Index, Bookings30d: out.D30.Bookings, Live: liveOf(lv.loads[a][e], lv.trucks[a][e])})
		}
	}
	slices.SortStableFunc(items, func(x, y HeatItem) int {
		if x.Heat != y.Heat {
			if x.Heat > y.Heat {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Area.ID+string(x.Equipment), y.Area.ID+string(y.Equipment))
	})
	res := HotMarkets{AsOf: st.asOf, LiveAt: lv.at, Hot: []HeatItem{}, Cold: []HeatItem{}}
	for _, it := range items {
		if it.Market == "hot" && len(res.Hot) < limit {
			res.Hot = append(res.Hot, it)
		}
	}
	for i := len(items) - 1; i >= 0; i-- {
		if it := items[i]; it.Market == "cold" && len(res.Cold) < limit {
			res.Cold = append(res.Cold, it)
		}
	}
	return res, nil
}

// Outlook is how good an area is for a truck of one equipment to find its
// next load, for the matching service.
type Outlook struct {
	AreaID    string            `json:"area_id"`
	Equipment freight.Equipment `json:"equipment"`
	// Score ranks the area among all areas, 0 (worst) to 1 (best): the
	// demand forecast for the next 7 days weighs 60%, the outbound rate
	// index 20% and the live load-to-truck ratio 20% (25% rates and 75%
	// demand while the board is empty).
	Score           float64   `json:"score"`
	ExpectedLoads7d float64   `json:"expected_loads_7d"`
	OutboundIndex   *float64  `json:"outbound_index"` // 30 days
	Live            Live      `json:"live"`
	Market          string    `json:"market"`
	AsOf            time.Time `json:"as_of"`
}

// ReloadOutlook scores an area as a place for a truck of the given
// equipment to find its next load.
func (s *Service) ReloadOutlook(ctx context.Context, areaID string, eq freight.Equipment) (Outlook, error) {
	e := eqIndex(string(eq))
	if e < 0 {
		return Outlook{}, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "equipment", Detail: "must be one of van, reefer, flatbed"}}}
	}
	a, found := s.indexOf(areaID)
	if !found {
		return Outlook{}, freight.NotFound("market area")
	}
	st, lv, err := s.view(ctx)
	if err != nil {
		return Outlook{}, err
	}
	out := st.out[a][e].index()
	o := Outlook{AreaID: areaID, Equipment: eq, Score: reloadScores(st, lv, e)[a], OutboundIndex: out.D30.Index,
		Live: liveOf(lv.loads[a][e], lv.trucks[a][e]), AsOf: st.asOf}
	for _, f := range st.forecast[a][e] {
		o.ExpectedLoads7d += f.Loads
	}
	o.ExpectedLoads7d = math.Round(o.ExpectedLoads7d*100) / 100
	o.Market = marketOf(heat(out, lv.loads[a][e], lv.trucks[a][e], lv.totalLoads[e], lv.totalTrucks[e]))
	return o, nil
}

// LaneWeek is one week of a lane's bookings.
type LaneWeek struct {
	Week        string         `json:"week"` // its Monday
	Bookings    int            `json:"bookings"`
	Rate        *freight.Money `json:"rate_usd"`      // median
	RatePerMile *float64       `json:"rate_per_mile"` // median
	Index       *float64       `json:"index"`         // 100 is the national level for the equipment and distance
}

// LaneHistory is the rate history of a lane between two market areas.
type LaneHistory struct {
	Origin      AreaRef           `json:"origin"`
	Destination AreaRef           `json:"destination"`
	Equipment   freight.Equipment `json:"equipment,omitempty"` // empty: every equipment
	AsOf        time.Time         `json:"as_of"`
	Bookings    int               `json:"bookings"`
	Weeks       []LaneWeek        `json:"weeks"` // oldest first
}

// Lane returns the weekly rate history of the lane between two areas over
// the given number of weeks (at most 52) up to the report's date.
func (s *Service) Lane(ctx context.Context, origin, dest areas.Area, eq freight.Equipment, weeks int) (LaneHistory, error) {
	if weeks < 1 || weeks > 52 {
		return LaneHistory{}, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
			Fields: []freight.FieldError{{Field: "weeks", Detail: "must be an integer between 1 and 52"}}}
	}
	st, err := s.marketStats(ctx)
	if err != nil {
		return LaneHistory{}, err
	}
	o, _ := s.indexOf(origin.ID)
	d, _ := s.indexOf(dest.ID)
	e := eqIndex(string(eq))
	day := 24 * time.Hour
	asOfDay := st.asOf.Truncate(day)
	lastMonday := asOfDay.Add(-time.Duration((int(asOfDay.Weekday())+6)%7) * day)
	first := lastMonday.Add(-time.Duration(weeks-1) * 7 * day)
	type bucket struct{ rates, rpm, idx []float64 }
	buckets := make([]bucket, weeks)
	h := LaneHistory{Origin: AreaRef{origin.ID, origin.Name}, Destination: AreaRef{dest.ID, dest.Name}, Equipment: eq, AsOf: st.asOf}
	for _, r := range st.rows {
		if int(r.o) != o || int(r.d) != d || (eq != "" && int(r.e) != e) || r.booked.Before(first) {
			continue
		}
		k := int(r.booked.Sub(first) / (7 * day))
		if k >= weeks {
			continue
		}
		b := &buckets[k]
		b.rates = append(b.rates, float64(r.rate))
		b.rpm = append(b.rpm, float64(r.rate)/float64(r.miles))
		b.idx = append(b.idx, float64(r.logIndex))
		h.Bookings++
	}
	for k, b := range buckets {
		w := LaneWeek{Week: first.Add(time.Duration(k) * 7 * day).Format(time.DateOnly), Bookings: len(b.rates)}
		if len(b.rates) > 0 {
			m := freight.FromDollars(median(b.rates))
			w.Rate = &m
			w.RatePerMile = round2(median(b.rpm))
			w.Index = round2(100 * math.Exp(sum(b.idx)/float64(len(b.idx))))
		}
		h.Weeks = append(h.Weeks, w)
	}
	return h, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// parseArea reads a market area given as its ID ("tx-dallas"), a ZIP code,
// "City, ST" or "lat,lon".
func (s *Service) parseArea(text string) (areas.Area, bool) {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > 200 {
		return areas.Area{}, false
	}
	if a, ok := s.areas.Get(strings.ToLower(text)); ok {
		return a, true
	}
	if lat, lon, ok := strings.Cut(text, ","); ok {
		la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
		lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
		if err1 == nil && err2 == nil {
			if !inUS(geo.Point{Lat: la, Lon: lo}) {
				return areas.Area{}, false
			}
			a := s.areas.Of(la, lo)
			return a, a.ID != ""
		}
	}
	p, ok := geocode.Default().Parse(text)
	if !ok {
		return areas.Area{}, false
	}
	a := s.areas.Of(p.Point.Lat, p.Point.Lon)
	return a, a.ID != ""
}

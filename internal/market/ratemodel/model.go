package ratemodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// modelVersion changes whenever a stored model can no longer be read.
const modelVersion = 1

// Model quotes rates. It is safe for concurrent use once trained or loaded.
// It encodes to JSON (Save, LoadModel, or encoding/json directly), so a
// retrained model can be stored and compared with the one in service.
type Model struct {
	modelState
	areas Areas
}

// modelState is what a stored model holds.
type modelState struct {
	Version    int     `json:"version"`
	AreaScheme string  `json:"area_scheme"`
	Seed       uint64  `json:"seed"`
	Coverage   float64 `json:"coverage"` // nominal share of rates inside P10-P90

	Curve  curve     `json:"curve"`
	Enc    *encoding `json:"encoding"`
	Market *market   `json:"market"`
	Diesel *Diesel   `json:"diesel"`

	Median *ensemble `json:"median"` // log rate over the curve
	Scale  *ensemble `json:"scale"`  // expected absolute error of Median, in log space
	// Floor keeps the scale of an unusually confident quote from collapsing.
	Floor float64 `json:"floor"`
	// Lo and Hi are calibrated quantiles of the error over the scale: P10 is
	// exp(median + Lo*scale), P90 exp(median + Hi*scale).
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// MarshalJSON implements json.Marshaler.
func (m *Model) MarshalJSON() ([]byte, error) { return json.Marshal(&m.modelState) }

// UnmarshalJSON implements json.Unmarshaler. The model gets DefaultAreas;
// LoadModel checks the scheme and takes another.
func (m *Model) UnmarshalJSON(b []byte) error {
	var s modelState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return err
	}
	m.modelState, m.areas = s, DefaultAreas()
	return nil
}

// NominalCoverage is the share of rates the P10-P90 range is calibrated to
// hold.
func (m *Model) NominalCoverage() float64 { return m.Coverage }

// Options tune training. The zero value is the product default.
type Options struct {
	Seed     uint64
	Areas    Areas   // nil: DefaultAreas
	Diesel   *Diesel // nil: DefaultDiesel
	Coverage float64 // nominal P10-P90 coverage; 0 means 0.8
	// Progress, when set, is told the stage training has reached.
	Progress func(stage string)
}

// TrainReport says what training did with the history.
type TrainReport struct {
	Rows           int // bookings given
	Invalid        int // left out because no quote could be asked for them (see Predict)
	ScreenOutliers int // rate per mile implausible for equipment and distance
	ModelOutliers  int // far from what the lane, date and market explain
	FitRows        int // bookings the trees learned from
	CalRows        int // bookings held back to stop boosting and calibrate the range
	Trees          int
	ScaleTrees     int
	OutlierIDs     []string
}

// Outliers is the number of bookings kept out of training as data errors.
func (r TrainReport) Outliers() int { return r.ScreenOutliers + r.ModelOutliers }

// MinHistory is the fewest clean bookings Train will learn from.
const MinHistory = 50

var (
	medianParams = boostParams{
		Trees: 3000, LearningRate: 0.1, Leaves: 31, MaxDepth: 10, MinLeaf: 20, Lambda: 1,
		RowSample: 0.8, ColSample: 0.8, MaxBins: 255, Patience: 100, Huber: 0.25,
	}
	// a quick model whose only job is to find bookings no lane explains
	screenParams = boostParams{
		Trees: 150, LearningRate: 0.2, Leaves: 31, MaxDepth: 10, MinLeaf: 20, Lambda: 1,
		RowSample: 0.8, ColSample: 0.8, MaxBins: 63, Huber: 0.25,
	}
	scaleParams = boostParams{
		Trees: 150, LearningRate: 0.05, Leaves: 8, MaxDepth: 4, MinLeaf: 100, Lambda: 10,
		RowSample: 0.8, ColSample: 1, MaxBins: 63,
	}
)

// Train learns a model from booking history. Bookings no quote could be
// asked for (see Predict) are left out, and so are outliers: first those
// whose rate per mile is implausible for their equipment and distance, then
// those far from what a quick model of lane, date and market explains. Of the
// rest, a tenth is held back to stop boosting and to learn how uncertain each
// quote is, and another 10 to 20% to calibrate the P10-P90 range; the trees
// learn from the remainder. The same history, options and seed give the same
// model.
func Train(ctx context.Context, history []Booking, opt Options) (*Model, TrainReport, error) {
	if opt.Areas == nil {
		opt.Areas = DefaultAreas()
	}
	if opt.Diesel == nil {
		opt.Diesel = DefaultDiesel()
	}
	if opt.Coverage == 0 {
		opt.Coverage = 0.8
	}
	if opt.Coverage <= 0 || opt.Coverage >= 1 {
		return nil, TrainReport{}, fmt.Errorf("coverage %g outside (0, 1)", opt.Coverage)
	}
	progress := opt.Progress
	if progress == nil {
		progress = func(string) {}
	}
	rep := TrainReport{Rows: len(history)}
	m := &Model{
		modelState: modelState{
			Version: modelVersion, AreaScheme: opt.Areas.Name(), Seed: opt.Seed, Coverage: opt.Coverage,
			Diesel: opt.Diesel,
		},
		areas: opt.Areas,
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0xb00c))

	// bookings no quote could be asked for teach nothing
	history = slices.DeleteFunc(slices.Clone(history), func(b Booking) bool {
		bad := b.check() != nil || !(b.RateUSD > 0) || math.IsInf(b.RateUSD, 0)
		if bad {
			rep.Invalid++
		}
		return bad
	})
	n := len(history)
	keys := make([]loadKeys, n)
	base := make([]float64, n*numFeatures)
	for i := range history {
		l := &history[i].Load
		keys[i] = keysOf(l, opt.Areas)
		baseFeatures(l, opt.Diesel, base[i*numFeatures:(i+1)*numFeatures])
	}
	row := func(i int) []float64 { return base[i*numFeatures : (i+1)*numFeatures] }

	progress("screening outliers")
	out := DetectOutliers(history, screenZ)
	var clean []int
	for i, o := range out {
		if o {
			rep.ScreenOutliers++
			rep.OutlierIDs = append(rep.OutlierIDs, history[i].LoadID)
		} else {
			clean = append(clean, i)
		}
	}
	if len(clean) < MinHistory {
		return nil, rep, fmt.Errorf("%d clean bookings, need at least %d", len(clean), MinHistory)
	}

	// Hold back one slice to stop boosting and one to calibrate the range;
	// the trees learn from the rest. A small history gives calibration a
	// larger share, since the range is only as good as its quantiles.
	perm := slices.Clone(clean)
	rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	nStop := max(10, len(perm)/10)
	nCal := max(20, len(perm)/10, min(len(perm)/5, 1500))
	stop, cal, fit := perm[:nStop], perm[nStop:nStop+nCal], perm[nStop+nCal:]
	slices.Sort(stop)
	slices.Sort(cal)
	slices.Sort(fit)

	// prepare derives, from the bookings in use, everything the features
	// need: the curve, the market index and the area levels.
	resid := make([]float64, n)
	var enc *encoding
	prepare := func(use []int, fitUse []int) {
		rows := make([]Booking, len(use))
		for k, i := range use {
			rows[k] = history[i]
		}
		m.Curve = fitCurve(rows)
		for i := range history {
			resid[i] = math.Log(history[i].RateUSD) - m.Curve.at(history[i].Equipment, history[i].Miles)
		}
		pts := map[string][]marketPoint{}
		for _, i := range use {
			d := dayOf(history[i].BookedAt)
			for _, k := range marketKeys(&keys[i]) {
				pts[k] = append(pts[k], marketPoint{d, resid[i], 1})
			}
		}
		m.Market = newMarket(pts)
		for i := range history {
			m.Market.features(&keys[i], history[i].BookedAt, row(i))
		}
		// Area levels of the fitted rows come from other folds, so a row
		// never sees its own rate; held-back rows see all fitted rows, as a
		// quote does.
		enc = newEncoding(encodingPrior)
		for _, i := range fitUse {
			addEncoding(&keys[i], enc, resid[i])
		}
		const folds = 5
		foldEnc := make([]*encoding, folds)
		for f := range foldEnc {
			foldEnc[f] = newEncoding(encodingPrior)
		}
		for k, i := range fitUse {
			for f := range foldEnc {
				if k%folds != f {
					addEncoding(&keys[i], foldEnc[f], resid[i])
				}
			}
		}
		for k, i := range fitUse {
			encode(&keys[i], foldEnc[k%folds], row(i))
		}
		for _, part := range [][]int{stop, cal} {
			for _, i := range part {
				encode(&keys[i], enc, row(i))
			}
		}
	}
	prepare(clean, fit)

	progress("checking bookings against their lanes")
	if err := ctx.Err(); err != nil {
		return nil, rep, err
	}
	sp := screenParams
	sp.Seed = opt.Seed
	screen := fitBoost(ctx, columns(base, fit), pick(resid, fit), nil, nil, sp)
	flagged := map[int]bool{}
	// the screen has seen the fitted rows, so their errors are smaller and
	// get their own spread
	for _, part := range [][]int{fit, slices.Concat(stop, cal)} {
		errs := make([]float64, len(part))
		for k, i := range part {
			errs[k] = resid[i] - screen.predict(row(i))
		}
		med, sd := robustCentre(errs)
		for k, i := range part {
			if sd > 0 && math.Abs(errs[k]-med)/sd > residualZ {
				flagged[i] = true
			}
		}
	}
	if len(flagged) > 0 {
		drop := func(s []int) []int {
			return slices.DeleteFunc(s, func(i int) bool { return flagged[i] })
		}
		clean, fit, stop, cal = drop(clean), drop(fit), drop(stop), drop(cal)
		for i := range history {
			if flagged[i] {
				rep.ModelOutliers++
				rep.OutlierIDs = append(rep.OutlierIDs, history[i].LoadID)
			}
		}
		prepare(clean, fit)
	}
	m.Enc = enc
	rep.FitRows, rep.CalRows = len(fit), len(stop)+len(cal)

	progress("boosting trees")
	mp := medianParams
	mp.Seed = opt.Seed
	mp.MinLeaf = max(5, min(mp.MinLeaf, len(fit)/50))
	m.Median = fitBoost(ctx, columns(base, fit), pick(resid, fit), columns(base, stop), pick(resid, stop), mp)
	if err := ctx.Err(); err != nil {
		return nil, rep, err
	}
	rep.Trees = len(m.Median.Trees)

	progress("calibrating the range")
	// The scale model learns from the rows that stopped boosting which
	// quotes are harder than others; the calibration rows, seen by neither
	// model, then set the width.
	stopErr := make([]float64, len(stop))
	for k, i := range stop {
		stopErr[k] = math.Abs(resid[i] - m.Median.predict(row(i)))
	}
	m.Floor = max(1e-3, 0.25*mean(stopErr))
	if len(stop) >= minScaleRows {
		cp := scaleParams
		cp.Seed = opt.Seed + 1
		m.Scale = fitBoost(ctx, columns(base, stop), stopErr, nil, nil, cp)
	} else {
		m.Scale = &ensemble{Init: max(m.Floor, mean(stopErr))} // too few rows: one width fits all
		m.Scale.compile()
	}
	rep.ScaleTrees = len(m.Scale.Trees)
	z := make([]float64, len(cal))
	for k, i := range cal {
		x := row(i)
		z[k] = (resid[i] - m.Median.predict(x)) / m.scale(x)
	}
	m.Lo, m.Hi = conformal(z, (1-opt.Coverage)/2)
	return m, rep, nil
}

// minScaleRows is the fewest early-stopping rows worth learning a scale
// from; with fewer, every quote gets the same relative width.
const minScaleRows = 1000

// encodingPrior is how many bookings' worth of "average" an area level is
// shrunk with.
const encodingPrior = 20

// conformal is the pair of split-conformal quantiles of scores z for tails of
// alpha each, with the finite-sample correction that makes the range hold
// new rows at least as often as nominal.
func conformal(z []float64, alpha float64) (lo, hi float64) {
	s := slices.Clone(z)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return -1.28, 1.28
	}
	k := int(math.Ceil(float64(n+1)*(1-alpha))) - 1
	hi = s[min(n-1, k)]
	j := int(math.Floor(float64(n+1)*alpha)) - 1
	lo = s[max(0, j)]
	return lo, hi
}

func (m *Model) scale(x []float64) float64 {
	return max(m.Floor, m.Scale.predict(x))
}

// columns copies the rows idx of a row-major feature matrix into columns.
func columns(base []float64, idx []int) [][]float64 {
	cols := make([][]float64, numFeatures)
	for f := range cols {
		c := make([]float64, len(idx))
		for k, i := range idx {
			c[k] = base[i*numFeatures+f]
		}
		cols[f] = c
	}
	return cols
}

func pick(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}

// Errors a quote can fail with; match them with errors.Is.
var (
	ErrImpossibleLane = errors.New("impossible lane")
	ErrUnknownEquip   = errors.New("unknown equipment")
)

// check rejects loads no rate can be quoted for.
func (l *Load) check() error {
	if l.Equipment.index() < 0 {
		return fmt.Errorf("%w %q", ErrUnknownEquip, l.Equipment)
	}
	for _, p := range []Place{l.Origin, l.Dest} {
		if !inUS(p.Lat, p.Lon) {
			return fmt.Errorf("%w: %g,%g is outside the US", ErrImpossibleLane, p.Lat, p.Lon)
		}
	}
	if l.Origin.Lat == l.Dest.Lat && l.Origin.Lon == l.Dest.Lon {
		return fmt.Errorf("%w: origin and destination are the same point", ErrImpossibleLane)
	}
	if !(l.Miles > 0) || math.IsInf(l.Miles, 0) {
		return fmt.Errorf("%w: distance %g miles", ErrImpossibleLane, l.Miles)
	}
	if l.WeightLbs < 0 || math.IsNaN(l.WeightLbs) || math.IsInf(l.WeightLbs, 0) {
		return fmt.Errorf("bad weight %g lbs", l.WeightLbs)
	}
	if l.BookedAt.IsZero() || l.PickupAt.IsZero() {
		return errors.New("booking and pickup times are required")
	}
	return nil
}

// Prediction is a quoted range of the all-in rate, in USD.
type Prediction struct {
	P10 float64 `json:"p10"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
}

// Factor is what one group of features did to a quote.
type Factor struct {
	Group  string  `json:"group"`
	Effect float64 `json:"effect"` // relative change, 0.05 is 5% more
	USD    float64 `json:"usd"`    // its share of P50 minus the baseline
}

// Quote is a prediction with the reasons for it.
type Quote struct {
	Prediction
	// Baseline is the rate of a typical load of this equipment and distance;
	// the factors move it to P50.
	Baseline float64  `json:"baseline"`
	Factors  []Factor `json:"factors"` // largest effect first
}

func (m *Model) features(l *Load, x []float64) {
	k := keysOf(l, m.areas)
	baseFeatures(l, m.Diesel, x)
	encode(&k, m.Enc, x)
	m.Market.features(&k, l.BookedAt, x)
}

func (m *Model) predictX(l *Load, x []float64) Prediction {
	c := m.Curve.at(l.Equipment, l.Miles)
	mu := m.Median.predict(x)
	s := m.scale(x)
	return Prediction{
		P10: math.Exp(c + mu + m.Lo*s),
		P50: math.Exp(c + mu),
		P90: math.Exp(c + mu + m.Hi*s),
	}
}

// Predict quotes the range of the all-in rate for a load. BookedAt is the
// time of the quote: the diesel price and the recent market are read as of
// then.
func (m *Model) Predict(l Load) (Prediction, error) {
	if err := l.check(); err != nil {
		return Prediction{}, err
	}
	var x [numFeatures]float64
	m.features(&l, x[:])
	return m.predictX(&l, x[:]), nil
}

// Quote is Predict with the factors that moved the price.
func (m *Model) Quote(l Load) (Quote, error) {
	if err := l.check(); err != nil {
		return Quote{}, err
	}
	var x, contrib [numFeatures]float64
	m.features(&l, x[:])
	q := Quote{Prediction: m.predictX(&l, x[:])}
	bias := m.Median.attribute(x[:], contrib[:])
	q.Baseline = math.Exp(m.Curve.at(l.Equipment, l.Miles) + bias)
	byGroup := map[string]float64{}
	var total float64
	for f, c := range contrib {
		byGroup[featureGroup[f]] += c
		total += c
	}
	for g, c := range byGroup {
		f := Factor{Group: g, Effect: math.Expm1(c)}
		if total != 0 {
			f.USD = (q.P50 - q.Baseline) * c / total
		}
		q.Factors = append(q.Factors, f)
	}
	sort.Slice(q.Factors, func(i, j int) bool {
		a, b := math.Abs(q.Factors[i].Effect), math.Abs(q.Factors[j].Effect)
		if a != b {
			return a > b
		}
		return q.Factors[i].Group < q.Factors[j].Group
	})
	return q, nil
}

// WithBookings returns a copy of the model whose recent-market index also
// holds the given bookings, made since training, so that quotes follow the
// market between retrains. The trees and the calibration are shared and
// unchanged. A booking far outside the range the model would have quoted is
// left out, as training leaves out outliers; the count of those is returned.
func (m *Model) WithBookings(bookings []Booking) (*Model, int) {
	pts := map[string][]marketPoint{}
	for key, s := range m.Market.Series {
		pts[key] = s.points()
	}
	skipped := 0
	var x [numFeatures]float64
	for i := range bookings {
		b := &bookings[i]
		if b.check() != nil || !(b.RateUSD > 0) {
			skipped++
			continue
		}
		m.features(&b.Load, x[:])
		r := math.Log(b.RateUSD) - m.Curve.at(b.Equipment, b.Miles)
		if math.Abs(r-m.Median.predict(x[:]))/m.scale(x[:]) > observeZ {
			skipped++
			continue
		}
		k := keysOf(&b.Load, m.areas)
		d := dayOf(b.BookedAt)
		for _, key := range marketKeys(&k) {
			pts[key] = append(pts[key], marketPoint{d, r, 1})
		}
	}
	c := *m
	c.Market = newMarket(pts)
	return &c, skipped
}

// observeZ is how many expected absolute errors from the median a new booking
// may be before it is taken for a data error (about 5 standard deviations).
const observeZ = 6

// Save writes the model as JSON.
func (m *Model) Save(w io.Writer) error {
	if err := json.NewEncoder(w).Encode(m); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// LoadModel reads a model written by Save. areas must be the scheme the model
// was trained with; nil means DefaultAreas.
func LoadModel(r io.Reader, areas Areas) (*Model, error) {
	if areas == nil {
		areas = DefaultAreas()
	}
	var m Model
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if m.AreaScheme != areas.Name() {
		return nil, fmt.Errorf("load model: trained with areas %q, given %q", m.AreaScheme, areas.Name())
	}
	m.areas = areas
	return &m, nil
}

// check validates a decoded model, so that a corrupt file cannot make a
// quote index out of range, and lays its trees out for quoting.
func (s *modelState) check() error {
	if s.Version != modelVersion {
		return fmt.Errorf("model version %d, want %d", s.Version, modelVersion)
	}
	if s.Median == nil || s.Scale == nil || s.Enc == nil || s.Market == nil || s.Diesel == nil ||
		len(s.Diesel.Prices) == 0 || len(s.Diesel.Weeks) != len(s.Diesel.Prices) || len(s.Curve.Coef) != len(Equipments) {
		return errors.New("incomplete model")
	}
	if !s.Median.valid(numFeatures) || !s.Scale.valid(numFeatures) || !s.Market.valid() {
		return errors.New("malformed model")
	}
	s.Median.compile()
	s.Scale.compile()
	return nil
}

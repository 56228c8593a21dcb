package ratemodel

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Predictor quotes a range for a load; Model and Table are predictors.
type Predictor interface {
	Predict(l Load) (Prediction, error)
}

// Metrics score a predictor on bookings it has not seen.
type Metrics struct {
	N        int     `json:"n"`        // bookings scored
	MAPE     float64 `json:"mape"`     // mean absolute percentage error of P50, 0.07 is 7%
	Coverage float64 `json:"coverage"` // share of rates inside [P10, P90]
	Below    float64 `json:"below"`    // share under P10
	Above    float64 `json:"above"`    // share over P90
	Width    float64 `json:"width"`    // mean (P90-P10)/P50
	Nominal  float64 `json:"nominal"`  // the coverage aimed at
	Failed   int     `json:"failed"`   // bookings the predictor refused to quote
}

// Evaluate scores p on a holdout. Bookings it cannot quote count as failed
// and are left out of the averages.
func Evaluate(p Predictor, holdout []Booking) (Metrics, error) {
	m := Metrics{Nominal: 0.8}
	if mm, ok := p.(*Model); ok {
		m.Nominal = mm.NominalCoverage()
	}
	var ape, width float64
	var in, below, above int
	for i := range holdout {
		b := &holdout[i]
		q, err := p.Predict(b.Load)
		if err != nil {
			m.Failed++
			continue
		}
		m.N++
		ape += math.Abs(q.P50-b.RateUSD) / b.RateUSD
		width += (q.P90 - q.P10) / q.P50
		switch {
		case b.RateUSD < q.P10:
			below++
		case b.RateUSD > q.P90:
			above++
		default:
			in++
		}
	}
	if m.N == 0 {
		return m, errors.New("evaluate: no booking could be quoted")
	}
	n := float64(m.N)
	m.MAPE, m.Width = ape/n, width/n
	m.Coverage, m.Below, m.Above = float64(in)/n, float64(below)/n, float64(above)/n
	return m, nil
}

func (m Metrics) String() string {
	return fmt.Sprintf("n=%d MAPE(P50)=%.2f%% P10-P90 coverage=%.1f%% (below %.1f%%, above %.1f%%) width=%.1f%%",
		m.N, 100*m.MAPE, 100*m.Coverage, 100*m.Below, 100*m.Above, 100*m.Width)
}

// CoverageTolerance is how far coverage may stray from nominal and still
// count as calibrated.
const CoverageTolerance = 0.03

// Better reports whether a model scoring a should replace one scoring b, both
// measured on the same held-back bookings. A calibrated range (coverage
// within CoverageTolerance of nominal) beats an uncalibrated one; between
// two of the same kind, the lower MAPE wins, and a tie in MAPE (within 0.05
// points) goes to the coverage closer to nominal. A new model that is merely
// as good does not replace the old.
func Better(a, b Metrics) bool {
	if a.N == 0 {
		return false
	}
	if b.N == 0 {
		return true
	}
	offA, offB := math.Abs(a.Coverage-a.Nominal), math.Abs(b.Coverage-b.Nominal)
	calA, calB := offA <= CoverageTolerance, offB <= CoverageTolerance
	if calA != calB {
		return calA
	}
	const tie = 0.0005
	if math.Abs(a.MAPE-b.MAPE) > tie {
		return a.MAPE < b.MAPE
	}
	return offA < offB
}

// Split holds back a random share of the bookings, the same for a seed.
func Split(bookings []Booking, holdout float64, seed uint64) (train, held []Booking) {
	idx := make([]int, len(bookings))
	for i := range idx {
		idx[i] = i
	}
	rng := rand.New(rand.NewPCG(seed, 0x5b1d))
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	k := int(math.Round(holdout * float64(len(bookings))))
	heldIdx, trainIdx := slices.Clone(idx[:k]), slices.Clone(idx[k:])
	slices.Sort(heldIdx)
	slices.Sort(trainIdx)
	for _, i := range trainIdx {
		train = append(train, bookings[i])
	}
	for _, i := range heldIdx {
		held = append(held, bookings[i])
	}
	return train, held
}

// Table is the industry's rule of thumb the model is measured against: the
// median rate per mile for each equipment and distance band, with a range
// from the 10th and 90th percentiles of the same cell.
type Table struct {
	// RPM[equipment][band] holds P10, P50 and P90 of the rate per mile.
	RPM [][][3]float64 `json:"rpm"`
}

// FitTable builds the table from history.
func FitTable(history []Booking) *Table {
	cells := make([][][]float64, len(Equipments))
	for e := range cells {
		cells[e] = make([][]float64, len(distanceBands))
	}
	var all []float64
	for i := range history {
		b := &history[i]
		e := b.Equipment.index()
		if e < 0 || !(b.Miles > 0) || !(b.RateUSD > 0) {
			continue
		}
		rpm := b.RateUSD / b.Miles
		cells[e][distanceBand(b.Miles)] = append(cells[e][distanceBand(b.Miles)], rpm)
		all = append(all, rpm)
	}
	t := &Table{RPM: make([][][3]float64, len(Equipments))}
	fallback := quantiles(all)
	for e := range cells {
		t.RPM[e] = make([][3]float64, len(distanceBands))
		for band, v := range cells[e] {
			if len(v) == 0 {
				t.RPM[e][band] = fallback
				continue
			}
			t.RPM[e][band] = quantiles(v)
		}
	}
	return t
}

func quantiles(v []float64) [3]float64 {
	if len(v) == 0 {
		return [3]float64{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1))] }
	return [3]float64{q(0.1), median(s), q(0.9)}
}

// Predict implements Predictor.
func (t *Table) Predict(l Load) (Prediction, error) {
	if err := l.check(); err != nil {
		return Prediction{}, err
	}
	r := t.RPM[l.Equipment.index()][distanceBand(l.Miles)]
	return Prediction{P10: r[0] * l.Miles, P50: r[1] * l.Miles, P90: r[2] * l.Miles}, nil
}

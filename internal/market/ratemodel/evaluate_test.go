package ratemodel

import (
	"math"
	"testing"
)

// fixed quotes every load at 100 with a range of 90 to 110.
type fixed struct{}

func (fixed) Predict(l Load) (Prediction, error) {
	if err := l.check(); err != nil {
		return Prediction{}, err
	}
	return Prediction{P10: 90, P50: 100, P90: 110}, nil
}

func TestEvaluate(t *testing.T) {
	_, all := synthData()
	var held []Booking
	for i, r := range []float64{80, 95, 100, 105, 120} {
		b := all[i]
		b.RateUSD = r
		held = append(held, b)
	}
	bad := all[5]
	bad.Dest = bad.Origin
	held = append(held, bad)
	m, err := Evaluate(fixed{}, held)
	if err != nil {
		t.Fatal(err)
	}
	wantMAPE := (20.0/80 + 5.0/95 + 0 + 5.0/105 + 20.0/120) / 5
	if math.Abs(m.MAPE-wantMAPE) > 1e-12 || m.N != 5 || m.Failed != 1 {
		t.Errorf("got MAPE %g over %d (failed %d), want %g over 5 (failed 1)", m.MAPE, m.N, m.Failed, wantMAPE)
	}
	if m.Coverage != 0.6 || m.Below != 0.2 || m.Above != 0.2 {
		t.Errorf("got coverage %g below %g above %g, want 0.6, 0.2, 0.2", m.Coverage, m.Below, m.Above)
	}
	if _, err := Evaluate(fixed{}, []Booking{bad}); err == nil {
		t.Errorf("Evaluate with nothing quotable: got nil error, want one")
	}
}

func TestBetter(t *testing.T) {
	mk := func(mape, cov float64) Metrics { return Metrics{N: 1000, MAPE: mape, Coverage: cov, Nominal: 0.8} }
	tests := []struct {
		name string
		a, b Metrics
		want bool
	}{
		{"lower MAPE, both calibrated", mk(0.060, 0.79), mk(0.065, 0.80), true},
		{"higher MAPE, both calibrated", mk(0.065, 0.80), mk(0.060, 0.79), false},
		{"lower MAPE but range uncalibrated", mk(0.050, 0.70), mk(0.065, 0.80), false},
		{"higher MAPE but calibrates an uncalibrated range", mk(0.070, 0.80), mk(0.060, 0.90), true},
		{"tie in MAPE, closer coverage", mk(0.0601, 0.80), mk(0.0600, 0.82), true},
		{"tie in MAPE, farther coverage", mk(0.0600, 0.82), mk(0.0601, 0.80), false},
		{"identical", mk(0.06, 0.80), mk(0.06, 0.80), false},
		{"nothing scored", Metrics{}, mk(0.06, 0.8), false},
		{"old scored nothing", mk(0.09, 0.7), Metrics{}, true},
	}
	for _, tt := range tests {
		if got := Better(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Better = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	_, all := synthData()
	rows := all[:1000]
	tr, ho := Split(rows, 0.2, 5)
	if len(tr) != 800 || len(ho) != 200 {
		t.Fatalf("got %d and %d, want 800 and 200", len(tr), len(ho))
	}
	seen := map[string]bool{}
	for _, b := range append(append([]Booking(nil), tr...), ho...) {
		if seen[b.LoadID] {
			t.Fatalf("load %s in both parts", b.LoadID)
		}
		seen[b.LoadID] = true
	}
	tr2, ho2 := Split(rows, 0.2, 5)
	_, ho3 := Split(rows, 0.2, 6)
	if ho2[0].LoadID != ho[0].LoadID || tr2[0].LoadID != tr[0].LoadID {
		t.Errorf("same seed, different split")
	}
	same := 0
	for i := range ho {
		if ho[i].LoadID == ho3[i].LoadID {
			same++
		}
	}
	if same == len(ho) {
		t.Errorf("seeds 5 and 6 gave the same split")
	}
}

func TestTable(t *testing.T) {
	var rows []Booking
	_, all := synthData()
	for i, rpm := range []float64{2, 3, 4} {
		for _, e := range Equipments {
			b := all[i]
			b.Equipment, b.Miles, b.RateUSD = e, 300, rpm*300
			rows = append(rows, b)
		}
	}
	tab := FitTable(rows)
	l := all[0].Load
	l.Equipment, l.Miles = Reefer, 400
	p, err := tab.Predict(l)
	if err != nil {
		t.Fatal(err)
	}
	if p.P50 != 1200 || p.P10 != 800 || p.P90 != 1200 {
		t.Errorf("got %+v, want P10 800, P50 1200, P90 1200 (quantiles of 2, 3, 4 per mile over 400 miles)", p)
	}
	l.Miles = 2500 // a band with no history falls back to all rows
	if p, _ := tab.Predict(l); p.P50 != 3*2500 {
		t.Errorf("empty band: got P50 %g, want %g", p.P50, 3.0*2500)
	}
}

func TestDetectOutliersFindsPlantedErrors(t *testing.T) {
	_, all := synthData()
	rows := append([]Booking(nil), all[:5000]...)
	planted := map[int]string{
		10: "x10", 200: "/10", 3000: "x100 (cents)", 4000: "per mile", 4500: "thousands",
	}
	rows[10].RateUSD *= 10
	rows[200].RateUSD /= 10
	rows[3000].RateUSD *= 100
	rows[4000].RateUSD /= rows[4000].Miles
	rows[4500].RateUSD /= 1000
	flag := DetectOutliers(rows, screenZ)
	for i, f := range flag {
		kind, isPlanted := planted[i]
		switch {
		case isPlanted && !f:
			t.Errorf("row %d (%s) not flagged", i, kind)
		case !isPlanted && f:
			t.Errorf("clean row %d flagged: %.0f miles, $%.2f", i, rows[i].Miles, rows[i].RateUSD)
		}
	}
}

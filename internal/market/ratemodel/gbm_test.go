package ratemodel

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// A step and a slope in two of three features, the third pure noise.
func TestBoostingFitsAKnownFunction(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := func(x []float64) float64 {
		s := 0.5 * x[1]
		if x[0] > 0.3 {
			s += 1
		}
		return s
	}
	gen := func(n int) ([][]float64, []float64) {
		cols := [][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}
		y := make([]float64, n)
		for i := range n {
			x := []float64{rng.Float64(), rng.Float64(), rng.Float64()}
			for j := range cols {
				cols[j][i] = x[j]
			}
			y[i] = f(x) + 0.05*rng.NormFloat64()
		}
		return cols, y
	}
	cols, y := gen(4000)
	vcols, vy := gen(1000)
	p := medianParams
	p.Seed = 3
	e := fitBoost(context.Background(), cols, y, vcols, vy, p)
	if len(e.Trees) == 0 || len(e.Trees) == p.Trees {
		t.Errorf("trees: got %d, want early stopping between 1 and %d", len(e.Trees), p.Trees)
	}
	var mae float64
	x := make([]float64, 3)
	contrib := make([]float64, 3)
	for i := range 500 {
		x[0], x[1], x[2] = float64(i%50)/50, float64(i/50)/10, 0.5
		pred := e.predict(x)
		mae += math.Abs(pred - f(x))
		clear(contrib)
		bias := e.attribute(x, contrib)
		if sum := bias + contrib[0] + contrib[1] + contrib[2]; math.Abs(sum-pred) > 1e-9 {
			t.Fatalf("attribution sums to %g, prediction is %g", sum, pred)
		}
	}
	if mae /= 500; mae > 0.04 {
		t.Errorf("mean absolute error against the noise-free function: got %.3f, want at most 0.04", mae)
	}
	// the noise feature must matter least
	var share [3]float64
	for range 200 {
		x[0], x[1], x[2] = rng.Float64(), rng.Float64(), rng.Float64()
		clear(contrib)
		e.attribute(x, contrib)
		for j := range share {
			share[j] += math.Abs(contrib[j])
		}
	}
	if share[2] > share[0]/5 || share[2] > share[1]/5 {
		t.Errorf("attribution to the noise feature %.2f is not small next to %.2f and %.2f", share[2], share[0], share[1])
	}
}

func TestBinnerKeepsHeavyValuesWhole(t *testing.T) {
	col := make([]float64, 1000)
	for i := range col {
		if i%2 == 0 {
			col[i] = 5 // half the rows share one value
		} else {
			col[i] = float64(i)
		}
	}
	b := newBinner([][]float64{col}, 16, rand.New(rand.NewPCG(1, 1)))
	if n := b.bins(0); n > 16 || n < 8 {
		t.Errorf("bins: got %d, want between 8 and 16", n)
	}
	// the edges fall just above the heavy value, so the bins after it still
	// split the rest
	if b.bin(0, 5) == b.bin(0, 7) {
		t.Errorf("value 5 shares bin %d with 7", b.bin(0, 5))
	}
	for i := 1; i < 1000; i++ {
		if b.bin(0, float64(i)) < b.bin(0, float64(i-1)) {
			t.Fatalf("bins not monotone at %d", i)
		}
	}
}

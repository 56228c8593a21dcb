package ratemodel

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// boostParams configures gradient boosting of regression trees.
type boostParams struct {
	Trees        int     // upper bound; early stopping usually ends sooner
	LearningRate float64 // shrinkage of every tree
	Leaves       int     // trees grow best-first up to this many leaves
	MaxDepth     int
	MinLeaf      int     // rows a leaf must hold
	Lambda       float64 // L2 penalty on leaf values
	RowSample    float64 // fraction of rows each tree sees
	ColSample    float64 // fraction of features each tree may split on
	MaxBins      int     // at most 256: bins are bytes
	Patience     int     // trees without improvement on the validation rows before stopping
	Huber        float64 // residuals beyond this are clipped in the gradient; 0 is plain squared error
	Seed         uint64
}

// ensemble is a fitted sum of trees on raw feature values.
type ensemble struct {
	Init  float64 `json:"init"`
	Trees []tree  `json:"trees"`

	// flat holds every tree's nodes in one array, 16 bytes a node with the
	// right child next to the left, so a quote walks little memory; vals
	// holds the node values path attribution needs. See compile.
	flat  []flatNode
	vals  []float64
	roots []int32
}

type flatNode struct {
	v       float64 // threshold of a split, value of a leaf
	left    int32   // right child is left+1
	feature int16   // < 0 for a leaf
}

// tree is a binary regression tree stored flat. Node 0 is the root; a node
// with Feature < 0 is a leaf. Value holds, for every node, the output the node
// would give as a leaf, which path attribution needs.
type tree struct {
	Feature []int16   `json:"f"`
	Thresh  []float64 `json:"t"` // go left when x <= Thresh
	Left    []int32   `json:"l"`
	Right   []int32   `json:"r"`
	Value   []float64 `json:"v"`
}

func (t *tree) leaf(x []float64) int {
	n := 0
	for t.Feature[n] >= 0 {
		if x[t.Feature[n]] <= t.Thresh[n] {
			n = int(t.Left[n])
		} else {
			n = int(t.Right[n])
		}
	}
	return n
}

// compile lays the trees out for fast prediction. It must be called before
// predict once the trees are final; the model does so on training and load.
func (e *ensemble) compile() {
	e.flat, e.vals, e.roots = e.flat[:0], e.vals[:0], e.roots[:0]
	for i := range e.Trees {
		t := &e.Trees[i]
		base := int32(len(e.flat))
		e.roots = append(e.roots, base)
		for n := range t.Feature {
			fn := flatNode{v: t.Value[n], feature: t.Feature[n], left: -1}
			if t.Feature[n] >= 0 {
				fn.v, fn.left = t.Thresh[n], base+t.Left[n]
			}
			e.flat = append(e.flat, fn)
			e.vals = append(e.vals, t.Value[n])
		}
	}
}

func (e *ensemble) predict(x []float64) float64 {
	s := e.Init
	nodes := e.flat
	for _, n := range e.roots {
		nd := &nodes[n]
		for nd.feature >= 0 {
			n = nd.left
			if x[nd.feature] > nd.v {
				n++
			}
			nd = &nodes[n]
		}
		s += nd.v
	}
	return s
}

// valid reports whether the stored trees are well formed, so that a corrupt
// model file cannot make predict index out of range.
func (e *ensemble) valid(features int) bool {
	for i := range e.Trees {
		t := &e.Trees[i]
		n := len(t.Feature)
		if n == 0 || len(t.Thresh) != n || len(t.Left) != n || len(t.Right) != n || len(t.Value) != n {
			return false
		}
		for k := range n {
			if t.Feature[k] < 0 {
				continue
			}
			l, r := t.Left[k], t.Right[k]
			if int(t.Feature[k]) >= features || l <= int32(k) || r != l+1 || int(r) >= n {
				return false
			}
		}
	}
	return true
}

// attribute splits a prediction into a bias (the init plus every root value)
// and one share per feature: each step down a tree path credits the change in
// node value to the feature split on (Saabas attribution).
func (e *ensemble) attribute(x []float64, contrib []float64) (bias float64) {
	bias = e.Init
	nodes := e.flat
	for _, n := range e.roots {
		bias += e.vals[n]
		for nodes[n].feature >= 0 {
			nd := &nodes[n]
			next := nd.left
			if x[nd.feature] > nd.v {
				next++
			}
			contrib[nd.feature] += e.vals[next] - e.vals[n]
			n = next
		}
	}
	return bias
}

// binner maps raw feature values to byte bins by quantiles of the training
// data. Bin b of feature f holds values in (Edges[f][b-1], Edges[f][b]].
type binner struct {
	edges [][]float64
}

func newBinner(cols [][]float64, maxBins int, rng *rand.Rand) *binner {
	const sampleSize = 50000
	b := &binner{edges: make([][]float64, len(cols))}
	for f, col := range cols {
		vals := col
		if len(col) > sampleSize {
			vals = make([]float64, sampleSize)
			for i := range vals {
				vals[i] = col[rng.IntN(len(col))]
			}
		} else {
			vals = slices.Clone(col)
		}
		slices.Sort(vals)
		distinct := slices.Compact(slices.Clone(vals))
		var edges []float64
		if len(distinct) <= maxBins {
			for i := 0; i+1 < len(distinct); i++ {
				edges = append(edges, (distinct[i]+distinct[i+1])/2)
			}
		} else {
			for k := 1; k < maxBins; k++ {
				v := vals[k*len(vals)/maxBins]
				// the edge is the midpoint to the next distinct value, so a
				// heavy value stays whole in one bin
				j := sort.SearchFloat64s(distinct, v)
				if j+1 >= len(distinct) {
					break
				}
				e := (distinct[j] + distinct[j+1]) / 2
				if len(edges) == 0 || e > edges[len(edges)-1] {
					edges = append(edges, e)
				}
			}
		}
		b.edges[f] = edges
	}
	return b
}

func (b *binner) bins(f int) int { return len(b.edges[f]) + 1 }

func (b *binner) bin(f int, v float64) uint8 {
	return uint8(sort.SearchFloat64s(b.edges[f], v))
}

// binned is a training matrix in bins, column-major.
type binned struct {
	cols [][]uint8
	n    int
}

func (b *binner) apply(cols [][]float64) *binned {
	m := &binned{cols: make([][]uint8, len(cols))}
	for f, col := range cols {
		m.n = len(col)
		c := make([]uint8, len(col))
		for i, v := range col {
			c[i] = b.bin(f, v)
		}
		m.cols[f] = c
	}
	return m
}

// split is a candidate split of a leaf.
type split struct {
	feature int
	bin     uint8
	gain    float64
	gl, hl  float64
}

type growLeaf struct {
	node       int
	start, end int // rows[start:end] are the leaf's rows
	g, h       float64
	depth      int
	hist       []float64 // per feature and bin: sum of gradients, sum of hessians
	best       split
}

// booster holds the state of one boosting run.
type booster struct {
	p       boostParams
	bn      *binner
	x       *binned
	offsets []int // start of each feature's bins in a histogram, in units of bins
	width   int
	rng     *rand.Rand
	rows    []int32
	tmp     []int32
	grad    []float64
	hess    []float64
	active  []bool // features this tree may use
	pool    [][]float64
	workers int
}

// fitBoost fits an ensemble to y on cols (column-major raw features). When
// valCols is given, boosting stops once the mean absolute error on the
// validation rows has not improved for Patience trees and the ensemble is cut
// back to its best size.
func fitBoost(ctx context.Context, cols [][]float64, y []float64, valCols [][]float64, valY []float64, p boostParams) *ensemble {
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	n := len(y)
	bt := &booster{p: p, rng: rng, workers: max(1, min(runtime.GOMAXPROCS(0), 8))}
	bt.bn = newBinner(cols, p.MaxBins, rng)
	bt.x = bt.bn.apply(cols)
	bt.offsets = make([]int, len(cols)+1)
	for f := range cols {
		bt.offsets[f+1] = bt.offsets[f] + bt.bn.bins(f)
	}
	bt.width = bt.offsets[len(cols)]
	bt.rows = make([]int32, 0, n)
	bt.tmp = make([]int32, n)
	bt.grad = make([]float64, n)
	bt.hess = make([]float64, n)
	bt.active = make([]bool, len(cols))

	e := &ensemble{Init: mean(y)}
	pred := make([]float64, n)
	for i := range pred {
		pred[i] = e.Init
	}
	var valPred []float64
	valRow := make([]float64, len(valCols))
	if len(valY) > 0 {
		valPred = make([]float64, len(valY))
		for i := range valPred {
			valPred[i] = e.Init
		}
	}
	best, bestAt := math.Inf(1), 0
	for it := 0; it < p.Trees; it++ {
		if it%25 == 0 && ctx.Err() != nil {
			break // the caller reports the cancellation
		}
		for i := range y {
			r := pred[i] - y[i]
			if p.Huber > 0 {
				r = max(-p.Huber, min(p.Huber, r))
			}
			bt.grad[i] = r
			bt.hess[i] = 1
		}
		t, leafOf := bt.grow()
		if t == nil {
			break
		}
		for i := range pred {
			pred[i] += t.Value[leafOf(i)]
		}
		e.Trees = append(e.Trees, *t)
		if valPred == nil {
			continue
		}
		var loss float64
		for i := range valPred {
			for f := range valCols {
				valRow[f] = valCols[f][i]
			}
			valPred[i] += t.Value[t.leaf(valRow)]
			loss += math.Abs(valPred[i] - valY[i])
		}
		if loss < best {
			best, bestAt = loss, len(e.Trees)
		} else if len(e.Trees)-bestAt >= p.Patience {
			break
		}
	}
	if valPred != nil && bestAt > 0 {
		e.Trees = e.Trees[:bestAt]
	}
	e.compile()
	return e
}

func (bt *booster) histBuf() []float64 {
	if k := len(bt.pool); k > 0 {
		h := bt.pool[k-1]
		bt.pool = bt.pool[:k-1]
		clear(h)
		return h
	}
	return make([]float64, 2*bt.width)
}

// grow builds one tree best-first and returns it with a function giving the
// leaf of every training row.
func (bt *booster) grow() (*tree, func(i int) int) {
	p := bt.p
	n := bt.x.n
	bt.rows = bt.rows[:0]
	for i := 0; i < n; i++ {
		if p.RowSample >= 1 || bt.rng.Float64() < p.RowSample {
			bt.rows = append(bt.rows, int32(i))
		}
	}
	if len(bt.rows) < 2*p.MinLeaf {
		return nil, nil
	}
	nf := len(bt.x.cols)
	any := false
	for f := range bt.active {
		bt.active[f] = p.ColSample >= 1 || bt.rng.Float64() < p.ColSample
		any = any || bt.active[f]
	}
	if !any {
		bt.active[bt.rng.IntN(nf)] = true
	}

	t := &tree{}
	newNode := func(value float64) int {
		t.Feature = append(t.Feature, -1)
		t.Thresh = append(t.Thresh, 0)
		t.Left = append(t.Left, -1)
		t.Right = append(t.Right, -1)
		t.Value = append(t.Value, value)
		return len(t.Feature) - 1
	}
	threshBin := []uint8{0}
	value := func(g, h float64) float64 { return -g / (h + p.Lambda) * p.LearningRate }

	root := &growLeaf{start: 0, end: len(bt.rows), hist: bt.histBuf()}
	bt.buildHist(root.hist, bt.rows)
	for _, i := range bt.rows {
		root.g += bt.grad[i]
		root.h += bt.hess[i]
	}
	root.node = newNode(value(root.g, root.h))
	bt.findSplit(root)
	leaves := []*growLeaf{root}

	for len(leaves) < p.Leaves {
		bi := -1
		for i, l := range leaves {
			if l.best.gain > 1e-12 && (bi < 0 || l.best.gain > leaves[bi].best.gain) {
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		l := leaves[bi]
		s := l.best
		col := bt.x.cols[s.feature]
		// stable partition keeps row indices ascending, which keeps the
		// histogram loops walking memory forward
		seg := bt.rows[l.start:l.end]
		nl, nr := 0, 0
		right := bt.tmp[:0]
		for _, i := range seg {
			if col[i] <= s.bin {
				seg[nl] = i
				nl++
			} else {
				right = append(right, i)
				nr++
			}
		}
		copy(seg[nl:], right)
		mid := l.start + nl

		left := &growLeaf{start: l.start, end: mid, g: s.gl, h: s.hl, depth: l.depth + 1}
		rightL := &growLeaf{start: mid, end: l.end, g: l.g - s.gl, h: l.h - s.hl, depth: l.depth + 1}
		small, large := left, rightL
		if nl > nr {
			small, large = rightL, left
		}
		small.hist = bt.histBuf()
		bt.buildHist(small.hist, bt.rows[small.start:small.end])
		large.hist = l.hist // parent minus small, in place
		for k := range large.hist {
			large.hist[k] -= small.hist[k]
		}
		l.hist = nil

		t.Feature[l.node] = int16(s.feature)
		t.Thresh[l.node] = bt.threshold(s.feature, s.bin)
		threshBin[l.node] = s.bin
		left.node = newNode(value(left.g, left.h))
		rightL.node = newNode(value(rightL.g, rightL.h))
		threshBin = append(threshBin, 0, 0)
		t.Left[l.node] = int32(left.node)
		t.Right[l.node] = int32(rightL.node)

		bt.findSplit(left)
		bt.findSplit(rightL)
		leaves[bi] = left
		leaves = append(leaves, rightL)
	}
	for _, l := range leaves {
		if l.hist != nil {
			bt.pool = append(bt.pool, l.hist)
		}
	}
	cols := bt.x.cols
	return t, func(i int) int {
		nd := 0
		for t.Feature[nd] >= 0 {
			if cols[t.Feature[nd]][i] <= threshBin[nd] {
				nd = int(t.Left[nd])
			} else {
				nd = int(t.Right[nd])
			}
		}
		return nd
	}
}

// threshold is the raw value that separates bin b from bin b+1.
func (bt *booster) threshold(f int, b uint8) float64 {
	return bt.bn.edges[f][b]
}

// buildHist sums gradients and hessians per feature and bin over rows,
// splitting features across goroutines when the leaf is big enough to pay for
// it. Each feature is summed by one goroutine in row order, so the result does
// not depend on scheduling.
func (bt *booster) buildHist(hist []float64, rows []int32) {
	nf := len(bt.x.cols)
	work := func(f0, f1 int) {
		for f := f0; f < f1; f++ {
			if !bt.active[f] {
				continue
			}
			col := bt.x.cols[f]
			h := hist[2*bt.offsets[f] : 2*bt.offsets[f+1]]
			for _, i := range rows {
				b := 2 * int(col[i])
				h[b] += bt.grad[i]
				h[b+1] += bt.hess[i]
			}
		}
	}
	w := bt.workers
	if w == 1 || len(rows) < 4096 {
		work(0, nf)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		f0, f1 := k*nf/w, (k+1)*nf/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(f0, f1)
		}()
	}
	wg.Wait()
}

// findSplit sets l.best to the best split of leaf l, or a zero gain when the
// leaf must not split.
func (bt *booster) findSplit(l *growLeaf) {
	p := bt.p
	l.best = split{}
	count := l.end - l.start
	if count < 2*p.MinLeaf || (p.MaxDepth > 0 && l.depth >= p.MaxDepth) {
		return
	}
	parent := l.g * l.g / (l.h + p.Lambda)
	minH := float64(p.MinLeaf)
	for f := range bt.x.cols {
		if !bt.active[f] {
			continue
		}
		h := l.hist[2*bt.offsets[f] : 2*bt.offsets[f+1]]
		var gl, hl float64
		nb := len(h) / 2
		for b := 0; b < nb-1; b++ {
			gl += h[2*b]
			hl += h[2*b+1]
			if hl < minH {
				continue
			}
			hr := l.h - hl
			if hr < minH {
				break
			}
			gr := l.g - gl
			gain := gl*gl/(hl+p.Lambda) + gr*gr/(hr+p.Lambda) - parent
			if gain > l.best.gain {
				l.best = split{feature: f, bin: uint8(b), gain: gain, gl: gl, hl: hl}
			}
		}
	}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

package routing

import (
	"sort"

	"github.com/backhaul/backhaul/internal/solver/instance"
)

// model is the instance flattened into arrays for the inner loops.
type model struct {
	n       int // nodes, depot included
	pd      bool
	dist    []float64
	ready   []float64
	due     []float64
	svc     []float64
	dem     []int
	partner []int // the other node of a pickup/delivery pair, -1 otherwise
	pickup  []bool
	cap     int
	horizon float64
	fleet   int
	// neighbors lists, for every node, the other task nodes nearest first.
	neighbors [][]int
	// requests holds one representative per request: the pickup of a pair,
	// or the customer.
	requests []int
	// scale is a typical distance, used to size the annealing temperature.
	scale float64
}

// neighborCount bounds the neighbour lists; string removal walks them and
// rarely gets far.
const neighborCount = 100

func newModel(in *instance.Instance) *model {
	n := in.N()
	m := &model{
		n:       n,
		pd:      in.Problem == instance.PDPTW,
		dist:    make([]float64, n*n),
		ready:   make([]float64, n),
		due:     make([]float64, n),
		svc:     make([]float64, n),
		dem:     make([]int, n),
		partner: make([]int, n),
		pickup:  make([]bool, n),
		cap:     in.Capacity,
		horizon: in.Horizon(),
		fleet:   in.Vehicles,
	}
	for i := range n {
		for j := range n {
			m.dist[i*n+j] = in.Dist(i, j)
		}
	}
	for i, nd := range in.Nodes {
		m.ready[i], m.due[i], m.svc[i], m.dem[i] = nd.Ready, nd.Due, nd.Service, nd.Demand
		m.partner[i] = -1
		if m.pd && i > 0 {
			if nd.Delivery != 0 {
				m.partner[i] = nd.Delivery
				m.pickup[i] = true
				m.requests = append(m.requests, i)
			} else {
				m.partner[i] = nd.Pickup
			}
		} else if i > 0 {
			m.requests = append(m.requests, i)
		}
	}
	m.due[0] = m.horizon
	k := min(neighborCount, n-2)
	m.neighbors = make([][]int, n)
	idx := make([]int, 0, n)
	for i := 1; i < n; i++ {
		idx = idx[:0]
		for j := 1; j < n; j++ {
			if j != i {
				idx = append(idx, j)
			}
		}
		row := m.dist[i*n : (i+1)*n]
		sort.Slice(idx, func(a, b int) bool { return row[idx[a]] < row[idx[b]] })
		m.neighbors[i] = append([]int(nil), idx[:k]...)
	}
	var sum float64
	for i := 1; i < n; i++ {
		sum += m.d(0, i)
	}
	m.scale = sum / float64(n-1)
	return m
}

func (m *model) d(i, j int) float64 { return m.dist[i*m.n+j] }

// Package instance holds the routing problem model shared by the solver, the
// feasibility checker and the command line: nodes with coordinates, demands,
// time windows and pickup/delivery pairing, the fleet bound and capacity. It
// also parses the Li & Lim (PDPTW) and Solomon / Gehring & Homberger (VRPTW)
// benchmark formats.
package instance

import (
	"errors"
	"fmt"
	"math"
)

// Problem names the routing problem an instance poses.
type Problem string

const (
	// PDPTW is pickup and delivery with time windows: every request is a
	// pickup and a delivery served by the same vehicle, pickup first.
	PDPTW Problem = "pdptw"
	// VRPTW is vehicle routing with time windows: every customer is served
	// once, deliveries only.
	VRPTW Problem = "vrptw"
)

// Node is one location of an instance. Node 0 is the depot; its window is
// the planning horizon.
type Node struct {
	ID      int
	X, Y    float64
	Demand  int // positive at pickups and customers, negative at deliveries
	Ready   float64
	Due     float64
	Service float64
	// Pickup is, for a delivery node, the id of its pickup node; 0 otherwise.
	Pickup int
	// Delivery is, for a pickup node, the id of its delivery node; 0 otherwise.
	Delivery int
}

// Instance is one routing problem. Travel time equals Euclidean distance
// (speed 1), in double precision without rounding.
type Instance struct {
	Name     string
	Problem  Problem
	Vehicles int // upper bound on the number of routes
	Capacity int
	// MaxRouteDuration, when positive, bounds the time from the start of
	// the horizon to the return at the depot.
	MaxRouteDuration float64
	Nodes            []Node

	dist []float64 // row-major matrix, nil when the instance is too large
}

// matrixLimit is the node count above which distances are computed on
// demand instead of stored: 4000 nodes already take 128 MB as a matrix.
const matrixLimit = 4000

// N returns the number of nodes, depot included.
func (in *Instance) N() int { return len(in.Nodes) }

// Dist returns the travel distance (and time) from node i to node j.
func (in *Instance) Dist(i, j int) float64 {
	if in.dist != nil {
		return in.dist[i*len(in.Nodes)+j]
	}
	return euclid(in.Nodes[i], in.Nodes[j])
}

func euclid(a, b Node) float64 {
	dx, dy := a.X-b.X, a.Y-b.Y
	return math.Sqrt(dx*dx + dy*dy)
}

// Prepare builds the distance matrix (small instances only). Parsers call
// it; code that builds an Instance by hand calls it after Validate.
func (in *Instance) Prepare() {
	n := len(in.Nodes)
	if n > matrixLimit {
		in.dist = nil
		return
	}
	in.dist = make([]float64, n*n)
	for i := range n {
		for j := range n {
			in.dist[i*n+j] = euclid(in.Nodes[i], in.Nodes[j])
		}
	}
}

// Horizon returns the latest time a route may be back at the depot, taking
// MaxRouteDuration into account.
func (in *Instance) Horizon() float64 {
	d := in.Nodes[0]
	h := d.Due
	if in.MaxRouteDuration > 0 && d.Ready+in.MaxRouteDuration < h {
		h = d.Ready + in.MaxRouteDuration
	}
	return h
}

// Errors callers can test for with errors.Is.
var (
	ErrMalformed      = errors.New("malformed instance")
	ErrUnservable     = errors.New("unservable request")
	ErrInconsistent   = errors.New("inconsistent pickup and delivery pair")
	ErrOverCapacity   = errors.New("demand over vehicle capacity")
	ErrNoVehicles     = errors.New("no vehicles")
	ErrUnknownFormat  = errors.New("unknown instance format")
	ErrEmptyInstance  = errors.New("instance has no customers")
	errNodeOutOfOrder = errors.New("node ids must run 0, 1, 2, ... in order")
)

// Validate checks the instance for consistency and reports the first
// problem found, naming the node. It does not need Prepare.
func (in *Instance) Validate() error {
	if in.Vehicles <= 0 {
		return fmt.Errorf("%w: vehicle count %d", ErrNoVehicles, in.Vehicles)
	}
	if in.Capacity <= 0 {
		return fmt.Errorf("%w: capacity %d must be positive", ErrMalformed, in.Capacity)
	}
	if len(in.Nodes) < 2 {
		return ErrEmptyInstance
	}
	if in.Problem != PDPTW && in.Problem != VRPTW {
		return fmt.Errorf("%w: problem %q", ErrMalformed, in.Problem)
	}
	for i, nd := range in.Nodes {
		if nd.ID != i {
			return fmt.Errorf("%w: node at position %d has id %d: %w", ErrMalformed, i, nd.ID, errNodeOutOfOrder)
		}
		for _, v := range []float64{nd.X, nd.Y, nd.Ready, nd.Due, nd.Service} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: node %d has a non-finite value", ErrMalformed, i)
			}
		}
		if nd.Service < 0 {
			return fmt.Errorf("%w: node %d has negative service time %g", ErrMalformed, i, nd.Service)
		}
		if nd.Ready > nd.Due {
			return fmt.Errorf("%w: node %d: ready time %g after due time %g", ErrUnservable, i, nd.Ready, nd.Due)
		}
		if nd.Demand > in.Capacity || -nd.Demand > in.Capacity {
			return fmt.Errorf("%w: node %d demands %d, capacity %d", ErrOverCapacity, i, nd.Demand, in.Capacity)
		}
	}
	depot := in.Nodes[0]
	if depot.Demand != 0 || depot.Pickup != 0 || depot.Delivery != 0 {
		return fmt.Errorf("%w: depot must have no demand and no pairing", ErrMalformed)
	}
	if in.Problem == PDPTW {
		if err := in.validatePairs(); err != nil {
			return err
		}
	} else {
		for i, nd := range in.Nodes[1:] {
			if nd.Pickup != 0 || nd.Delivery != 0 {
				return fmt.Errorf("%w: vrptw node %d has a pairing", ErrMalformed, i+1)
			}
			if nd.Demand < 0 {
				return fmt.Errorf("%w: vrptw node %d has negative demand %d", ErrMalformed, i+1, nd.Demand)
			}
		}
	}
	return in.validateReachable()
}

func (in *Instance) validatePairs() error {
	n := len(in.Nodes)
	for i := 1; i < n; i++ {
		nd := in.Nodes[i]
		switch {
		case nd.Pickup == 0 && nd.Delivery == 0:
			return fmt.Errorf("%w: node %d is neither a pickup nor a delivery", ErrInconsistent, i)
		case nd.Pickup != 0 && nd.Delivery != 0:
			return fmt.Errorf("%w: node %d is both a pickup and a delivery", ErrInconsistent, i)
		case nd.Delivery != 0:
			d := nd.Delivery
			if d <= 0 || d >= n || d == i {
				return fmt.Errorf("%w: pickup %d names delivery %d, not a node", ErrInconsistent, i, d)
			}
			if in.Nodes[d].Pickup != i {
				return fmt.Errorf("%w: pickup %d names delivery %d, which names pickup %d", ErrInconsistent, i, d, in.Nodes[d].Pickup)
			}
			if nd.Demand < 0 || in.Nodes[d].Demand != -nd.Demand {
				return fmt.Errorf("%w: pickup %d demand %d and delivery %d demand %d do not cancel", ErrInconsistent, i, nd.Demand, d, in.Nodes[d].Demand)
			}
		default:
			p := nd.Pickup
			if p <= 0 || p >= n || p == i {
				return fmt.Errorf("%w: delivery %d names pickup %d, not a node", ErrInconsistent, i, p)
			}
			if in.Nodes[p].Delivery != i {
				return fmt.Errorf("%w: delivery %d names pickup %d, which names delivery %d", ErrInconsistent, i, p, in.Nodes[p].Delivery)
			}
		}
	}
	return nil
}

// validateReachable reports requests that no vehicle can serve even alone:
// a vehicle leaving the depot at the start of the horizon arrives too late,
// or cannot return by the end of it.
func (in *Instance) validateReachable() error {
	depot := in.Nodes[0]
	horizon := in.Horizon()
	const eps = 1e-9
	arrive := func(from int, t float64, to int) float64 {
		a := t + in.Nodes[from].Service + euclid(in.Nodes[from], in.Nodes[to])
		return max(a, in.Nodes[to].Ready)
	}
	for i := 1; i < len(in.Nodes); i++ {
		nd := in.Nodes[i]
		if in.Problem == PDPTW && nd.Pickup != 0 {
			continue // checked with its pickup
		}
		t := arrive(0, depot.Ready, i)
		if t > nd.Due+eps {
			return fmt.Errorf("%w: node %d: earliest arrival %.2f after due time %g", ErrUnservable, i, t, nd.Due)
		}
		last := i
		if in.Problem == PDPTW {
			d := nd.Delivery
			t = arrive(i, t, d)
			if t > in.Nodes[d].Due+eps {
				return fmt.Errorf("%w: request %d->%d: delivery %d reached at %.2f at the earliest, due %g", ErrUnservable, i, d, d, t, in.Nodes[d].Due)
			}
			last = d
		}
		back := t + in.Nodes[last].Service + euclid(in.Nodes[last], depot)
		if back > horizon+eps {
			return fmt.Errorf("%w: node %d: depot reached at %.2f at the earliest after serving it, horizon ends %g", ErrUnservable, last, back, horizon)
		}
	}
	return nil
}

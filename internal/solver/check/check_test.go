package check

import (
	"math"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/solver/instance"
)

// pdptw: depot at the origin, two requests on the axes.
func pdptw() *instance.Instance {
	in := &instance.Instance{
		Name: "pd", Problem: instance.PDPTW, Vehicles: 2, Capacity: 11,
		Nodes: []instance.Node{
			{ID: 0, Due: 1000},
			{ID: 1, X: 10, Demand: 5, Due: 100, Service: 5, Delivery: 2},
			{ID: 2, X: 20, Demand: -5, Due: 200, Service: 5, Pickup: 1},
			{ID: 3, Y: 10, Demand: 6, Due: 100, Service: 5, Delivery: 4},
			{ID: 4, Y: 20, Demand: -6, Due: 300, Service: 5, Pickup: 3},
		},
	}
	in.Prepare()
	return in
}

func vrptw() *instance.Instance {
	in := &instance.Instance{
		Name: "v", Problem: instance.VRPTW, Vehicles: 2, Capacity: 10,
		Nodes: []instance.Node{
			{ID: 0, Due: 100},
			{ID: 1, X: 10, Demand: 4, Ready: 30, Due: 40, Service: 5},
			{ID: 2, X: 20, Demand: 4, Due: 60, Service: 5},
			{ID: 3, Y: 10, Demand: 6, Due: 15, Service: 5},
		},
	}
	in.Prepare()
	return in
}

func TestFeasible(t *testing.T) {
	tests := []struct {
		name     string
		in       *instance.Instance
		routes   [][]int
		vehicles int
		distance float64
	}{
		{"pd two routes", pdptw(), [][]int{{1, 2}, {3, 4}}, 2, 40 + 40},
		{"pd one route interleaved", pdptw(), [][]int{{3, 1, 2, 4}}, 1, 10 + math.Sqrt(200) + 10 + math.Sqrt(400+400) + 20},
		{"pd empty route ignored", pdptw(), [][]int{{1, 2}, {}, {3, 4}}, 2, 80},
		// Node 1 opens at 30: arrive at 10, wait until 30, then node 2 at 45.
		{"vrptw waiting", vrptw(), [][]int{{1, 2}, {3}}, 2, 40 + 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Solution(tc.in, tc.routes)
			if !res.Feasible {
				t.Fatalf("got infeasible %v, want feasible", res.Violations)
			}
			if res.Vehicles != tc.vehicles {
				t.Errorf("got %d vehicles, want %d", res.Vehicles, tc.vehicles)
			}
			if math.Abs(res.Distance-tc.distance) > 1e-9 {
				t.Errorf("got distance %.6f, want %.6f", res.Distance, tc.distance)
			}
		})
	}
}

func TestInfeasible(t *testing.T) {
	tight := pdptw()
	tight.Capacity = 10 // both loads aboard at once weigh 11
	short := vrptw()
	short.MaxRouteDuration = 30
	tests := []struct {
		name   string
		in     *instance.Instance
		routes [][]int
		want   string
	}{
		{"missing node", pdptw(), [][]int{{1, 2}, {3}}, "node 4 is not visited"},
		{"duplicate node", pdptw(), [][]int{{1, 2}, {3, 4, 1}}, "node 1 already visited"},
		{"depot in route", pdptw(), [][]int{{1, 2, 0}, {3, 4}}, "not a task node"},
		{"unknown node", pdptw(), [][]int{{1, 2, 9}, {3, 4}}, "not a task node"},
		{"delivery first", pdptw(), [][]int{{2, 1}, {3, 4}}, "delivery 2 before its pickup 1"},
		{"pair split", pdptw(), [][]int{{1, 4}, {3, 2}}, "pickup 1 on route 0, its delivery 2 on route 1"},
		{"pd capacity", tight, [][]int{{1, 3, 2, 4}}, "over capacity"},
		{"negative load", pdptw(), [][]int{{2, 1}, {3, 4}}, "negative load"},
		{"too many routes", pdptw(), [][]int{{1, 2}, {3, 4}, {}}, ""},
		{"vrptw capacity", vrptw(), [][]int{{1, 2, 3}}, "over capacity"},
		{"vrptw late", vrptw(), [][]int{{2, 3}, {1}}, "node 3 served at"},
		{"vrptw late return", short, [][]int{{1, 2}, {3}}, "back at the depot"},
		{"vrptw too many vehicles", vrptw(), [][]int{{1}, {2}, {3}}, "3 routes, the instance allows 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Solution(tc.in, tc.routes)
			if tc.want == "" {
				if !res.Feasible {
					t.Fatalf("got infeasible %v, want feasible (empty routes do not count)", res.Violations)
				}
				return
			}
			if res.Feasible {
				t.Fatalf("got feasible, want a violation mentioning %q", tc.want)
			}
			joined := strings.Join(res.Violations, "; ")
			if !strings.Contains(joined, tc.want) {
				t.Errorf("got violations %q, want one mentioning %q", joined, tc.want)
			}
		})
	}
}

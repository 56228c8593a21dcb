package plan

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/testenv"
)

// TestCheckRefuses breaks a feasible solution in one way at a time; the
// checker must name each break.
func TestCheckRefuses(t *testing.T) {
	p := scenario(t, 11, 25, 5, true)
	base := solve(t, p, 100, 1)
	// A plan with at least one rest on a leg and one stop with a window.
	pi, ri := -1, -1
	for i, tp := range base.Plans {
		for j, r := range tp.Rests {
			if !r.AtStop && r.Kind == RestDaily {
				pi, ri = i, j
			}
		}
	}
	if pi < 0 {
		t.Fatal("no plan with a 10-hour rest on a leg")
	}
	clone := func() Solution {
		s := base
		s.Plans = make([]TruckPlan, len(base.Plans))
		for i, tp := range base.Plans {
			tp.Stops = append([]PlannedStop(nil), tp.Stops...)
			tp.Rests = append([]Rest(nil), tp.Rests...)
			s.Plans[i] = tp
		}
		s.Unassigned = append([]Unassigned(nil), base.Unassigned...)
		return s
	}
	tests := []struct {
		name   string
		break_ func(s *Solution)
		want   string
	}{
		{"rest dropped", func(s *Solution) {
			tp := &s.Plans[pi]
			tp.Rests = append(tp.Rests[:ri], tp.Rests[ri+1:]...)
		}, "drives"},
		{"rest shortened", func(s *Solution) {
			r := &s.Plans[pi].Rests[ri]
			r.End = r.Start.Add(9 * time.Hour)
		}, "rest of 9h"},
		{"service starts early", func(s *Solution) {
			st := &s.Plans[0].Stops[0]
			st.Start = st.Start.Add(-24 * time.Hour)
		}, "window"},
		{"load served twice", func(s *Solution) {
			s.Plans[1].Stops = append(s.Plans[1].Stops, s.Plans[0].Stops[0])
		}, "twice"},
		{"delivery first", func(s *Solution) {
			st := s.Plans[0].Stops
			for k := range st {
				if st[k].Kind == Delivery {
					for j := range st {
						if st[j].Kind == Pickup && st[j].LoadID == st[k].LoadID {
							st[j], st[k] = st[k], st[j]
						}
					}
					break
				}
			}
		}, "before its pickup"},
		{"load forgotten", func(s *Solution) {
			if len(s.Unassigned) > 0 {
				s.Unassigned = s.Unassigned[1:]
			} else {
				s.Plans = s.Plans[1:]
			}
		}, "neither served nor"},
		{"miles understated", func(s *Solution) { s.Plans[0].Miles -= 10 }, "miles"},
		{"teleport", func(s *Solution) {
			st := &s.Plans[0].Stops[0]
			st.Point.Lat += 1
		}, "road distance"},
		{"wrong truck equipment", func(s *Solution) {
			for i := range p.Trucks {
				if p.Trucks[i].ID != s.Plans[0].TruckID && p.Trucks[i].Equipment != p.Trucks[indexOf(p, s.Plans[0].TruckID)].Equipment {
					s.Plans[0].TruckID = p.Trucks[i].ID
					return
				}
			}
		}, "needs"},
		{"shift overrun", func(s *Solution) {
			s.Plans[0].End = s.Plans[0].End.Add(time.Hour)
		}, "ends at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := clone()
			tt.break_(&s)
			v := Check(p, &s)
			if len(v) == 0 {
				t.Fatal("the checker accepts it")
			}
			if !strings.Contains(strings.Join(v, "\n"), tt.want) {
				t.Errorf("violations %q, want one mentioning %q", v, tt.want)
			}
		})
	}
	if v := Check(p, &base); len(v) > 0 {
		t.Errorf("the cases changed the base solution: %v", v)
	}
}

func indexOf(p *Problem, id string) int {
	for i, t := range p.Trucks {
		if t.ID == id {
			return i
		}
	}
	return -1
}

// TestImportsStayPure keeps the package free of I/O and the checker free
// of the hours-of-service planner the search evaluates routes with.
func TestImportsStayPure(t *testing.T) {
	testenv.ForbidImports(t, func(p string) bool {
		switch p {
		case "github.com/backhaul/backhaul/internal/freight", "github.com/backhaul/backhaul/internal/geo",
			"github.com/backhaul/backhaul/internal/hos":
			return true
		}
		return false
	})
	b, err := os.ReadFile("check.go")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, banned := range []string{"internal/hos", "newEvaluator", ".evaluate(", "hos.", ".segments(", "truckPlan("} {
		if strings.Contains(src, banned) {
			t.Errorf("check.go mentions %q: the checker must not share the search's evaluator", banned)
		}
	}
}

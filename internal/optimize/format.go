package optimize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/solver/check"
	"github.com/backhaul/backhaul/internal/solver/instance"
	"github.com/backhaul/backhaul/internal/solver/routing"
)

// format turns one kind of problem into something a worker can solve.
type format struct {
	// compile checks the problem and prepares it for the solver. It
	// returns *freight.Error values naming the fields at fault.
	compile func(p Problem) (compiled, error)
}

// compiled is a checked problem, ready for the solver.
type compiled interface {
	summary() ProblemSummary
	// solve runs the solver within the limits and returns its best
	// solution as verified by the feasibility checker.
	solve(ctx context.Context, o solveOptions) (Result, error)
}

type solveOptions struct {
	timeLimit time.Duration
	seed      uint64
	progress  func(routing.Progress)
}

// formats are the problem formats jobs accept, by the name clients use.
var formats = map[string]format{
	"lilim":   {compile: benchmarkFormat("lilim", instance.ParseLiLim)},
	"solomon": {compile: benchmarkFormat("solomon", instance.ParseSolomon)},
	"freight": {compile: compileFreight},
}

func formatNames() []string { return slices.Sorted(maps.Keys(formats)) }

// maxViolations bounds the violations kept with an infeasible result.
const maxViolations = 20

// benchmarkFormat compiles the text of a benchmark instance file.
func benchmarkFormat(name string, parse func(string, io.Reader) (*instance.Instance, error)) func(Problem) (compiled, error) {
	return func(p Problem) (compiled, error) {
		bad := func(format string, args ...any) error {
			return &freight.Error{Code: freight.EINVALID, Message: "invalid input",
				Fields: []freight.FieldError{{Field: "problem.instance", Detail: fmt.Sprintf(format, args...)}}}
		}
		// Freight fields on a benchmark problem are a client's mistake,
		// not something to ignore silently.
		var extra []freight.FieldError
		if p.Trucks != nil {
			extra = append(extra, freight.FieldError{Field: "problem.trucks", Detail: "only for the freight format"})
		}
		if p.Loads != nil {
			extra = append(extra, freight.FieldError{Field: "problem.loads", Detail: "only for the freight format"})
		}
		if p.Settings != nil {
			extra = append(extra, freight.FieldError{Field: "problem.settings", Detail: "only for the freight format"})
		}
		if len(extra) > 0 {
			return nil, &freight.Error{Code: freight.EINVALID, Message: "invalid input", Fields: extra}
		}
		switch {
		case strings.TrimSpace(p.Instance) == "":
			return nil, bad("required: the text of a %s instance file", name)
		case len(p.Instance) > MaxInstanceBytes:
			return nil, bad("larger than %d bytes", MaxInstanceBytes)
		case strings.IndexByte(p.Instance, 0) >= 0:
			return nil, bad("contains a NUL byte")
		}
		in, err := parse("", strings.NewReader(p.Instance))
		if err != nil {
			return nil, bad("%v", err)
		}
		return benchmark{format: name, in: in}, nil
	}
}

type benchmark struct {
	format string
	in     *instance.Instance
}

func (b benchmark) summary() ProblemSummary {
	return ProblemSummary{Format: b.format, Kind: string(b.in.Problem), Instance: printable(b.in.Name, maxNameLen), Nodes: b.in.N()}
}

func (b benchmark) solve(ctx context.Context, o solveOptions) (Result, error) {
	sol, err := routing.Solve(ctx, b.in, routing.Options{TimeLimit: o.timeLimit, Seed: o.seed, Progress: o.progress})
	// A solution that needs more vehicles than the instance has is still
	// the best there is; the checker reports it as infeasible.
	if err != nil && !errors.Is(err, routing.ErrFleet) {
		return Result{}, err
	}
	routes := sol.Routes
	if routes == nil {
		routes = [][]int{}
	}
	v := check.Solution(b.in, routes)
	r := Result{Kind: string(b.in.Problem), Routes: routes, Vehicles: v.Vehicles, Distance: v.Distance,
		Feasible: v.Feasible, Iterations: sol.Iterations}
	if len(v.Violations) > 0 {
		r.Violations = v.Violations[:min(len(v.Violations), maxViolations)]
	}
	return r, nil
}

// Package matchcli is the `backhaul match` command: the optimal fleet
// assignment of a scenario file, printed as one JSON object.
package matchcli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/solver/assign"
)

// Result is what the command prints.
type Result struct {
	Assignments   []Assignment `json:"assignments"`
	Assigned      int          `json:"assigned"`
	DeadheadMiles float64      `json:"deadhead_miles"`
	ElapsedMS     float64      `json:"elapsed_ms"`
}

// Assignment pairs one driver with one load.
type Assignment struct {
	DriverID string `json:"driver_id"`
	LoadID   string `json:"load_id"`
}

// NewMatchCommand returns `backhaul match`.
func NewMatchCommand() *cobra.Command {
	return newMatchCommand(time.Now)
}

// newMatchCommand takes the clock that times the run.
func newMatchCommand(now func() time.Time) *cobra.Command {
	var (
		input  string
		greedy bool
	)
	cmd := &cobra.Command{
		Use:   "match --input scenario.json [--greedy]",
		Short: "Assign drivers to loads: most loads covered, then fewest deadhead miles",
		Long: `Match reads a fleet-assignment scenario (the format of shared/data/matching,
described in shared/data/README.md), pairs each driver with at most one load
and each load with at most one driver, and prints one JSON object:

  {"assignments":[{"driver_id":"D00017","load_id":"L00001"}, ...],
   "assigned": 1983, "deadhead_miles": 60744.14, "elapsed_ms": 180.2}

The assignment is optimal: it covers as many loads as any assignment can and,
among those, drives the fewest empty miles to the pickups. --greedy instead
runs the nearest-first dispatcher it is measured against (loads in order of
their pickup deadline, each taking the nearest free driver). Assignments are
sorted by load ID; elapsed_ms covers reading, checking and solving.`,
		Example: `  backhaul match --input ../shared/data/matching/medium.json
  backhaul match --input scenario.json --greedy
  backhaul match --input - < scenario.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true // from here on, errors are about the data
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			res, err := run(ctx, now, input, cmd.InOrStdin(), greedy)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			return enc.Encode(res)
		},
	}
	cmd.Flags().StringVar(&input, "input", "", "scenario file to read (- for standard input)")
	cmd.Flags().BoolVar(&greedy, "greedy", false, "use the nearest-first greedy dispatcher instead of the optimal assignment")
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

func run(ctx context.Context, now func() time.Time, input string, stdin io.Reader, greedy bool) (Result, error) {
	start := now()
	s, err := readScenario(input, stdin)
	if err != nil {
		return Result{}, err
	}
	edges, err := assign.Candidates(ctx, &s)
	if err != nil {
		return Result{}, fmt.Errorf("match %s: %w", input, err)
	}
	var sol assign.Solution
	if greedy {
		sol = assign.Greedy(&s, edges)
	} else if sol, err = assign.Solve(ctx, len(s.Drivers), len(s.Loads), edges); err != nil {
		return Result{}, fmt.Errorf("match %s: %w", input, err)
	}
	elapsed := now().Sub(start)

	res := Result{
		Assignments:   make([]Assignment, 0, sol.Assigned()),
		Assigned:      sol.Assigned(),
		DeadheadMiles: math.Round(sol.DeadheadMiles*100) / 100,
		ElapsedMS:     math.Round(float64(elapsed.Microseconds())/100) / 10,
	}
	for _, p := range sol.Pairs {
		res.Assignments = append(res.Assignments, Assignment{DriverID: s.Drivers[p.Driver].ID, LoadID: s.Loads[p.Load].ID})
	}
	slices.SortFunc(res.Assignments, func(a, b Assignment) int { return cmp.Compare(a.LoadID, b.LoadID) })
	return res, nil
}

func readScenario(input string, stdin io.Reader) (assign.Scenario, error) {
	if input == "-" {
		s, err := assign.DecodeScenario(stdin)
		if err != nil {
			return assign.Scenario{}, fmt.Errorf("standard input: %w", err)
		}
		return s, nil
	}
	f, err := os.Open(input)
	if err != nil {
		return assign.Scenario{}, err
	}
	defer f.Close()
	s, err := assign.DecodeScenario(f)
	if err != nil {
		return assign.Scenario{}, fmt.Errorf("%s: %w", input, err)
	}
	return s, nil
}

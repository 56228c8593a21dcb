package solvecli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/solver/routing"
)

// BKS is a best-known solution from a folder's bks.csv.
type BKS struct {
	Vehicles int
	Distance float64
}

// ReadBKS reads bks.csv (header instance,vehicles,distance,...).
func ReadBKS(path string) (map[string]BKS, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open best-known solutions: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(rows) == 0 || len(rows[0]) < 3 || rows[0][0] != "instance" {
		return nil, fmt.Errorf("read %s: want header instance,vehicles,distance", path)
	}
	out := make(map[string]BKS, len(rows)-1)
	for i, row := range rows[1:] {
		if len(row) < 3 {
			return nil, fmt.Errorf("read %s: row %d has %d fields, want at least 3", path, i+2, len(row))
		}
		v, err := strconv.Atoi(row[1])
		if err != nil {
			return nil, fmt.Errorf("read %s: row %d: vehicles: %w", path, i+2, err)
		}
		d, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			return nil, fmt.Errorf("read %s: row %d: distance: %w", path, i+2, err)
		}
		out[row[0]] = BKS{Vehicles: v, Distance: d}
	}
	return out, nil
}

// InstanceResult is one row of the bench report.
type InstanceResult struct {
	Instance    string   `json:"instance"`
	Problem     string   `json:"problem"`
	Vehicles    int      `json:"vehicles"`
	Distance    float64  `json:"distance"`
	BKSVehicles int      `json:"bks_vehicles,omitempty"`
	BKSDistance float64  `json:"bks_distance,omitempty"`
	GapPct      *float64 `json:"gap_pct,omitempty"` // only with the BKS vehicle count
	Feasible    bool     `json:"feasible"`
	ElapsedMS   int64    `json:"elapsed_ms"`
	Iterations  int      `json:"iterations"`
	Error       string   `json:"error,omitempty"`
	Violations  []string `json:"violations,omitempty"`
	Routes      [][]int  `json:"routes,omitempty"`
}

// Summary is the bench report's aggregate.
type Summary struct {
	Set              string           `json:"set"`
	TimeLimit        string           `json:"time_limit"`
	Seed             uint64           `json:"seed"`
	Threads          int              `json:"threads"`
	Instances        int              `json:"instances"`
	Feasible         int              `json:"feasible"`
	Vehicles         int              `json:"vehicles"`
	BKSVehicles      int              `json:"bks_vehicles"`
	VehicleExcessPct float64          `json:"vehicle_excess_pct"`
	MatchedVehicles  int              `json:"instances_with_bks_vehicles"`
	AvgGapPct        float64          `json:"avg_gap_pct"`
	FewerThanBKS     int              `json:"instances_below_bks_vehicles"`
	Results          []InstanceResult `json:"results,omitempty"`
}

// summarise folds the rows into the summary.
func summarise(s *Summary, rows []InstanceResult) {
	s.Instances = len(rows)
	gapSum := 0.0
	for _, r := range rows {
		if r.Feasible {
			s.Feasible++
		}
		s.Vehicles += r.Vehicles
		s.BKSVehicles += r.BKSVehicles
		if r.GapPct != nil {
			s.MatchedVehicles++
			gapSum += *r.GapPct
		}
		if r.BKSVehicles > 0 && r.Vehicles < r.BKSVehicles {
			s.FewerThanBKS++
		}
	}
	if s.BKSVehicles > 0 {
		s.VehicleExcessPct = 100 * float64(s.Vehicles-s.BKSVehicles) / float64(s.BKSVehicles)
	}
	if s.MatchedVehicles > 0 {
		s.AvgGapPct = gapSum / float64(s.MatchedVehicles)
	}
}

// NewBenchCommand returns the `solver` subcommand of `backhaul bench`.
func NewBenchCommand() *cobra.Command {
	var (
		set     string
		limit   time.Duration
		seed    uint64
		threads int
		jobs    int
		jsonOut string
		match   string
	)
	cmd := &cobra.Command{
		Use:   "solver --set DIR --time-limit D",
		Short: "Run the routing solver on every instance of a benchmark folder",
		Long: `Solver runs every *.txt instance of a folder, checks each solution with the
independent feasibility checker and compares it with the folder's bks.csv.
It prints a table (instance, vehicles against the best-known, distance, gap,
feasible, time) and then a JSON summary: instances, feasible count, total
vehicles against the best-known total, and the average distance gap over the
instances solved with the best-known number of vehicles (a gap against a
solution with another vehicle count means nothing).`,
		Example: `  backhaul bench solver --set ../shared/benchmarks/pdptw/lilim100 --time-limit 10s
  backhaul bench solver --set ../shared/benchmarks/vrptw/gh1000 --time-limit 60s --json gh1000.json
  backhaul bench solver --set ../shared/benchmarks/vrptw/solomon --time-limit 2s --match 'R1*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if set == "" {
				return errors.New("--set is required")
			}
			if limit <= 0 {
				return fmt.Errorf("--time-limit must be positive, got %v", limit)
			}
			if threads < 1 || jobs < 1 {
				return errors.New("--threads and --jobs must be at least 1")
			}
			files, err := filepath.Glob(filepath.Join(set, "*.txt"))
			if err != nil {
				return fmt.Errorf("list %s: %w", set, err)
			}
			if match != "" {
				kept := files[:0]
				for _, f := range files {
					ok, err := filepath.Match(match, strings.TrimSuffix(filepath.Base(f), ".txt"))
					if err != nil {
						return fmt.Errorf("--match: %w", err)
					}
					if ok {
						kept = append(kept, f)
					}
				}
				files = kept
			}
			if len(files) == 0 {
				return fmt.Errorf("no instance files (*.txt) in %s", set)
			}
			sort.Strings(files)
			bks := map[string]BKS{}
			if _, err := os.Stat(filepath.Join(set, "bks.csv")); err == nil {
				if bks, err = ReadBKS(filepath.Join(set, "bks.csv")); err != nil {
					return err
				}
			}
			opts := routing.Options{TimeLimit: limit, Seed: seed, Threads: threads}
			sum := Summary{Set: set, TimeLimit: limit.String(), Seed: seed, Threads: threads}
			rows := runBench(cmd.Context(), cmd.OutOrStdout(), files, bks, opts, jobs)
			summarise(&sum, rows)
			fmt.Fprintf(cmd.OutOrStdout(), "\n")
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(sum); err != nil {
				return fmt.Errorf("write summary: %w", err)
			}
			if jsonOut != "" {
				sum.Results = rows
				data, err := json.MarshalIndent(sum, "", "  ")
				if err != nil {
					return fmt.Errorf("encode summary: %w", err)
				}
				if err := os.WriteFile(jsonOut, append(data, '\n'), 0o644); err != nil {
					return fmt.Errorf("write %s: %w", jsonOut, err)
				}
			}
			if sum.Feasible != sum.Instances {
				return fmt.Errorf("%d of %d solutions infeasible or missing", sum.Instances-sum.Feasible, sum.Instances)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&set, "set", "", "folder of instance files with a bks.csv")
	cmd.Flags().DurationVar(&limit, "time-limit", 10*time.Second, "time limit per instance")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().IntVar(&threads, "threads", 1, "search threads per instance")
	cmd.Flags().IntVar(&jobs, "jobs", 1, "instances solved at the same time")
	cmd.Flags().StringVar(&jsonOut, "json", "", "also write the summary with every solution to this file")
	cmd.Flags().StringVar(&match, "match", "", "only instances whose name matches this shell pattern")
	return cmd
}

// runBench solves the files (jobs at a time) and prints table rows in file
// order as they complete.
func runBench(ctx context.Context, out io.Writer, files []string, bks map[string]BKS, opts routing.Options, jobs int) []InstanceResult {
	rows := make([]InstanceResult, len(files))
	ready := make([]chan struct{}, len(files))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	wg.Add(len(files))
	// Slots are taken in file order, so instances start in that order and
	// the table streams as they finish.
	go func() {
		for i, f := range files {
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				defer close(ready[i])
				rows[i] = benchOne(ctx, f, bks, opts)
			}()
		}
	}()
	const row = "%-12s %8s %5s %11s %11s %7s %-9s %7s\n"
	fmt.Fprintf(out, row, "instance", "vehicles", "bks", "distance", "bks dist", "gap %", "feasible", "time s")
	for i := range files {
		<-ready[i]
		r := rows[i]
		gap := "-"
		if r.GapPct != nil {
			gap = fmt.Sprintf("%.2f", *r.GapPct)
		}
		bv, bd := "-", "-"
		if r.BKSVehicles > 0 {
			bv, bd = strconv.Itoa(r.BKSVehicles), fmt.Sprintf("%.2f", r.BKSDistance)
		}
		feas := strconv.FormatBool(r.Feasible)
		if r.Error != "" {
			feas = "error: " + r.Error
		}
		fmt.Fprintf(out, row, r.Instance, strconv.Itoa(r.Vehicles), bv, fmt.Sprintf("%.2f", r.Distance), bd, gap, feas, fmt.Sprintf("%.1f", float64(r.ElapsedMS)/1000))
	}
	wg.Wait()
	return rows
}

func benchOne(ctx context.Context, file string, bks map[string]BKS, opts routing.Options) InstanceResult {
	name := strings.TrimSuffix(filepath.Base(file), ".txt")
	res, chk, iters, err := solveFile(ctx, file, opts)
	row := InstanceResult{Instance: name}
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.Problem = res.Problem
	row.Vehicles, row.Distance, row.Feasible, row.ElapsedMS = res.Vehicles, res.Distance, res.Feasible, res.ElapsedMS
	row.Violations = chk.Violations
	row.Iterations = iters
	row.Routes = res.Routes
	if b, ok := bks[name]; ok {
		row.BKSVehicles, row.BKSDistance = b.Vehicles, b.Distance
		if res.Feasible && res.Vehicles == b.Vehicles && b.Distance > 0 {
			g := 100 * (res.Distance - b.Distance) / b.Distance
			row.GapPct = &g
		}
	}
	return row
}

// Package solvecli holds the command-line front ends of the routing solver:
// `backhaul solve` for one benchmark file and `backhaul bench solver` for a
// whole folder checked against its best-known solutions.
package solvecli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/solver/check"
	"github.com/backhaul/backhaul/internal/solver/instance"
	"github.com/backhaul/backhaul/internal/solver/routing"
)

// Result is the JSON object `backhaul solve` prints.
type Result struct {
	Instance  string  `json:"instance"`
	Problem   string  `json:"problem"`
	Vehicles  int     `json:"vehicles"`
	Distance  float64 `json:"distance"`
	Feasible  bool    `json:"feasible"`
	Routes    [][]int `json:"routes"`
	ElapsedMS int64   `json:"elapsed_ms"`
}

// ErrInfeasible is returned when the checker rejects the solver's answer;
// it is a solver bug, never expected.
var ErrInfeasible = errors.New("solution failed the feasibility check")

// solveFile reads, solves and checks one instance file; it also returns
// the number of search iterations, a load-independent measure of effort.
func solveFile(ctx context.Context, path string, opts routing.Options) (Result, check.Result, int, error) {
	in, err := instance.ReadFile(path)
	if err != nil {
		return Result{}, check.Result{}, 0, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	sol, err := routing.Solve(ctx, in, opts)
	elapsed := now().Sub(start)
	if err != nil && !errors.Is(err, routing.ErrFleet) {
		return Result{}, check.Result{}, 0, fmt.Errorf("solve %s: %w", in.Name, err)
	}
	chk := check.Solution(in, sol.Routes)
	res := Result{
		Instance:  in.Name,
		Problem:   string(in.Problem),
		Vehicles:  chk.Vehicles,
		Distance:  chk.Distance,
		Feasible:  chk.Feasible,
		Routes:    sol.Routes,
		ElapsedMS: elapsed.Milliseconds(),
	}
	if res.Routes == nil {
		res.Routes = [][]int{}
	}
	return res, chk, sol.Iterations, nil
}

// NewSolveCommand returns `backhaul solve`.
func NewSolveCommand() *cobra.Command {
	var (
		limit   time.Duration
		seed    uint64
		threads int
	)
	cmd := &cobra.Command{
		Use:   "solve [flags] FILE",
		Short: "Solve a Li & Lim or Solomon / Gehring & Homberger routing instance",
		Long: `Solve reads a benchmark instance (Li & Lim PDPTW, or Solomon / Gehring &
Homberger VRPTW; the format is detected), minimises first the number of
vehicles and then the total distance within the time limit, checks the
answer with the independent feasibility checker and prints one JSON object:

  {"instance", "problem", "vehicles", "distance", "feasible", "routes", "elapsed_ms"}

Routes list node ids in visiting order without the depot. Distances are
unrounded Euclidean. A progress bar goes to stderr when it is a terminal.
Interrupting (Ctrl-C) stops the search and prints the best solution so far.`,
		Example: `  backhaul solve --time-limit 10s ../shared/benchmarks/pdptw/lilim100/lc101.txt
  backhaul solve --time-limit 1m --seed 7 --threads 2 ../shared/benchmarks/vrptw/gh1000/r1_10_1.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit <= 0 {
				return fmt.Errorf("--time-limit must be positive, got %v", limit)
			}
			if threads < 1 {
				return fmt.Errorf("--threads must be at least 1, got %d", threads)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			opts := routing.Options{TimeLimit: limit, Seed: seed, Threads: threads}
			var bar *progressBar
			if isTerminal(cmd.ErrOrStderr()) {
				bar = startProgressBar(cmd.ErrOrStderr(), limit)
				opts.Progress = bar.update
			}
			res, chk, _, err := solveFile(ctx, args[0], opts)
			if bar != nil {
				bar.stop()
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			if err := enc.Encode(res); err != nil {
				return fmt.Errorf("write result: %w", err)
			}
			if !chk.Feasible {
				return fmt.Errorf("%w: %s", ErrInfeasible, strings.Join(chk.Violations, "; "))
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&limit, "time-limit", 10*time.Second, "stop the search after this long")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().IntVar(&threads, "threads", 1, "independent searches run in parallel (1 is deterministic per iteration budget)")
	return cmd
}

// isTerminal reports whether w is a character device, as a terminal is.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}

// progressBar redraws one stderr line with the time used and the best
// solution so far.
type progressBar struct {
	w     io.Writer
	limit time.Duration
	start time.Time
	mu    sync.Mutex
	last  routing.Progress
	done  chan struct{}
	wg    sync.WaitGroup
}

func startProgressBar(w io.Writer, limit time.Duration) *progressBar {
	b := &progressBar{w: w, limit: limit, start: time.Now(), done: make(chan struct{})}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.done:
				b.draw()
				fmt.Fprintln(b.w)
				return
			case <-t.C:
				b.draw()
			}
		}
	}()
	return b
}

func (b *progressBar) update(p routing.Progress) {
	b.mu.Lock()
	b.last = p
	b.mu.Unlock()
}

func (b *progressBar) draw() {
	b.mu.Lock()
	p := b.last
	b.mu.Unlock()
	fmt.Fprintf(b.w, "\r%s", renderBar(time.Since(b.start), b.limit, p))
}

// renderBar draws `[#####     ]  42%  5.2s  vehicles 10  distance 828.94`.
func renderBar(elapsed, limit time.Duration, p routing.Progress) string {
	const width = 30
	frac := 1.0
	if limit > 0 {
		frac = min(1, float64(elapsed)/float64(limit))
	}
	filled := int(frac * width)
	best := "searching"
	if p.Vehicles > 0 {
		best = fmt.Sprintf("vehicles %d  distance %.2f", p.Vehicles, p.Distance)
	}
	return fmt.Sprintf("[%s%s] %3.0f%% %6.1fs  %s ", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), frac*100, elapsed.Seconds(), best)
}

func (b *progressBar) stop() {
	close(b.done)
	b.wg.Wait()
}

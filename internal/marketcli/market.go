// Package marketcli is the command line of the market-intelligence service:
// offline prediction and evaluation of the rate model, and the import of
// booking history into the store.
package marketcli

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/market/ratemodel"
)

// NewMarketCommand is `backhaul market`.
func NewMarketCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "market",
		Short: "Rate quotes and market intelligence",
		Long: `Rate quotes and market intelligence.

The rate model learns the all-in truckload rate (linehaul plus fuel surcharge)
from booking history and quotes P10, P50 and P90 for a load.`,
	}
	cmd.AddCommand(newPredictCommand(), newEvaluateCommand(), newImportCommand())
	return cmd
}

// dieselFlag loads --diesel, or the series shipped in the binary.
func readDiesel(path string) (*ratemodel.Diesel, error) {
	if path == "" {
		return ratemodel.DefaultDiesel(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := ratemodel.ReadDiesel(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func readHistory(path string, stderr io.Writer) ([]ratemodel.Booking, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, rep, err := ratemodel.ReadBookings(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(stderr, "%s: %s\n", path, rep.Summary(20))
	return rows, nil
}

// stage prints training progress on stderr, so that stdout stays data.
func stage(w io.Writer, start time.Time) func(string) {
	return func(s string) {
		fmt.Fprintf(w, "  %5.1fs %s\n", time.Since(start).Seconds(), s)
	}
}

func newPredictCommand() *cobra.Command {
	var history, queries, diesel string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "predict --history H.csv --queries Q.csv [--diesel D.csv]",
		Short: "Train on a booking history and quote P10/P50/P90 for each query",
		Long: `Train the rate model on a booking history and quote every row of a query file.

The history has the columns of bookings.csv (load_id, booked_at, pickup_at,
origin_city, origin_state, origin_lat, origin_lon, dest_city, dest_state,
dest_lat, dest_lon, equipment, weight_lbs, miles, rate_usd); the queries have
the same columns without rate_usd. booked_at of a query is the time of the
quote. The output, on stdout, is CSV with the header
load_id,rate_p10,rate_p50,rate_p90 and one row per query row, in order. A
query that cannot be quoted keeps its row with empty rates and is explained on
stderr. Rejected history rows and training progress also go to stderr.

The weekly diesel price series shipped with the binary is used unless
--diesel names another file with the columns week_start,diesel_usd_per_gal.`,
		Example: `  backhaul market predict --history bookings.csv --queries new-loads.csv > quotes.csv
  backhaul market predict --history bookings.csv --queries q.csv --diesel diesel-weekly.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPredict(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), history, queries, diesel, seed)
		},
	}
	f := cmd.Flags()
	f.StringVar(&history, "history", "", "booking history CSV to train on (required)")
	f.StringVar(&queries, "queries", "", "loads to quote, CSV (required)")
	f.StringVar(&diesel, "diesel", "", "weekly diesel prices CSV (default: the series shipped with the binary)")
	f.Uint64Var(&seed, "seed", 1, "random seed; the same seed gives the same quotes")
	_ = cmd.MarkFlagRequired("history")
	_ = cmd.MarkFlagRequired("queries")
	return cmd
}

func runPredict(ctx context.Context, stdout, stderr io.Writer, historyPath, queryPath, dieselPath string, seed uint64) error {
	if ctx == nil {
		ctx = context.Background()
	}
	d, err := readDiesel(dieselPath)
	if err != nil {
		return err
	}
	history, err := readHistory(historyPath, stderr)
	if err != nil {
		return err
	}
	qf, err := os.Open(queryPath)
	if err != nil {
		return err
	}
	defer qf.Close()
	loads, qrep, err := ratemodel.ReadQueries(bufio.NewReader(qf))
	if err != nil {
		return fmt.Errorf("%s: %w", queryPath, err)
	}
	fmt.Fprintf(stderr, "%s: %s\n", queryPath, qrep.Summary(20))

	start := time.Now()
	fmt.Fprintf(stderr, "training on %d bookings\n", len(history))
	model, trep, err := ratemodel.Train(ctx, history, ratemodel.Options{Seed: seed, Diesel: d, Progress: stage(stderr, start)})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(stderr, "trained in %.1fs: %d trees; left out %d outliers and %d bookings no quote could be asked for\n",
		time.Since(start).Seconds(), trep.Trees, trep.Outliers(), trep.Invalid)

	rejected := map[int]ratemodel.RowError{}
	for _, e := range qrep.Rejected {
		rejected[e.Row] = e
	}
	out := bufio.NewWriter(stdout)
	w := csv.NewWriter(out)
	_ = w.Write([]string{"load_id", "rate_p10", "rate_p50", "rate_p90"})
	money := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	next, failed := 0, 0
	for row := 1; row <= qrep.Rows; row++ {
		if e, ok := rejected[row]; ok {
			_ = w.Write([]string{e.LoadID, "", "", ""})
			failed++
			continue
		}
		l := loads[next]
		next++
		p, err := model.Predict(l)
		if err != nil {
			fmt.Fprintf(stderr, "query %s (row %d): %v\n", l.LoadID, row, err)
			_ = w.Write([]string{l.LoadID, "", "", ""})
			failed++
			continue
		}
		_ = w.Write([]string{l.LoadID, money(p.P10), money(p.P50), money(p.P90)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write quotes: %w", err)
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write quotes: %w", err)
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "%d of %d queries could not be quoted\n", failed, qrep.Rows)
	}
	return nil
}

func newEvaluateCommand() *cobra.Command {
	var history, diesel string
	var holdout float64
	var seed uint64
	cmd := &cobra.Command{
		Use:   "evaluate --history H.csv [--holdout 0.2] [--seed N]",
		Short: "Measure the rate model on a random share of the history held back",
		Long: `Hold back a random share of the booking history, train the rate model on the
rest and score it on the held-back bookings: the mean absolute percentage
error (MAPE) of P50, how often the true rate falls inside P10-P90, and the
training time. The baseline, a per-equipment, per-distance-band rate-per-mile
table fitted on the same bookings, is scored in the same run.`,
		Example: `  backhaul market evaluate --history bookings.csv
  backhaul market evaluate --history bookings.csv --holdout 0.2 --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEvaluate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), history, diesel, holdout, seed)
		},
	}
	f := cmd.Flags()
	f.StringVar(&history, "history", "", "booking history CSV (required)")
	f.StringVar(&diesel, "diesel", "", "weekly diesel prices CSV (default: the series shipped with the binary)")
	f.Float64Var(&holdout, "holdout", 0.2, "share of the bookings held back for scoring")
	f.Uint64Var(&seed, "seed", 1, "random seed for the hold-out draw and the training")
	_ = cmd.MarkFlagRequired("history")
	return cmd
}

func runEvaluate(ctx context.Context, stdout, stderr io.Writer, historyPath, dieselPath string, holdout float64, seed uint64) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if !(holdout > 0 && holdout < 1) {
		return errors.New("--holdout must be between 0 and 1")
	}
	d, err := readDiesel(dieselPath)
	if err != nil {
		return err
	}
	all, err := readHistory(historyPath, stderr)
	if err != nil {
		return err
	}
	train, held := ratemodel.Split(all, holdout, seed)
	start := time.Now()
	model, trep, err := ratemodel.Train(ctx, train, ratemodel.Options{Seed: seed, Diesel: d, Progress: stage(stderr, start)})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	took := time.Since(start)
	m, err := ratemodel.Evaluate(model, held)
	if err != nil {
		return err
	}
	base, err := ratemodel.Evaluate(ratemodel.FitTable(train), held)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bookings:        %d trained on, %d held back (seed %d)\n", len(train), len(held), seed)
	fmt.Fprintf(stdout, "outliers:        %d left out of training (%d by rate per mile, %d against their lane)\n",
		trep.Outliers(), trep.ScreenOutliers, trep.ModelOutliers)
	fmt.Fprintf(stdout, "training time:   %.1fs (%d trees)\n", took.Seconds(), trep.Trees)
	fmt.Fprintf(stdout, "model MAPE(P50): %.2f%%\n", 100*m.MAPE)
	fmt.Fprintf(stdout, "P10-P90 coverage: %.1f%% (%.1f%% below P10, %.1f%% above P90; mean width %.1f%% of P50)\n",
		100*m.Coverage, 100*m.Below, 100*m.Above, 100*m.Width)
	fmt.Fprintf(stdout, "baseline MAPE:   %.2f%% (rate-per-mile table by equipment and distance band; coverage %.1f%%)\n",
		100*base.MAPE, 100*base.Coverage)
	if m.Failed > 0 {
		fmt.Fprintf(stdout, "not quoted:      %d held-back bookings\n", m.Failed)
	}
	return nil
}

package marketcli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/market"
	"github.com/backhaul/backhaul/internal/store"
)

func newImportCommand() *cobra.Command {
	var dbURL, dataDir string
	var retrain bool
	var maxErrors int
	cmd := &cobra.Command{
		Use:   "import FILE.csv [--database-url URL | --data-dir DIR]",
		Short: "Import booking history for the rate model to learn from",
		Long: `Import booking history in the format of bookings.csv into the store (SQLite in
--data-dir, or the PostgreSQL of --database-url), applying pending migrations
first as serve does.

Columns are found by their header name: load_id, booked_at, pickup_at,
origin_city, origin_state, origin_lat, origin_lon, dest_city, dest_state,
dest_lat, dest_lon, equipment (van, reefer or flatbed), weight_lbs, miles and
rate_usd (the all-in rate). A row with missing fields, a bad date, a negative
or zero distance, an unknown equipment, a non-positive rate or a load_id seen
earlier in the file is rejected and listed with its line number; the rest are
imported. Rows whose load_id is already stored are skipped and counted, so
importing the same file twice changes nothing. FILE "-" reads standard input.

Unless --retrain=false, a retraining run is queued when rows were imported;
a running market-intelligence service picks it up, trains a model on the whole
history and puts it into service if it scores better on held-back bookings
than the rates in service.

The database flags also read BACKHAUL_DATABASE_URL and BACKHAUL_DATA_DIR.`,
		Example: `  backhaul market import bookings.csv --data-dir ./data
  BACKHAUL_DATABASE_URL=postgres://db/backhaul backhaul market import bookings.csv
  zcat history.csv.gz | backhaul market import - --retrain=false`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("database-url") {
				if v := os.Getenv("BACKHAUL_DATABASE_URL"); v != "" {
					dbURL = v
				}
			}
			if !cmd.Flags().Changed("data-dir") {
				if v := os.Getenv("BACKHAUL_DATA_DIR"); v != "" {
					dataDir = v
				}
			}
			return runImport(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0],
				store.Config{URL: dbURL, DataDir: dataDir}, retrain, maxErrors)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dbURL, "database-url", "", "PostgreSQL URL (postgres://...); empty keeps SQLite in --data-dir")
	f.StringVar(&dataDir, "data-dir", "./data", "directory of the embedded store")
	f.BoolVar(&retrain, "retrain", true, "queue a retraining run when rows were imported")
	f.IntVar(&maxErrors, "max-errors", 50, "how many rejected rows to list (0 lists all)")
	return cmd
}

func runImport(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, path string, cfg store.Config, retrain bool, maxErrors int) error {
	if ctx == nil {
		ctx = context.Background()
	}
	in, name := stdin, "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, filepath.Base(path)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := store.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	start := time.Now()
	last := start
	rep, err := market.Import(ctx, db, in, name, func(done, total int) {
		if now := time.Now(); now.Sub(last) >= time.Second || done == total {
			fmt.Fprintf(stderr, "  %5.1fs %d/%d rows stored or skipped\n", now.Sub(start).Seconds(), done, total)
			last = now
		}
	})
	if err != nil {
		if rep.Imported > 0 {
			fmt.Fprintf(stdout, "%s: %d rows imported before the failure\n", name, rep.Imported)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(stdout, "%s (%s store): %s\n", name, db.Dialect(), rep.Summary(maxErrors))
	if retrain && rep.Imported > 0 {
		run, created, err := market.QueueRetrain(ctx, db, market.TriggerImport, "import "+name)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(stdout, "queued retraining run %d; a running market-intelligence service picks it up\n", run.ID)
		} else {
			fmt.Fprintf(stdout, "retraining run %d, already queued, will include these bookings\n", run.ID)
		}
	}
	return nil
}

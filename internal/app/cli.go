package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/backhaul/backhaul/internal/marketcli"
	"github.com/backhaul/backhaul/internal/matchcli"
	"github.com/backhaul/backhaul/internal/solvecli"
)

// Command returns the root command with every subcommand.
func Command(extra ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "backhaul",
		Short: "Backhaul matches trucks to freight so fewer miles run empty",
		Long: `Backhaul is a freight optimization platform: shippers post loads, carriers
find and haul them, and the platform matches trucks to loads, tracks them,
quotes prices and plans routes. One binary runs any set of its services.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), migrateCommand(), versionCommand(),
		benchCommand(solvecli.NewBenchCommand(), notifyBenchCommand(), benchCacheCommand()),
		solvecli.NewSolveCommand(), matchcli.NewMatchCommand(), marketcli.NewMarketCommand())
	root.AddCommand(simulateCommand())
	root.AddCommand(scalingCommand())
	root.AddCommand(extra...)
	return root
}

// Main runs the CLI and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer, extra ...*cobra.Command) int {
	root := Command(extra...)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "backhaul:", err)
		return 1
	}
	return 0
}

// NewLogger builds the process logger from the configuration.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func loadConfig(cmd *cobra.Command, cfg *Config) error {
	if err := cfg.Resolve(cmd.Flags(), os.Getenv); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	return nil
}

func serveCommand() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the platform's services",
		Long: `Run any set of the platform's services in this process.

With no URLs set everything lives in --data-dir: an SQLite store, NATS
JetStream inside the process and in-process caches. Set --database-url,
--nats-url and --redis-url to use PostgreSQL, an external NATS cluster and
Redis instead.

Every setting can also be given as an environment variable (BACKHAUL_ and the
flag name in upper case with underscores, e.g. BACKHAUL_HTTP_ADDR) or as a key
of the YAML file named by --config. A flag wins over the environment, which
wins over the file, which wins over the default.`,
		Example: `  backhaul serve --demo
  backhaul serve --target=api-gateway,load-service --http-addr=:9000
  BACKHAUL_DATABASE_URL=postgres://db/backhaul BACKHAUL_TOKEN_SECRET=... backhaul serve --target=load-service`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadConfig(cmd, &cfg); err != nil {
				return err
			}
			if err := cfg.ValidateServe(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			log := NewLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
			log.Info("starting backhaul", "version", Version, "targets", cfg.TargetList())
			err := runServe(cmd.Context(), New(cfg, log), log)
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
	cfg.RegisterFlags(cmd.Flags())
	cmd.Flags().SortFlags = false
	return cmd
}

func migrateCommand() *cobra.Command {
	var cfg Config
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Long: `Apply every pending migration of the store (SQLite in --data-dir, or the
PostgreSQL of --database-url), each in its own transaction, and print the
schema version. Several processes may run it at once: on PostgreSQL one
migrates while the others wait.`,
		Example: `  backhaul migrate --data-dir ./data
  BACKHAUL_DATABASE_URL=postgres://db/backhaul backhaul migrate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadConfig(cmd, &cfg); err != nil {
				return err
			}
			log := NewLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
			db, err := OpenStore(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer db.Close()
			applied, err := db.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			version, _, err := db.MigrationStatus(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s store at schema version %d (%d migrations applied now)\n", db.Dialect(), version, len(applied))
			return nil
		},
	}
	cfg.RegisterFlags(cmd.Flags())
	return cmd
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  backhaul version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "backhaul", Version)
		},
	}
}

func newFlagSet() *pflag.FlagSet { return pflag.NewFlagSet("backhaul", pflag.ContinueOnError) }

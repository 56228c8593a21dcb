package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/backhaul/backhaul/internal/autoscale"
	"github.com/backhaul/backhaul/internal/scalesim"
)

// scalingCommand is the parent of the capacity-planning commands.
func scalingCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scaling",
		Short: "Plan capacity with the scaling guide's autoscalers, offline",
	}
	cmd.AddCommand(scalingSimulateCommand())
	return cmd
}

// simulateFlags are the flags of `backhaul scaling simulate`.
type simulateFlags struct {
	scenario   string
	duration   time.Duration
	step       time.Duration
	format     string
	out        string
	compare    string
	predictive bool
}

var simulateFormats = []string{"text", "json", "svg"}

func scalingSimulateCommand() *cobra.Command {
	var f simulateFlags
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Replay a traffic scenario through every service's HPA, pods and nodes",
		Long: `Replay a traffic scenario of the scaling guide (section 8) through each
service's HorizontalPodAutoscaler as the guide configures it, with pods
that serve at the platform's measured capacity, start-up delays, lagging
metrics, and nodes from the cluster autoscaler. Reports each service's
replicas over time, minutes above its target latency and cost.

Scenarios: daily (an ordinary weekday), spike (a campaign multiplying the
shipper-facing load by five at 11:00), seasonal (two weeks of a peak
season's growth), batch (the nightly optimization, re-matching and digest
runs).

--compare FILE runs a second configuration beside the guide's: a YAML file
replacing HPA fields of some services (see docs/operations.md).
--predictive adds scheduled minimum replicas from a forecast of each
service's load, to the second configuration (or, alone, compares the
guide's settings with and without it).`,
		Example: `  backhaul scaling simulate --scenario daily
  backhaul scaling simulate --scenario spike --predictive --format svg --out spike.svg
  backhaul scaling simulate --scenario batch --compare faster-solver.yaml --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.scenario, "scenario", "", "traffic scenario: "+strings.Join(scalesim.ScenarioNames(), ", ")+" (required)")
	fl.DurationVar(&f.duration, "duration", 0, "simulated time (default: the scenario's, 24h or 336h for seasonal)")
	fl.DurationVar(&f.step, "step", 5*time.Second, "simulation step; must divide the HPA sync period (15s)")
	fl.StringVar(&f.format, "format", "text", "output: text, json or svg")
	fl.StringVar(&f.out, "out", "", "write the report to this file instead of standard output")
	fl.StringVar(&f.compare, "compare", "", "YAML file of HPA overrides to run beside the guide's settings")
	fl.BoolVar(&f.predictive, "predictive", false, "add predictive scaling to the compared configuration")
	cmd.Flags().SortFlags = false
	return cmd
}

// simulation is a validated request: the runs to make.
type simulation struct {
	runs   []scalesim.Config
	format string
}

// plan validates the flags, naming each bad one, and builds the runs.
func (f simulateFlags) plan(readFile func(string) ([]byte, error)) (simulation, error) {
	var errs []error
	sc, err := scalesim.LookupScenario(f.scenario)
	if f.scenario == "" {
		errs = append(errs, fmt.Errorf("--scenario: required, one of %s", strings.Join(scalesim.ScenarioNames(), ", ")))
	} else if err != nil {
		errs = append(errs, fmt.Errorf("--scenario: %w", err))
	}
	if !slices.Contains(simulateFormats, f.format) {
		errs = append(errs, fmt.Errorf("--format %q: want one of %s", f.format, strings.Join(simulateFormats, ", ")))
	}
	platform := scalesim.DefaultPlatform()
	sync := platform.Cluster.HPASyncPeriod
	if f.step < scalesim.MinStep || f.step > sync || sync%f.step != 0 {
		errs = append(errs, fmt.Errorf("--step %s: must be at least %s and divide the HPA sync period %s (1s, 3s, 5s or 15s)", f.step, scalesim.MinStep, sync))
	}
	duration := f.duration
	if duration == 0 {
		duration = sc.Duration
	}
	if f.duration != 0 && (f.duration < sync || f.duration > scalesim.MaxDuration) {
		errs = append(errs, fmt.Errorf("--duration %s: must be within %s..%s", f.duration, sync, scalesim.MaxDuration))
	} else if f.duration != 0 && f.step > 0 && f.duration%sync != 0 {
		errs = append(errs, fmt.Errorf("--duration %s: must be a whole number of HPA sync periods (%s)", f.duration, sync))
	}
	guide := scalesim.Config{
		Label: "guide", Platform: platform, HPAs: autoscale.GuideSpecs(),
		Scenario: sc, Duration: duration, Step: f.step,
	}
	runs := []scalesim.Config{guide}
	if f.compare != "" || f.predictive {
		alt := guide
		alt.Label, alt.Predictive = "predictive", f.predictive
		if f.compare != "" {
			data, err := readFile(f.compare)
			if err != nil {
				errs = append(errs, fmt.Errorf("--compare: %w", err))
			} else if o, err := scalesim.ParseOverride(data); err != nil {
				errs = append(errs, fmt.Errorf("--compare %s: %w", f.compare, err))
			} else if hpas, err := o.Apply(platform, alt.HPAs); err != nil {
				errs = append(errs, fmt.Errorf("--compare %s: %w", f.compare, err))
			} else {
				alt.HPAs = hpas
				alt.Predictive = f.predictive || o.Predictive
				alt.Label = o.Label
				if alt.Label == "" {
					alt.Label = strings.TrimSuffix(filepath.Base(f.compare), filepath.Ext(f.compare))
				}
			}
		}
		if alt.Label == guide.Label {
			alt.Label += " (alternative)"
		}
		runs = append(runs, alt)
	}
	if err := errors.Join(errs...); err != nil {
		return simulation{}, err
	}
	return simulation{runs: runs, format: f.format}, nil
}

func runSimulate(cmd *cobra.Command, f simulateFlags) error {
	sim, err := f.plan(os.ReadFile)
	if err != nil {
		return fmt.Errorf("invalid flags:\n%w", err)
	}
	var results []*scalesim.Result
	for _, cfg := range sim.runs {
		r, err := scalesim.Run(cmd.Context(), cfg)
		if err != nil {
			return fmt.Errorf("simulate %s: %w", cfg.Label, err)
		}
		results = append(results, r)
	}
	var buf bytes.Buffer
	switch sim.format {
	case "json":
		err = scalesim.WriteJSON(&buf, results...)
	case "svg":
		err = scalesim.WriteSVG(&buf, results...)
	default:
		err = scalesim.WriteText(&buf, results...)
	}
	if err != nil {
		return err
	}
	if f.out == "" {
		_, err = io.Copy(cmd.OutOrStdout(), &buf)
		return err
	}
	if err := os.WriteFile(f.out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/scalesim"
)

func TestSimulateFlagsNameTheFlag(t *testing.T) {
	files := map[string]string{
		"good.yaml":  "label: wider\nservices:\n  api-gateway:\n    maxReplicas: 30\n",
		"bad.yaml":   "services:\n  api-gateway:\n    maxReplica: 30\n",
		"guide.yaml": "label: guide\npredictive: true\n",
	}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	ok := simulateFlags{scenario: "daily", step: 5 * time.Second, format: "text"}
	tests := []struct {
		name   string
		change func(*simulateFlags)
		want   string // "" for valid
		runs   int
		label  string // the second run's label
	}{
		{"defaults", func(*simulateFlags) {}, "", 1, ""},
		{"predictive alone", func(f *simulateFlags) { f.predictive = true }, "", 2, "predictive"},
		{"compare", func(f *simulateFlags) { f.compare = "good.yaml" }, "", 2, "wider"},
		{"compare labelled guide", func(f *simulateFlags) { f.compare = "guide.yaml" }, "", 2, "guide (alternative)"},
		{"no scenario", func(f *simulateFlags) { f.scenario = "" }, "--scenario: required", 0, ""},
		{"unknown scenario", func(f *simulateFlags) { f.scenario = "weekly" }, `--scenario: unknown scenario "weekly"`, 0, ""},
		{"format", func(f *simulateFlags) { f.format = "png" }, `--format "png"`, 0, ""},
		{"step", func(f *simulateFlags) { f.step = 4 * time.Second }, "--step 4s", 0, ""},
		{"zero step", func(f *simulateFlags) { f.step = 0 }, "--step 0s", 0, ""},
		{"duration too short", func(f *simulateFlags) { f.duration = time.Second }, "--duration 1s", 0, ""},
		{"duration off the sync grid", func(f *simulateFlags) { f.duration = time.Minute + time.Second }, "--duration 1m1s", 0, ""},
		{"missing compare file", func(f *simulateFlags) { f.compare = "none.yaml" }, "--compare:", 0, ""},
		{"bad compare file", func(f *simulateFlags) { f.compare = "bad.yaml" }, "--compare bad.yaml: override file", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ok
			tt.change(&f)
			sim, err := f.plan(read)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got %v, want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sim.runs) != tt.runs {
				t.Fatalf("got %d runs, want %d", len(sim.runs), tt.runs)
			}
			if tt.runs == 2 && sim.runs[1].Label != tt.label {
				t.Errorf("second run labelled %q, want %q", sim.runs[1].Label, tt.label)
			}
		})
	}
	// Several bad flags are reported together.
	f := ok
	f.format, f.step = "png", time.Hour
	if _, err := f.plan(read); err == nil || !strings.Contains(err.Error(), "--format") || !strings.Contains(err.Error(), "--step") {
		t.Errorf("got %v, want both --format and --step named", err)
	}
}

// The command end to end: a short comparison written as JSON to a file.
func TestScalingSimulateCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run.json")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"scaling", "simulate", "--scenario", "spike", "--duration", "30m", "--step", "15s",
		"--predictive", "--format", "json", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var runs []scalesim.Result
	if err := json.Unmarshal(data, &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Label != "guide" || !runs[1].Predictive || runs[0].DurationSeconds != 1800 {
		t.Errorf("got %d runs (%+v), want guide and predictive over 30 minutes", len(runs), runs)
	}

	stdout.Reset()
	stderr.Reset()
	if code := Main([]string{"scaling", "simulate", "--scenario", "daily", "--format", "xml"}, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), `--format "xml"`) {
		t.Errorf("bad format: exit %d, stderr %q; want a failure naming --format", code, stderr.String())
	}
}

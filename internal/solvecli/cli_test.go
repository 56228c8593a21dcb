package solvecli

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/solver/check"
	"github.com/backhaul/backhaul/internal/solver/instance"
	"github.com/backhaul/backhaul/internal/solver/routing"
)

func TestSolveCommand(t *testing.T) {
	tests := []struct {
		file     string
		problem  string
		vehicles int
	}{
		{"tiny_pdptw.txt", "pdptw", 1},
		{"tiny_vrptw.txt", "vrptw", 2},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			cmd := NewSolveCommand()
			var out, errOut bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&errOut)
			path := filepath.Join("testdata", "set", tc.file)
			cmd.SetArgs([]string{"--time-limit", "300ms", "--seed", "3", path})
			if err := cmd.Execute(); err != nil {
				t.Fatalf("solve: %v (stderr %q)", err, errOut.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("got stderr %q, want nothing when stderr is not a terminal", errOut.String())
			}
			// Exactly one JSON object on stdout.
			dec := json.NewDecoder(&out)
			var res map[string]any
			if err := dec.Decode(&res); err != nil {
				t.Fatalf("decode %q: %v", out.String(), err)
			}
			if dec.More() {
				t.Errorf("got more than one JSON value on stdout")
			}
			for _, k := range []string{"instance", "problem", "vehicles", "distance", "feasible", "routes", "elapsed_ms"} {
				if _, ok := res[k]; !ok {
					t.Errorf("got keys %v, want %q", res, k)
				}
			}
			if got := res["problem"]; got != tc.problem {
				t.Errorf("got problem %v, want %s", got, tc.problem)
			}
			if got := res["feasible"]; got != true {
				t.Errorf("got feasible %v, want true", got)
			}
			if got := int(res["vehicles"].(float64)); got != tc.vehicles {
				t.Errorf("got %d vehicles, want %d", got, tc.vehicles)
			}
			// The printed routes must pass the checker with the printed distance.
			in, err := instance.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var typed Result
			raw, _ := json.Marshal(res)
			if err := json.Unmarshal(raw, &typed); err != nil {
				t.Fatal(err)
			}
			chk := check.Solution(in, typed.Routes)
			if !chk.Feasible || math.Abs(chk.Distance-typed.Distance) > 1e-9 {
				t.Errorf("got checker %v %.4f, want feasible %.4f", chk.Violations, chk.Distance, typed.Distance)
			}
		})
	}
}

func TestSolveCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{}, "accepts 1 arg"},
		{"missing file", []string{filepath.Join("testdata", "nope.txt")}, "no such file"},
		{"bad limit", []string{"--time-limit", "0s", filepath.Join("testdata", "set", "tiny_vrptw.txt")}, "--time-limit"},
		{"bad threads", []string{"--threads", "0", filepath.Join("testdata", "set", "tiny_vrptw.txt")}, "--threads"},
		{"bad instance", []string{filepath.Join("testdata", "set", "bks.csv")}, "VEHICLE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := NewSolveCommand()
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestHelpHasExample(t *testing.T) {
	if ex := NewSolveCommand().Example; !strings.Contains(ex, "backhaul solve") {
		t.Errorf("got solve example %q, want a backhaul solve line", ex)
	}
	if ex := NewBenchCommand().Example; !strings.Contains(ex, "backhaul bench solver") {
		t.Errorf("got bench example %q, want a backhaul bench solver line", ex)
	}
}

func TestBenchCommand(t *testing.T) {
	cmd := NewBenchCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	jsonPath := filepath.Join(t.TempDir(), "summary.json")
	cmd.SetArgs([]string{"--set", filepath.Join("testdata", "set"), "--time-limit", "200ms", "--json", jsonPath, "--jobs", "2"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"instance", "tiny_pdptw", "tiny_vrptw"} {
		if !strings.Contains(text, want) {
			t.Errorf("got table %q, want it to contain %q", text, want)
		}
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Instances != 2 || sum.Feasible != 2 || len(sum.Results) != 2 {
		t.Errorf("got %d instances, %d feasible, %d results, want 2, 2, 2", sum.Instances, sum.Feasible, len(sum.Results))
	}
	if sum.BKSVehicles != 3 || sum.Vehicles != 3 {
		t.Errorf("got %d vehicles against %d best-known, want 3 and 3", sum.Vehicles, sum.BKSVehicles)
	}
	if sum.MatchedVehicles != 2 {
		t.Errorf("got %d instances with the best-known vehicle count, want 2", sum.MatchedVehicles)
	}
	// tiny_vrptw's optimum is 40 + 20 = 60; tiny_pdptw's is 72.36 (one route).
	if math.Abs(sum.AvgGapPct) > 0.01 {
		t.Errorf("got average gap %.4f%%, want 0", sum.AvgGapPct)
	}
}

func TestBenchCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no set", []string{}, "--set"},
		{"empty folder", []string{"--set", t.TempDir()}, "no instance files"},
		{"no match", []string{"--set", filepath.Join("testdata", "set"), "--match", "zzz*"}, "no instance files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := NewBenchCommand()
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestReadBKS(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		want    map[string]BKS
		wantErr string
	}{
		{"ok", "instance,vehicles,distance,source\na,3,12.5,x; y\n", map[string]BKS{"a": {3, 12.5}}, ""},
		{"bad header", "name,v,d\n", nil, "header"},
		{"bad vehicles", "instance,vehicles,distance\na,x,1\n", nil, "vehicles"},
		{"bad distance", "instance,vehicles,distance\na,1,x\n", nil, "distance"},
		{"short row", "instance,vehicles,distance\na,1\n", nil, "fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".csv")
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadBKS(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || got["a"] != tc.want["a"] {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	g1, g2 := 1.0, 3.0
	rows := []InstanceResult{
		{Vehicles: 10, BKSVehicles: 10, Feasible: true, GapPct: &g1},
		{Vehicles: 4, BKSVehicles: 3, Feasible: true},
		{Vehicles: 3, BKSVehicles: 3, Feasible: false},
		{Vehicles: 5, BKSVehicles: 5, Feasible: true, GapPct: &g2},
	}
	var s Summary
	summarise(&s, rows)
	if s.Instances != 4 || s.Feasible != 3 || s.Vehicles != 22 || s.BKSVehicles != 21 || s.MatchedVehicles != 2 || s.AvgGapPct != 2 {
		t.Errorf("got %+v, want 4 instances, 3 feasible, 22/21 vehicles, 2 matched, gap 2", s)
	}
	if want := 100.0 / 21; math.Abs(s.VehicleExcessPct-want) > 1e-9 {
		t.Errorf("got vehicle excess %.4f%%, want %.4f%%", s.VehicleExcessPct, want)
	}
}

func TestRenderBar(t *testing.T) {
	got := renderBar(5*time.Second, 10*time.Second, routing.Progress{Vehicles: 10, Distance: 828.9368})
	for _, want := range []string{"[###############               ]", " 50%", "vehicles 10", "distance 828.94"} {
		if !strings.Contains(got, want) {
			t.Errorf("got bar %q, want it to contain %q", got, want)
		}
	}
	if got := renderBar(20*time.Second, 10*time.Second, routing.Progress{}); !strings.Contains(got, "100%") || !strings.Contains(got, "searching") {
		t.Errorf("got bar %q, want 100%% and searching", got)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Errorf("got terminal for a buffer, want not")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("got terminal for a regular file, want not")
	}
	if tty, err := os.OpenFile("/dev/null", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !isTerminal(tty) {
			t.Errorf("got no terminal for /dev/null, a character device")
		}
	}
}

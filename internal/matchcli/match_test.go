package matchcli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/testenv"
)

// Drivers and load origins lie on one meridian. Greedy takes L1 first (its
// window closes first) and gives it D1, the nearest; that strands L2,
// which only D1 can reach (D2 has 2 hours left, L2 is 2.8 hours away). The
// optimum gives L1 to D2 and L2 to D1. L3 needs a flatbed nobody has.
const scenario = `{"now": "2025-03-10T08:00:00Z",
 "params": {"speed_mph": 50, "circuity": 1.0, "max_deadhead_miles": 250},
 "drivers": [
  {"id": "D1", "lat": 40.0, "lon": -90.0, "equipment": "van", "capacity_lbs": 45000, "available_at": "2025-03-10T08:00:00Z", "hours_left": 10},
  {"id": "D2", "lat": 41.0, "lon": -90.0, "equipment": "van", "capacity_lbs": 45000, "available_at": "2025-03-10T08:00:00Z", "hours_left": 2}
 ],
 "loads": [
  {"id": "L2", "origin": {"lat": 39.0, "lon": -90.0}, "destination": {"lat": 35, "lon": -90}, "equipment": "van", "weight_lbs": 1000,
   "pickup_earliest": "2025-03-10T09:00:00Z", "pickup_latest": "2025-03-10T12:00:00Z", "rate_usd": 500},
  {"id": "L1", "origin": {"lat": 40.1, "lon": -90.0}, "destination": {"lat": 35, "lon": -90}, "equipment": "van", "weight_lbs": 1000,
   "pickup_earliest": "2025-03-10T09:00:00Z", "pickup_latest": "2025-03-10T10:00:00Z", "rate_usd": 500},
  {"id": "L3", "origin": {"lat": 40.0, "lon": -90.0}, "destination": {"lat": 35, "lon": -90}, "equipment": "flatbed", "weight_lbs": 1000,
   "pickup_earliest": "2025-03-10T09:00:00Z", "pickup_latest": "2025-03-10T10:00:00Z", "rate_usd": 500}
 ]}`

// steppingClock advances by step at every reading.
func steppingClock(step time.Duration) func() time.Time {
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func execute(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newMatchCommand(steppingClock(1500 * time.Microsecond))
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func writeScenario(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenario.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMatch(t *testing.T) {
	path := writeScenario(t, scenario)
	// 69.09 great-circle miles per degree of latitude on a 3958.8-mile
	// sphere; circuity is 1.
	const degree = 69.09
	tests := []struct {
		name      string
		args      []string
		stdin     string
		want      []Assignment
		wantMiles float64
	}{
		{
			name: "optimal", args: []string{"--input", path},
			want:      []Assignment{{"D2", "L1"}, {"D1", "L2"}},
			wantMiles: 0.9*degree + 1.0*degree,
		},
		{
			name: "greedy", args: []string{"--input", path, "--greedy"},
			want:      []Assignment{{"D1", "L1"}},
			wantMiles: 0.1 * degree,
		},
		{
			name: "standard input", args: []string{"--input", "-"}, stdin: scenario,
			want:      []Assignment{{"D2", "L1"}, {"D1", "L2"}},
			wantMiles: 0.9*degree + 1.0*degree,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := execute(t, tt.stdin, tt.args...)
			if err != nil {
				t.Fatalf("match: %v", err)
			}
			if strings.Count(out, "\n") != 1 {
				t.Errorf("output %q: want exactly one line", out)
			}
			var keys map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &keys); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			var names []string
			for k := range keys {
				names = append(names, k)
			}
			slices.Sort(names)
			if got, want := strings.Join(names, ","), "assigned,assignments,deadhead_miles,elapsed_ms"; got != want {
				t.Errorf("keys: got %s, want %s", got, want)
			}
			var res Result
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Assignments, tt.want) {
				t.Errorf("assignments: got %v, want %v", res.Assignments, tt.want)
			}
			if res.Assigned != len(tt.want) {
				t.Errorf("assigned: got %d, want %d", res.Assigned, len(tt.want))
			}
			if d := res.DeadheadMiles - tt.wantMiles; d > 0.02 || d < -0.02 {
				t.Errorf("deadhead_miles: got %v, want %.2f", res.DeadheadMiles, tt.wantMiles)
			}
			// The clock is read once before reading and once after solving.
			if res.ElapsedMS != 1.5 {
				t.Errorf("elapsed_ms: got %v, want 1.5", res.ElapsedMS)
			}
		})
	}
}

func TestMatchNothingAssignable(t *testing.T) {
	path := writeScenario(t, strings.ReplaceAll(scenario, `"equipment": "van", "capacity_lbs"`, `"equipment": "reefer", "capacity_lbs"`))
	out, err := execute(t, "", "--input", path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, `{"assignments":[],"assigned":0,"deadhead_miles":0,`) {
		t.Errorf("output %q: want an empty list, not null", out)
	}
}

func TestMatchErrors(t *testing.T) {
	bad := writeScenario(t, strings.Replace(scenario, `"id": "D2"`, `"id": "D1"`, 1))
	tests := []struct {
		name string
		args []string
		want string
		// usage is true when the command line itself is wrong, which
		// prints the usage; errors about the data print nothing.
		usage bool
	}{
		{"no input flag", nil, `required flag(s) "input" not set`, true},
		{"stray argument", []string{"--input", bad, "extra"}, "unknown command", true},
		{"missing file", []string{"--input", filepath.Join(t.TempDir(), "none.json")}, "no such file", false},
		{"invalid scenario", []string{"--input", bad}, `drivers[1].id (id "D1"): duplicate of drivers[0]`, false},
		{"not JSON", []string{"--input", writeScenario(t, "drivers:")}, "invalid character", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := execute(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
			if gotUsage := strings.Contains(out, "Usage:"); gotUsage != tt.usage || (!tt.usage && out != "") {
				t.Errorf("stdout: got %q, want usage %v", out, tt.usage)
			}
		})
	}
}

func TestMatchHelp(t *testing.T) {
	cmd := NewMatchCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Examples:", "backhaul match --input", "--greedy", "deadhead_miles"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help: want it to contain %q:\n%s", want, out.String())
		}
	}
}

// TestMatchBenchmarkScenario runs the command on the published small
// scenario and checks the optimum recorded beside it.
func TestMatchBenchmarkScenario(t *testing.T) {
	path := testenv.Shared(t, "data", "matching", "small.json")
	raw, err := os.ReadFile(strings.TrimSuffix(path, ".json") + ".optimum.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Assigned int     `json:"optimal_assigned"`
		Miles    float64 `json:"optimal_deadhead_miles"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	out, err := execute(t, "", "--input", path)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Assigned != want.Assigned || res.DeadheadMiles < want.Miles*0.995 || res.DeadheadMiles > want.Miles*1.005 {
		t.Errorf("got %d loads, %.2f miles; want %d, %.1f", res.Assigned, res.DeadheadMiles, want.Assigned, want.Miles)
	}
	if !slices.IsSortedFunc(res.Assignments, func(a, b Assignment) int { return strings.Compare(a.LoadID, b.LoadID) }) {
		t.Error("assignments are not sorted by load_id")
	}
}

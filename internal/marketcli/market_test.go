package marketcli

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const bookingsHeader = "load_id,booked_at,pickup_at,origin_city,origin_state,origin_lat,origin_lon,dest_city,dest_state,dest_lat,dest_lon,equipment,weight_lbs,miles,rate_usd"

var cities = []struct {
	name     string
	lat, lon float64
}{
	{"Chicago", 41.88, -87.63}, {"Dallas", 32.78, -96.80}, {"Atlanta", 33.75, -84.39},
	{"Denver", 39.74, -104.99}, {"Newark", 40.74, -74.17}, {"Fresno", 36.74, -119.79},
	{"Memphis", 35.15, -90.05}, {"Columbus", 39.96, -83.00},
}

// writeBookings writes n bookings whose rate is a known function of the
// distance and equipment, with 5% noise, and returns the path.
func writeBookings(t *testing.T, dir, name string, n int, withRate bool) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	var b strings.Builder
	h := bookingsHeader
	if !withRate {
		h = strings.TrimSuffix(h, ",rate_usd")
	}
	b.WriteString(h + "\n")
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		o := cities[rng.IntN(len(cities))]
		d := cities[rng.IntN(len(cities))]
		for d == o {
			d = cities[rng.IntN(len(cities))]
		}
		eq := []string{"van", "reefer", "flatbed"}[rng.IntN(3)]
		miles := math.Round(1.2 * 69 * math.Hypot(o.lat-d.lat, (o.lon-d.lon)*math.Cos(o.lat*math.Pi/180)))
		rpm := map[string]float64{"van": 2.2, "reefer": 2.6, "flatbed": 2.9}[eq]
		rate := (rpm*miles + 200) * math.Exp(0.05*rng.NormFloat64())
		booked := start.Add(time.Duration(i) * 37 * time.Minute)
		fmt.Fprintf(&b, "%s%05d,%s,%s,%s,XX,%g,%g,%s,XX,%g,%g,%s,%d,%g",
			map[bool]string{true: "H", false: "Q"}[withRate], i,
			booked.Format(time.RFC3339), booked.Add(30*time.Hour).Format(time.RFC3339),
			o.name, o.lat, o.lon, d.name, d.lat, d.lon, eq, 20000+rng.IntN(25000), miles)
		if withRate {
			fmt.Fprintf(&b, ",%.2f", rate)
		}
		b.WriteString("\n")
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := NewMarketCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestPredictWritesOneRowPerQueryInOrder(t *testing.T) {
	dir := t.TempDir()
	history := writeBookings(t, dir, "h.csv", 1500, true)
	queries := writeBookings(t, dir, "q.csv", 40, false)
	// spoil two query rows: they must keep their place with empty rates
	raw, _ := os.ReadFile(queries)
	lines := strings.Split(string(raw), "\n")
	lines[5] = strings.Replace(lines[5], ",van,", ",tanker,", 1)
	lines[5] = strings.Replace(lines[5], ",reefer,", ",tanker,", 1)
	lines[5] = strings.Replace(lines[5], ",flatbed,", ",tanker,", 1)
	f := strings.Split(lines[9], ",")
	f[9], f[10] = f[5], f[6] // destination = origin: an impossible lane
	lines[9] = strings.Join(f, ",")
	if err := os.WriteFile(queries, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := run(t, "predict", "--history", history, "--queries", queries)
	if err != nil {
		t.Fatalf("predict: %v\n%s", err, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(recs[0], ","), "load_id,rate_p10,rate_p50,rate_p90"; got != want {
		t.Errorf("header: got %q, want %q", got, want)
	}
	if len(recs) != 41 {
		t.Fatalf("rows: got %d, want 40 and the header", len(recs)-1)
	}
	for i, r := range recs[1:] {
		if want := fmt.Sprintf("Q%05d", i); r[0] != want {
			t.Errorf("row %d: got load %s, want %s", i+1, r[0], want)
		}
		spoilt := i == 4 || i == 8
		if spoilt {
			if r[1] != "" || r[2] != "" || r[3] != "" {
				t.Errorf("row %d: got rates %v for a query that cannot be quoted, want empty", i+1, r[1:])
			}
			continue
		}
		p10, _ := strconv.ParseFloat(r[1], 64)
		p50, _ := strconv.ParseFloat(r[2], 64)
		p90, _ := strconv.ParseFloat(r[3], 64)
		if !(0 < p10 && p10 < p50 && p50 < p90) {
			t.Errorf("row %d: got %v, want 0 < P10 < P50 < P90", i+1, r[1:])
		}
	}
	for _, want := range []string{"1500 rows read, 1500 kept", "line 6 (load Q00004)", "Q00008 (row 9)", "impossible lane", "2 of 40 queries could not be quoted"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestPredictDieselOverride(t *testing.T) {
	dir := t.TempDir()
	history := writeBookings(t, dir, "h.csv", 600, true)
	queries := writeBookings(t, dir, "q.csv", 5, false)
	diesel := filepath.Join(dir, "d.csv")
	if err := os.WriteFile(diesel, []byte("week_start,diesel_usd_per_gal\n2024-01-01,3.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := run(t, "predict", "--history", history, "--queries", queries, "--diesel", diesel); err != nil {
		t.Fatalf("predict with --diesel: %v\n%s", err, stderr)
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("week_start,diesel_usd_per_gal\n2024-01-01,free\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, "predict", "--history", history, "--queries", queries, "--diesel", bad)
	if err == nil || !strings.Contains(err.Error(), "bad.csv") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("predict with a bad --diesel: got %v, want an error naming the file and line 2", err)
	}
}

func TestPredictNeedsItsFiles(t *testing.T) {
	dir := t.TempDir()
	history := writeBookings(t, dir, "h.csv", 100, true)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no queries flag", []string{"predict", "--history", history}, "queries"},
		{"missing history", []string{"predict", "--history", filepath.Join(dir, "nope.csv"), "--queries", history}, "nope.csv"},
		{"history without rates", []string{"predict", "--history", writeBookings(t, dir, "q.csv", 10, false), "--queries", history}, "rate_usd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestEvaluateReportsModelAndBaseline(t *testing.T) {
	dir := t.TempDir()
	history := writeBookings(t, dir, "h.csv", 2000, true)
	stdout, stderr, err := run(t, "evaluate", "--history", history, "--holdout", "0.25", "--seed", "3")
	if err != nil {
		t.Fatalf("evaluate: %v\n%s", err, stderr)
	}
	for _, want := range []string{"1500 trained on, 500 held back (seed 3)", "model MAPE(P50):", "P10-P90 coverage:", "training time:", "baseline MAPE:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// the data is 5% noise on a function of distance and equipment, which
	// both the model and the table can learn
	var mape float64
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "model MAPE(P50):") {
			_, _ = fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "model MAPE(P50):")), "%f%%", &mape)
		}
	}
	if mape <= 0 || mape > 6 {
		t.Errorf("model MAPE: got %.2f%%, want above 0 and at most 6%% on 5%% noise", mape)
	}
	if _, _, err := run(t, "evaluate", "--history", history, "--holdout", "1.5"); err == nil {
		t.Errorf("evaluate --holdout 1.5: got nil error, want one")
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, sub := range []string{"predict", "evaluate"} {
		stdout, _, err := run(t, sub, "--help")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "backhaul market "+sub) {
			t.Errorf("%s --help lacks an example:\n%s", sub, stdout)
		}
	}
}

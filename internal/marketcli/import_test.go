package marketcli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/testenv"
)

func TestImport(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			target := []string{"--data-dir", filepath.Join(dir, "data")}
			if engine == "postgres" {
				target = []string{"--database-url", testenv.PostgresSchemaURL(t)}
			}
			path := writeBookings(t, dir, "h.csv", 300, true)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			// Break four rows; the file keeps its 300 data rows.
			lines[5] = strings.Replace(lines[5], "2024-", "20x4-", 1) // line 6: bad date
			f := strings.Split(lines[10], ",")
			f[11] = "tanker"
			lines[10] = strings.Join(f, ",")                                 // line 11: unknown equipment
			lines[20] = strings.Join(strings.Split(lines[20], ",")[:5], ",") // line 21: missing fields
			lines[30] = lines[2]                                             // line 31: duplicate of line 3
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, err := run(t, append([]string{"import", path}, target...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "300 rows read: ") {
				t.Fatalf("output:\n%s", out)
			}
			got := regexp.MustCompile(`(\d+) imported, (\d+) already stored \(skipped\), (\d+) rejected`).FindStringSubmatch(out)
			if got == nil || got[3] != "4" || got[2] != "0" || got[1] != "296" {
				t.Errorf("got %v, want 296 imported, 0 skipped, 4 rejected:\n%s", got, out)
			}
			for _, want := range []string{"line 6 ", "line 11 ", "line 21 ", "line 31 ", "duplicate load_id: first seen on line 3", "queued retraining run 1"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			// Again: everything is stored already; nothing to retrain.
			out, _, err = run(t, append([]string{"import", path}, target...)...)
			if err != nil || !strings.Contains(out, "0 imported, 296 already stored (skipped), 4 rejected") || strings.Contains(out, "retraining") {
				t.Errorf("second import (%v):\n%s", err, out)
			}
			// A file without a rate column imports nothing and fails.
			bad := writeBookings(t, dir, "q.csv", 5, false)
			if _, _, err := run(t, append([]string{"import", bad}, target...)...); err == nil || !strings.Contains(err.Error(), "rate_usd") {
				t.Errorf("import without rate_usd: %v, want an error naming the column", err)
			}
		})
	}
}

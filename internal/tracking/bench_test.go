package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/testenv"
)

// TestBenchCommandRuns runs `bench tracking` briefly on both engines and
// checks its last line is the JSON summary with the figures the docs quote.
// The figures themselves are not judged here: timings belong to benchmarks.
func TestBenchCommandRuns(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the benchmark command")
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			args := []string{"--duration", "300ms", "--drivers", "20", "--concurrency", "2", "--batch", "50", "--paced-rate", "500", "--paced-batch", "5"}
			if engine == "postgres" {
				args = append(args, "--database-url", testenv.PostgresURL(t))
			}
			cmd := NewBenchCommand()
			var out, progress bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&progress)
			cmd.SetArgs(args)
			if err := cmd.ExecuteContext(context.Background()); err != nil {
				t.Fatalf("bench: %v\n%s\n%s", err, progress.String(), out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var res map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
				t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
			}
			for _, k := range []string{"positions_per_sec", "copy_baseline_per_sec", "p99_ack_ms"} {
				if v, ok := res[k].(float64); !ok || v <= 0 {
					t.Errorf("got %s = %v, want a positive number", k, res[k])
				}
			}
		})
	}
}

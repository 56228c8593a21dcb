package simulate

import (
	"strings"
	"testing"
)

const exposition = `# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",method="GET",route="GET /api/v1/board"} 120
http_requests_total{code="201",method="POST",route="POST /api/v1/loads"} 30
http_requests_total{code="500",method="POST",route="weird {brace} \"quoted\""} 2
queue_depth 4
job_queue_length{priority="high"} 1.5e+00
go_goroutines 88
other_metric 5
position_updates_count NaN-ish
`

func TestParseMetrics(t *testing.T) {
	got := ParseMetrics(strings.NewReader(exposition), watchedMetrics)
	want := map[string]float64{"http_requests_total": 152, "queue_depth": 4, "job_queue_length": 1.5, "go_goroutines": 88}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %g, want %g", k, got[k], v)
		}
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add(exposition)
	f.Add("queue_depth{a=\"}\"} 1\n")
	f.Add("go_goroutines")
	f.Add("{}} 1\n#\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		got := ParseMetrics(strings.NewReader(s), watchedMetrics)
		for k := range got {
			found := false
			for _, w := range watchedMetrics {
				found = found || w == k
			}
			if !found {
				t.Fatalf("reported %q, which was not asked for", k)
			}
		}
	})
}

package app_test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// An optimization job submitted through the gateway is solved by the
// optimization-engine target and its result stored, on both layouts.
func TestOptimizationJobThroughTheGateway(t *testing.T) {
	instance, err := os.ReadFile("../optimize/testdata/r101_25.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine))
			w := newWorld(t, p)
			job := p.must(201, "POST", "/api/v1/jobs", w.dispatcher.Token, map[string]any{
				"name": "r101 subset", "time_limit_s": 1, "seed": 3,
				"problem": map[string]any{"format": "solomon", "instance": string(instance)}})
			id := str(job, "id")
			p.must(403, "POST", "/api/v1/jobs", w.shipper.Token, map[string]any{
				"problem": map[string]any{"format": "solomon", "instance": string(instance)}})
			p.must(403, "GET", "/api/v1/jobs/"+id, w.shipper.Token, nil)
			other := p.signup("carrier", "Other", "o@other.test")
			p.must(404, "GET", "/api/v1/jobs/"+id, other.Token, nil)
			deadline := time.Now().Add(60 * time.Second)
			for {
				got := p.must(200, "GET", "/api/v1/jobs/"+id, w.dispatcher.Token, nil)
				if str(got, "status") == "succeeded" {
					res, _ := got["result"].(map[string]any)
					if res == nil || res["feasible"] != true || res["vehicles"].(float64) < 1 {
						t.Fatalf("succeeded job without a feasible result: %v", got)
					}
					break
				}
				if s := str(got, "status"); s == "failed" || s == "cancelled" || time.Now().After(deadline) {
					t.Fatalf("job ended as %v", got)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if m := string(p.call("GET", "/metrics", "", nil).Body); !strings.Contains(m, "job_queue_length 0") {
				t.Errorf("/metrics lacks job_queue_length 0")
			}
		})
	}
}

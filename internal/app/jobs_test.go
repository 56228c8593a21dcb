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

// The quote API is served by market-intelligence through the gateway; with
// no booking history yet it says so instead of guessing.
func TestQuoteWithoutHistory(t *testing.T) {
	p := start(t, config(t, "embedded"))
	shipper := p.signup("shipper", "Acme", "a@acme.test")
	q := map[string]any{"origin": map[string]any{"city": "Dallas", "state": "TX"}, "destination": map[string]any{"zip": "30303"},
		"equipment": "van", "pickup_date": time.Now().Add(48 * time.Hour).Format("2006-01-02"), "weight_lbs": 30000}
	r := p.call("POST", "/api/v1/quotes", shipper.Token, q)
	if r.Status != 503 || !strings.Contains(string(r.Body), "market import") {
		t.Errorf("quote with no history = %d %s, want 503 naming the import command", r.Status, r.Body)
	}
	q["equipment"] = "tanker"
	if r := p.call("POST", "/api/v1/quotes", shipper.Token, q); r.Status != 422 || !strings.Contains(string(r.Body), "equipment") {
		t.Errorf("quote for unknown equipment = %d %s, want 422 naming equipment", r.Status, r.Body)
	}
	p.must(401, "POST", "/api/v1/quotes", "", q)
}

// The load-matching target recommends a freshly posted load to a nearby
// driver, with its reasons, through the gateway.
func TestRecommendationsThroughTheGateway(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine))
			w := newWorld(t, p)
			id := str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id")
			deadline := time.Now().Add(20 * time.Second)
			for {
				r := p.call("GET", "/api/v1/recommendations/drivers/"+w.driverID+"/loads", w.dispatcher.Token, nil)
				if r.Status == 200 && strings.Contains(string(r.Body), id) {
					if !strings.Contains(string(r.Body), "deadhead_miles") {
						t.Errorf("recommendation without its deadhead: %s", r.Body)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("load never recommended to the nearby driver: %d %s", r.Status, r.Body)
				}
				time.Sleep(200 * time.Millisecond)
			}
			other := p.signup("carrier", "Other", "o@other.test")
			p.must(404, "GET", "/api/v1/recommendations/drivers/"+w.driverID+"/loads", other.Token, nil)
		})
	}
}

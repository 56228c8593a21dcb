package market

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/market/areas"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

// benchStore imports the whole of bookings.csv into a fresh SQLite store.
func benchStore(b *testing.B) *store.DB {
	b.Helper()
	file, err := os.ReadFile(sharedData(b, "market", "bookings.csv"))
	if err != nil {
		b.Fatal(err)
	}
	db := storetest.Open(b, "sqlite")
	mustImport(b, db, file)
	return db
}

// BenchmarkTrain is a retraining run through the service on the whole
// history: reading it from the store, training on the 80% not held back,
// scoring against the rates in service (the rate table) on the held-back
// 20% and storing the model. It runs once with the market areas (the
// default) and once with the rate model's grid, and reports the held-back
// MAPE and coverage of each.
//
//	go test -run XXX -bench Train -benchtime 1x -count 3 ./internal/market/
func BenchmarkTrain(b *testing.B) {
	db := benchStore(b)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		areas ratemodel.Areas
	}{{"kma", areas.Default()}, {"grid", ratemodel.DefaultAreas()}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				if _, err := db.Exec(ctx, `DELETE FROM market_models`); err != nil {
					b.Fatal(err)
				}
				s := newService(b, db, Options{Areas: c.areas})
				if _, _, err := QueueRetrain(ctx, db, TriggerOperator, "bench"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := s.RunQueued(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				run := latestRun(b, s)
				if run.Status != RunAccepted {
					b.Fatalf("run %s: %s", run.Status, run.Message)
				}
				var size int64
				if err := db.QueryRow(ctx, `SELECT LENGTH(model) FROM market_models WHERE id = ?`, run.ModelID).Scan(&size); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(size)/1e6, "model-MB")
				b.ReportMetric(run.Report.TrainSeconds, "train-s")
				b.ReportMetric(100*run.Report.Candidate.MAPE, "mape%")
				b.ReportMetric(100*run.Report.Candidate.Coverage, "coverage%")
				b.ReportMetric(float64(run.Report.Trained), "bookings")
				b.StartTimer()
			}
		})
	}
}

// BenchmarkQuoteHTTP quotes lanes of the history through the HTTP handler,
// with the model trained on it, and reports the p50 and p99 of the time per
// request. "bare" is the baseline of the same run: a net/http handler that
// decodes the same body and answers a fixed quote.
//
//	go test -run XXX -bench QuoteHTTP -benchtime 20000x -count 3 ./internal/market/
func BenchmarkQuoteHTTP(b *testing.B) {
	db := benchStore(b)
	ctx := context.Background()
	s := newService(b, db, Options{})
	if _, _, err := QueueRetrain(ctx, db, TriggerOperator, "bench"); err != nil {
		b.Fatal(err)
	}
	if _, err := s.RunQueued(ctx); err != nil {
		b.Fatal(err)
	}
	if m, _ := s.InService(); m.Kind != KindModel {
		b.Fatalf("in service: %+v, want a model", m)
	}
	all, err := history(ctx, db, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, 0, 1000)
	for i := 0; i < len(all) && len(bodies) < cap(bodies); i += len(all) / cap(bodies) {
		bk := all[i]
		// one end by its point, the other by a ZIP code
		zip, _ := geocode.Default().Nearest(geo.Point{Lat: bk.Dest.Lat, Lon: bk.Dest.Lon})
		bodies = append(bodies, quoteBody(
			fmt.Sprintf(`{"lat":%g,"lon":%g}`, bk.Origin.Lat, bk.Origin.Lon),
			fmt.Sprintf(`{"zip":%q}`, zip.ZIP),
			string(bk.Equipment), max(1, int(bk.WeightLbs)), testClock.Add(48*time.Hour).Format(time.DateOnly)))
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	bare := http.NewServeMux()
	fixed, _ := json.Marshal(RateQuote{Factors: nil})
	bare.HandleFunc("POST /api/v1/quotes", func(w http.ResponseWriter, r *http.Request) {
		var req QuoteRequest
		if err := httpapi.Decode(r, &req, maxQuoteBody); err != nil {
			httpapi.Error(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(fixed)
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"service", mux}, {"bare", bare}} {
		b.Run(c.name, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				req := httptest.NewRequest("POST", "/api/v1/quotes", strings.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", "application/json")
				req = req.WithContext(httpapi.WithPrincipal(req.Context(), shipper))
				w := httptest.NewRecorder()
				t0 := time.Now()
				c.h.ServeHTTP(w, req)
				times = append(times, time.Since(t0))
				if w.Code != 200 {
					b.Fatalf("%s: %d %s", bodies[i%len(bodies)], w.Code, w.Body)
				}
				i++
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
		})
	}
}

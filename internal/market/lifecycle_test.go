package market

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

var _ loads.Quoter = (*Service)(nil)

// TestModelLifecycle follows the rates in service from no data to the rate
// table, to a trained model that a second replica loads without training,
// through retraining runs that replace it only when they score better.
func TestModelLifecycle(t *testing.T) {
	first := sharedBookings(t, 0, 48000, 20) // 2,400 bookings across the two years
	more := sharedBookings(t, 1, 48000, 12)  // 4,000 more
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, Options{})
		a := newAPI(t, s)
		lane := quoteBody(dallas, chicago, "van", 30000, "2026-02-02")
		var q RateQuote

		// No data: 503, and the load service gets no default rate.
		if code, prob := a.do(shipper, "POST", "/api/v1/quotes", lane, nil); code != 503 {
			t.Fatalf("without data: %d %s, want 503", code, prob.Detail)
		}
		if m, err := s.Quote(ctx, freight.Load{}); m != 0 || err != nil {
			t.Errorf("Quote without data = %v, %v; want 0, nil", m, err)
		}

		// History, no model: the rate table.
		rep := mustImport(t, db, first)
		if rep.Imported != 2400 {
			t.Fatalf("imported %d, want 2400", rep.Imported)
		}
		if _, _, err := QueueRetrain(ctx, db, TriggerImport, "test"); err != nil {
			t.Fatal(err)
		}
		if err := s.refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if code, prob := a.do(driver, "POST", "/api/v1/quotes", lane, &q); code != 200 {
			t.Fatalf("with the table: %d %s %v", code, prob.Detail, prob.Errors)
		}
		if q.Model.Kind != KindTable || q.Model.Version != KindTable || len(q.Factors) != 0 {
			t.Errorf("got model %+v with %d factors, want the table without factors", q.Model, len(q.Factors))
		}
		checkQuote(t, q, 700, 1100)
		tableP50 := q.Rate.P50

		// The queued run trains a model, which beats the table.
		if n, err := s.RunQueued(ctx); err != nil || n != 1 {
			t.Fatalf("RunQueued = %d, %v; want 1 run", n, err)
		}
		run := latestRun(t, s)
		if run.Status != RunAccepted || run.ModelID == 0 || run.Report == nil || run.Report.IncumbentName != "rate table" {
			t.Fatalf("run %+v, want accepted over the rate table", run)
		}
		t.Logf("model %d: %s", run.ModelID, run.Message)
		if c := run.Report.Candidate; c.MAPE >= run.Report.Incumbent.MAPE || math.Abs(c.Coverage-0.8) > 0.05 {
			t.Errorf("candidate %v against table %v", c, run.Report.Incumbent)
		}
		if code, prob := a.do(shipper, "POST", "/api/v1/quotes", lane, &q); code != 200 {
			t.Fatalf("with the model: %d %s", code, prob.Detail)
		}
		if q.Model.Kind != KindModel || q.Model.Version != strconv.FormatInt(run.ModelID, 10) || len(q.Factors) == 0 || q.Baseline == nil {
			t.Errorf("got model %+v, %d factors; want model %d with factors", q.Model, len(q.Factors), run.ModelID)
		}
		checkQuote(t, q, 700, 1100)
		if q.Rate.P50 == tableP50 {
			t.Errorf("the model quotes %v, the same as the table", q.Rate.P50)
		}
		if q.OriginArea.ID != "tx-dallas" || q.DestinationArea.ID != "il-chicago" {
			t.Errorf("areas %v -> %v, want tx-dallas -> il-chicago", q.OriginArea, q.DestinationArea)
		}

		// Another replica quotes with the stored model without training.
		replica := newService(t, db, Options{})
		if m, ok := replica.InService(); !ok || m.Kind != KindModel || m.Version != q.Model.Version || m.Holdout == nil {
			t.Fatalf("replica serves %+v, want model %s", m, q.Model.Version)
		}
		var rq RateQuote
		if code, _ := newAPI(t, replica).do(dispatcher, "POST", "/api/v1/quotes", lane, &rq); code != 200 || rq.Rate != q.Rate {
			t.Errorf("replica quotes %v (%d), want %v", rq.Rate, code, q.Rate)
		}

		// The load service's default rate is the quote's P50.
		checkDefaultRate(t, db, s)

		// Operators retrain; nobody else may.
		if code, _ := a.do(shipper, "POST", "/api/v1/market/model/retrain", "", nil); code != 403 {
			t.Errorf("shipper retrains: %d, want 403", code)
		}
		var queued TrainingRun
		if code, prob := a.do(operatorP, "POST", "/api/v1/market/model/retrain", "", &queued); code != 202 || queued.Status != RunQueued {
			t.Fatalf("operator retrains: %d %s %+v", code, prob.Detail, queued)
		}
		// Nothing new: the candidate is the same model, not better.
		if _, err := s.RunQueued(ctx); err != nil {
			t.Fatal(err)
		}
		if run := latestRun(t, s); run.ID != queued.ID || run.Status != RunRejected || !strings.Contains(run.Message, "not better") {
			t.Errorf("run %d: %s %q, want run %d rejected", run.ID, run.Status, run.Message, queued.ID)
		}
		if m, _ := s.InService(); m.Version != q.Model.Version {
			t.Errorf("in service: model %s, want %s still", m.Version, q.Model.Version)
		}

		// Much more history: a better model replaces it.
		mustImport(t, db, more)
		if _, err := s.Retrain(ctx, "user:u-op"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RunQueued(ctx); err != nil {
			t.Fatal(err)
		}
		better := latestRun(t, s)
		if better.Status != RunAccepted || better.ModelID <= run.ModelID {
			t.Fatalf("run %+v, want a new model accepted", better)
		}
		t.Logf("model %d: %s", better.ModelID, better.Message)
		if m, _ := s.InService(); m.Version != strconv.FormatInt(better.ModelID, 10) {
			t.Errorf("in service: %s, want %d", m.Version, better.ModelID)
		}

		// Corrupt history (rates off by up to half, never held back): the
		// candidate is worse, and the model in service stays.
		mustImport(t, db, corrupt(t, more, 3000))
		if _, err := s.Retrain(ctx, "user:u-op"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RunQueued(ctx); err != nil {
			t.Fatal(err)
		}
		worse := latestRun(t, s)
		if worse.Status != RunRejected {
			t.Fatalf("run on corrupt history: %s %q, want rejected", worse.Status, worse.Message)
		}
		t.Logf("corrupt: %s", worse.Message)
		if m, _ := s.InService(); m.Version != strconv.FormatInt(better.ModelID, 10) {
			t.Errorf("in service: %s, want %d", m.Version, better.ModelID)
		}

		// The operators' view of it all.
		var view struct {
			InService *Model        `json:"in_service"`
			Runs      []TrainingRun `json:"runs"`
		}
		if code, _ := a.do(operatorP, "GET", "/api/v1/market/model", "", &view); code != 200 || view.InService == nil || len(view.Runs) != 4 {
			t.Fatalf("model view: %d %+v", code, view)
		}
		if view.Runs[0].Status != RunRejected || view.Runs[3].Status != RunAccepted {
			t.Errorf("runs newest first: %s ... %s", view.Runs[0].Status, view.Runs[3].Status)
		}
		var one TrainingRun
		if code, _ := a.do(operatorP, "GET", fmt.Sprintf("/api/v1/market/model/runs/%d", better.ID), "", &one); code != 200 || one.ModelID != better.ModelID {
			t.Errorf("run %d: %d %+v", better.ID, code, one)
		}
		for _, path := range []string{"/api/v1/market/model/runs/999999", "/api/v1/market/model/runs/x"} {
			if code, _ := a.do(operatorP, "GET", path, "", nil); code != 404 {
				t.Errorf("GET %s: %d, want 404", path, code)
			}
		}
		if code, _ := a.do(dispatcher, "GET", "/api/v1/market/model", "", nil); code != 403 {
			t.Errorf("dispatcher views the model: %d, want 403", code)
		}
	})
}

func checkQuote(t *testing.T, q RateQuote, lo, hi float64) {
	t.Helper()
	r := q.Rate
	if !(r.P10 < r.P50 && r.P50 < r.P90) {
		t.Errorf("range %v, want P10 < P50 < P90", r)
	}
	if q.Miles < lo || q.Miles > hi {
		t.Errorf("%g miles, want %g to %g", q.Miles, lo, hi)
	}
	if rpm := q.RatePerMile.P50; rpm < 1 || rpm > 6 {
		t.Errorf("P50 of %v per mile", rpm)
	}
}

func latestRun(t testing.TB, s *Service) TrainingRun {
	t.Helper()
	runs, err := s.TrainingRuns(context.Background(), 1)
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs: %v, %v", runs, err)
	}
	return runs[0]
}

// corrupt copies n rows of a bookings file under new load IDs that are
// never held back, with rates off by a random factor, as a bad feed would.
func corrupt(t *testing.T, file []byte, n int) []byte {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(recs[0])
	id := 0
	for i := 1; i < len(recs) && n > 0; i++ {
		rec := append([]string(nil), recs[i]...)
		for {
			id++
			rec[0] = fmt.Sprintf("BAD%06d", id)
			if !heldBack(rec[0]) {
				break
			}
		}
		rate, _ := strconv.ParseFloat(rec[14], 64)
		rec[14] = strconv.FormatFloat(rate*(0.5+rng.Float64()), 'f', 2, 64)
		w.Write(rec)
		n--
	}
	w.Flush()
	return b.Bytes()
}

// placeGeocoder resolves stops as the platform does, offline.
type placeGeocoder struct{}

func (placeGeocoder) Resolve(l freight.Location) (freight.Location, bool) {
	p, ok := geocode.Default().City(l.City, l.State)
	if !ok {
		return l, false
	}
	l.Lat, l.Lon, l.ZIP = p.Point.Lat, p.Point.Lon, p.ZIP
	return l, true
}

// checkDefaultRate posts a load without a rate through the load service and
// finds the quote's P50 as its offered rate.
func checkDefaultRate(t *testing.T, db *store.DB, s *Service) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Exec(ctx, `INSERT INTO organizations (id, name, kind, created_at) VALUES (?, ?, ?, ?)`,
		shipper.OrgID, "Shipper", string(shipper.OrgKind), time.Now()); err != nil {
		t.Fatal(err)
	}
	ls := loads.New(db, placeGeocoder{}, geo.DefaultCircuity, s, nil)
	pickup := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Hour)
	in := freight.LoadInput{
		Origin: freight.Location{City: "Dallas", State: "TX"}, Destination: freight.Location{City: "Chicago", State: "IL"},
		Pickup: freight.Window{Start: pickup, End: pickup.Add(2 * time.Hour)}, Delivery: freight.Window{Start: pickup.Add(24 * time.Hour), End: pickup.Add(30 * time.Hour)},
		Equipment: freight.Reefer, WeightLbs: 40000, Post: true,
	}
	l, err := ls.Create(ctx, shipper, in)
	if err != nil {
		t.Fatalf("post a load without a rate: %v", err)
	}
	want, err := s.Quote(ctx, l)
	if err != nil || want <= 0 {
		t.Fatalf("Quote = %v, %v", want, err)
	}
	if l.Rate != want || l.Status != freight.StatusPosted {
		t.Errorf("posted at %v (%s), want the quote %v", l.Rate, l.Status, want)
	}
	if rpm := l.RatePerMile(); rpm < 1.5 || rpm > 5 {
		t.Errorf("default rate %v for %g miles", l.Rate, l.Miles)
	}
	// A load outside the country gets no default rate, and says why.
	bad := l
	bad.Origin = freight.Location{Lat: 51.5, Lon: -0.12}
	if _, err := s.Quote(ctx, bad); freight.ErrorCode(err) != freight.EINVALID || !strings.Contains(err.Error(), "origin") {
		t.Errorf("Quote from London: %v, want invalid origin", err)
	}
}

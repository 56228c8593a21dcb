package market

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

const header = "load_id,booked_at,pickup_at,origin_city,origin_state,origin_lat,origin_lon,dest_city,dest_state,dest_lat,dest_lon,equipment,weight_lbs,miles,rate_usd\n"

func row(id, booked, miles, eq, rate string) string {
	return id + "," + booked + ",2025-03-02T08:00:00Z,Dallas,TX,32.78,-96.80,Chicago,IL,41.88,-87.63," + eq + ",30000," + miles + "," + rate + "\n"
}

func TestImportRejectsBadRowsAndKeepsTheRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		file := header +
			row("A1", "2025-03-01T10:00:00Z", "925", "van", "2400") + // line 2
			row("A2", "yesterday", "925", "van", "2400") + // 3: bad date
			row("A3", "2025-03-01T10:00:00Z", "-925", "van", "2400") + // 4: negative miles
			row("A1", "2025-03-01T11:00:00Z", "925", "van", "2500") + // 5: duplicate in the file
			row("A4", "2025-03-01T10:00:00Z", "925", "tanker", "2400") + // 6: unknown equipment
			"A5,2025-03-01T10:00:00Z,2025-03-02T08:00:00Z,Dallas\n" + // 7: missing fields
			row("A6", "2025-03-01T10:00:00Z", "925", "reefer", "0") + // 8: zero rate
			row("A7", "2025-03-01T12:00:00Z", "925", "reefer", "2900") // 9
		rep, err := Import(ctx, db, strings.NewReader(file), "a.csv", nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 8 || rep.Imported != 2 || rep.Skipped != 0 || len(rep.Rejected) != 6 {
			t.Fatalf("got %d rows, %d imported, %d skipped, %d rejected; want 8, 2, 0, 6\n%s",
				rep.Rows, rep.Imported, rep.Skipped, len(rep.Rejected), rep.Summary(0))
		}
		wantLines := []int{3, 4, 5, 6, 7, 8}
		for i, e := range rep.Rejected {
			if e.Line != wantLines[i] {
				t.Errorf("rejection %d on line %d, want %d: %v", i, e.Line, wantLines[i], e)
			}
		}
		if !errors.Is(rep.Rejected[2].Err, ratemodel.ErrDuplicateID) {
			t.Errorf("line 5: %v, want a duplicate load_id", rep.Rejected[2].Err)
		}
		summary := rep.Summary(0)
		for _, want := range []string{"8 rows read: 2 imported, 0 already stored (skipped), 6 rejected", "line 3 (load A2)", "line 4 (load A3)", "line 7"} {
			if !strings.Contains(summary, want) {
				t.Errorf("summary lacks %q:\n%s", want, summary)
			}
		}

		// Again, with one new row: what is stored is skipped, not doubled.
		again := file + row("A8", "2025-03-01T13:00:00Z", "925", "flatbed", "3100")
		rep, err = Import(ctx, db, strings.NewReader(again), "b.csv", nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Imported != 1 || rep.Skipped != 2 {
			t.Errorf("second import: %d imported, %d skipped; want 1, 2", rep.Imported, rep.Skipped)
		}
		all, err := history(ctx, db, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range all {
			ids = append(ids, b.LoadID)
		}
		if got := strings.Join(ids, ","); got != "A1,A7,A8" {
			t.Errorf("stored %s, want A1,A7,A8 in booking order", got)
		}
		if all[0].RateUSD != 2400 || all[0].Miles != 925 || all[0].Equipment != ratemodel.Van || !all[0].BookedAt.Equal(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("A1 read back as %+v", all[0])
		}
	})
}

func TestImportWithoutAColumnStoresNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		file := strings.Replace(header, ",miles", "", 1) + "A1,2025-03-01T10:00:00Z,2025-03-02T08:00:00Z,Dallas,TX,32.78,-96.80,Chicago,IL,41.88,-87.63,van,30000,2400\n"
		_, err := Import(ctx, db, strings.NewReader(file), "a.csv", nil)
		if !errors.Is(err, ratemodel.ErrHeader) || !strings.Contains(err.Error(), "miles") {
			t.Fatalf("got %v, want a header error naming miles", err)
		}
		if n, _, err := historySize(ctx, db); err != nil || n != 0 {
			t.Errorf("stored %d bookings (%v), want none", n, err)
		}
		if _, err := Import(ctx, db, bytes.NewReader(nil), "empty.csv", nil); !errors.Is(err, ratemodel.ErrHeader) {
			t.Errorf("empty file: %v, want a header error", err)
		}
	})
}

func TestQueueRetrainCoalesces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, created, err := QueueRetrain(ctx, db, TriggerImport, "import a.csv")
		if err != nil || !created {
			t.Fatalf("first: %v, %v", created, err)
		}
		b, created, err := QueueRetrain(ctx, db, TriggerOperator, "user:x")
		if err != nil || created || b.ID != a.ID {
			t.Fatalf("second: run %d (created %v, %v), want run %d again", b.ID, created, err, a.ID)
		}
		s := newService(t, db, Options{RetrainAt: time.Hour})
		// The daily schedule adopts the queued run rather than adding one.
		for range 2 {
			if err := s.schedule(ctx); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := s.TrainingRuns(ctx, 10)
		if err != nil || len(runs) != 1 {
			t.Fatalf("got %d runs (%v), want 1", len(runs), err)
		}
		// With nothing queued, the schedule queues one run a day.
		if _, err := db.Exec(ctx, `UPDATE market_training_runs SET status = 'failed'`); err != nil {
			t.Fatal(err)
		}
		s2 := newService(t, db, Options{RetrainAt: time.Hour, Now: func() time.Time { return testClock.Add(24 * time.Hour) }})
		for range 2 {
			if err := s2.schedule(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if runs, _ = s.TrainingRuns(ctx, 10); len(runs) != 2 || runs[0].Trigger != TriggerSchedule || runs[0].Status != RunQueued {
			t.Fatalf("runs %+v, want a queued scheduled run on top", runs)
		}
		// Before the time of day, nothing.
		s3 := newService(t, db, Options{RetrainAt: 23 * time.Hour, Now: func() time.Time { return testClock.Add(48 * time.Hour) }})
		if err := s3.schedule(ctx); err != nil {
			t.Fatal(err)
		}
		if runs, _ = s.TrainingRuns(ctx, 10); len(runs) != 2 {
			t.Errorf("got %d runs before the scheduled hour, want 2", len(runs))
		}
	})
}

// TestHistoryIncludesPlatformBookings reads the platform's own bookings
// beside the imported ones: a load with an active booking, at the booked
// rate, as of the booking.
func TestHistoryIncludesPlatformBookings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insertOrg(t, db, "org-shipper", freight.OrgShipper)
		insertOrg(t, db, "org-carrier", freight.OrgCarrier)
		pickup := testClock.Add(48 * time.Hour)
		insertLoad(t, db, "P1", freight.StatusBooked, freight.Reefer, dallasPt, pickup)
		insertLoad(t, db, "P2", freight.StatusPosted, freight.Van, dallasPt, pickup)    // its booking was cancelled
		insertLoad(t, db, "P3", freight.StatusCancelled, freight.Van, dallasPt, pickup) // cancelled while booked
		insertLoad(t, db, "A1", freight.StatusBooked, freight.Van, dallasPt, pickup)    // also imported
		booked := testClock.Add(-time.Hour)
		for _, b := range []struct {
			id, load, status string
			cents            int64
		}{{"B1", "P1", "active", 245050}, {"B2", "P2", "cancelled", 100000}, {"B3", "P3", "active", 100000}, {"B4", "A1", "active", 199900}} {
			if _, err := db.Exec(ctx, `INSERT INTO bookings (id, load_id, carrier_id, rate_cents, status, created_by, created_at) VALUES (?, ?, 'org-carrier', ?, ?, 'test', ?)`,
				b.id, b.load, b.cents, b.status, booked); err != nil {
				t.Fatal(err)
			}
		}
		mustImport(t, db, []byte(header+row("A1", "2025-03-01T10:00:00Z", "925", "van", "2400")+row("A2", "2025-03-01T10:00:00Z", "925", "van", "2500")))
		all, err := history(ctx, db, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range all {
			got = append(got, fmt.Sprintf("%s %s %.2f", b.LoadID, b.Equipment, b.RateUSD))
		}
		want := "A2 van 2500.00, A1 van 1999.00, P1 reefer 2450.50"
		if strings.Join(got, ", ") != want {
			t.Fatalf("history %q, want %q", strings.Join(got, ", "), want)
		}
		p1 := all[2]
		if !p1.BookedAt.Equal(booked) || !p1.PickupAt.Equal(pickup.Add(-2*time.Hour)) || p1.Miles != 800 || p1.WeightLbs != 30000 ||
			p1.Origin.Lat != dallasPt.Lat || p1.Dest.Lon != -100 {
			t.Errorf("P1 read as %+v", p1)
		}
		n, latest, err := historySize(ctx, db)
		if err != nil || n != 4 || !latest.Equal(booked) {
			t.Errorf("historySize = %d, %v, %v; want 4 (one booking in both), %v", n, latest, err, booked)
		}
	})
}

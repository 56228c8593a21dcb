package tracking

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/store"
)

func TestPartitionsAheadAndRetention(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		ctx := context.Background()
		if code := w.post(w.keyA, "", array(route("", t0.Add(-2*time.Hour), 10)...), nil); code != 200 {
			t.Fatalf("got %d", code)
		}
		if w.svc.parts != nil {
			days, err := w.svc.parts.list(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []time.Time{day(t0.Add(-7 * 24 * time.Hour)), day(t0), day(t0).AddDate(0, 0, 3)} {
				if !slices.ContainsFunc(days, d.Equal) {
					t.Errorf("no partition for %s; got %v", d.Format(time.DateOnly), days)
				}
			}
			if slices.ContainsFunc(days, day(t0).AddDate(0, 0, 4).Equal) {
				t.Errorf("got a partition 4 days ahead, want 3")
			}
		}
		// 91 days later the day of those fixes is past the retention.
		w.clock.Add(91 * 24 * time.Hour)
		if err := w.svc.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if n := w.count(w.driverA); n != 0 {
			t.Errorf("got %d positions older than 90 days, want 0", n)
		}
		if w.svc.parts != nil {
			days, err := w.svc.parts.list(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(days, day(t0).Equal) {
				t.Errorf("the partition of %s survived 91 days", day(t0).Format(time.DateOnly))
			}
			if !slices.ContainsFunc(days, day(t0).AddDate(0, 0, 1).Equal) {
				t.Errorf("the partition of %s, 90 days old, was dropped early", day(t0).AddDate(0, 0, 1).Format(time.DateOnly))
			}
			if !slices.ContainsFunc(days, day(w.clock.Now()).AddDate(0, 0, 3).Equal) {
				t.Errorf("no partition 3 days ahead of the new day")
			}
		}
		// Ingest goes on in the new days.
		var res Result
		if code := w.post(w.keyA, "", array(route("", w.clock.Now().Add(-time.Hour), 5)...), &res); code != 200 || res.Accepted != 5 {
			t.Errorf("after maintenance: got %d, %+v", code, res)
		}
	})
}

func TestRollupsCoverClosedHoursOnly(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		ctx := context.Background()
		w.clock.Set(t0.Add(40 * time.Minute)) // 12:40
		start := t0.Add(-2 * time.Hour)       // 10:00
		var fixes []string
		for i := range 160 { // 10:00 to 12:39, 0.01 degrees north a minute
			speed := `,"speed_mph":` + []string{"40", "44"}[i%2]
			fixes = append(fixes, fix("", start.Add(time.Duration(i)*time.Minute), 32+0.01*float64(i), -96.8, speed))
		}
		if code := w.post(w.keyA, "", array(fixes...), nil); code != 200 {
			t.Fatalf("got %d", code)
		}
		if _, err := w.svc.RefreshRollups(ctx); err != nil {
			t.Fatal(err)
		}
		rolls, err := w.svc.rollups(ctx, w.driverA, "", start, t0.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(rolls) != 2 {
			t.Fatalf("got %d rollups, want 2 (10:00 and 11:00; 12:00 is still open)", len(rolls))
		}
		step := 0.01 * math.Pi / 180 * 3958.8 // miles per minute
		for i, r := range rolls {
			h := start.Add(time.Duration(i) * time.Hour)
			if !r.Hour.Equal(h) || r.Points != 60 || math.Abs(r.Miles-59*step) > 0.01 ||
				r.AvgSpeedMph == nil || *r.AvgSpeedMph != 42 || *r.MaxSpeedMph != 44 ||
				!r.FirstAt.Equal(h) || !r.LastAt.Equal(h.Add(59*time.Minute)) ||
				math.Abs(r.FirstLat-(32+0.6*float64(i))) > 1e-9 || math.Abs(r.LastLat-(32+0.6*float64(i)+0.59)) > 1e-9 {
				t.Errorf("rollup %d: got %+v (miles %.3f), want hour %v, 60 points, %.3f miles, 42/44 mph", i, r, r.Miles, h, 59*step)
			}
		}
		// The hour closes; the next refresh rolls it up.
		w.clock.Set(t0.Add(65 * time.Minute))
		if _, err := w.svc.RefreshRollups(ctx); err != nil {
			t.Fatal(err)
		}
		rolls, _ = w.svc.rollups(ctx, w.driverA, "", start, t0.Add(2*time.Hour))
		if len(rolls) != 3 || rolls[2].Points != 40 {
			t.Errorf("after 13:00: got %d rollups (last %+v), want 3, the last with 40 points", len(rolls), rolls[len(rolls)-1])
		}
		// The HTTP view, limited to the caller's carrier.
		var out struct{ Items []Rollup }
		if code := w.get(w.keyDispatch, "/api/v1/tracking/drivers/"+w.driverA+"/rollups", nil, &out); code != 200 || len(out.Items) != 3 {
			t.Errorf("rollups over HTTP: got %d, %d items", code, len(out.Items))
		}
		if code := w.get(w.keyOther, "/api/v1/tracking/drivers/"+w.driverA+"/rollups", nil, nil); code != 404 {
			t.Errorf("another carrier's rollups: got %d, want 404", code)
		}
	})
}

package tracking

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/testenv"
	"github.com/backhaul/backhaul/internal/tracking/ingest"
	"github.com/backhaul/backhaul/internal/tracking/latest"
)

func TestMixedBatchIsAnsweredPerIndex(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, url string) {
		w := newWorld(t, db, url, nil)
		now := t0
		a := w.driverA
		batch := []struct {
			fix  string
			want ingest.Reason // "" for stored
		}{
			{fix(a, now.Add(-10*time.Minute), 32.70, -96.80, `,"speed_mph":50,"heading_deg":0,"accuracy_m":5`), ""},
			{fix(a, now.Add(-9*time.Minute), 32.71, -96.80, ""), ""},
			{fix(a, now.Add(-9*time.Minute), 32.71, -96.80, ""), ingest.Duplicate},
			{fix(a, now.Add(-9*time.Minute-30*time.Second), 32.705, -96.80, ""), ingest.OutOfOrder},
			{fix(a, now.Add(-8*time.Minute), 95, -96.80, ""), ingest.InvalidCoordinates},
			{fix(a, now.Add(time.Hour), 32.72, -96.80, ""), ingest.Future},
			{fix(a, now.Add(-30*24*time.Hour), 32.72, -96.80, ""), ingest.TooOld},
			{fix(a, now.Add(-7*time.Minute), 32.72, -96.80, `,"accuracy_m":900`), ingest.PoorAccuracy},
			{fix(a, now.Add(-6*time.Minute), 40.00, -96.80, ""), ingest.ImpossibleJump},
			{`{"lat":"north"}`, ingest.Malformed},
			{fix(a, now.Add(-5*time.Minute), 32.73, -96.80, ""), ""},
		}
		var fixes []string
		for _, b := range batch {
			fixes = append(fixes, b.fix)
		}
		var res Result
		if code := w.post(w.keyA, "application/json", array(fixes...), &res); code != 200 {
			t.Fatalf("got status %d, want 200", code)
		}
		got := map[int]ingest.Reason{}
		for _, r := range res.Rejected {
			got[r.Index] = r.Reason
		}
		stored := 0
		for i, b := range batch {
			if got[i] != b.want {
				t.Errorf("point %d: got %q, want %q", i, got[i], b.want)
			}
			if b.want == "" {
				stored++
			}
		}
		if res.Accepted != stored || w.count(a) != stored {
			t.Errorf("got %d accepted and %d stored, want %d", res.Accepted, w.count(a), stored)
		}
		// The same points again, as NDJSON: all stored ones are duplicates now.
		var again Result
		if code := w.post(w.keyA, "application/x-ndjson", strings.Join(fixes, "\n"), &again); code != 200 || again.Accepted != 0 {
			t.Fatalf("resent batch: got %d with %d accepted, want 200 with none", code, again.Accepted)
		}
		for _, r := range again.Rejected {
			if batch[r.Index].want == "" && r.Reason != ingest.Duplicate {
				t.Errorf("resent point %d: got %q, want duplicate", r.Index, r.Reason)
			}
		}
		if w.count(a) != stored {
			t.Errorf("got %d stored after the resend, want %d", w.count(a), stored)
		}
		// A new service (a restart) knows the stored fixes: still duplicates.
		w2, err := New(db, w.svc.cfg, w.svc.deps, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w2.Close()
		pts, idx, rej, _ := ingest.Decode([]byte(fixes[1]), 10)
		res2, err := w2.Ingest(context.Background(), w.principalOfA(), pts, idx, rej)
		if err != nil || res2.Accepted != 0 || len(res2.Rejected) != 1 || res2.Rejected[0].Reason != ingest.Duplicate {
			t.Errorf("after a restart: got %+v, %v; want the fix refused as a duplicate", res2, err)
		}
	})
}

// principalOfA is the principal of driver A's device key.
func (w *world) principalOfA() freight.Principal {
	p := w.carrier
	p.Role, p.DriverID, p.UserID, p.KeyID = freight.RoleDriver, w.driverA, "", "device"
	return p
}

func TestWhoMayPost(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, url string) {
		w := newWorld(t, db, url, nil)
		one := func(driver string) string { return array(fix(driver, t0.Add(-time.Minute), 32.7, -96.8, "")) }
		tests := []struct {
			name, key, body string
			want            int
		}{
			{"no key", "", one(w.driverA), 401},
			{"wrong key", "bhk_" + strings.Repeat("x", 40), one(w.driverA), 401},
			{"device for another driver of its carrier", w.keyA, one(w.driverB), 403},
			{"device for another carrier's driver", w.keyA, one(w.outsider), 403},
			{"device mixing its driver and another", w.keyA, array(fix("", t0.Add(-2*time.Minute), 32.7, -96.8, ""), fix(w.driverB, t0.Add(-time.Minute), 32.7, -96.8, "")), 403},
			{"dispatcher for another carrier's driver", w.keyDispatch, one(w.outsider), 404},
			{"dispatcher for an unknown driver", w.keyDispatch, one("no-such-driver"), 404},
			{"other carrier's dispatcher for our driver", w.keyOther, one(w.driverA), 404},
			{"shipper", w.keyShipper, one(w.driverA), 403},
			{"operator", w.keyOperator, one(w.driverA), 403},
		}
		for _, tt := range tests {
			if got := w.post(tt.key, "", tt.body, nil); got != tt.want {
				t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
			}
		}
		for _, d := range []string{w.driverA, w.driverB, w.outsider} {
			if n := w.count(d); n != 0 {
				t.Errorf("driver %s: got %d positions stored by refused batches, want 0", d, n)
			}
		}
		// And the allowed ones.
		var res Result
		if code := w.post(w.keyA, "", array(fix("", t0.Add(-time.Minute), 32.7, -96.8, "")), &res); code != 200 || res.Accepted != 1 {
			t.Errorf("device for its own driver: got %d, %+v", code, res)
		}
		if code := w.post(w.keyDispatch, "", array(fix(w.driverB, t0.Add(-time.Minute), 32.7, -96.8, ""), fix("", t0, 32.7, -96.8, "")), &res); code != 200 || res.Accepted != 1 ||
			len(res.Rejected) != 1 || res.Rejected[0].Reason != ingest.Malformed {
			t.Errorf("dispatcher for its driver and a point without a driver: got %d, %+v", code, res)
		}
	})
}

func TestEnormousBatchesAreRefused(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, func(c *Config, _ *Deps) { c.MaxBatchPoints, c.MaxBatchBytes = 100, 64<<10 })
		if code := w.post(w.keyA, "", array(route("", t0.Add(-3*time.Hour), 101)...), nil); code != 413 {
			t.Errorf("101 points: got %d, want 413", code)
		}
		huge := array(fix("", t0, 32.7, -96.8, `,"x":"`+strings.Repeat("y", 70<<10)+`"`))
		if code := w.post(w.keyA, "", huge, nil); code != 413 {
			t.Errorf("70 KiB: got %d, want 413", code)
		}
		if code := w.post(w.keyA, "", `[{"lat":1,`, nil); code != 400 {
			t.Errorf("broken JSON: got %d, want 400", code)
		}
		if code := w.post(w.keyA, "text/csv", "lat,lon\n1,2", nil); code != 400 {
			t.Errorf("CSV: got %d, want 400", code)
		}
		if n := w.count(w.driverA); n != 0 {
			t.Errorf("got %d positions stored, want 0", n)
		}
		var res Result
		if code := w.post(w.keyA, "", array(route("", t0.Add(-3*time.Hour), 100)...), &res); code != 200 || res.Accepted != 100 {
			t.Errorf("100 points: got %d, %d accepted", code, res.Accepted)
		}
	})
}

func TestLatestAndNearby(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		w.post(w.keyA, "", array(route("", t0.Add(-time.Hour), 10)...), nil)
		w.post(w.keyDispatch, "", array(fix(w.driverB, t0.Add(-time.Minute), 41.88, -87.63, "")), nil) // Chicago
		var f latest.Fix
		if code := w.get(w.keyDispatch, "/api/v1/tracking/drivers/"+w.driverA+"/latest", nil, &f); code != 200 || math.Abs(f.Lat-32.87) > 1e-9 {
			t.Errorf("latest of A: got %d, %+v", code, f)
		}
		for _, c := range []struct {
			key, driver string
			want        int
		}{{w.keyA, w.driverA, 200}, {w.keyA, w.driverB, 404}, {w.keyOther, w.driverA, 404}, {w.keyShipper, w.driverA, 403}, {w.keyOperator, w.driverB, 200}} {
			if code := w.get(c.key, "/api/v1/tracking/drivers/"+c.driver+"/latest", nil, nil); code != c.want {
				t.Errorf("latest of %s: got %d, want %d", c.driver, code, c.want)
			}
		}
		var near struct{ Items []latest.Near }
		q := url.Values{"lat": {"32.8"}, "lon": {"-96.8"}, "radius_mi": {"50"}}
		if code := w.get(w.keyDispatch, "/api/v1/tracking/nearby", q, &near); code != 200 || len(near.Items) != 1 || near.Items[0].DriverID != w.driverA {
			t.Errorf("near Dallas: got %d, %+v; want driver A", code, near.Items)
		}
		if code := w.get(w.keyOther, "/api/v1/tracking/nearby", q, &near); code != 200 || len(near.Items) != 0 {
			t.Errorf("another carrier near Dallas: got %d, %+v; want nobody", code, near.Items)
		}
		q.Set("radius_mi", "1000")
		if code := w.get(w.keyOperator, "/api/v1/tracking/nearby", q, &near); code != 200 || len(near.Items) != 2 {
			t.Errorf("operator within 1000 miles: got %d, %+v; want both", code, near.Items)
		}
		if code := w.get(w.keyShipper, "/api/v1/tracking/nearby", q, nil); code != 403 {
			t.Errorf("shipper: got %d, want 403", code)
		}
	})
}

func TestTrackIsDownsampled(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		start := t0.Add(-5 * time.Hour)
		var fixes []string
		for i := range 300 { // one a minute
			fixes = append(fixes, fix("", start.Add(time.Duration(i)*time.Minute), 32+0.005*float64(i), -96.8, ""))
		}
		if code := w.post(w.keyA, "", array(fixes...), nil); code != 200 {
			t.Fatalf("got %d", code)
		}
		for _, n := range []int{2, 10, 50, 299, 1000} {
			var tr Track
			q := url.Values{"from": {start.Format(time.RFC3339)}, "to": {start.Add(5 * time.Hour).Format(time.RFC3339)}, "points": {fmt.Sprint(n)}}
			if code := w.get(w.keyA, "/api/v1/tracking/drivers/"+w.driverA+"/track", q, &tr); code != 200 {
				t.Fatalf("points=%d: got %d", n, code)
			}
			// Spans a little longer than the interval between fixes hold
			// two now and then, so near the number stored a few fewer come back.
			want, atLeast := min(n, 300), min(n, 300)
			if n > 250 && n < 300 {
				atLeast = n * 9 / 10
			}
			if len(tr.Points) > want || len(tr.Points) < atLeast || tr.Stored != 300 {
				t.Errorf("points=%d: got %d of %d stored, want %d..%d of 300", n, len(tr.Points), tr.Stored, atLeast, want)
				continue
			}
			if !tr.Points[0].Time.Equal(start) || !tr.Points[len(tr.Points)-1].Time.Equal(start.Add(299*time.Minute)) {
				t.Errorf("points=%d: got %v..%v, want the first and the last fix", n, tr.Points[0].Time, tr.Points[len(tr.Points)-1].Time)
			}
			// Evenly spread: no gap between kept points is more than two spans.
			span := 5 * time.Hour / time.Duration(max(n-1, 1))
			for i := 1; i < len(tr.Points); i++ {
				if gap := tr.Points[i].Time.Sub(tr.Points[i-1].Time); gap > 2*span+time.Minute || gap <= 0 {
					t.Errorf("points=%d: gap %v between points %d and %d", n, gap, i-1, i)
					break
				}
			}
		}
		if code := w.get(w.keyA, "/api/v1/tracking/drivers/"+w.driverA+"/track", url.Values{"points": {"1"}}, nil); code != 422 {
			t.Errorf("points=1: got %d, want 422", code)
		}
	})
}

func TestLatestPositionsInRedis(t *testing.T) {
	t.Parallel()
	db, u := openEngine(t, "postgres")
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	prefix := testenv.Unique("test:tracking:") + ":"
	defer func() {
		if keys, _ := rc.Keys(context.Background(), prefix+"*").Result(); len(keys) > 0 {
			rc.Del(context.Background(), keys...)
		}
	}()
	w := newWorld(t, db, u, func(c *Config, d *Deps) { d.Redis, c.RedisPrefix = rc, prefix })
	if _, ok := w.svc.latest.(*latest.Redis); !ok {
		t.Fatalf("got index %T, want Redis", w.svc.latest)
	}
	w.post(w.keyA, "", array(route("", t0.Add(-time.Hour), 3)...), nil)
	var near struct{ Items []latest.Near }
	q := url.Values{"lat": {"32.8"}, "lon": {"-96.8"}, "radius_mi": {"25"}}
	if code := w.get(w.keyDispatch, "/api/v1/tracking/nearby", q, &near); code != 200 || len(near.Items) != 1 || near.Items[0].DriverID != w.driverA {
		t.Errorf("near Dallas from Redis: got %d, %+v", code, near.Items)
	}
	if n, _ := rc.Exists(context.Background(), prefix+"fix:"+w.driverA).Result(); n != 1 {
		t.Errorf("got %d fix keys in Redis for driver A, want 1", n)
	}
}

func TestRestartWarmsTheIndex(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		w.post(w.keyA, "", array(route("", t0.Add(-time.Hour), 5)...), nil)
		w.post(w.keyDispatch, "", array(route(w.driverB, t0.Add(-30*time.Minute), 2)...), nil)
		again, err := New(db, w.svc.cfg, w.svc.deps, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		ctx := context.Background()
		if err := again.warm(ctx); err != nil {
			t.Fatal(err)
		}
		for d, want := range map[string]time.Time{w.driverA: t0.Add(-56 * time.Minute), w.driverB: t0.Add(-29 * time.Minute)} {
			f, ok, _ := again.latest.Get(ctx, d)
			if !ok || !f.Time.Equal(want) {
				t.Errorf("driver %s after a restart: got %+v, %v; want the fix of %v", d, f, ok, want)
			}
		}
		// Run does the same and stops with its context.
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- again.Run(rctx) }()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestTwoReplicasStoreAFixOnce: replicas keep their own filter state, so a
// fix that reaches both (a client retrying against another pod) is caught
// by the store's key; on PostgreSQL that is COPY's conflict fallback.
func TestTwoReplicasStoreAFixOnce(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		ctx := context.Background()
		replica, err := New(db, w.svc.cfg, w.svc.deps, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer replica.Close()
		ingestOn := func(s *Service, fixes ...string) Result {
			t.Helper()
			pts, idx, rej, err := ingest.Decode([]byte(array(fixes...)), 100)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Ingest(ctx, w.principalOfA(), pts, idx, rej)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		fixes := route("", t0.Add(-time.Hour), 4)
		ingestOn(replica, fixes[0])            // the replica knows the driver up to here
		ingestOn(w.svc, fixes[1], fixes[2])    // this one stores two more
		res := ingestOn(replica, fixes[1:]...) // the retry reaches the replica
		if n := w.count(w.driverA); n != 4 {
			t.Errorf("got %d stored, want 4 (each fix once)", n)
		}
		if len(res.Rejected) != 0 || res.Accepted != 3 {
			t.Errorf("got %+v, want the retry acknowledged", res)
		}
	})
}

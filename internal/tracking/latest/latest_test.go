package latest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/testenv"
)

// each runs f against the in-process index and the Redis one.
func each(t *testing.T, f func(t *testing.T, idx Index)) {
	t.Run("local", func(t *testing.T) { f(t, NewLocal()) })
	t.Run("redis", func(t *testing.T) {
		opt, err := redis.ParseURL(testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		prefix := testenv.Unique("test:latest:") + ":"
		t.Cleanup(func() {
			ctx := context.Background()
			keys, _ := c.Keys(ctx, prefix+"*").Result()
			if len(keys) > 0 {
				c.Del(ctx, keys...)
			}
		})
		f(t, NewRedis(c, prefix, time.Hour))
	})
}

func TestUpdateKeepsTheNewest(t *testing.T) {
	each(t, func(t *testing.T, idx Index) {
		ctx := context.Background()
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		// Dallas, then Chicago (another region), then a late fix from Dallas.
		must(t, idx.Update(ctx, []Fix{{DriverID: "d1", CarrierID: "c", Time: t0, Lat: 32.78, Lon: -96.8}}))
		must(t, idx.Update(ctx, []Fix{{DriverID: "d1", CarrierID: "c", Time: t0.Add(time.Hour), Lat: 41.88, Lon: -87.63}}))
		must(t, idx.Update(ctx, []Fix{{DriverID: "d1", CarrierID: "c", Time: t0.Add(time.Minute), Lat: 32.79, Lon: -96.8}}))
		f, ok, err := idx.Get(ctx, "d1")
		if err != nil || !ok || f.Lat != 41.88 || !f.Time.Equal(t0.Add(time.Hour)) {
			t.Fatalf("got %+v, %v, %v; want the Chicago fix", f, ok, err)
		}
		dallas, err := idx.Within(ctx, Query{Center: geo.Point{Lat: 32.78, Lon: -96.8}, Miles: 50})
		must(t, err)
		if len(dallas) != 0 {
			t.Errorf("got %v near Dallas, want nobody: the driver moved on", dallas)
		}
		chicago, err := idx.Within(ctx, Query{Center: geo.Point{Lat: 41.9, Lon: -87.6}, Miles: 50})
		must(t, err)
		if len(chicago) != 1 || chicago[0].DriverID != "d1" {
			t.Errorf("got %v near Chicago, want d1", chicago)
		}
		if _, ok, _ := idx.Get(ctx, "nobody"); ok {
			t.Error("got a fix for an unknown driver")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWithinMatchesBruteForce compares radius queries with a scan of every
// fix, over random fleets and queries across the United States and across
// region borders.
func TestWithinMatchesBruteForce(t *testing.T) {
	each(t, func(t *testing.T, idx Index) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		var all []Fix
		for i := range 3000 {
			f := Fix{DriverID: fmt.Sprintf("d%04d", i), CarrierID: fmt.Sprintf("c%d", i%3),
				Time: t0.Add(time.Duration(rng.IntN(3600)) * time.Second),
				Lat:  25 + rng.Float64()*24, Lon: -124 + rng.Float64()*57}
			all = append(all, f)
		}
		for i := 0; i < len(all); i += 500 {
			must(t, idx.Update(ctx, all[i:i+500]))
		}
		for n := range 60 {
			q := Query{Center: geo.Point{Lat: 25 + rng.Float64()*24, Lon: -124 + rng.Float64()*57}, Miles: []float64{5, 50, 150, 400}[n%4]}
			if n%5 == 0 {
				q.CarrierID = "c1"
			}
			if n%7 == 0 {
				q.Since = t0.Add(30 * time.Minute)
			}
			got, err := idx.Within(ctx, q)
			must(t, err)
			want := keep(q, all)
			if len(got) != len(want) {
				t.Fatalf("query %d %+v: got %d drivers, want %d", n, q, len(got), len(want))
			}
			for i := range got {
				if got[i].DriverID != want[i].DriverID {
					t.Fatalf("query %d: got %s at rank %d, want %s", n, got[i].DriverID, i, want[i].DriverID)
				}
			}
		}
	})
}

func TestBruteForceIsRight(t *testing.T) {
	// keep is the reference above, so check it against distances by hand:
	// Dallas to Fort Worth is about 31 miles.
	dallas, fw := geo.Point{Lat: 32.7767, Lon: -96.797}, Fix{DriverID: "fw", Lat: 32.7555, Lon: -97.3308}
	if got := keep(Query{Center: dallas, Miles: 30}, []Fix{fw}); len(got) != 0 {
		t.Errorf("got %v within 30 miles, want none", got)
	}
	if got := keep(Query{Center: dallas, Miles: 35}, []Fix{fw}); len(got) != 1 {
		t.Errorf("got %v within 35 miles, want Fort Worth", got)
	}
}

func BenchmarkLocalWithin(b *testing.B) {
	idx := NewLocal()
	rng := rand.New(rand.NewPCG(3, 4))
	var fixes []Fix
	for i := range 100_000 {
		fixes = append(fixes, Fix{DriverID: fmt.Sprint(i), Lat: 25 + rng.Float64()*24, Lon: -124 + rng.Float64()*57})
	}
	_ = idx.Update(context.Background(), fixes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = idx.Within(context.Background(), Query{Center: geo.Point{Lat: 35, Lon: -95}, Miles: 50})
	}
}

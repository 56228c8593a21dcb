package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/market/ratemodel"
)

func main() {
	f, _ := os.Open("/work/shared/data/market/bookings.csv")
	all, _, _ := ratemodel.ReadBookings(f)
	byID := map[string]ratemodel.Booking{}
	for _, b := range all {
		byID[b.LoadID] = b
	}
	seeds := []uint64{1, 2, 3}
	if len(os.Args) > 1 {
		seeds = nil
		for _, a := range os.Args[1:] {
			s, _ := strconv.ParseUint(a, 10, 64)
			seeds = append(seeds, s)
		}
	}
	for _, seed := range seeds {
		train, held := ratemodel.Split(all, 0.2, seed)
		if os.Getenv("OOT") != "" {
			k := len(all) * 8 / 10
			train, held = all[:k], all[k:]
		}
		if sub, _ := strconv.Atoi(os.Getenv("SUB")); sub > 0 && sub < len(train) {
			train, _ = ratemodel.Split(train, 1-float64(sub)/float64(len(train)), seed+100)
		}
		t0 := time.Now()
		m, rep, err := ratemodel.Train(context.Background(), train, ratemodel.Options{Seed: seed})
		if err != nil {
			panic(err)
		}
		took := time.Since(t0)
		if p := os.Getenv("SAVE"); p != "" {
			f, _ := os.Create(p)
			m.Save(f)
			f.Close()
			t1 := time.Now()
			g, _ := os.Open(p)
			if _, err := ratemodel.LoadModel(g, nil); err != nil {
				panic(err)
			}
			fmt.Println("load took", time.Since(t1))
		}
		met, _ := ratemodel.Evaluate(m, held)
		if os.Getenv("QUOTE") != "" {
			for _, b := range held[:3] {
				q, _ := m.Quote(b.Load)
				j, _ := json.MarshalIndent(q, "", " ")
				fmt.Printf("%s %s->%s %s %.0fmi paid %.2f\n%s\n", b.LoadID, b.Origin.City, b.Dest.City, b.Equipment, b.Miles, b.RateUSD, j)
			}
		}
		fmt.Printf("seed %d: %v trees=%d outliers=%d/%d took=%.1fs\n", seed, met, rep.Trees, rep.ScreenOutliers, rep.ModelOutliers, took.Seconds())
		if os.Getenv("BANDS") != "" {
			type acc struct{ n, in int; ape float64 }
			bands := map[string]*acc{}
			for _, b := range held {
				q, _ := m.Predict(b.Load)
				k := fmt.Sprintf("%s-%d", b.Equipment, int(math.Min(4, math.Floor(math.Log(b.Miles/50)/math.Log(3)))))
				lt := b.PickupAt.Sub(b.BookedAt).Hours()
				k2 := fmt.Sprintf("lead<%v", lt < 6)
				for _, kk := range []string{k, k2} {
					a := bands[kk]
					if a == nil {
						a = &acc{}
						bands[kk] = a
					}
					a.n++
					if b.RateUSD >= q.P10 && b.RateUSD <= q.P90 {
						a.in++
					}
					a.ape += math.Abs(q.P50-b.RateUSD) / b.RateUSD
				}
			}
			for k, a := range bands {
				fmt.Printf("  %-12s n=%5d cov=%.1f%% mape=%.2f%%\n", k, a.n, 100*float64(a.in)/float64(a.n), 100*a.ape/float64(a.n))
			}
		}
		if os.Getenv("TRAINRES") != "" {
			flag := map[string]bool{}
			for _, id := range rep.OutlierIDs {
				flag[id] = true
			}
			h := map[int][2]int{}
			for _, b := range train {
				q, _ := m.Predict(b.Load)
				k := int(math.Floor(math.Log(b.RateUSD/q.P50) / 0.05))
				c := h[k]
				c[0]++
				if flag[b.LoadID] {
					c[1]++
				}
				h[k] = c
			}
			for k := -12; k <= 12; k++ {
				fmt.Printf("  %+.2f %5d %5d\n", float64(k)*0.05, h[k][0], h[k][1])
			}
		}
		if os.Getenv("HIST") != "" {
			h := map[int]int{}
			for _, b := range held {
				q, _ := m.Predict(b.Load)
				k := int(math.Floor(math.Log(b.RateUSD/q.P50) / 0.05))
				h[k]++
			}
			for k := -12; k <= 12; k++ {
				fmt.Printf("  %+.2f %5d\n", float64(k)*0.05, h[k])
			}
		}
		if os.Getenv("SHOWOUT") != "" {
			for _, id := range rep.OutlierIDs {
				b := byID[id]
				q, _ := m.Predict(b.Load)
				fmt.Printf("  %s %s %4.0f mi rate %8.2f p50 %8.2f ratio %.3f\n", id, b.Equipment, b.Miles, b.RateUSD, q.P50, b.RateUSD/q.P50)
			}
		}
	}
}

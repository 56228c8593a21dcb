package ratemodel

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// benchHistory is the booking file named by BACKHAUL_BOOKINGS (for example
// ../shared/data/market/bookings.csv), or 48,000 synthetic bookings.
var benchHistory = sync.OnceValues(func() ([]Booking, string) {
	if path := os.Getenv("BACKHAUL_BOOKINGS"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		b, _, err := ReadBookings(f)
		if err != nil {
			panic(err)
		}
		return b, path
	}
	w := newSynthWorld(42, 300, 0.08)
	b, _ := w.bookings(44, 48000, synthStart, 730)
	return b, "synthetic"
})

var benchModel = sync.OnceValues(func() (*Model, []Booking) {
	all, _ := benchHistory()
	train, held := Split(all, 0.2, 1)
	m, _, err := Train(context.Background(), train, Options{Seed: 1})
	if err != nil {
		panic(err)
	}
	return m, held
})

// BenchmarkQuote times one quote with its explanation and reports the 99th
// percentile as well as the mean.
func BenchmarkQuote(b *testing.B) {
	m, held := benchModel()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if _, err := m.Quote(held[i%len(held)].Load); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns/op")
	}
}

// BenchmarkPredict times a quote without its explanation, as batch
// prediction runs it.
func BenchmarkPredict(b *testing.B) {
	m, held := benchModel()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := m.Predict(held[i%len(held)].Load); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrain times training on the whole history; run it with
// -benchtime=1x.
func BenchmarkTrain(b *testing.B) {
	all, src := benchHistory()
	b.Logf("history: %s, %d bookings", src, len(all))
	for b.Loop() {
		if _, _, err := Train(context.Background(), all, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

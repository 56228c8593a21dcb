package assign

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// The benchmarks time the work of `backhaul match`: decoding the scenario,
// finding the feasible pairs and solving, beside the greedy baseline on the
// same input. Run them with
//
//	go test ./internal/solver/assign -run '^$' -bench . -benchtime 5x
//
// The metrics assigned and deadhead_mi let a reader compare the optimum
// with the greedy figures of the same run.

// cpuTimer reports the process CPU time per operation as cpu-ms/op.
func cpuTimer(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64((processCPU()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

func benchSolve(b *testing.B, raw []byte, greedy bool) {
	b.ReportAllocs()
	defer cpuTimer(b)()
	var sol Solution
	for b.Loop() {
		s, err := DecodeScenario(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		edges, err := Candidates(context.Background(), &s)
		if err != nil {
			b.Fatal(err)
		}
		if greedy {
			sol = Greedy(&s, edges)
		} else if sol, err = Solve(context.Background(), len(s.Drivers), len(s.Loads), edges); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sol.Assigned()), "assigned")
	b.ReportMetric(sol.DeadheadMiles, "deadhead_mi")
}

func BenchmarkMedium(b *testing.B) {
	raw, _ := loadBenchmark(b, "medium")
	b.Run("optimal", func(b *testing.B) { benchSolve(b, raw, false) })
	b.Run("greedy", func(b *testing.B) { benchSolve(b, raw, true) })
}

// generated10k is the 10,000 drivers x 10,000 loads scenario, encoded as a
// scenario file.
func generated10k(b *testing.B) []byte {
	raw, err := json.Marshal(generateScenario(1, 10000, 10000))
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func BenchmarkGenerated10k(b *testing.B) {
	raw := generated10k(b)
	b.Run("optimal", func(b *testing.B) { benchSolve(b, raw, false) })
	b.Run("greedy", func(b *testing.B) { benchSolve(b, raw, true) })
}

// BenchmarkGenerated10kSteps times each step alone.
func BenchmarkGenerated10kSteps(b *testing.B) {
	raw := generated10k(b)
	s, err := DecodeScenario(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	edges := mustCandidates(b, &s)
	b.Run("decode", func(b *testing.B) {
		defer cpuTimer(b)()
		for b.Loop() {
			if _, err := DecodeScenario(bytes.NewReader(raw)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("candidates", func(b *testing.B) {
		defer cpuTimer(b)()
		for b.Loop() {
			mustCandidates(b, &s)
		}
		b.ReportMetric(float64(len(edges)), "edges")
	})
	b.Run("solve", func(b *testing.B) {
		defer cpuTimer(b)()
		for b.Loop() {
			if _, err := Solve(context.Background(), len(s.Drivers), len(s.Loads), edges); err != nil {
				b.Fatal(err)
			}
		}
	})
}

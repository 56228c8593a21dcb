package instance

import (
	"github.com/backhaul/backhaul/internal/testenv"

	"testing"
)

// benchmarksDir is the shared benchmarks folder beside the repository.
func benchmarksDir(t testing.TB) string { return testenv.Shared(t, "benchmarks") }

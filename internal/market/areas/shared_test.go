package areas_test

import (
	"testing"

	"github.com/backhaul/backhaul/internal/testenv"
)

// sharedData is a file of the shared data folder beside the repository.
func sharedData(t testing.TB, elem ...string) string {
	return testenv.Shared(t, append([]string{"data"}, elem...)...)
}

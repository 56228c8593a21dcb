package autoscale

import (
	"testing"

	"github.com/backhaul/backhaul/internal/testenv"
)

// TestStandardLibraryOnly keeps the model free of cluster clients and
// infrastructure: only standard-library imports are allowed.
func TestStandardLibraryOnly(t *testing.T) {
	testenv.ForbidImports(t, func(string) bool { return false })
}

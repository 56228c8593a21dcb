package assign

import (
	"testing"

	"github.com/backhaul/backhaul/internal/testenv"
)

// TestImportsStayPure keeps the solver free of I/O layers: besides the
// standard library it may import only the geometry package.
func TestImportsStayPure(t *testing.T) {
	testenv.ForbidImports(t, func(p string) bool { return p == "github.com/backhaul/backhaul/internal/geo" })
}

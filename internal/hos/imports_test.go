package hos

import (
	"testing"

	"github.com/backhaul/backhaul/internal/testenv"
)

// TestImportsStayPure keeps the planner pure: besides the standard library
// it may import only the freight vocabulary.
func TestImportsStayPure(t *testing.T) {
	testenv.ForbidImports(t, func(p string) bool { return p == "github.com/backhaul/backhaul/internal/freight" })
}

package areas_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/backhaul/backhaul/internal/testenv"
)

// sharedData finds a file of the shared data directory, a sibling of the
// repository root, by walking up from the package directory. Outside CI a
// missing file skips the test; in CI it fails it.
func sharedData(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(append([]string{dir, "shared", "data"}, elem...)...)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	testenv.Unavailable(t, "shared data file %s not found beside the repository", filepath.Join(elem...))
	return ""
}

package instance

import (
	"os"
	"path/filepath"
	"testing"
)

// benchmarksDir finds shared/benchmarks by walking up from the package
// directory: the repository is checked out beside the shared folder.
func benchmarksDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "benchmarks")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("shared/benchmarks not found beside the repository")
	}
	t.Skip("shared/benchmarks not found beside the repository")
	return ""
}

package routing

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// imports lists what the non-test files of the package in dir import.
func imports(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[p] = true
		}
	}
	if len(out) == 0 {
		t.Fatalf("no imports found in %s", dir)
	}
	return out
}

// TestSolverIsPure keeps I/O out of the solver, and the checker apart from
// the solver so that it stays an independent judge.
func TestSolverIsPure(t *testing.T) {
	for p := range imports(t, ".") {
		for _, banned := range []string{"os", "io", "net", "log", "database", "bufio"} {
			if p == banned || strings.HasPrefix(p, banned+"/") {
				t.Errorf("routing imports %q, want no I/O", p)
			}
		}
	}
	for p := range imports(t, filepath.Join("..", "check")) {
		if strings.Contains(p, "/solver/routing") {
			t.Errorf("check imports %q, want it independent of the solver", p)
		}
	}
}

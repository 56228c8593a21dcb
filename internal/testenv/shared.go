package testenv

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Shared returns the path of elem inside the shared folder that sits beside
// the repository (benchmarks, data), found by walking up from the test's
// directory. Outside CI a test skips when it is missing; in CI it fails.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join(append([]string{"shared"}, elem...)...)
	for {
		cand := filepath.Join(dir, rel)
		if _, err := os.Stat(cand); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	Unavailable(t, "%s not found beside the repository", filepath.ToSlash(rel))
	return ""
}

// ForbidImports fails the test when a non-test Go file of the package in
// the current directory imports a package allowed rejects. Standard-library
// imports are always allowed. It keeps pure packages pure.
func ForbidImports(t *testing.T, allowed func(path string) bool) {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			std := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			if !std && !allowed(path) {
				t.Errorf("%s imports %s, which this package must not use", name, path)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}

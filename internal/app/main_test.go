package app_test

import (
	"os"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/app"
)

// childEnv makes the test binary run `backhaul` with the arguments in it,
// so tests can start real platform processes.
const childEnv = "BACKHAUL_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Exit(app.Main(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

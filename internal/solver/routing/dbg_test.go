package routing

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/solver/instance"
)

func TestDbg(t *testing.T) {
	f := os.Getenv("DBG_FILE")
	if f == "" {
		t.Skip()
	}
	in, err := instance.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if v := os.Getenv("DBG_S"); v != "" {
		scatterRate, _ = strconv.ParseFloat(v, 64)
	}
	lim, _ := time.ParseDuration(os.Getenv("DBG_LIMIT"))
	sol, err := Solve(context.Background(), in, Options{TimeLimit: lim, Seed: 1})
	t.Logf("%d %.2f iters=%d err=%v", sol.Vehicles, sol.Distance, sol.Iterations, err)
}

// Package bustest opens buses for tests: connections to the test NATS
// server in a namespace of their own, cleaned up when the test ends.
package bustest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/bus"
	"github.com/backhaul/backhaul/internal/testenv"
)

// External connects n times to the test NATS server in one fresh
// namespace, as n processes would, and deletes the namespace's streams
// when the test ends.
func External(t testing.TB, n int, prefix string, log *slog.Logger) []*bus.Bus {
	t.Helper()
	url := testenv.NATSURL(t)
	ns := testenv.Unique(prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*bus.Bus
	for range n {
		b, err := bus.Open(ctx, bus.Config{URL: url, Namespace: ns}, log)
		if err != nil {
			t.Fatalf("open external bus: %v", err)
		}
		t.Cleanup(b.Close)
		out = append(out, b)
	}
	first := out[0]
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := first.DeleteNamespaceStreams(ctx); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	return out
}

// Embedded starts a NATS server inside the test, shared by n replicas (the
// embedded server has no network, so replicas share its connection).
func Embedded(t testing.TB, n int, log *slog.Logger) []*bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, bus.Config{DataDir: t.TempDir()}, log)
	if err != nil {
		t.Fatalf("open embedded bus: %v", err)
	}
	t.Cleanup(b.Close)
	out := make([]*bus.Bus, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// Package testenv gives tests the real engines they talk to (PostgreSQL,
// Redis, NATS JetStream). Outside CI a test skips, saying why, when an engine
// is unreachable; with CI=true it fails instead, so CI never passes by
// skipping.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// InCI reports whether the tests run in continuous integration.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test outside CI and fails it in CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("required engine unavailable in CI: %s", msg)
	}
	t.Skipf("skipping: %s (set CI=true to make this a failure)", msg)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func reachable(hostport string) error {
	c, err := net.DialTimeout("tcp", hostport, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// PostgresURL returns the URL of the test PostgreSQL server
// (BACKHAUL_TEST_DATABASE_URL, default the local trust-auth database "test").
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := env("BACKHAUL_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("BACKHAUL_TEST_DATABASE_URL: %v", err)
	}
	if err := reachable(pu.Host); err != nil {
		Unavailable(t, "PostgreSQL at %s: %v", pu.Host, err)
	}
	return u
}

// PostgresSchemaURL creates a fresh schema for the test in the test database
// and returns a URL whose connections use it, so tests never see each other's
// tables. The schema is dropped when the test ends.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		Unavailable(t, "PostgreSQL create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	pu, _ := url.Parse(base)
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// RedisURL returns the URL of the test Redis server (BACKHAUL_TEST_REDIS_URL).
func RedisURL(t testing.TB) string {
	t.Helper()
	u := env("BACKHAUL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("BACKHAUL_TEST_REDIS_URL: %v", err)
	}
	if err := reachable(pu.Host); err != nil {
		Unavailable(t, "Redis at %s: %v", pu.Host, err)
	}
	return u
}

// NATSURL returns the URL of the test NATS server with JetStream
// (BACKHAUL_TEST_NATS_URL).
func NATSURL(t testing.TB) string {
	t.Helper()
	u := env("BACKHAUL_TEST_NATS_URL", "nats://127.0.0.1:4222")
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("BACKHAUL_TEST_NATS_URL: %v", err)
	}
	if err := reachable(pu.Host); err != nil {
		Unavailable(t, "NATS at %s: %v", pu.Host, err)
	}
	return u
}

// Unique returns a name unique to this test run, for keys, subjects and
// streams shared with other tests on the same engine.
func Unique(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
}

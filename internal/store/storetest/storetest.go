// Package storetest runs a test against every engine the store supports, so
// one conformance suite covers SQLite and PostgreSQL alike.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/testenv"
)

// Engines are the engines Each runs against.
var Engines = []string{"sqlite", "postgres"}

// Open returns a migrated, empty store on the named engine, closed when the
// test ends. PostgreSQL gets a schema of its own.
func Open(t testing.TB, engine string) *store.DB {
	t.Helper()
	cfg := store.Config{DataDir: t.TempDir()}
	if engine == "postgres" {
		cfg.URL = testenv.PostgresSchemaURL(t)
		cfg.MaxOpenConns = 8
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := store.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return db
}

// Each runs f once per engine as a subtest.
func Each(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			f(t, Open(t, engine))
		})
	}
}

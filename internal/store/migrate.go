package store

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"testing/fstest"
	"text/template"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations are written once, as templates: the dialect fills in its type
// names ({{.TIMESTAMP}}, {{.JSON}}, {{.SERIAL_PK}}, {{.FLOAT}}).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

func (d Dialect) migrations() (fs.FS, error) {
	vars := d.migrationVars()
	out := fstest.MapFS{}
	err := fs.WalkDir(migrationFiles, "migrations", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		src, err := migrationFiles.ReadFile(path)
		if err != nil {
			return err
		}
		t, err := template.New(path).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("migration %s: %w", path, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, vars); err != nil {
			return fmt.Errorf("migration %s: %w", path, err)
		}
		out[e.Name()] = &fstest.MapFile{Data: b.Bytes(), Mode: 0o444}
		return nil
	})
	return out, err
}

func (db *DB) provider() (*goose.Provider, error) {
	fsys, err := db.dialect.migrations()
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	gd := goose.DialectSQLite3
	if db.dialect == Postgres {
		gd = goose.DialectPostgres
		// Several replicas may start at once; one migrates, the rest wait.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(gd, db.write, fsys, opts...)
}

// Migrate applies every pending migration, each in its own transaction, and
// returns the versions applied.
//
// On PostgreSQL, migrations take a session-level advisory lock so that one
// of several starting processes migrates; PgBouncer's transaction pooling
// cannot hold a session lock, so migrations run on a direct connection to
// the primary (`backhaul migrate --database-url` of the primary itself).
func (db *DB) Migrate(ctx context.Context) ([]int64, error) {
	if db.pgbouncer {
		return nil, fmt.Errorf("migrate: the store connects through PgBouncer; run migrations on a direct connection to the primary")
	}
	p, err := db.provider()
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db.dialect, err)
	}
	var applied []int64
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// MigrationStatus reports the current schema version and the number of
// migrations not yet applied.
func (db *DB) MigrationStatus(ctx context.Context) (current int64, pending int, err error) {
	p, err := db.provider()
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, err
	}
	has, err := p.HasPending(ctx)
	if err != nil || !has {
		return current, 0, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return current, 0, err
	}
	for _, s := range st {
		if s.State == goose.StatePending {
			pending++
		}
	}
	return current, pending, nil
}

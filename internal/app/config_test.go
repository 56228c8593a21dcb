package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/backhaul/backhaul/internal/app"
)

func resolve(t *testing.T, args []string, env map[string]string, yaml string) (app.Config, error) {
	t.Helper()
	var cfg app.Config
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if yaml != "" {
		path := filepath.Join(t.TempDir(), "backhaul.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", path)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := cfg.Resolve(fs, func(k string) string { return env[k] })
	return cfg, err
}

func TestConfigPrecedence(t *testing.T) {
	yaml := "http-addr: \":7000\"\ndata-dir: /from/yaml\ntoken-ttl: 2h\ntarget: [load-service, driver-service]\nrate-limit-user: 7\n"
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantDir  string
		wantTTL  time.Duration
		wantTgts string
		wantRate float64
	}{
		{"defaults", nil, nil, ":8080", "./data", 12 * time.Hour, "all", 50},
		{"yaml over default", nil, nil, ":7000", "/from/yaml", 2 * time.Hour, "load-service,driver-service", 7},
		{"env over yaml", nil, map[string]string{"BACKHAUL_HTTP_ADDR": ":7100", "BACKHAUL_TARGET": "api-gateway"}, ":7100", "/from/yaml", 2 * time.Hour, "api-gateway", 7},
		{"flag over env", []string{"--http-addr", ":7200", "--target=tracking-service,load-matching"}, map[string]string{"BACKHAUL_HTTP_ADDR": ":7100"}, ":7200", "/from/yaml", 2 * time.Hour, "tracking-service,load-matching", 7},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := yaml
			if i == 0 {
				y = ""
			}
			cfg, err := resolve(t, tt.args, tt.env, y)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTPAddr != tt.wantAddr || cfg.DataDir != tt.wantDir || cfg.TokenTTL != tt.wantTTL || cfg.RateUser != tt.wantRate {
				t.Errorf("got addr %q dir %q ttl %v rate %v, want %q %q %v %v", cfg.HTTPAddr, cfg.DataDir, cfg.TokenTTL, cfg.RateUser, tt.wantAddr, tt.wantDir, tt.wantTTL, tt.wantRate)
			}
			if got := strings.Join(cfg.TargetList(), ","); got != tt.wantTgts {
				t.Errorf("targets = %q, want %q", got, tt.wantTgts)
			}
		})
	}
}

// Every problem is named at once, with the flag and its variable.
func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := resolve(t, []string{"--target=all,warp-drive", "--http-addr=8080"},
		map[string]string{"BACKHAUL_DATABASE_URL": "mysql://x", "BACKHAUL_TOKEN_TTL": "soon", "BACKHAUL_LOG_LEVEL": "loud"},
		"nats-url: http://nats\nredis-urll: redis://x\n")
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{`unknown target "warp-drive"`, "--http-addr", "--database-url (BACKHAUL_DATABASE_URL)",
		"BACKHAUL_TOKEN_TTL", "--log-level", "--nats-url", `unknown setting "redis-urll"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestServeNeedsSharedSecretWithPostgres(t *testing.T) {
	cfg, err := resolve(t, []string{"--database-url=postgres://db/backhaul"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ValidateServe(); err == nil || !strings.Contains(err.Error(), "BACKHAUL_TOKEN_SECRET") {
		t.Errorf("ValidateServe = %v, want a token-secret error", err)
	}
}

// `backhaul serve --help` lists every setting with its default.
func TestServeHelpListsSettings(t *testing.T) {
	var out strings.Builder
	if code := app.Main([]string{"serve", "--help"}, &out, &out); code != 0 {
		t.Fatalf("exit code %d: %s", code, out.String())
	}
	for _, want := range []string{"--http-addr string", `(default ":8080")`, "--data-dir", `(default "./data")`, "--database-url",
		"--nats-url", "--redis-url", "--target", "--demo", "BACKHAUL_HTTP_ADDR", "Example"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestMigrateAndVersionCommands(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	if code := app.Main([]string{"migrate", "--data-dir", dir, "--log-level", "error"}, &out, &out); code != 0 {
		t.Fatalf("migrate exit %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "sqlite store at schema version") || !strings.Contains(out.String(), "migrations applied now") {
		t.Errorf("migrate printed %q", out.String())
	}
	out.Reset()
	if code := app.Main([]string{"migrate", "--data-dir", dir, "--log-level", "error"}, &out, &out); code != 0 || !strings.Contains(out.String(), "(0 migrations applied now)") {
		t.Errorf("second migrate: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := app.Main([]string{"version"}, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "backhaul ") {
		t.Errorf("version: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := app.Main([]string{"serve", "--http-addr", "nope", "--log-level", "loud"}, &out, &out); code == 0 ||
		!strings.Contains(out.String(), "--http-addr") || !strings.Contains(out.String(), "--log-level") {
		t.Errorf("bad serve flags: exit %d, %q", code, out.String())
	}
}

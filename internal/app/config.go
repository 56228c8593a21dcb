package app

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Config is every setting of `backhaul serve`. Each setting has one name,
// used as the flag (--http-addr), the environment variable
// (BACKHAUL_HTTP_ADDR) and the YAML key (http-addr). Precedence: flag, then
// environment, then the YAML file, then the default.
type Config struct {
	ConfigFile string
	Targets    []string
	HTTPAddr   string
	DataDir    string
	Demo       bool
	Migrate    bool

	DatabaseURL    string
	DBMaxConns     int
	DBIdleTimeout  time.Duration
	NATSURL        string
	NATSNamespace  string
	RedisURL       string
	ServiceURLs    []string // name=url pairs for split mode
	ServiceURLTmpl string   // where the gateway finds a target it does not run
	TokenSecret    string
	TokenTTL       time.Duration
	RateUser       float64
	RateUserBurst  int
	RateKey        float64
	RateKeyBurst   int
	RateAnon       float64
	RateAnonBurst  int
	MaxBodyBytes   int64
	BoardCacheTTL  time.Duration
	// Documents in object storage; credentials come from the environment
	// only (BACKHAUL_BLOB_ACCESS_KEY_ID, BACKHAUL_BLOB_SECRET_ACCESS_KEY).
	BlobURL          string
	DocumentMaxBytes int64
	DocumentLinkTTL  time.Duration
	// Caches (the scaling guide's 4.4.2).
	CacheEntries       int
	CacheEntityTTL     time.Duration
	CacheSessionTTL    time.Duration
	CacheRedisCooldown time.Duration

	OptimizeWorkers     int
	OptimizeAckWait     time.Duration
	OptimizeMaxAttempts int
	ShutdownTimeout     time.Duration
	LogLevel            string
	LogFormat           string

	// Read replicas, PgBouncer and the report view (the scaling guide's 4.1).
	DatabaseReplicaURLs []string
	DBReplicaMaxLag     time.Duration
	DBPgBouncer         bool
	ReportsRefresh      time.Duration

	// Notifications: SMTP relay, SMS provider, webhook limits.
	NotifySMTPAddr        string
	NotifySMTPFrom        string
	NotifySMTPUsername    string
	NotifySMTPPassword    string
	NotifySMSURL          string
	NotifySMSToken        string
	NotifyWebhookTimeout  time.Duration
	NotifyWebhookNetworks string
	NotifyWebhookRate     float64
}

// envPrefix starts every environment variable.
const envPrefix = "BACKHAUL_"

// EnvName is the environment variable of a setting.
func EnvName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// RegisterFlags declares every setting with its default.
func (c *Config) RegisterFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.ConfigFile, "config", "", "YAML file of settings (keys are the flag names)")
	fs.StringSliceVar(&c.Targets, "target", []string{"all"}, "services to run: all, or a comma list of "+strings.Join(Targets, ", "))
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "HTTP listen address")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory of the embedded store, event stream and files")
	fs.BoolVar(&c.Demo, "demo", false, "fill an empty store with a demo freight network")
	fs.BoolVar(&c.Migrate, "migrate", true, "apply database migrations at start")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://...); empty keeps SQLite in --data-dir")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 20, "database connections per process (the scaling guide: 10-100 per service)")
	fs.DurationVar(&c.DBIdleTimeout, "db-idle-timeout", 5*time.Minute, "close database connections idle this long")
	fs.StringSliceVar(&c.DatabaseReplicaURLs, "database-replica-urls", nil, "PostgreSQL read replicas (postgres://..., comma list) for reads that may be slightly stale")
	fs.DurationVar(&c.DBReplicaMaxLag, "db-replica-max-lag", 30*time.Second, "take a replica out of rotation while it lags the primary by more than this")
	fs.BoolVar(&c.DBPgBouncer, "db-pgbouncer", false, "the database URLs reach PgBouncer in transaction pooling mode (run migrations directly on the primary)")
	fs.DurationVar(&c.ReportsRefresh, "reports-refresh-interval", 5*time.Minute, "rebuild the reports' materialized view this often")
	fs.StringVar(&c.NATSURL, "nats-url", "", "NATS JetStream URL (nats://...); empty runs NATS inside the process")
	fs.StringVar(&c.NATSNamespace, "nats-namespace", "", "prefix of stream names and subjects, to share one NATS cluster between environments")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis URL (redis://...); empty keeps caches and rate limits in the process")
	fs.StringSliceVar(&c.ServiceURLs, "service-urls", nil, "split mode: where the gateway finds targets it does not run, as name=url pairs")
	fs.StringVar(&c.ServiceURLTmpl, "service-url-template", "http://{target}:8080", "split mode: URL of a target with no --service-urls entry")
	fs.StringVar(&c.TokenSecret, "token-secret", "", "secret signing access tokens (32+ bytes); required with --database-url, generated into --data-dir otherwise")
	fs.DurationVar(&c.TokenTTL, "token-ttl", 12*time.Hour, "lifetime of access tokens")
	fs.Float64Var(&c.RateUser, "rate-limit-user", 50, "requests per second per signed-in user")
	fs.IntVar(&c.RateUserBurst, "rate-limit-user-burst", 100, "burst per signed-in user")
	fs.Float64Var(&c.RateKey, "rate-limit-key", 200, "requests per second per API key")
	fs.IntVar(&c.RateKeyBurst, "rate-limit-key-burst", 400, "burst per API key")
	fs.Float64Var(&c.RateAnon, "rate-limit-anon", 5, "sign-up and login requests per second per client address")
	fs.IntVar(&c.RateAnonBurst, "rate-limit-anon-burst", 20, "burst of sign-up and login requests per client address")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 1<<20, "largest request body accepted")
	fs.DurationVar(&c.BoardCacheTTL, "board-cache-ttl", 2*time.Second, "cache load-board pages this long (0 disables); local writes invalidate at once")
	fs.StringVar(&c.BlobURL, "blob-url", "", "object store of documents: s3://bucket[/prefix]?endpoint=host:port&region=...; empty keeps files in --data-dir/blobs")
	fs.Int64Var(&c.DocumentMaxBytes, "document-max-bytes", 20<<20, "largest document (bill of lading, proof of delivery) accepted")
	fs.DurationVar(&c.DocumentLinkTTL, "document-link-ttl", 15*time.Minute, "lifetime of signed document download links")
	fs.IntVar(&c.CacheEntries, "cache-entries", 100_000, "entries of each in-process cache (LRU)")
	fs.DurationVar(&c.CacheEntityTTL, "cache-entity-ttl", 30*time.Second, "cache loads, drivers and trucks read by ID this long; writes and events invalidate at once")
	fs.DurationVar(&c.CacheSessionTTL, "cache-session-ttl", 5*time.Minute, "cache API-key lookups this long; revocation invalidates at once")
	fs.DurationVar(&c.CacheRedisCooldown, "cache-redis-cooldown", 2*time.Second, "after a Redis failure, serve from the database without asking Redis for this long")
	fs.IntVar(&c.OptimizeWorkers, "optimize-workers", 1, "optimization jobs solved at once per process (the solver uses one core each)")
	fs.DurationVar(&c.OptimizeAckWait, "optimize-ack-wait", 30*time.Second, "a job whose worker stops heartbeating this long is taken up by another worker")
	fs.IntVar(&c.OptimizeMaxAttempts, "optimize-max-attempts", 3, "attempts before an optimization job fails")
	fs.StringVar(&c.NotifySMTPAddr, "notify-smtp-addr", "", "SMTP relay (host:port) that notification email goes through; empty turns email off")
	fs.StringVar(&c.NotifySMTPFrom, "notify-smtp-from", "Backhaul <notifications@backhaul.localhost>", "sender address of notification email")
	fs.StringVar(&c.NotifySMTPUsername, "notify-smtp-username", "", "SMTP user name (PLAIN authentication, over TLS or to localhost only)")
	fs.StringVar(&c.NotifySMTPPassword, "notify-smtp-password", "", "SMTP password")
	fs.StringVar(&c.NotifySMSURL, "notify-sms-url", "", "SMS provider endpoint (http(s) URL taking {id,to,body} JSON); empty turns SMS off")
	fs.StringVar(&c.NotifySMSToken, "notify-sms-token", "", "bearer token for the SMS provider")
	fs.DurationVar(&c.NotifyWebhookTimeout, "notify-webhook-timeout", 10*time.Second, "time limit of one webhook request")
	fs.Float64Var(&c.NotifyWebhookRate, "notify-webhook-rate", 100, "requests per second to one webhook endpoint (bursts of twice as many)")
	fs.StringVar(&c.NotifyWebhookNetworks, "notify-webhook-networks", "auto", "where webhooks may go: public (refuse loopback, private and link-local addresses), any, or auto (public with --database-url, any otherwise)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "time to finish in-flight work when stopping")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
}

// Resolve fills every setting not given as a flag from the environment, then
// from the YAML file. It reports every problem at once.
func (c *Config) Resolve(fs *pflag.FlagSet, getenv func(string) string) error {
	var errs []error
	if !fs.Changed("config") {
		if v := getenv(EnvName("config")); v != "" {
			c.ConfigFile = v
		}
	}
	file := map[string]any{}
	if c.ConfigFile != "" {
		b, err := os.ReadFile(c.ConfigFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %w", err))
		} else if err := yaml.Unmarshal(b, &file); err != nil {
			errs = append(errs, fmt.Errorf("config %s: %w", c.ConfigFile, err))
		}
		for k := range file {
			if fs.Lookup(k) == nil || k == "config" {
				errs = append(errs, fmt.Errorf("config %s: unknown setting %q", c.ConfigFile, k))
			}
		}
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" || f.Name == "help" || fs.Changed(f.Name) {
			return
		}
		src, val := "", ""
		if v, ok := lookupEnv(getenv, EnvName(f.Name)); ok {
			src, val = EnvName(f.Name), v
		} else if v, ok := file[f.Name]; ok {
			src, val = "config "+f.Name, yamlValue(v)
		} else {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if err := sv.Replace(splitList(val)); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", src, err))
			}
			return
		}
		if err := f.Value.Set(val); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid value %q: %w", src, val, err))
		}
	})
	errs = append(errs, c.validate()...)
	return errors.Join(errs...)
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func yamlValue(v any) string {
	switch t := v.(type) {
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// validate checks values that parse but make no sense.
func (c *Config) validate() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s (%s): %s", name, EnvName(name), fmt.Sprintf(format, args...)))
	}
	for _, t := range c.Targets {
		for _, n := range splitList(t) {
			if n != "all" && !slices.Contains(Targets, n) {
				bad("target", "unknown target %q; valid: all, %s", n, strings.Join(Targets, ", "))
			}
		}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http-addr", "want host:port, got %q", c.HTTPAddr)
	}
	if c.DataDir == "" {
		bad("data-dir", "must not be empty")
	}
	checkURL := func(name, v string, schemes ...string) {
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
			bad(name, "want a %s:// URL", strings.Join(schemes, ":// or "))
		}
	}
	checkURL("database-url", c.DatabaseURL, "postgres", "postgresql")
	for _, r := range c.DatabaseReplicaURLs {
		checkURL("database-replica-urls", r, "postgres", "postgresql")
	}
	if len(c.DatabaseReplicaURLs) > 0 && c.DatabaseURL == "" {
		bad("database-replica-urls", "needs --database-url (replicas serve a PostgreSQL primary)")
	}
	if c.DBReplicaMaxLag <= 0 {
		bad("db-replica-max-lag", "must be positive")
	}
	if c.DBPgBouncer && c.DatabaseURL == "" {
		bad("db-pgbouncer", "needs --database-url")
	}
	if c.ReportsRefresh < time.Second {
		bad("reports-refresh-interval", "must be at least 1s")
	}
	checkURL("nats-url", c.NATSURL, "nats", "tls")
	checkURL("redis-url", c.RedisURL, "redis", "rediss")
	for _, r := range c.NATSNamespace {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			bad("nats-namespace", "letters, digits, '_' and '-' only")
			break
		}
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		bad("db-max-conns", "must be between 1 and 1000")
	}
	if c.DBIdleTimeout <= 0 {
		bad("db-idle-timeout", "must be positive")
	}
	for _, p := range c.ServiceURLs {
		name, u, ok := strings.Cut(p, "=")
		if !ok || !slices.Contains(Targets, name) {
			bad("service-urls", "want target=url pairs with known targets, got %q", p)
			continue
		}
		checkURL("service-urls", u, "http", "https")
	}
	if !strings.Contains(c.ServiceURLTmpl, "{target}") {
		bad("service-url-template", "must contain {target}")
	}
	if c.TokenSecret != "" && len(c.TokenSecret) < 32 {
		bad("token-secret", "must be at least 32 bytes")
	}
	if c.TokenTTL < time.Minute || c.TokenTTL > 30*24*time.Hour {
		bad("token-ttl", "must be between 1m and 720h")
	}
	for _, r := range []struct {
		name  string
		rate  float64
		burst int
	}{{"rate-limit-user", c.RateUser, c.RateUserBurst}, {"rate-limit-key", c.RateKey, c.RateKeyBurst}, {"rate-limit-anon", c.RateAnon, c.RateAnonBurst}} {
		if r.rate <= 0 {
			bad(r.name, "must be positive")
		}
		if r.burst < 1 {
			bad(r.name+"-burst", "must be at least 1")
		}
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		bad("max-body-bytes", "must be between 1024 and 1073741824")
	}
	if c.BoardCacheTTL < 0 || c.BoardCacheTTL > time.Minute {
		bad("board-cache-ttl", "must be between 0 and 1m")
	}
	if c.BlobURL != "" && !strings.HasPrefix(c.BlobURL, "s3://") && !strings.HasPrefix(c.BlobURL, "file:///") {
		bad("blob-url", "want s3://bucket?endpoint=... or file:///absolute/dir")
	}
	if c.DocumentMaxBytes < 1024 || c.DocumentMaxBytes > 1<<30 {
		bad("document-max-bytes", "must be between 1024 and 1073741824")
	}
	if c.DocumentLinkTTL < 10*time.Second || c.DocumentLinkTTL > 7*24*time.Hour {
		bad("document-link-ttl", "must be between 10s and 168h")
	}
	if c.CacheEntries < 100 {
		bad("cache-entries", "must be at least 100")
	}
	if c.CacheEntityTTL < 0 || c.CacheEntityTTL > time.Hour {
		bad("cache-entity-ttl", "must be between 0 and 1h")
	}
	if c.CacheSessionTTL < 0 || c.CacheSessionTTL > time.Hour {
		bad("cache-session-ttl", "must be between 0 and 1h")
	}
	if c.CacheRedisCooldown < 0 || c.CacheRedisCooldown > time.Minute {
		bad("cache-redis-cooldown", "must be between 0 and 1m")
	}
	if c.OptimizeWorkers < 1 || c.OptimizeWorkers > 64 {
		bad("optimize-workers", "must be between 1 and 64")
	}
	if c.OptimizeAckWait < time.Second || c.OptimizeAckWait > 10*time.Minute {
		bad("optimize-ack-wait", "must be between 1s and 10m")
	}
	if c.OptimizeMaxAttempts < 1 || c.OptimizeMaxAttempts > 20 {
		bad("optimize-max-attempts", "must be between 1 and 20")
	}
	if c.NotifySMTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.NotifySMTPAddr); err != nil {
			bad("notify-smtp-addr", "want host:port, got %q", c.NotifySMTPAddr)
		}
	}
	if _, err := mail.ParseAddress(c.NotifySMTPFrom); err != nil {
		bad("notify-smtp-from", "want an email address such as \"Backhaul <notifications@example.com>\"")
	}
	checkURL("notify-sms-url", c.NotifySMSURL, "http", "https")
	if c.NotifyWebhookTimeout < time.Second || c.NotifyWebhookTimeout > time.Minute {
		bad("notify-webhook-timeout", "must be between 1s and 1m")
	}
	if c.NotifyWebhookRate <= 0 {
		bad("notify-webhook-rate", "must be positive")
	}
	if !slices.Contains([]string{"auto", "public", "any"}, c.NotifyWebhookNetworks) {
		bad("notify-webhook-networks", "must be auto, public or any")
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "must be positive")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("log-level", "must be debug, info, warn or error")
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("log-format", "must be json or text")
	}
	return errs
}

// ValidateServe adds the checks that only matter when serving.
func (c *Config) ValidateServe() error {
	if c.TokenSecret == "" && c.DatabaseURL != "" {
		return fmt.Errorf("--token-secret (%s): required with --database-url, so that every replica verifies the same tokens", EnvName("token-secret"))
	}
	return nil
}

// TargetList returns the targets as a flat list.
func (c *Config) TargetList() []string {
	var out []string
	for _, t := range c.Targets {
		out = append(out, splitList(t)...)
	}
	return out
}

// ServiceURL returns where the gateway reaches a target it does not run.
func (c *Config) ServiceURL(target string) string {
	for _, p := range c.ServiceURLs {
		if name, u, ok := strings.Cut(p, "="); ok && name == target {
			return u
		}
	}
	return strings.ReplaceAll(c.ServiceURLTmpl, "{target}", target)
}

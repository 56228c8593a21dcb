package simulate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func validConfig() Config {
	c := Config{Target: "http://127.0.0.1:8080", Seed: 1, Speed: 100, Duration: time.Hour, Shippers: 2, Carriers: 1, Trucks: 2}
	c.Defaults()
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no target", func(c *Config) { c.Target = "" }, "target"},
		{"remote target", func(c *Config) { c.Target = "http://example.com:8080" }, "target"},
		{"allowed remote target", func(c *Config) { c.Target, c.AllowTargets = "http://staging.example:8080", []string{"staging.example"} }, ""},
		{"speed below real time", func(c *Config) { c.Speed = 0.5 }, "speed"},
		{"speed NaN", func(c *Config) { c.Speed = 0 }, "speed"},
		{"negative duration", func(c *Config) { c.Duration = -time.Hour }, "duration"},
		{"unbounded", func(c *Config) { c.Duration = 0 }, "duration"},
		{"unbounded but capped by requests", func(c *Config) { c.Duration, c.MaxRequests = 0, 1000 }, ""},
		{"step too long", func(c *Config) { c.Step = 2 * time.Hour }, "step"},
		{"lag beyond the platform's memory", func(c *Config) { c.Lag = 8 * 24 * time.Hour }, "lag"},
		{"no shippers", func(c *Config) { c.Shippers = 0 }, "shippers"},
		{"no carriers", func(c *Config) { c.Carriers = 0 }, "carriers"},
		{"fewer trucks than carriers", func(c *Config) { c.Carriers, c.Trucks = 3, 2 }, "trucks"},
		{"negative loads", func(c *Config) { c.LoadsPerDay = -1 }, "loads-per-day"},
		{"unknown dispatcher", func(c *Config) { c.Dispatch = "random" }, "dispatch"},
		{"dispatch faster than a step", func(c *Config) { c.DispatchEvery = time.Second }, "dispatch-every"},
		{"fixes too often", func(c *Config) { c.PositionEvery = time.Millisecond }, "position-every"},
		{"uploads more often than fixes", func(c *Config) { c.UploadEvery = 30 * time.Second }, "upload-every"},
		{"negative budget", func(c *Config) { c.MaxRequests = -1 }, "max-requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), "--"+tt.field+":") {
				t.Fatalf("got %v, want an error naming --%s", err, tt.field)
			}
		})
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	c := validConfig()
	c.Speed, c.Shippers, c.Dispatch = 0, 0, "x"
	err := c.Validate()
	for _, f := range []string{"--speed", "--shippers", "--dispatch"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("%v does not name %s", err, f)
		}
	}
}

func TestLoadConfigValidate(t *testing.T) {
	valid := func() LoadConfig {
		c := LoadConfig{Target: "http://localhost:8080", Rate: 100, Duration: time.Minute, Shippers: 1, Carriers: 1, Trucks: 1}
		c.LoadDefaults()
		return c
	}
	tests := []struct {
		name  string
		edit  func(*LoadConfig)
		field string
	}{
		{"valid", func(*LoadConfig) {}, ""},
		{"unknown scenario", func(c *LoadConfig) { c.Scenario = "tsunami" }, "scenario"},
		{"zero rate", func(c *LoadConfig) { c.Rate = 0 }, "rate"},
		{"no duration", func(c *LoadConfig) { c.Duration = 0 }, "duration"},
		{"ramp longer than the run", func(c *LoadConfig) { c.Ramp = time.Hour }, "ramp"},
		{"huge batches", func(c *LoadConfig) { c.BatchSize = 10000 }, "batch-size"},
		{"no concurrency", func(c *LoadConfig) { c.MaxInFlight = -1 }, "max-in-flight"},
		{"public target", func(c *LoadConfig) { c.Target = "https://backhaul.example" }, "target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			if (tt.field == "") != (err == nil) || tt.field != "" && !strings.Contains(err.Error(), "--"+tt.field+":") {
				t.Fatalf("got %v, want field %q", err, tt.field)
			}
		})
	}
}

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		target string
		allow  []string
		ok     bool
	}{
		{"http://127.0.0.1:8080", nil, true},
		{"http://127.9.9.9", nil, true},
		{"http://[::1]:8080", nil, true},
		{"http://localhost:8080/", nil, true},
		{"https://10.0.0.5:8443", nil, false},
		{"https://10.0.0.5:8443", []string{"10.0.0.5"}, true},
		{"https://10.0.0.5:8443", []string{"10.0.0.5:9999"}, false},
		{"http://api.backhaul.example", []string{"API.backhaul.example"}, true},
		{"ftp://127.0.0.1", nil, false},
		{"127.0.0.1:8080", nil, false},
		{"http://127.0.0.1:8080/api", nil, false},
		{"http://user:pw@127.0.0.1", nil, false},
		{"http://", nil, false},
	}
	for _, tt := range tests {
		if err := CheckTarget(tt.target, tt.allow); (err == nil) != tt.ok {
			t.Errorf("CheckTarget(%q, %v) = %v, want ok %v", tt.target, tt.allow, err, tt.ok)
		}
	}
}

func TestClientBacksOffAndRetries(t *testing.T) {
	var calls atomic.Int32
	keys := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys[r.Header.Get("Idempotency-Key")]++
		switch r.URL.Path {
		case "/flaky":
			if calls.Add(1) < 3 {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"title":"Unavailable","status":503}`))
				return
			}
			_, _ = w.Write([]byte(`{"id":"x"}`))
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"title":"Not Found","status":404,"detail":"no such load"}`))
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "t", 0)
	c.BaseBackoff, c.MaxBackoff = time.Millisecond, 5*time.Millisecond
	var out idOnly
	if err := c.Do(context.Background(), http.MethodPost, "flaky", "/flaky", "", map[string]int{"a": 1}, &out); err != nil || out.ID != "x" {
		t.Fatalf("got %v, %+v; want success after retries", err, out)
	}
	if calls.Load() != 3 || len(keys) != 1 {
		t.Errorf("%d calls with %d idempotency keys, want 3 calls with one key", calls.Load(), len(keys))
	}
	err := c.Do(context.Background(), http.MethodGet, "missing", "/missing", "", nil, nil)
	if StatusOf(err) != 404 || !strings.Contains(err.Error(), "no such load") {
		t.Errorf("got %v, want the 404 with its detail", err)
	}
	if c.Sent() != 4 {
		t.Errorf("sent %d, want 4 (a 404 is not retried)", c.Sent())
	}
	c.MaxRequests = 4
	if err := c.Do(context.Background(), http.MethodGet, "missing", "/missing", "", nil, nil); !errors.Is(err, ErrBudget) {
		t.Errorf("got %v, want ErrBudget", err)
	}
	sum := c.Stats.Summary()
	if all := sum[len(sum)-1]; all.Requests != 4 || all.Errors != 2 || all.Refused != 1 {
		t.Errorf("summary %+v, want 4 requests, 2 errors, 1 refused", all)
	}
}

func TestClientGivesUpOnADeadPlatform(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := NewClient(url, "t", 0)
	c.BaseBackoff, c.MaxBackoff, c.MaxAttempts = time.Millisecond, 2*time.Millisecond, 3
	err := c.Do(context.Background(), http.MethodGet, "x", "/x", "", nil, nil)
	if err == nil || StatusOf(err) != 0 || c.Sent() != 3 {
		t.Fatalf("got %v after %d requests, want a transport error after 3", err, c.Sent())
	}
}

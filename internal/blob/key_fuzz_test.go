package blob_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/blob"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// FuzzValidKey checks that every key ValidKey accepts stays inside the
// store: no absolute path, no parent segment, no empty segment.
func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"documents/l/d", "../x", "a//b", "/a", "a/./b", "a\\..\\b", "ok.pdf", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if blob.ValidKey(key) != nil {
			return
		}
		if strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "//") || strings.ContainsAny(key, "\\\x00") {
			t.Fatalf("ValidKey accepted %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("ValidKey accepted %q", key)
			}
		}
	})
}

// FuzzParseS3URL checks that the blob URL parser never panics and that
// what it accepts names a bucket and an endpoint without a scheme.
func FuzzParseS3URL(f *testing.F) {
	for _, s := range []string{"s3://b?endpoint=127.0.0.1:9000&region=us-east-1&insecure=true&path_style=true",
		"s3://b/p/q?endpoint=https://s3.example.com/", "s3://", "s3://b?insecure=maybe", "s3://b?x=1", "s3://b/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		cfg, err := blob.ParseS3URL(u)
		if err != nil {
			return
		}
		if cfg.Bucket == "" || strings.Contains(cfg.Endpoint, "://") {
			t.Fatalf("ParseS3URL(%q) = %+v", raw, cfg)
		}
		if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
			t.Fatalf("prefix %q does not end in /", cfg.Prefix)
		}
	})
}

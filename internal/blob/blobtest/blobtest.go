// Package blobtest runs a real S3-compatible server for tests: gofakes3, an
// S3 server implementation in Go that speaks the S3 REST protocol over HTTP
// and keeps objects in memory. The clients under test talk to it over a
// loopback socket exactly as they would to AWS S3 or MinIO.
package blobtest

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Credentials any request is signed with; the server does not check them.
const (
	AccessKey = "backhaul-test"
	SecretKey = "backhaul-test-secret"
)

// S3 starts an S3 server with one empty bucket, stopped when the test ends,
// and returns the blob URL that opens it
// (s3://bucket?endpoint=http://127.0.0.1:port&path_style=true&region=us-east-1).
func S3(t testing.TB, bucket string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("s3 server: create bucket: %v", err)
	}
	faker := gofakes3.New(backend, gofakes3.WithTimeSkewLimit(time.Hour), gofakes3.WithIntegrityCheck(true))
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return "s3://" + bucket + "?endpoint=http://" + u.Host + "&path_style=true&region=us-east-1"
}

// Ctx returns a context bounded for one test step.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsRequestsAndErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			w.WriteHeader(500)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, Concurrency: 4, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	served := int(n.Load())
	if res.Requests == 0 || res.Requests > served {
		t.Errorf("requests = %d, server saw %d", res.Requests, served)
	}
	if res.StatusSeen[500] == 0 || res.Errors < res.StatusSeen[500] {
		t.Errorf("errors = %d, 500s = %d; want the 500s counted", res.Errors, res.StatusSeen[500])
	}
	if !(res.P50Millis <= res.P99Millis && res.P99Millis <= res.MaxMillis) {
		t.Errorf("percentiles out of order: %+v", res)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	if _, err := Run(context.Background(), Config{URL: "http://127.0.0.1:1", Concurrency: 0, Duration: time.Second}); err == nil {
		t.Error("zero concurrency accepted")
	}
}

package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBudget is returned once the run has sent its maximum of requests.
var ErrBudget = errors.New("simulate: request budget spent")

// APIError is an answer outside 2xx after any retries.
type APIError struct {
	Status int
	Detail string
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Detail) }

// StatusOf is the HTTP status of err, or 0 for transport errors.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// Client talks to the platform's public HTTP API as any client would. It
// retries transport errors, 429 and 5xx with exponential backoff and
// jitter (honouring Retry-After), sends an Idempotency-Key with every POST
// so that a retry never doubles a change, and records each call's latency
// by endpoint.
type Client struct {
	Base        string
	HTTP        *http.Client
	MaxAttempts int           // tries per call; default 5
	BaseBackoff time.Duration // first retry delay; default 100ms
	MaxBackoff  time.Duration // default 10s
	MaxRequests int64         // 0: unbounded
	Stats       *Stats
	tag         string
	seq         atomic.Int64
	sent        atomic.Int64
	jitterMu    sync.Mutex
	jitter      *rand.Rand
}

// NewClient returns a client of base; tag makes its idempotency keys unique
// to the run.
func NewClient(base, tag string, maxRequests int64) *Client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		MaxAttempts: 5, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, MaxRequests: maxRequests,
		Stats: NewStats(), tag: tag, jitter: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
}

// Sent is the number of requests sent so far, retries included.
func (c *Client) Sent() int64 { return c.sent.Load() }

// Do sends one call: body is encoded as JSON unless it is a []byte (sent as
// is with contentType). out, when not nil, receives the decoded answer.
// route names the endpoint in the statistics.
func (c *Client) Do(ctx context.Context, method, route, path, token string, body any, out any) error {
	return c.do(ctx, method, route, path, token, "application/json", body, out)
}

// DoRaw sends raw bytes with a content type.
func (c *Client) DoRaw(ctx context.Context, method, route, path, token, contentType string, body []byte, out any) error {
	return c.do(ctx, method, route, path, token, contentType, body, out)
}

func (c *Client) do(ctx context.Context, method, route, path, token, contentType string, body any, out any) error {
	var payload []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		payload = b
	default:
		var err error
		if payload, err = json.Marshal(b); err != nil {
			return fmt.Errorf("encode %s: %w", route, err)
		}
	}
	key := ""
	if method == http.MethodPost {
		key = fmt.Sprintf("%s-%d", c.tag, c.seq.Add(1))
	}
	var last error
	for attempt := 0; attempt < max(1, c.MaxAttempts); attempt++ {
		if attempt > 0 {
			if err := c.sleep(ctx, attempt, last); err != nil {
				return err
			}
		}
		if c.MaxRequests > 0 && c.sent.Load() >= c.MaxRequests {
			return ErrBudget
		}
		c.sent.Add(1)
		retry, err := c.once(ctx, method, route, path, token, contentType, payload, key, out)
		if err == nil || !retry {
			return err
		}
		last = err
	}
	return last
}

// retryAfter carries a server's Retry-After to the backoff.
type retryAfter struct {
	error
	d time.Duration
}

func (r retryAfter) Unwrap() error { return r.error }

func (c *Client) sleep(ctx context.Context, attempt int, last error) error {
	d := c.BaseBackoff << (attempt - 1)
	if d > c.MaxBackoff || d <= 0 {
		d = c.MaxBackoff
	}
	c.jitterMu.Lock()
	d = d/2 + time.Duration(c.jitter.Int64N(int64(d/2)+1)) // "equal jitter"
	c.jitterMu.Unlock()
	var ra retryAfter
	if errors.As(last, &ra) && ra.d > d {
		d = min(ra.d, c.MaxBackoff*3)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) once(ctx context.Context, method, route, path, token, contentType string, payload []byte, key string, out any) (bool, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return false, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	t0 := time.Now()
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.Stats.Record(route, time.Since(t0), 0)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return true, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	c.Stats.Record(route, time.Since(t0), res.StatusCode)
	if rerr != nil {
		return true, fmt.Errorf("%s %s: read answer: %w", method, path, rerr)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if out != nil && len(b) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				return false, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
			}
		}
		return false, nil
	}
	ae := &APIError{Status: res.StatusCode, Detail: problemDetail(b)}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 {
		secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		return true, retryAfter{error: fmt.Errorf("%s %s: %w", method, path, ae), d: time.Duration(secs) * time.Second}
	}
	return false, fmt.Errorf("%s %s: %w", method, path, ae)
}

// problemDetail extracts the useful part of an RFC 9457 answer.
func problemDetail(b []byte) string {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Field  string `json:"field"`
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &p) != nil {
		s := string(b)
		if len(s) > 200 {
			s = s[:200]
		}
		return s
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	for _, e := range p.Errors {
		msg += fmt.Sprintf("; %s: %s", e.Field, e.Detail)
	}
	return msg
}

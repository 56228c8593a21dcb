// Package webhook signs the webhook requests Backhaul sends and lets
// receivers verify them, and keeps webhook URLs away from the networks a
// server must not reach on a caller's behalf.
//
// Every request carries the header
//
//	Backhaul-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// where v1 is the hex HMAC-SHA256, under the endpoint's secret, of the
// timestamp, a dot and the raw body. The timestamp is signed so a captured
// request cannot be replayed later: Verify refuses signatures older than its
// tolerance. During a secret rotation a header may carry several v1 values;
// one match is enough.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a webhook request.
const (
	SignatureHeader = "Backhaul-Signature"
	// DeliveryHeader carries the delivery's ID, the same on every retry,
	// so that receivers can drop a repeat (delivery is at least once).
	DeliveryHeader = "Backhaul-Delivery-Id"
	// EventHeader carries the notification kind ("load.delivered").
	EventHeader = "Backhaul-Event"
)

// DefaultTolerance is how old a signature Verify accepts by default.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrMalformed = errors.New("webhook: malformed signature header")
	ErrMismatch  = errors.New("webhook: no signature matches")
	ErrExpired   = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature is a parsed signature header.
type Signature struct {
	Timestamp int64
	V1        [][]byte // candidate MACs
}

// maxHeader bounds what ParseSignature reads.
const maxHeader = 4096

// ParseSignature parses a header made by Sign: comma-separated key=value
// pairs with exactly one t and at least one v1. Unknown keys are ignored so
// that later schemes can be added beside v1.
func ParseSignature(header string) (Signature, error) {
	var s Signature
	if len(header) > maxHeader {
		return s, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxHeader)
	}
	seenT := false
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Signature{}, fmt.Errorf("%w: %q is not key=value", ErrMalformed, part)
		}
		switch k {
		case "t":
			if seenT {
				return Signature{}, fmt.Errorf("%w: two timestamps", ErrMalformed)
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return Signature{}, fmt.Errorf("%w: timestamp %q", ErrMalformed, v)
			}
			s.Timestamp, seenT = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return Signature{}, fmt.Errorf("%w: v1 is not a hex SHA-256 MAC", ErrMalformed)
			}
			s.V1 = append(s.V1, b)
		}
	}
	if !seenT || len(s.V1) == 0 {
		return Signature{}, fmt.Errorf("%w: want t=<unix seconds>,v1=<hex>", ErrMalformed)
	}
	return s, nil
}

// Verify checks that header signs body under secret and that its timestamp
// is within tolerance of now (0 means DefaultTolerance). Receivers call it
// with the raw body, before decoding it.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	s, err := ParseSignature(header)
	if err != nil {
		return err
	}
	age := now.Sub(time.Unix(s.Timestamp, 0))
	if age > tolerance || age < -tolerance {
		return ErrExpired
	}
	want := mac(secret, strconv.FormatInt(s.Timestamp, 10), body)
	for _, got := range s.V1 {
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrMismatch
}

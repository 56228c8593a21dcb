package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret, body := []byte("whsec_test"), []byte(`{"id":"d-1"}`)
	at := time.Unix(1_700_000_000, 0)
	good := Sign(secret, at, body)
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, good, body, at.Add(time.Minute), nil},
		{"rotation: one of two matches", secret, Sign([]byte("old"), at, body) + "," + strings.Split(good, ",")[1], body, at, nil},
		{"unknown keys ignored", secret, good + ",v0=abc", body, at, nil},
		{"tampered body", secret, good, []byte(`{"id":"d-2"}`), at, ErrMismatch},
		{"wrong secret", []byte("other"), good, body, at, ErrMismatch},
		{"too old", secret, good, body, at.Add(DefaultTolerance + time.Second), ErrExpired},
		{"from the future", secret, good, body, at.Add(-DefaultTolerance - time.Second), ErrExpired},
		{"empty", secret, "", body, at, ErrMalformed},
		{"no v1", secret, "t=1700000000", body, at, ErrMalformed},
		{"no t", secret, strings.Split(good, ",")[1], body, at, ErrMalformed},
		{"two t", secret, "t=1," + good, body, at, ErrMalformed},
		{"short mac", secret, "t=1700000000,v1=abcd", body, at, ErrMalformed},
		{"not hex", secret, "t=1700000000,v1=" + strings.Repeat("zz", 32), body, at, ErrMalformed},
		{"negative t", secret, "t=-5," + strings.Split(good, ",")[1], body, at, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, 0)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// The signature is the documented HMAC, so receivers in any language can
// check it: hex(HMAC-SHA256(secret, "<t>.<body>")).
func TestSignKnownAnswer(t *testing.T) {
	got := Sign([]byte("key"), time.Unix(1, 0), []byte("body"))
	// printf '1.body' | openssl dgst -sha256 -hmac key
	want := "t=1,v1=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func FuzzParseSignature(f *testing.F) {
	for _, s := range []string{"", "t=1,v1=" + strings.Repeat("ab", 32), "t=,v1=", "t=1,,v1=x", "=,=", "t=99999999999999999999", "v1=" + strings.Repeat("0", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		s, err := ParseSignature(h)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if s.Timestamp <= 0 || len(s.V1) == 0 {
			t.Fatalf("accepted %q as %+v", h, s)
		}
		for _, m := range s.V1 {
			if len(m) != 32 {
				t.Fatalf("accepted a %d-byte MAC", len(m))
			}
		}
		// Whatever parses must verify or mismatch, never panic.
		_ = Verify([]byte("k"), h, []byte("b"), time.Unix(s.Timestamp, 0), 0)
	})
}

func TestPublic(t *testing.T) {
	tests := map[string]bool{
		"8.8.8.8": true, "2606:4700:4700::1111": true, "93.184.216.34": true,
		"127.0.0.1": false, "10.0.0.1": false, "172.16.5.4": false, "192.168.0.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fd00::1": false, "::ffff:127.0.0.1": false,
		"::ffff:8.8.8.8": true, "224.0.0.1": false, "255.255.255.255": false, "64:ff9b::a00:1": false,
	}
	for s, want := range tests {
		if got := Public(netip.MustParseAddr(s)); got != want {
			t.Errorf("Public(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	strict, open := Policy{}, Policy{AllowPrivate: true}
	tests := []struct {
		url          string
		strict, open bool // accepted by each policy
	}{
		{"https://93.184.216.34/hook", true, true},
		{"http://127.0.0.1:9000/hook", false, true},
		{"http://localhost/hook", false, true},
		{"http://api.localhost/hook", false, true},
		{"http://[::1]/hook", false, true},
		{"http://169.254.169.254/latest/meta-data", false, true},
		{"http://10.0.0.8/", false, true},
		{"ftp://93.184.216.34/x", false, false},
		{"file:///etc/passwd", false, false},
		{"javascript:alert(1)", false, false},
		{"https://user:pass@93.184.216.34/", false, false},
		{"https:///nohost", false, false},
		{"https://93.184.216.34:99999/", false, false},
		{"https://93.184.216.34/#frag", false, false},
		{"/relative", false, false},
		{"https://" + strings.Repeat("a", 2100) + ".com/", false, false},
	}
	for _, tt := range tests {
		if err := strict.CheckURL(context.Background(), tt.url); (err == nil) != tt.strict {
			t.Errorf("strict CheckURL(%.60q) = %v, want accepted=%v", tt.url, err, tt.strict)
		}
		if err := open.CheckURL(context.Background(), tt.url); (err == nil) != tt.open {
			t.Errorf("open CheckURL(%.60q) = %v, want accepted=%v", tt.url, err, tt.open)
		}
	}
}

// The dial-time check refuses a private address however the URL got
// there, and redirects are not followed.
func TestClientRefusesPrivateAtDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
	}))
	defer srv.Close()
	_, err := Policy{}.Client(time.Second).Get(srv.URL)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("strict client to %s: %v, want ErrForbiddenAddress", srv.URL, err)
	}
	res, err := Policy{AllowPrivate: true}.Client(time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Errorf("status %d: the redirect was followed", res.StatusCode)
	}
}

package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tk, err := NewTokens([]byte(strings.Repeat("k", 32)), time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	u := freight.User{ID: "u1", OrgID: "o1", Role: freight.RoleDispatcher}
	tok, exp, err := tk.Issue(u, freight.OrgCarrier)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("expiry = %v, want %v", exp, now.Add(time.Hour))
	}
	p, err := tk.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := freight.Principal{OrgID: "o1", OrgKind: freight.OrgCarrier, UserID: "u1", Role: freight.RoleDispatcher}
	if p != want {
		t.Errorf("principal = %+v, want %+v", p, want)
	}

	other, _ := NewTokens([]byte(strings.Repeat("x", 32)), time.Hour, clock)
	if _, err := other.Verify(tok); freight.ErrorCode(err) != freight.EUNAUTHORIZED {
		t.Errorf("foreign-secret token: err = %v, want unauthorized", err)
	}
	tampered := tok[:len(tok)-2] + "AA"
	if _, err := tk.Verify(tampered); freight.ErrorCode(err) != freight.EUNAUTHORIZED {
		t.Errorf("tampered token: err = %v, want unauthorized", err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := tk.Verify(tok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: err = %v, want expired", err)
	}
	if _, err := NewTokens([]byte("short"), time.Hour, nil); err == nil {
		t.Error("short secret accepted")
	}
}

func TestTokenRejectsNoneAlgorithm(t *testing.T) {
	tk, _ := NewTokens([]byte(strings.Repeat("k", 32)), time.Hour, nil)
	// {"alg":"none"} . {"org":"o","kind":"carrier","role":"admin","sub":"u","iss":"backhaul","exp":9999999999} .
	tok := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJvcmciOiJvIiwia2luZCI6ImNhcnJpZXIiLCJyb2xlIjoiYWRtaW4iLCJzdWIiOiJ1IiwiaXNzIjoiYmFja2hhdWwiLCJleHAiOjk5OTk5OTk5OTl9."
	if _, err := tk.Verify(tok); err == nil {
		t.Fatal("unsigned token accepted")
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Error("right password rejected")
	}
	if CheckPassword(h, "correct horse battery!") {
		t.Error("wrong password accepted")
	}
	if _, err := HashPassword(strings.Repeat("a", 73)); err == nil {
		t.Error("73-byte password accepted (bcrypt would truncate it)")
	}
}

func TestAPIKeys(t *testing.T) {
	s1, h1, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	s2, h2, _ := NewAPIKey()
	if s1 == s2 || h1 == h2 {
		t.Fatal("two keys are equal")
	}
	if !LooksLikeAPIKey(s1) || LooksLikeAPIKey("eyJhbGciOi") {
		t.Error("LooksLikeAPIKey misclassifies")
	}
	if HashAPIKey(s1) != h1 {
		t.Error("hash not stable")
	}
}

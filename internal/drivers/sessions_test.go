package drivers

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
)

func TestSessions(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	s := NewSessions(func() time.Time { return now })
	h := s.Track(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func(p *freight.Principal) {
		r := httptest.NewRequest("GET", "/api/v1/drivers", nil)
		if p != nil {
			r = r.WithContext(httpapi.WithPrincipal(r.Context(), *p))
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	alice := freight.Principal{UserID: "alice", Role: freight.RoleDriver}
	bob := freight.Principal{UserID: "bob", Role: freight.RoleDispatcher}
	key := freight.Principal{KeyID: "alice", Role: freight.RoleDispatcher} // a key is not the user of the same id

	call(&alice)
	call(&alice)
	call(&bob)
	call(&key)
	call(nil) // anonymous requests are no session
	if got := s.Active(); got != 3 {
		t.Fatalf("active %d, want 3", got)
	}
	now = now.Add(4 * time.Minute)
	call(&alice)
	now = now.Add(2 * time.Minute) // bob and the key are 6 minutes old, alice 2
	if got := s.Active(); got != 1 {
		t.Fatalf("after the window: active %d, want 1 (alice)", got)
	}
	now = now.Add(SessionWindow + time.Second)
	if got := s.Active(); got != 0 {
		t.Fatalf("all expired: active %d, want 0", got)
	}
}

func TestSessionsBounded(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	s := NewSessions(func() time.Time { return now })
	for i := range maxSessions + 10 {
		now = now.Add(time.Microsecond)
		s.Mark(strconv.Itoa(i))
	}
	if got := s.Active(); got != maxSessions {
		t.Fatalf("active %d, want the bound %d", got, maxSessions)
	}
}

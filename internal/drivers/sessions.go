package drivers

import (
	"net/http"
	"sync"
	"time"

	"github.com/backhaul/backhaul/internal/httpapi"
)

// SessionWindow is how long a caller counts as an active session after its
// last request: a driver app that reports every few seconds and refreshes
// its load every ten stays active; one closed for five minutes does not.
const SessionWindow = 5 * time.Minute

// maxSessions bounds the memory a flood of distinct callers can take; past
// it the oldest are forgotten first, which only under-counts.
const maxSessions = 200_000

// Sessions counts the distinct callers this process served within
// SessionWindow: the driver-service's active_sessions, which its
// autoscaler reads per pod (scaling guide, section 2).
type Sessions struct {
	now  func() time.Time
	mu   sync.Mutex
	seen map[string]time.Time
}

// NewSessions returns an empty counter reading time from now.
func NewSessions(now func() time.Time) *Sessions {
	return &Sessions{now: now, seen: map[string]time.Time{}}
}

// Track wraps a handler so that every authenticated request marks its caller.
func (s *Sessions) Track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := httpapi.PrincipalFrom(r.Context()); ok {
			s.Mark(p.Subject())
		}
		next.ServeHTTP(w, r)
	})
}

// Mark records a request from subject.
func (s *Sessions) Mark(subject string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[subject]; !ok && len(s.seen) >= maxSessions {
		s.pruneLocked(now)
		if len(s.seen) >= maxSessions {
			s.dropOldestLocked()
		}
	}
	s.seen[subject] = now
}

// Active is the number of callers seen within SessionWindow; it forgets
// the others.
func (s *Sessions) Active() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	return len(s.seen)
}

func (s *Sessions) pruneLocked(now time.Time) {
	for k, t := range s.seen {
		if now.Sub(t) > SessionWindow {
			delete(s.seen, k)
		}
	}
}

func (s *Sessions) dropOldestLocked() {
	var oldest string
	var at time.Time
	for k, t := range s.seen {
		if oldest == "" || t.Before(at) {
			oldest, at = k, t
		}
	}
	delete(s.seen, oldest)
}

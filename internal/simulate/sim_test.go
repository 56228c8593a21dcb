package simulate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePlatform answers the calls the world makes with fixed, plausible
// answers: a board of every posted load not yet booked, in posting order.
type fakePlatform struct {
	mu     sync.Mutex
	n      int
	posted []string
	booked map[string]bool
	fail   func(r *http.Request) bool
}

func (f *fakePlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil && f.fail(r) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/loads":
		f.n++
		id := fmt.Sprintf("load-%d", f.n)
		f.posted = append(f.posted, id)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"status":"posted"}`, id)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/bookings":
		var in struct {
			LoadID string `json:"load_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if f.booked[in.LoadID] {
			w.WriteHeader(http.StatusConflict)
			return
		}
		f.booked[in.LoadID] = true
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{}`)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/documents"):
		w.WriteHeader(http.StatusNotFound)
	case r.Method == http.MethodPost:
		f.n++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"obj-%d","token":"t","secret":"bhk_s","accepted":1,"rejected":[]}`, f.n)
	case r.URL.Path == "/api/v1/board":
		var items []string
		for _, id := range f.posted {
			if !f.booked[id] {
				items = append(items, fmt.Sprintf(`{"id":%q}`, id))
			}
		}
		fmt.Fprintf(w, `{"items":[%s]}`, strings.Join(items, ","))
	default:
		_, _ = io.WriteString(w, `{"items":[]}`)
	}
}

func runFake(t *testing.T, f *fakePlatform, cfg Config) (Outcome, error) {
	t.Helper()
	f.booked = map[string]bool{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg.Target = srv.URL
	w, err := NewWorld(cfg, DispatchGreedy, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.c.BaseBackoff, w.c.MaxBackoff = time.Millisecond, 2*time.Millisecond
	return w.Run(t.Context())
}

func fakeConfig() Config {
	return Config{Seed: 3, Speed: 1e6, Duration: 48 * time.Hour, Lag: -1, Markets: 12, Shippers: 3, Carriers: 2,
		Trucks: 6, LoadsPerDay: 40, Dispatch: DispatchGreedy, Tag: "test"}
}

// TestSameSeedSameDecisions runs a world twice against identical answers.
func TestSameSeedSameDecisions(t *testing.T) {
	a, err := runFake(t, &fakePlatform{}, fakeConfig())
	if err != nil {
		t.Fatal(err)
	}
	b, err := runFake(t, &fakePlatform{}, fakeConfig())
	if err != nil {
		t.Fatal(err)
	}
	if a.Booked == 0 || a.Delivered == 0 {
		t.Fatalf("booked %d, delivered %d: the world did nothing", a.Booked, a.Delivered)
	}
	a.Start, a.End, a.RealSecs, b.Start, b.End, b.RealSecs = time.Time{}, time.Time{}, 0, time.Time{}, time.Time{}, 0
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
		t.Errorf("same seed, same answers, different outcomes:\n%+v\n%+v", a, b)
	}
	if a.PODs != 0 {
		t.Errorf("%d proofs of delivery uploaded to a platform without the endpoint", a.PODs)
	}
	c := fakeConfig()
	c.Seed = 4
	if other, err := runFake(t, &fakePlatform{}, c); err != nil || other.Generated == a.Generated && other.LoadedMiles == a.LoadedMiles {
		t.Errorf("another seed made the same world (%v)", err)
	}
}

// TestStopsWithinItsBounds checks the request budget and the outage limit.
func TestStopsWithinItsBounds(t *testing.T) {
	cfg := fakeConfig()
	cfg.Duration, cfg.MaxRequests = 0, 300
	out, err := runFake(t, &fakePlatform{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The budget bounds the world; cleaning up afterwards (cancelling what is
	// still posted, counting deliveries) is allowed a little more.
	if out.Requests < 300 || out.Requests > 300+int64(out.OpenAtEnd)+int64(cfg.Shippers)+5 {
		t.Errorf("%d requests for a budget of 300 (%d loads left open)", out.Requests, out.OpenAtEnd)
	}

	cfg = fakeConfig()
	cfg.MaxOutage = 100 * time.Millisecond
	f := &fakePlatform{fail: func(r *http.Request) bool { return r.URL.Path == "/api/v1/loads" && r.Method == http.MethodPost }}
	out, err = runFake(t, f, cfg)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if out.Backoffs == 0 || out.Errors < 3 {
		t.Errorf("backoffs %d, failed actions %d: want the world to back off before giving up", out.Backoffs, out.Errors)
	}
}

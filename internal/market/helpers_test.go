package market

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/testenv"
)

// sharedData is a file of the shared data folder beside the repository.
func sharedData(t testing.TB, elem ...string) string {
	return testenv.Shared(t, append([]string{"data"}, elem...)...)
}

// sharedBookings returns the header and the data rows of bookings.csv with
// row numbers in [from, to) taking every step-th, as CSV text.
func sharedBookings(t testing.TB, from, to, step int) []byte {
	t.Helper()
	f, err := os.Open(sharedData(t, "market", "bookings.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var b bytes.Buffer
	row := -1
	for sc.Scan() {
		if row < 0 || row >= from && row < to && (row-from)%step == 0 {
			b.Write(sc.Bytes())
			b.WriteByte('\n')
		}
		row++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The principals of the tests: one per kind of caller.
var (
	shipper    = freight.Principal{OrgID: "org-shipper", OrgKind: freight.OrgShipper, UserID: "u-shipper", Role: freight.RoleShipper}
	dispatcher = freight.Principal{OrgID: "org-carrier", OrgKind: freight.OrgCarrier, UserID: "u-dispatch", Role: freight.RoleDispatcher}
	driver     = freight.Principal{OrgID: "org-carrier", OrgKind: freight.OrgCarrier, UserID: "u-driver", Role: freight.RoleDriver, DriverID: "d-1"}
	operatorP  = freight.Principal{OrgID: "org-platform", OrgKind: freight.OrgPlatform, UserID: "u-op", Role: freight.RoleOperator}
)

// testClock is a fixed instant: the shared history ends in December 2025.
var testClock = time.Date(2026, 1, 15, 15, 0, 0, 0, time.UTC)

func newService(t testing.TB, db *store.DB, opts Options) *Service {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testClock }
	}
	if opts.RetrainAt == 0 {
		opts.RetrainAt = -1
	}
	opts.LiveTTL, opts.StatsTTL = time.Nanosecond, time.Nanosecond
	s, err := New(db, nil, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// api serves the service's routes as p, the way the platform does after
// authentication.
type api struct {
	t   testing.TB
	mux *http.ServeMux
}

func newAPI(t testing.TB, s *Service) *api {
	mux := http.NewServeMux()
	s.Routes(mux)
	return &api{t: t, mux: mux}
}

// do sends a request as p and decodes a JSON answer into out (when not nil).
func (a *api) do(p freight.Principal, method, path, body string, out any) (int, httpapi.Problem) {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req = req.WithContext(httpapi.WithPrincipal(req.Context(), p))
	w := httptest.NewRecorder()
	a.mux.ServeHTTP(w, req)
	var prob httpapi.Problem
	if w.Code >= 400 {
		if err := json.Unmarshal(w.Body.Bytes(), &prob); err != nil {
			a.t.Fatalf("%s %s: %d with a body that is no problem: %s", method, path, w.Code, w.Body)
		}
		return w.Code, prob
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, w.Body, err)
		}
	}
	return w.Code, prob
}

func mustImport(t testing.TB, db *store.DB, csv []byte) ImportReport {
	t.Helper()
	rep, err := Import(context.Background(), db, bytes.NewReader(csv), "test.csv", nil)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return rep
}

// fields lists the fields a problem names.
func fields(p httpapi.Problem) string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return strings.Join(out, ",")
}

func quoteBody(origin, dest, eq string, weight int, pickup string) string {
	return fmt.Sprintf(`{"origin":%s,"destination":%s,"equipment":%q,"weight_lbs":%d,"pickup_date":%q}`, origin, dest, eq, weight, pickup)
}

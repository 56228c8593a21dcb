package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/accounts"
	"github.com/backhaul/backhaul/internal/auth"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
	"github.com/backhaul/backhaul/internal/testenv"
)

// clock is a settable clock for the service under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// noPlaces geocodes nothing: every fixture gives coordinates.
type noPlaces struct{}

func (noPlaces) Resolve(l freight.Location) (freight.Location, bool) { return l, false }

// world is a running tracking service behind the real authentication, with
// two carriers and a shipper.
type world struct {
	t        *testing.T
	db       *store.DB
	clock    *clock
	svc      *Service
	accounts *accounts.Service
	drivers  *drivers.Service
	loads    *loads.Service
	srv      *httptest.Server

	carrier, other, shipper, platform freight.Principal
	driverA, driverB, outsider        string // A and B drive for carrier; outsider for other
	keyA, keyDispatch, keyOther       string // device of A, dispatcher of carrier, dispatcher of other
	keyShipper, keyOperator           string
}

// t0 is the clock's start: a Tuesday noon, UTC.
var t0 = time.Date(2030, 3, 12, 12, 0, 0, 0, time.UTC)

// eachEngine runs f on SQLite and on PostgreSQL, as storetest.Each does,
// and also passes the PostgreSQL URL ("" on SQLite), which the COPY path
// needs.
func eachEngine(t *testing.T, f func(t *testing.T, db *store.DB, url string)) {
	t.Helper()
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			db, url := openEngine(t, engine)
			f(t, db, url)
		})
	}
}

func openEngine(t *testing.T, engine string) (*store.DB, string) {
	t.Helper()
	if engine != "postgres" {
		return storetest.Open(t, engine), ""
	}
	url := testenv.PostgresSchemaURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, store.Config{URL: url, MaxOpenConns: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db, url
}

// newWorld builds the fixtures on db. url is the PostgreSQL URL db was
// opened with ("" for SQLite).
func newWorld(t *testing.T, db *store.DB, url string, mod func(*Config, *Deps)) *world {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	w := &world{t: t, db: db, clock: &clock{t: t0}}
	tokens, err := auth.NewTokens([]byte(strings.Repeat("k", 32)), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.drivers = drivers.New(db, noPlaces{}, log)
	w.accounts = accounts.New(db, tokens, w.drivers, log)
	w.loads = loads.New(db, noPlaces{}, geo.DefaultCircuity, nil, log)
	w.carrier = w.signup("carrier", freight.OrgCarrier)
	w.other = w.signup("other", freight.OrgCarrier)
	w.shipper = w.signup("shipper", freight.OrgShipper)
	w.driverA = w.newDriver(w.carrier, "Ann")
	w.driverB = w.newDriver(w.carrier, "Bob")
	w.outsider = w.newDriver(w.other, "Oz")
	w.keyA = w.newKey(w.carrier, freight.RoleDriver, w.driverA)
	w.keyDispatch = w.newKey(w.carrier, freight.RoleDispatcher, "")
	w.keyOther = w.newKey(w.other, freight.RoleDispatcher, "")
	w.keyShipper = w.newKey(w.shipper, freight.RoleShipper, "")
	w.platform = w.platformOrg(ctx)
	w.keyOperator = w.newKey(w.platform, freight.RoleOperator, "")

	cfg := Config{DatabaseURL: url}
	deps := Deps{Drivers: w.drivers, Status: w.loads, Fleet: w.drivers, Now: w.clock.Now}
	if mod != nil {
		mod(&cfg, &deps)
	}
	w.svc, err = New(db, cfg, deps, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.svc.Close)
	mux := http.NewServeMux()
	w.svc.Routes(mux)
	w.srv = httptest.NewServer(httpapi.RequireAuth(mux, w.accounts))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *world) signup(name string, kind freight.OrgKind) freight.Principal {
	w.t.Helper()
	sess, err := w.accounts.Signup(context.Background(), accounts.SignupInput{OrgName: name, OrgKind: kind, Name: "Admin " + name,
		Email: testenv.Unique(name) + "@example.com", Password: "correct horse battery"})
	if err != nil {
		w.t.Fatal(err)
	}
	return freight.Principal{OrgID: sess.Org.ID, OrgKind: kind, UserID: sess.User.ID, Role: freight.RoleAdmin}
}

// platformOrg makes the marketplace operator's organization, which
// sign-up never creates.
func (w *world) platformOrg(ctx context.Context) freight.Principal {
	w.t.Helper()
	o := freight.Organization{ID: testenv.Unique("platform"), Name: "Backhaul", Kind: freight.OrgPlatform, CreatedAt: time.Now()}
	if err := w.db.InTx(ctx, func(tx *store.Tx) error { return accounts.InsertOrg(ctx, tx, o) }); err != nil {
		w.t.Fatal(err)
	}
	return freight.Principal{OrgID: o.ID, OrgKind: freight.OrgPlatform, UserID: "ops", Role: freight.RoleAdmin}
}

func (w *world) newDriver(carrier freight.Principal, name string) string {
	w.t.Helper()
	d, err := w.drivers.CreateDriver(context.Background(), carrier, freight.DriverInput{Name: name,
		HomeBase: freight.Location{Lat: 32.78, Lon: -96.8}, Equipment: freight.Equipment("van"), CapacityLbs: 40000})
	if err != nil {
		w.t.Fatal(err)
	}
	return d.ID
}

func (w *world) newKey(org freight.Principal, role freight.Role, driverID string) string {
	w.t.Helper()
	k, err := w.accounts.CreateAPIKey(context.Background(), org, accounts.APIKeyInput{Name: string(role), Role: role, DriverID: driverID})
	if err != nil {
		w.t.Fatal(err)
	}
	return k.Secret
}

// post sends a batch and decodes the answer into out (when not nil).
func (w *world) post(key, contentType, body string, out any) int {
	w.t.Helper()
	req, _ := http.NewRequest("POST", w.srv.URL+"/api/v1/positions", strings.NewReader(body))
	req.Header.Set("X-API-Key", key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("decode %s: %v", b, err)
		}
	}
	return res.StatusCode
}

// get fetches path and decodes the answer into out.
func (w *world) get(key, path string, q url.Values, out any) int {
	w.t.Helper()
	u := w.srv.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("X-API-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			w.t.Fatalf("decode %s: %v", b, err)
		}
	}
	return res.StatusCode
}

// count returns the stored positions of a driver.
func (w *world) count(driverID string) int {
	w.t.Helper()
	var n int
	if err := w.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM positions WHERE driver_id = ?`, driverID).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// fix is a JSON position for a batch.
func fix(driverID string, at time.Time, lat, lon float64, extra string) string {
	var b bytes.Buffer
	b.WriteString("{")
	if driverID != "" {
		fmt.Fprintf(&b, `"driver_id":%q,`, driverID)
	}
	fmt.Fprintf(&b, `"time":%q,"lat":%g,"lon":%g%s}`, at.UTC().Format(time.RFC3339Nano), lat, lon, extra)
	return b.String()
}

func array(fixes ...string) string { return "[" + strings.Join(fixes, ",") + "]" }

// route is n fixes a minute apart heading north from Dallas at 41 mph.
func route(driverID string, start time.Time, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fix(driverID, start.Add(time.Duration(i)*time.Minute), 32.78+0.01*float64(i), -96.8, `,"speed_mph":41`))
	}
	return out
}

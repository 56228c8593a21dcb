package reports_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/reports"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

var (
	dallas  = geo.Point{Lat: 32.78, Lon: -96.80}
	chicago = geo.Point{Lat: 41.88, Lon: -87.63}
	houston = geo.Point{Lat: 29.76, Lon: -95.37}
	atlanta = geo.Point{Lat: 33.75, Lon: -84.39}
)

type load struct {
	id, shipper, carrier, driver, status string
	from, to                             geo.Point
	fromState, toState                   string
	pickup                               time.Time
	rateCents                            int64
	miles                                float64
}

// seed writes organizations, loads and stop visits, then refreshes.
func seed(t *testing.T, db *store.DB) *reports.Service {
	t.Helper()
	ctx := context.Background()
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, o := range [][2]string{{"s1", "shipper"}, {"s2", "shipper"}, {"s3", "shipper"}, {"c1", "carrier"}, {"c2", "carrier"}, {"p", "platform"}} {
		exec(`INSERT INTO organizations (id, name, kind, created_at) VALUES (?, ?, ?, ?)`, o[0], o[0], o[1], day(1, 0))
	}
	for _, l := range []load{
		{"L1", "s1", "c1", "D1", "delivered", dallas, chicago, "TX", "IL", day(2, 8), 200000, 1000},
		{"L2", "s1", "c1", "D1", "delivered", chicago, houston, "IL", "TX", day(5, 8), 150000, 900},
		{"L3", "s1", "c1", "D1", "in_transit", dallas, chicago, "TX", "IL", day(10, 8), 220000, 1000},
		{"L4", "s2", "c2", "D2", "delivered", dallas, atlanta, "TX", "GA", day(3, 8), 300000, 800},
		{"L5", "s1", "", "", "posted", dallas, atlanta, "TX", "GA", day(4, 8), 100000, 800},
		{"L6", "s1", "c1", "D1", "delivered", dallas, chicago, "TX", "IL", day(1, 8).AddDate(0, -2, 0), 100000, 1000},
	} {
		exec(`INSERT INTO loads (id, org_id, origin_state, origin_lat, origin_lon, dest_state, dest_lat, dest_lon,
			pickup_start, pickup_end, delivery_start, delivery_end, equipment, weight_lbs, rate_cents, miles, status,
			carrier_id, driver_id, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'van', 30000, ?, ?, ?, ?, ?, 'u', ?, ?)`,
			l.id, l.shipper, l.fromState, l.from.Lat, l.from.Lon, l.toState, l.to.Lat, l.to.Lon,
			l.pickup, l.pickup.Add(4*time.Hour), l.pickup.Add(24*time.Hour), l.pickup.Add(30*time.Hour),
			l.rateCents, l.miles, l.status, l.carrier, l.driver, l.pickup, l.pickup)
	}
	visit := func(loadID, stop string, arrived time.Time, detention int) {
		exec(`INSERT INTO geofence_visits (load_id, stop, driver_id, carrier_id, shipper_id, arrived_at, detention_min, updated_at)
			VALUES (?, ?, 'D1', 'c1', 's1', ?, ?, ?)`, loadID, stop, arrived, detention, arrived)
	}
	visit("L1", "pickup", day(2, 9), 0)     // on time (window ends at 12:00)
	visit("L1", "delivery", day(3, 16), 90) // late (window ends at 14:00)
	visit("L2", "pickup", day(5, 10), 30)
	visit("L2", "delivery", day(6, 13), 0)
	s, err := reports.New(db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.SetClock(func() time.Time { return day(31, 12) })
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func march(group string) reports.Query {
	return reports.Query{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC), Group: group}
}

func TestLanesAndPerformance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := seed(t, db)
		ctx := context.Background()
		shipper := freight.Principal{OrgID: "s1", OrgKind: freight.OrgShipper, UserID: "u1", Role: freight.RoleShipper}
		carrier := freight.Principal{OrgID: "c1", OrgKind: freight.OrgCarrier, UserID: "u2", Role: freight.RoleDispatcher}

		for _, p := range []freight.Principal{shipper, carrier} {
			rep, err := s.Lanes(ctx, p, march("lane"))
			if err != nil {
				t.Fatal(err)
			}
			if rep.RefreshedAt == nil {
				t.Error("no refreshed_at")
			}
			want := []reports.LaneRow{
				{Group: "IL-TX", Loads: 1, SpendCents: 150000, AvgRateCents: 150000, LoadedMiles: 900, RatePerMile: 1.67},
				{Group: "TX-IL", Loads: 2, SpendCents: 420000, AvgRateCents: 210000, LoadedMiles: 2000, RatePerMile: 2.1},
			}
			if len(rep.Items) != len(want) {
				t.Fatalf("%s: lanes = %+v, want %+v", p.OrgID, rep.Items, want)
			}
			for i := range want {
				if rep.Items[i] != want[i] {
					t.Errorf("%s: lane %d = %+v, want %+v", p.OrgID, i, rep.Items[i], want[i])
				}
			}
		}

		perf, err := s.Performance(ctx, shipper, march("month"))
		if err != nil {
			t.Fatal(err)
		}
		if len(perf.Items) != 1 {
			t.Fatalf("performance = %+v, want one month", perf.Items)
		}
		m := perf.Items[0]
		// L2 starts where L1 ended; L3 starts in Dallas after L2 ended in
		// Houston; L1 follows L6 (Dallas to Chicago in January).
		empty := 1.2 * (geo.GreatCircleMiles(chicago, dallas) + geo.GreatCircleMiles(houston, dallas))
		if m.Group != "2026-03" || m.Loads != 3 || m.PickupsMeasured != 2 || *m.OnTimePickupPct != 100 ||
			m.DeliveriesMeasured != 2 || *m.OnTimeDeliveryPct != 50 || m.DetentionHours != 2 || m.LoadedMiles != 2900 {
			t.Errorf("performance = %+v", m)
		}
		if math.Abs(m.EmptyMiles-empty) > 0.5 || m.EmptyMileShare == nil || math.Abs(*m.EmptyMileShare-empty/(empty+2900)) > 0.001 {
			t.Errorf("empty miles = %v (share %v), want %.1f (share %.4f)", m.EmptyMiles, m.EmptyMileShare, empty, empty/(empty+2900))
		}
	})
}

func TestTenancy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := seed(t, db)
		ctx := context.Background()
		tests := []struct {
			name  string
			p     freight.Principal
			loads int64
			err   string // the error code, "" for none
		}{
			{"shipper", freight.Principal{OrgID: "s1", OrgKind: freight.OrgShipper, Role: freight.RoleAdmin}, 3, ""},
			{"other shipper", freight.Principal{OrgID: "s2", OrgKind: freight.OrgShipper, Role: freight.RoleShipper}, 1, ""},
			{"shipper with nothing", freight.Principal{OrgID: "s3", OrgKind: freight.OrgShipper, Role: freight.RoleShipper}, 0, ""},
			{"other carrier", freight.Principal{OrgID: "c2", OrgKind: freight.OrgCarrier, Role: freight.RoleDispatcher}, 1, ""},
			{"operator", freight.Principal{OrgID: "p", OrgKind: freight.OrgPlatform, Role: freight.RoleOperator}, 4, ""},
			{"driver", freight.Principal{OrgID: "c1", OrgKind: freight.OrgCarrier, Role: freight.RoleDriver, DriverID: "D1"}, 0, freight.EFORBIDDEN},
		}
		for _, tt := range tests {
			rep, err := s.Lanes(ctx, tt.p, march("shipper"))
			code := ""
			if err != nil {
				code = freight.ErrorCode(err)
			}
			if code != tt.err {
				t.Errorf("%s: err = %v, want code %q", tt.name, err, tt.err)
				continue
			}
			var n int64
			for _, it := range rep.Items {
				n += it.Loads
			}
			if n != tt.loads {
				t.Errorf("%s: sees %d loads, want %d", tt.name, n, tt.loads)
			}
		}
	})
}

func serve(t *testing.T, s *reports.Service, p freight.Principal, target, accept string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	s.Routes(mux)
	r := httptest.NewRequest("GET", target, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	r = r.WithContext(httpapi.WithPrincipal(r.Context(), p))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestHTTP(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	s := seed(t, db)
	shipper := freight.Principal{OrgID: "s1", OrgKind: freight.OrgShipper, UserID: "u1", Role: freight.RoleShipper}

	w := serve(t, s, shipper, "/api/v1/reports/lanes?from=2026-03-01&to=2026-03-31", "")
	var rep reports.Report[reports.LaneRow]
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &rep) != nil || len(rep.Items) != 2 || rep.Group != "lane" {
		t.Fatalf("lanes: %d %s", w.Code, w.Body)
	}

	for _, c := range []struct{ target, accept string }{
		{"/api/v1/reports/performance?from=2026-03-01&to=2026-03-31&format=csv", ""},
		{"/api/v1/reports/performance?from=2026-03-01&to=2026-03-31", "application/json;q=0.5, text/csv"},
	} {
		w = serve(t, s, shipper, c.target, c.accept)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		rows, err := csv.NewReader(w.Body).ReadAll()
		if err != nil || len(rows) != 2 || rows[0][0] != "month" || rows[1][0] != "2026-03" || rows[1][1] != "3" || rows[1][3] != "100" {
			t.Errorf("csv rows = %v, %v", rows, err)
		}
		if w.Header().Get("Last-Modified") == "" || !strings.Contains(w.Header().Get("Content-Disposition"), "performance-2026-03-01-2026-03-31.csv") {
			t.Errorf("csv headers = %v", w.Header())
		}
	}

	for _, c := range []struct{ query, field string }{
		{"from=2026-13-01", "from"},
		{"to=yesterday", "to"},
		{"from=2026-03-10&to=2026-03-01", "to"},
		{"from=2020-01-01&to=2026-01-01", "to"},
		{"group=weekday", "group"},
		{"format=xlsx", "format"},
	} {
		w := serve(t, s, shipper, "/api/v1/reports/lanes?"+c.query, "")
		var p httpapi.Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != http.StatusUnprocessableEntity ||
			w.Header().Get("Content-Type") != "application/problem+json" || len(p.Errors) != 1 || p.Errors[0].Field != c.field {
			t.Errorf("%s: %d %s %s; want 422 naming %s", c.query, w.Code, w.Header().Get("Content-Type"), w.Body, c.field)
		}
	}

	driver := freight.Principal{OrgID: "c1", OrgKind: freight.OrgCarrier, Role: freight.RoleDriver}
	if w := serve(t, s, driver, "/api/v1/reports/lanes", ""); w.Code != http.StatusForbidden {
		t.Errorf("driver: %d, want 403", w.Code)
	}
}

func TestCSVInjection(t *testing.T) {
	db := storetest.Open(t, "sqlite")
	s := seed(t, db)
	if _, err := db.Exec(context.Background(), `UPDATE loads SET origin_state = '=1+1' WHERE id = 'L2'`); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	shipper := freight.Principal{OrgID: "s1", OrgKind: freight.OrgShipper, Role: freight.RoleShipper}
	w := serve(t, s, shipper, "/api/v1/reports/lanes?from=2026-03-01&to=2026-03-31&group=origin&format=csv", "")
	if !strings.Contains(w.Body.String(), "'=1+1") {
		t.Errorf("a formula cell was not neutralised:\n%s", w.Body)
	}
}

func TestParseQueryDefaults(t *testing.T) {
	today := time.Date(2026, 11, 27, 15, 4, 5, 0, time.UTC)
	q, err := reports.ParseQuery(url.Values{}, today, "lane")
	if err != nil || q.Group != "lane" || q.CSV || q.To.Format(time.DateOnly) != "2026-11-27" || q.From.Format(time.DateOnly) != "2026-08-30" {
		t.Errorf("defaults = %+v, %v", q, err)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "from=2026-01-01&to=2026-02-01", "group=lane&format=csv", "from=2026-13-40", "to=2020-01-01", "from=%zz", "group=month&group=day"} {
		f.Add(s)
	}
	today := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := reports.ParseQuery(v, today, "lane")
		if err != nil {
			var fe *freight.Error
			if !errors.As(err, &fe) || len(fe.Fields) == 0 {
				t.Fatalf("error %v names no field", err)
			}
			return
		}
		if q.To.Before(q.From) || q.To.Sub(q.From) >= reports.MaxDays*24*time.Hour {
			t.Fatalf("accepted range %v..%v", q.From, q.To)
		}
	})
}

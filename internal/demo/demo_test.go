package demo_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/accounts"
	"github.com/backhaul/backhaul/internal/app"
	"github.com/backhaul/backhaul/internal/auth"
	"github.com/backhaul/backhaul/internal/demo"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/store/storetest"
)

func TestSeedBuildsABelievableNetworkOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log := slog.New(slog.DiscardHandler)
		tokens, _ := auth.NewTokens([]byte(strings.Repeat("k", 32)), time.Hour, nil)
		drv := drivers.New(db, app.Geocoder{}, log)
		svc := demo.Services{Accounts: accounts.New(db, tokens, drv, log), Drivers: drv, Loads: loads.New(db, app.Geocoder{}, geo.DefaultCircuity, nil, log)}
		seeded, err := demo.Seed(ctx, db, svc, demo.Options{Seed: 7, OpenLoads: 40}, log)
		if err != nil || !seeded {
			t.Fatalf("Seed = %v, %v", seeded, err)
		}
		again, err := demo.Seed(ctx, db, svc, demo.Options{Seed: 7, OpenLoads: 40}, log)
		if err != nil || again {
			t.Fatalf("second Seed = %v, %v; want it to leave a non-empty store alone", again, err)
		}
		count := func(q string, args ...any) int {
			var n int
			if err := db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(`SELECT COUNT(*) FROM loads WHERE status = 'posted'`); n < 40 {
			t.Errorf("%d posted loads, want at least 40", n)
		}
		for _, st := range []freight.LoadStatus{freight.StatusBooked, freight.StatusDispatched, freight.StatusInTransit, freight.StatusDelivered} {
			if count(`SELECT COUNT(*) FROM loads WHERE status = ?`, string(st)) == 0 {
				t.Errorf("no %s load in the demo network", st)
			}
		}
		if n := count(`SELECT COUNT(*) FROM loads WHERE miles < 100 OR miles > 3500`); n != 0 {
			t.Errorf("%d loads with implausible lengths", n)
		}
		if n := count(`SELECT COUNT(*) FROM drivers`); n < 20 {
			t.Errorf("%d drivers, want a fleet", n)
		}
		if n := count(`SELECT COUNT(*) FROM users WHERE email = 'ops@backhaul.example' AND role = 'operator'`); n != 1 {
			t.Error("no operator user")
		}
		if n := count(`SELECT COUNT(*) FROM market_bookings`); n != 4000 {
			t.Errorf("%d past bookings imported for the market model, want 4000", n)
		}
		if n := count(`SELECT COUNT(*) FROM market_training_runs WHERE status = 'queued'`); n != 1 {
			t.Errorf("%d queued training runs, want 1", n)
		}
		if n := count(`SELECT COUNT(*) FROM outbox WHERE type = 'loads.posted.v1'`); n < 40 {
			t.Errorf("%d loads.posted.v1 events, want one per posted load", n)
		}
	})
}

package app_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/app"
	"github.com/backhaul/backhaul/internal/simulate"
)

// TestSimulatedDay runs a short simulated world at full speed against the
// platform, once with each dispatcher, and checks the outcome against the
// platform's own records.
func TestSimulatedDay(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine))
			cfg := simulate.Config{Target: p.base, Seed: 11, Speed: 1e6, Duration: 36 * time.Hour, Lag: -1,
				Markets: 12, Shippers: 4, Carriers: 2, Trucks: 8, LoadsPerDay: 30, Dispatch: simulate.DispatchBoth,
				UploadEvery: 20 * time.Minute, Reposition: true}
			log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
			outs, eps, err := simulate.Run(t.Context(), cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != 2 || outs[0].Mode != "platform" || outs[1].Mode != "greedy" {
				t.Fatalf("outcomes %+v, want platform then greedy", outs)
			}
			for _, o := range outs {
				if o.Posted == 0 || o.Booked == 0 || o.Delivered == 0 {
					t.Errorf("%s: posted %d, booked %d, delivered %d; want some of each", o.Mode, o.Posted, o.Booked, o.Delivered)
				}
				if o.PlatformDelivered != o.Delivered {
					t.Errorf("%s: the world delivered %d loads, the platform counts %d", o.Mode, o.Delivered, o.PlatformDelivered)
				}
				if o.Booked+o.Expired+o.OpenAtEnd != o.Posted {
					t.Errorf("%s: booked %d + expired %d + open %d != posted %d", o.Mode, o.Booked, o.Expired, o.OpenAtEnd, o.Posted)
				}
				if o.Delivered > o.Booked || o.Booked-o.Delivered != o.InFlight {
					t.Errorf("%s: booked %d, delivered %d, in flight %d", o.Mode, o.Booked, o.Delivered, o.InFlight)
				}
				if o.PositionsAccepted == 0 || o.PositionsRejected != 0 {
					t.Errorf("%s: positions accepted %d, rejected %d", o.Mode, o.PositionsAccepted, o.PositionsRejected)
				}
				if o.PODs != o.Delivered {
					t.Errorf("%s: %d proofs of delivery for %d deliveries", o.Mode, o.PODs, o.Delivered)
				}
				if o.Errors != 0 {
					t.Errorf("%s: %d failed actions", o.Mode, o.Errors)
				}
				if o.EmptyShare <= 0 || o.EmptyShare >= 1 || o.RevenuePerTD <= 0 {
					t.Errorf("%s: empty share %.3f, revenue per truck-day %.0f", o.Mode, o.EmptyShare, o.RevenuePerTD)
				}
			}
			// The same seed posts the same freight for both dispatchers.
			if outs[0].Generated != outs[1].Generated {
				t.Errorf("platform world generated %d loads, greedy world %d", outs[0].Generated, outs[1].Generated)
			}
			if eps[len(eps)-1].Errors != 0 {
				t.Errorf("server errors: %+v", eps[len(eps)-1])
			}
		})
	}
}

// TestSimulateCommandRefusesBadConfiguration checks the CLI names the flag.
func TestSimulateCommandRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"simulate", "--target", "http://203.0.113.9:8080"}, "--target"},
		{[]string{"simulate", "--speed", "0"}, "--speed"},
		{[]string{"simulate", "--trucks", "1", "--carriers", "2"}, "--trucks"},
		{[]string{"simulate", "--lag", "yesterday"}, "--lag"},
		{[]string{"simulate", "--dispatch", "coin"}, "--dispatch"},
		{[]string{"simulate", "--load", "--scenario", "flood"}, "--scenario"},
		{[]string{"simulate", "--load", "--rate", "-5"}, "--rate"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := app.Main(tt.args, &out, &errb); code == 0 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want a failure naming %s", tt.args, code, errb.String(), tt.want)
		}
	}
}

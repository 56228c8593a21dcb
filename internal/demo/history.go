package demo

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	mi "github.com/backhaul/backhaul/internal/market"
)

// history writes two years of booking history on the demo network's lanes,
// so that the first quote a new user asks for has a market to come from.
// Rates follow the same lane, imbalance and equipment structure as the open
// loads, with a seasonal swing, a weekday effect and noise.
func (s *seeder) history(ctx context.Context, n int) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"load_id", "booked_at", "pickup_at", "origin_city", "origin_state", "origin_lat", "origin_lon",
		"dest_city", "dest_state", "dest_lat", "dest_lon", "equipment", "weight_lbs", "miles", "rate_usd"})
	end := s.now.Truncate(24 * time.Hour)
	for i := range n {
		origin, dest := s.lane()
		eq := s.equipment()
		o, d := s.facility(origin), s.facility(dest)
		miles := geo.DefaultCircuity.RoadMiles(geo.Point{Lat: o.Lat, Lon: o.Lon}, geo.Point{Lat: d.Lat, Lon: d.Lon})
		pickup := end.Add(-time.Duration(s.rng.IntN(730*24)) * time.Hour)
		booked := pickup.Add(-time.Duration(2+s.rng.IntN(7*24)) * time.Hour)
		season := 1 + 0.06*math.Sin(2*math.Pi*(float64(pickup.YearDay())-100)/365)
		if pickup.Month() == time.December && pickup.Day() > 10 {
			season += 0.08
		}
		lead := 1 + 0.08*math.Exp(-pickup.Sub(booked).Hours()/24)
		rate := s.rate(eq, origin, dest, miles) * season * lead
		_ = w.Write([]string{fmt.Sprintf("DEMO%06d", i), booked.UTC().Format(time.RFC3339), pickup.UTC().Format(time.RFC3339),
			o.City, o.State, ff(o.Lat), ff(o.Lon), d.City, d.State, ff(d.Lat), ff(d.Lon), string(eq),
			strconv.Itoa(8000 + s.rng.IntN(36)*1000), strconv.Itoa(int(math.Round(miles))), fmt.Sprintf("%.2f", rate)})
	}
	w.Flush()
	rep, err := mi.Import(ctx, s.db, &buf, "demo", nil)
	if err != nil {
		return fmt.Errorf("demo booking history: %w", err)
	}
	if _, _, err := mi.QueueRetrain(ctx, s.db, "import", "demo"); err != nil {
		return err
	}
	s.log.Info("demo booking history imported", "bookings", rep.Imported)
	return nil
}

func ff(x float64) string { return strconv.FormatFloat(x, 'f', 5, 64) }

// equipment draws the demo's equipment mix.
func (s *seeder) equipment() freight.Equipment {
	switch r := s.rng.Float64(); {
	case r > 0.85:
		return freight.Flatbed
	case r > 0.62:
		return freight.Reefer
	}
	return freight.Van
}

// rate is a lane's all-in rate: leaving a market with more freight out
// than in pays more, short hauls pay more per mile.
func (s *seeder) rate(eq freight.Equipment, origin, dest market, miles float64) float64 {
	rpm := baseRPM[eq] * math.Sqrt(origin.outbound/dest.outbound) * (1 + 0.08*s.rng.NormFloat64())
	if miles < 300 {
		rpm *= 1.35
	}
	return rpm * miles
}

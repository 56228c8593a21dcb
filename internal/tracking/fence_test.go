package tracking

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
)

var (
	dallas  = geo.Point{Lat: 32.7767, Lon: -96.7970}
	houston = geo.Point{Lat: 29.7604, Lon: -95.3698}
)

// bookedLoad posts a Dallas to Houston load for the shipper and books it
// for the carrier with driver A.
func (w *world) bookedLoad(deliveryEnd time.Time) freight.Load {
	w.t.Helper()
	ctx := context.Background()
	rate := freight.FromDollars(900)
	l, err := w.loads.Create(ctx, w.shipper, freight.LoadInput{
		Origin: freight.Location{City: "Dallas", State: "TX", Lat: dallas.Lat, Lon: dallas.Lon}, Destination: freight.Location{City: "Houston", State: "TX", Lat: houston.Lat, Lon: houston.Lon},
		Pickup: freight.Window{Start: t0, End: t0.Add(2 * time.Hour)}, Delivery: freight.Window{Start: t0.Add(3 * time.Hour), End: deliveryEnd},
		Equipment: "van", WeightLbs: 30000, Rate: &rate, Post: true})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.loads.Book(ctx, w.carrier, loads.BookingInput{LoadID: l.ID, DriverID: w.driverA}); err != nil {
		w.t.Fatal(err)
	}
	return l
}

// drive posts one fix of driver A at minute m after t0, with the clock
// there, and lets the geofence engine see it.
func (w *world) drive(m int, p geo.Point) {
	w.t.Helper()
	at := t0.Add(time.Duration(m) * time.Minute)
	w.clock.Set(at)
	var res Result
	if code := w.post(w.keyA, "", array(fix("", at, p.Lat, p.Lon, `,"speed_mph":50`)), &res); code != 200 || res.Accepted != 1 {
		w.t.Fatalf("minute %d: got %d, %+v", m, code, res)
	}
	w.svc.fences.drain(context.Background())
}

func (w *world) status(id string) freight.LoadStatus {
	w.t.Helper()
	l, err := w.loads.Get(context.Background(), w.shipper, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return l.Status
}

func (w *world) events(typ, loadID string) []json.RawMessage {
	w.t.Helper()
	rows, err := w.db.Query(context.Background(), `SELECT data FROM outbox WHERE type = ? AND subject_id = ? ORDER BY seq`, typ, loadID)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []json.RawMessage
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, json.RawMessage(s))
	}
	return out
}

func TestGeofencesMoveTheLoad(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, func(_ *Config, d *Deps) { d.Fleet = nil })
		db.SetClock(w.clock.Now)
		l := w.bookedLoad(t0.Add(6 * time.Hour))
		north := func(miles float64) geo.Point { return geo.Destination(dallas, 0, miles) }

		w.drive(0, north(1.5))
		w.drive(1, north(0.1)) // inside, but not for the dwell time
		w.drive(2, north(1))   // out again: GPS jitter or passing by
		if got := w.status(l.ID); got != freight.StatusBooked {
			t.Fatalf("after passing by: got %s, want booked", got)
		}
		var view LoadTracking
		w.get(w.keyShipper, "/api/v1/tracking/loads/"+l.ID, nil, &view)
		if view.Position != nil {
			t.Errorf("before dispatch the shipper sees the driver at %+v", view.Position)
		}
		w.drive(3, north(0.1))
		w.drive(4, north(0.05))
		if got := w.status(l.ID); got != freight.StatusBooked {
			t.Fatalf("one minute inside: got %s, want booked", got)
		}
		w.drive(5, north(0.02))
		if got := w.status(l.ID); got != freight.StatusAtPickup {
			t.Fatalf("two minutes inside: got %s, want at_pickup", got)
		}
		// Loading takes two and a half hours; the free time is two.
		for m := 15; m <= 150; m += 15 {
			w.drive(m, north(0.03))
		}
		w.drive(155, north(2))
		if got := w.status(l.ID); got != freight.StatusAtPickup {
			t.Fatalf("just left: got %s, want at_pickup until the dwell time passes", got)
		}
		w.drive(158, north(4.5))
		if got := w.status(l.ID); got != freight.StatusInTransit {
			t.Fatalf("left the pickup: got %s, want in_transit", got)
		}
		// Drive to Houston at about 55 mph.
		miles := geo.GreatCircleMiles(north(4.5), houston)
		bearing := geo.Bearing(north(4.5), houston)
		m := 158
		for done := 0.0; done < miles-0.1; {
			m += 5
			done = min(miles, done+55.0/12)
			w.drive(m, geo.Destination(north(4.5), bearing, done))
		}
		if got := w.status(l.ID); got != freight.StatusInTransit {
			t.Fatalf("entering Houston: got %s, want in_transit until the dwell time passes", got)
		}
		w.drive(m+1, houston)
		w.drive(m+3, houston)
		if got := w.status(l.ID); got != freight.StatusAtDelivery {
			t.Fatalf("at Houston: got %s, want at_delivery", got)
		}
		w.drive(m+40, geo.Destination(houston, 90, 3))
		w.drive(m+43, geo.Destination(houston, 90, 5))
		if got := w.status(l.ID); got != freight.StatusAtDelivery {
			t.Errorf("left the delivery: got %s, want at_delivery (delivered needs a proof of delivery)", got)
		}

		// What the shipper sees: both visits, with the pickup's detention.
		if code := w.get(w.keyShipper, "/api/v1/tracking/loads/"+l.ID, nil, &view); code != 200 {
			t.Fatalf("got %d", code)
		}
		if len(view.Visits) != 2 {
			t.Fatalf("got visits %+v, want pickup and delivery", view.Visits)
		}
		p, d := view.Visits[0], view.Visits[1]
		if p.Stop != StopPickup || !p.ArrivedAt.Equal(t0.Add(3*time.Minute)) || !p.DepartedAt.Equal(t0.Add(155*time.Minute)) || p.DetentionMin != 32 {
			t.Errorf("pickup: got %+v, want arrived 3, departed 155, 32 minutes of detention", p)
		}
		// The last fix of the drive was already at the door.
		if d.Stop != StopDelivery || !d.ArrivedAt.Equal(t0.Add(time.Duration(m)*time.Minute)) || d.DepartedAt == nil || d.DetentionMin != 0 {
			t.Errorf("delivery: got %+v, want arrived at %d and departed", d, m)
		}
		if view.Position == nil {
			t.Error("between dispatch and delivery the shipper does not see the driver")
		}
		if got := w.events("tracking.geofence.v1", l.ID); len(got) != 4 {
			t.Errorf("got %d geofence events, want 4: %s", len(got), got)
		}
		// The ETA was kept on the way, and the delivery was going to be late:
		// the window closed six hours after noon, and the pickup left at 14:35.
		if view.ETA == nil || view.ETA.Stop != StopDelivery {
			t.Errorf("got ETA %+v, want one for the delivery", view.ETA)
		}
		if got := w.events("tracking.late_risk.v1", l.ID); len(got) != 1 {
			t.Errorf("got %d late-risk events, want 1: %s", len(got), got)
		}
		// The trace of the haul is the evidence, for the shipper too.
		var tr Track
		if code := w.get(w.keyShipper, "/api/v1/tracking/loads/"+l.ID+"/track", nil, &tr); code != 200 || tr.Stored == 0 {
			t.Errorf("load track: got %d, %d fixes", code, tr.Stored)
		}
		for _, pt := range tr.Points {
			if pt.Time.Before(t0.Add(5 * time.Minute)) {
				t.Errorf("the shipper sees a fix at %v, before the dispatch", pt.Time)
			}
		}
		// Another shipper, another carrier: no such load.
		if code := w.get(w.keyOther, "/api/v1/tracking/loads/"+l.ID, nil, nil); code != 404 {
			t.Errorf("another carrier: got %d, want 404", code)
		}
	})
}

func TestETAIsOnTimeForAnEasyLoad(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		db.SetClock(w.clock.Now)
		l := w.bookedLoad(t0.Add(30 * time.Hour))
		w.drive(0, geo.Destination(dallas, 0, 40))
		var view LoadTracking
		if code := w.get(w.keyDispatch, "/api/v1/tracking/loads/"+l.ID, nil, &view); code != 200 || view.ETA == nil {
			t.Fatalf("got %d, %+v", code, view)
		}
		e := view.ETA
		// 40 miles by road to the pickup at the default 50 mph.
		if e.Stop != StopPickup || e.RemainingMiles < 40 || e.RemainingMiles > 60 || e.P50.Before(t0.Add(45*time.Minute)) || e.P90.Before(e.P50) {
			t.Errorf("got %+v, want the pickup about an hour away", e)
		}
		if got := w.events("tracking.late_risk.v1", l.ID); len(got) != 0 {
			t.Errorf("got %d late-risk events, want none", len(got))
		}
	})
}

package tracking

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
	"github.com/backhaul/backhaul/internal/tracking/latest"
)

// sse is an open event stream and the positions read from it.
type sse struct {
	events chan latest.Fix
	cancel context.CancelFunc
}

// open subscribes to path and returns the status and, for 200, the stream.
func (w *world) open(key, path string) (int, *sse) {
	w.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", w.srv.URL+path, nil)
	req.Header.Set("X-API-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		w.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		cancel()
		return res.StatusCode, nil
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		w.t.Errorf("got Content-Type %q, want text/event-stream", ct)
	}
	s := &sse{events: make(chan latest.Fix, 100), cancel: cancel}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "position":
				var f latest.Fix
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &f) == nil {
					s.events <- f
				}
			}
		}
	}()
	w.t.Cleanup(cancel)
	return 200, s
}

// next waits for the next position; the deadline only bounds a failure.
func (s *sse) next(t *testing.T) latest.Fix {
	t.Helper()
	select {
	case f := <-s.events:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no position arrived on the stream")
	}
	return latest.Fix{}
}

func TestLiveViewsHonourTenancyAndPrivacy(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		db.SetClock(w.clock.Now)
		l := w.bookedLoad(t0.Add(30 * time.Hour))
		ctx := context.Background()

		for _, c := range []struct {
			name, key, path string
			want            int
		}{
			{"another carrier on the load", w.keyOther, "/api/v1/tracking/loads/" + l.ID + "/stream", 404},
			{"a shipper on the fleet stream", w.keyShipper, "/api/v1/tracking/fleet/stream", 403},
			{"a dispatcher on the network stream", w.keyDispatch, "/api/v1/tracking/network/stream", 403},
			{"an unknown load", w.keyOperator, "/api/v1/tracking/loads/nope/stream", 404},
		} {
			if code, _ := w.open(c.key, c.path); code != c.want {
				t.Errorf("%s: got %d, want %d", c.name, code, c.want)
			}
		}
		_, shipper := w.open(w.keyShipper, "/api/v1/tracking/loads/"+l.ID+"/stream")
		_, fleet := w.open(w.keyDispatch, "/api/v1/tracking/fleet/stream")
		_, other := w.open(w.keyOther, "/api/v1/tracking/fleet/stream")
		_, network := w.open(w.keyOperator, "/api/v1/tracking/network/stream")

		// Before dispatch the driver is not the shipper's to see.
		w.post(w.keyA, "", array(fix("", t0, 32.7, -96.8, "")), nil)
		w.post(w.keyOther, "", array(fix(w.outsider, t0, 40.7, -74, "")), nil)
		w.clock.Set(t0.Add(time.Minute))
		if _, err := w.loads.SetStatus(ctx, w.carrier, l.ID, loads.StatusInput{Status: freight.StatusDispatched}); err != nil {
			t.Fatal(err)
		}
		w.clock.Set(t0.Add(2 * time.Minute))
		w.post(w.keyA, "", array(fix("", t0.Add(2*time.Minute), 32.71, -96.8, "")), nil)

		if f := shipper.next(t); f.DriverID != w.driverA || !f.Time.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("shipper: got %+v first, want the fix after dispatch", f)
		}
		if f := fleet.next(t); f.DriverID != w.driverA || !f.Time.Equal(t0) {
			t.Errorf("carrier: got %+v first, want its driver's first fix", f)
		}
		if f := other.next(t); f.DriverID != w.outsider {
			t.Errorf("other carrier: got %+v, want its own driver only", f)
		}
		seen := map[string]bool{}
		for range 3 {
			seen[network.next(t).DriverID] = true
		}
		if !seen[w.driverA] || !seen[w.outsider] {
			t.Errorf("operator: got drivers %v, want both carriers'", seen)
		}
		// After delivery the shipper's stream shows no more.
		w.clock.Set(t0.Add(3 * time.Minute))
		for _, st := range []freight.LoadStatus{freight.StatusAtPickup, freight.StatusInTransit, freight.StatusAtDelivery, freight.StatusDelivered} {
			if _, err := w.loads.SetStatus(ctx, w.carrier, l.ID, loads.StatusInput{Status: st}); err != nil {
				t.Fatal(err)
			}
		}
		w.clock.Set(t0.Add(4 * time.Minute))
		w.post(w.keyA, "", array(fix("", t0.Add(4*time.Minute), 32.72, -96.8, "")), nil)
		if f := fleet.next(t); !f.Time.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("carrier: got %+v, want the fix of minute 2", f)
		}
		if f := fleet.next(t); !f.Time.Equal(t0.Add(4 * time.Minute)) {
			t.Errorf("carrier: got %+v, want the fix after delivery", f)
		}
		// A fix from inside the window, published after that one, is the
		// next thing the shipper sees: the fix after delivery was held back.
		marker := latest.Fix{DriverID: w.driverA, CarrierID: w.carrier.OrgID, Time: t0.Add(150 * time.Second), Lat: 32.715, Lon: -96.8}
		w.svc.hub.publish([]latest.Fix{marker})
		if f := shipper.next(t); !f.Time.Equal(marker.Time) {
			t.Errorf("shipper: got %+v after delivery, want nothing past the delivery", f)
		}
	})
}

package app_test

import (
	"net/url"
	"strings"
	"sync"
	"testing"
)

// world is a shipper, a carrier with a driver, and the platform they use.
type world struct {
	p                  *platform
	shipper, carrier   account
	dispatcher, driver account
	driverID, truckID  string
}

func newWorld(t *testing.T, p *platform) *world {
	w := &world{p: p}
	w.shipper = p.signup("shipper", "Acme Foods", "admin@acme.test")
	w.carrier = p.signup("carrier", "Blue Ridge Transport", "admin@blueridge.test")
	w.dispatcher = p.addUser(w.carrier, "dispatcher", "dispatch@blueridge.test", "")
	truck := p.must(201, "POST", "/api/v1/trucks", w.dispatcher.Token, map[string]any{"unit": "T-100", "equipment": "van", "capacity_lbs": 45000})
	w.truckID = str(truck, "id")
	d := driverInput("Alex Rivera")
	d["truck_id"] = w.truckID
	drv := p.must(201, "POST", "/api/v1/drivers", w.dispatcher.Token, d)
	w.driverID = str(drv, "id")
	w.driver = p.addUser(w.carrier, "driver", "alex@blueridge.test", w.driverID)
	return w
}

// split runs the api-gateway and the driver-service in one process and the
// load-service in another, sharing the production engines: the gateway
// routes /api/v1/loads, /board and /bookings to the second process.
func split(t *testing.T) *platform {
	loadsCfg := config(t, "production", withTargets("load-service"))
	loadsProc := start(t, loadsCfg)
	gwCfg := config(t, "production", withTargets("api-gateway", "driver-service"))
	gwCfg.DatabaseURL, gwCfg.DataDir = loadsCfg.DatabaseURL, loadsCfg.DataDir
	gwCfg.ServiceURLs = []string{"load-service=" + loadsProc.base}
	return start(t, gwCfg)
}

func TestLoadLifecycle(t *testing.T) {
	layouts := map[string]func(t *testing.T) *platform{
		"embedded":   func(t *testing.T) *platform { return start(t, config(t, "embedded")) },
		"production": func(t *testing.T) *platform { return start(t, config(t, "production")) },
		"split":      split,
	}
	for name, layout := range layouts {
		t.Run(name, func(t *testing.T) {
			p := layout(t)
			w := newWorld(t, p)

			load := p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput())
			id := str(load, "id")
			if str(load, "status") != "posted" {
				t.Fatalf("status = %v, want posted", load["status"])
			}
			origin := load["origin"].(map[string]any)
			if lat := origin["lat"].(float64); lat < 32 || lat > 33.5 {
				t.Errorf("Dallas geocoded to lat %v", lat)
			}
			dest := load["destination"].(map[string]any)
			if str(dest, "city") != "Atlanta" || str(dest, "state") != "GA" {
				t.Errorf("ZIP 30303 geocoded to %v, %v; want Atlanta, GA", dest["city"], dest["state"])
			}
			if miles := load["miles"].(float64); miles < 800 || miles > 1000 {
				t.Errorf("Dallas-Atlanta road miles = %v, want about 870", miles)
			}

			// The carrier finds it on the board near Fort Worth, not near Denver.
			q := url.Values{"origin": {"Fort Worth, TX"}, "radius_mi": {"100"}, "equipment": {"van"}, "sort": {"deadhead"}}
			board := p.must(200, "GET", "/api/v1/board?"+q.Encode(), w.dispatcher.Token, nil)
			items := board["items"].([]any)
			if len(items) != 1 || str(items[0].(map[string]any), "id") != id {
				t.Fatalf("board near Fort Worth = %v, want the load", board)
			}
			if dh := items[0].(map[string]any)["deadhead_miles"].(float64); dh < 20 || dh > 50 {
				t.Errorf("deadhead Fort Worth-Dallas = %v, want about 35", dh)
			}
			q.Set("origin", "Denver, CO")
			if n := len(p.must(200, "GET", "/api/v1/board?"+q.Encode(), w.dispatcher.Token, nil)["items"].([]any)); n != 0 {
				t.Errorf("board near Denver has %d loads, want 0", n)
			}

			booking := p.must(201, "POST", "/api/v1/bookings", w.dispatcher.Token, map[string]any{"load_id": id})
			bid := str(booking, "id")
			if booking["rate_usd"].(float64) != 2100.5 {
				t.Errorf("booking rate = %v, want the offered 2100.5", booking["rate_usd"])
			}
			// Dispatch needs a driver first.
			p.must(409, "POST", "/api/v1/loads/"+id+"/status", w.dispatcher.Token, map[string]any{"status": "dispatched"})
			p.must(200, "POST", "/api/v1/bookings/"+bid+"/assign", w.dispatcher.Token, map[string]any{"driver_id": w.driverID, "truck_id": w.truckID})

			// The driver sees the assignment and moves it along.
			mine := p.must(200, "GET", "/api/v1/loads", w.driver.Token, nil)["items"].([]any)
			if len(mine) != 1 || str(mine[0].(map[string]any), "id") != id {
				t.Fatalf("driver's loads = %v, want the assigned load", mine)
			}
			p.must(200, "POST", "/api/v1/loads/"+id+"/status", w.dispatcher.Token, map[string]any{"status": "dispatched"})
			for _, st := range []string{"at_pickup", "in_transit", "at_delivery", "delivered"} {
				p.must(200, "POST", "/api/v1/loads/"+id+"/status", w.driver.Token, map[string]any{"status": st})
			}
			// Delivered is final.
			p.must(409, "POST", "/api/v1/loads/"+id+"/status", w.driver.Token, map[string]any{"status": "in_transit"})
			p.must(409, "POST", "/api/v1/loads/"+id+"/status", w.shipper.Token, map[string]any{"status": "cancelled"})

			hist := p.must(200, "GET", "/api/v1/loads/"+id+"/history", w.shipper.Token, nil)["items"].([]any)
			want := []string{"posted", "booked", "dispatched", "at_pickup", "in_transit", "at_delivery", "delivered"}
			if len(hist) != len(want) {
				t.Fatalf("history has %d transitions, want %d: %v", len(hist), len(want), hist)
			}
			for i, h := range hist {
				h := h.(map[string]any)
				if str(h, "to") != want[i] || str(h, "actor_id") == "" || str(h, "at") == "" {
					t.Errorf("transition %d = %v, want to %s with actor and time", i, h, want[i])
				}
			}
			if str(hist[3].(map[string]any), "actor_id") != "user:"+w.driver.UserID {
				t.Errorf("at_pickup actor = %v, want the driver", hist[3])
			}
			got := p.must(200, "GET", "/api/v1/loads/"+id, w.shipper.Token, nil)
			if str(got, "status") != "delivered" || str(got, "driver_id") != w.driverID || str(got, "carrier_id") != w.carrier.OrgID {
				t.Errorf("final load = %v", got)
			}
		})
	}
}

// Two carriers booking the same load at once: exactly one wins.
func TestConcurrentBookingOneWins(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine))
			shipper := p.signup("shipper", "Acme", "a@acme.test")
			var carriers []account
			for i := range 6 {
				carriers = append(carriers, p.signup("carrier", "Carrier", fmtPath("c%d@carrier.test", i)))
			}
			for round := range 5 {
				id := str(p.must(201, "POST", "/api/v1/loads", shipper.Token, loadInput()), "id")
				var wg sync.WaitGroup
				codes := make([]int, len(carriers))
				for i, c := range carriers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						codes[i] = p.call("POST", "/api/v1/bookings", c.Token, map[string]any{"load_id": id}).Status
					}()
				}
				wg.Wait()
				won := 0
				for _, c := range codes {
					switch c {
					case 201:
						won++
					case 409:
					default:
						t.Errorf("round %d: booking answered %d, want 201 or 409", round, c)
					}
				}
				if won != 1 {
					t.Errorf("round %d: %d bookings won (codes %v), want exactly 1", round, won, codes)
				}
				bs := p.must(200, "GET", "/api/v1/bookings", shipper.Token, nil)["items"].([]any)
				active := 0
				for _, b := range bs {
					if b := b.(map[string]any); str(b, "load_id") == id && str(b, "status") == "active" {
						active++
					}
				}
				if active != 1 {
					t.Errorf("round %d: %d active bookings stored for the load, want 1", round, active)
				}
			}
		})
	}
}

// A cancelled booking puts the load back on the board for everyone; a
// cancelled load takes its booking with it.
func TestCancellations(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine))
			w := newWorld(t, p)
			other := p.signup("carrier", "Other", "o@other.test")

			id := str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id")
			bid := str(p.must(201, "POST", "/api/v1/bookings", w.dispatcher.Token, map[string]any{"load_id": id, "driver_id": w.driverID}), "id")
			p.must(200, "POST", "/api/v1/loads/"+id+"/status", w.dispatcher.Token, map[string]any{"status": "dispatched"})
			p.must(404, "GET", "/api/v1/loads/"+id, other.Token, nil)
			b := p.must(200, "POST", "/api/v1/bookings/"+bid+"/cancel", w.dispatcher.Token, nil)
			if str(b, "status") != "cancelled" {
				t.Errorf("booking after cancel = %v", b)
			}
			l := p.must(200, "GET", "/api/v1/loads/"+id, other.Token, nil)
			if str(l, "status") != "posted" || str(l, "carrier_id") != "" || str(l, "driver_id") != "" {
				t.Errorf("load after its booking was cancelled = %v, want posted with no carrier", l)
			}
			p.must(409, "POST", "/api/v1/bookings/"+bid+"/cancel", w.dispatcher.Token, nil)
			// Another carrier can book it now; then the shipper cancels the load.
			bid2 := str(p.must(201, "POST", "/api/v1/bookings", other.Token, map[string]any{"load_id": id}), "id")
			p.must(200, "POST", "/api/v1/loads/"+id+"/status", w.shipper.Token, map[string]any{"status": "cancelled", "note": "order withdrawn"})
			if got := str(p.must(200, "GET", "/api/v1/bookings/"+bid2, other.Token, nil), "status"); got != "cancelled" {
				t.Errorf("booking of a cancelled load is %s, want cancelled", got)
			}
			hist := p.must(200, "GET", "/api/v1/loads/"+id+"/history", w.shipper.Token, nil)["items"].([]any)
			var path []string
			for _, h := range hist {
				path = append(path, str(h.(map[string]any), "to"))
			}
			want := "posted booked dispatched booked posted booked cancelled"
			if got := strings.Join(path, " "); got != want {
				t.Errorf("history = %s, want %s", got, want)
			}
		})
	}
}

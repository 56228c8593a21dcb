package app_test

import (
	"fmt"
	"testing"
)

// TestRoleMatrix walks every endpoint with every kind of caller, including
// attempts to reach other tenants' objects by ID: an object the caller may
// not see is 404 (its existence is not leaked), an action the caller's role
// may not take on a visible object is 403.
func TestRoleMatrix(t *testing.T) {
	p := start(t, config(t, "embedded", func(c *appConfig) { c.Demo = true }))
	w := newWorld(t, p)
	shipperUser := p.addUser(w.shipper, "shipper", "dana@acme.test", "")
	otherShipper := p.signup("shipper", "Other Shipper", "admin@other-shipper.test")
	other := p.signup("carrier", "Other Carrier", "admin@other-carrier.test")
	otherDispatcher := p.addUser(other, "dispatcher", "dispatch@other-carrier.test", "")
	operator := p.login("ops@backhaul.example", "backhaul-demo")
	key := p.must(201, "POST", "/api/v1/api-keys", w.carrier.Token, map[string]any{"name": "TMS", "role": "dispatcher"})
	carrierKey := account{Token: str(key, "secret"), OrgID: w.carrier.OrgID}
	spareKey := str(p.must(201, "POST", "/api/v1/api-keys", w.carrier.Token, map[string]any{"name": "spare", "role": "dispatcher"}), "id")

	otherDriver := str(p.must(201, "POST", "/api/v1/drivers", otherDispatcher.Token, driverInput("Kai Bennett")), "id")
	otherTruck := str(p.must(201, "POST", "/api/v1/trucks", otherDispatcher.Token, map[string]any{"unit": "X-1", "equipment": "van", "capacity_lbs": 40000}), "id")
	loadA := str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id")
	draft := loadInput()
	draft["post"] = false
	draftA := str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, draft), "id")
	loadB := str(p.must(201, "POST", "/api/v1/loads", otherShipper.Token, loadInput()), "id")
	bookedA := str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id")
	bookingC := str(p.must(201, "POST", "/api/v1/bookings", w.dispatcher.Token, map[string]any{"load_id": bookedA, "driver_id": w.driverID}), "id")
	rc := p.upload(w.shipper.Token, bookedA, "rate_confirmation", "application/pdf", "rc.pdf", []byte("%PDF-1.7\n%%EOF\n"))
	if rc.Status != 201 {
		t.Fatalf("upload rate confirmation = %d: %s", rc.Status, rc.Body)
	}
	docA := str(rc.JSON(t), "id")

	callers := []struct {
		name string
		acct account
	}{
		{"anonymous", account{}},
		{"shipper-admin", w.shipper},
		{"shipper", shipperUser},
		{"carrier-admin", w.carrier},
		{"dispatcher", w.dispatcher},
		{"driver", w.driver},
		{"other-dispatcher", otherDispatcher},
		{"operator", operator},
		{"carrier-api-key", carrierKey},
		{"other-shipper", otherShipper}, // last: its own load is cancelled by its row
	}
	n := 0
	unique := func() string { n++; return fmt.Sprintf("u%d@acme.test", n) }
	freshLoad := func() string { return str(p.must(201, "POST", "/api/v1/loads", w.shipper.Token, loadInput()), "id") }

	type request struct {
		method, path string
		body         any
	}
	fixed := func(method, path string, body any) func() request {
		return func() request { return request{method, path, body} }
	}
	// want gives the status per caller; "*" is every signed-in caller not
	// listed, and anonymous callers always get 401.
	cases := []struct {
		name string
		req  func() request
		want map[string]int
	}{
		{"me", fixed("GET", "/api/v1/me", nil), map[string]int{"*": 200}},
		{"list users", fixed("GET", "/api/v1/users", nil), map[string]int{"*": 403, "shipper-admin": 200, "carrier-admin": 200, "other-shipper": 200}},
		{"add user", func() request {
			return request{"POST", "/api/v1/users", map[string]any{"email": unique(), "name": "N", "role": "admin", "password": "a-long-password"}}
		}, map[string]int{"*": 403, "shipper-admin": 201, "carrier-admin": 201, "other-shipper": 201}},
		{"list api keys", fixed("GET", "/api/v1/api-keys", nil), map[string]int{"*": 403, "shipper-admin": 200, "carrier-admin": 200, "other-shipper": 200}},
		{"create api key", fixed("POST", "/api/v1/api-keys", map[string]any{"name": "k", "role": "admin"}),
			map[string]int{"*": 403, "shipper-admin": 422, "carrier-admin": 422, "other-shipper": 422}},
		{"revoke carrier's api key", fixed("DELETE", "/api/v1/api-keys/"+spareKey, nil),
			map[string]int{"*": 403, "carrier-admin": 204, "shipper-admin": 404, "other-shipper": 404}},
		{"list my loads", fixed("GET", "/api/v1/loads", nil), map[string]int{"*": 200}},
		{"read posted load of A", fixed("GET", "/api/v1/loads/"+loadA, nil),
			map[string]int{"*": 200, "driver": 404, "other-shipper": 404}},
		{"read booked load of A", fixed("GET", "/api/v1/loads/"+bookedA, nil),
			map[string]int{"*": 200, "other-dispatcher": 404, "other-shipper": 404}},
		{"read draft of A", fixed("GET", "/api/v1/loads/"+draftA, nil),
			map[string]int{"*": 404, "shipper-admin": 200, "shipper": 200, "operator": 200}},
		{"read history of A's draft", fixed("GET", "/api/v1/loads/"+draftA+"/history", nil),
			map[string]int{"*": 404, "shipper-admin": 200, "shipper": 200, "operator": 200}},
		{"read posted load of B", fixed("GET", "/api/v1/loads/"+loadB, nil),
			map[string]int{"*": 200, "shipper-admin": 404, "shipper": 404, "driver": 404}},
		{"load board", fixed("GET", "/api/v1/board", nil),
			map[string]int{"*": 403, "carrier-admin": 200, "dispatcher": 200, "other-dispatcher": 200, "operator": 200, "carrier-api-key": 200}},
		// Reports show each organization its own loads (tested in internal/reports).
		{"lanes report", fixed("GET", "/api/v1/reports/lanes", nil), map[string]int{"*": 200, "driver": 403}},
		{"performance report", fixed("GET", "/api/v1/reports/performance?format=csv", nil), map[string]int{"*": 200, "driver": 403}},
		{"post a load", fixed("POST", "/api/v1/loads", loadInput()),
			map[string]int{"*": 403, "shipper-admin": 201, "shipper": 201, "other-shipper": 201}},
		{"re-draft A's draft", fixed("POST", "/api/v1/loads/"+draftA+"/status", map[string]any{"status": "draft"}),
			map[string]int{"*": 404, "shipper-admin": 409, "shipper": 409, "operator": 403}},
		{"cancel B's load", fixed("POST", "/api/v1/loads/"+loadB+"/status", map[string]any{"status": "cancelled"}),
			map[string]int{"*": 403, "shipper-admin": 404, "shipper": 404, "driver": 404, "other-shipper": 200}},
		{"book a fresh load", func() request { return request{"POST", "/api/v1/bookings", map[string]any{"load_id": freshLoad()}} },
			map[string]int{"*": 403, "carrier-admin": 201, "dispatcher": 201, "other-dispatcher": 201, "carrier-api-key": 201}},
		{"list bookings", fixed("GET", "/api/v1/bookings", nil), map[string]int{"*": 200}},
		{"read C's booking", fixed("GET", "/api/v1/bookings/"+bookingC, nil),
			map[string]int{"*": 200, "other-dispatcher": 404, "other-shipper": 404}},
		{"assign C's booking", fixed("POST", "/api/v1/bookings/"+bookingC+"/assign", map[string]any{"driver_id": w.driverID}),
			map[string]int{"*": 403, "carrier-admin": 200, "dispatcher": 200, "carrier-api-key": 200, "other-dispatcher": 404, "other-shipper": 404}},
		// Documents: the parties of the load only; others are told nothing.
		{"list booked A's documents", fixed("GET", "/api/v1/loads/"+bookedA+"/documents", nil),
			map[string]int{"*": 200, "other-dispatcher": 404, "operator": 404, "other-shipper": 404}},
		{"read A's document", fixed("GET", "/api/v1/documents/"+docA, nil),
			map[string]int{"*": 200, "other-dispatcher": 404, "operator": 404, "other-shipper": 404}},
		{"download A's document without a link", fixed("GET", "/api/v1/documents/"+docA+"/download", nil),
			map[string]int{"*": 403, "other-dispatcher": 404, "operator": 404, "other-shipper": 404}},
		{"list documents of B's load", fixed("GET", "/api/v1/loads/"+loadB+"/documents", nil),
			map[string]int{"*": 404, "other-shipper": 200}},
		{"list carriers", fixed("GET", "/api/v1/carriers", nil), map[string]int{"*": 200}},
		{"read carrier", fixed("GET", "/api/v1/carriers/"+w.carrier.OrgID, nil), map[string]int{"*": 200}},
		{"read shipper as carrier", fixed("GET", "/api/v1/carriers/"+w.shipper.OrgID, nil), map[string]int{"*": 404}},
		{"list drivers", fixed("GET", "/api/v1/drivers", nil),
			map[string]int{"*": 200, "shipper-admin": 403, "shipper": 403, "other-shipper": 403}},
		{"read C's driver", fixed("GET", "/api/v1/drivers/"+w.driverID, nil),
			map[string]int{"*": 200, "shipper-admin": 404, "shipper": 404, "other-shipper": 404, "other-dispatcher": 404}},
		{"read other carrier's driver", fixed("GET", "/api/v1/drivers/"+otherDriver, nil),
			map[string]int{"*": 404, "other-dispatcher": 200, "operator": 200}},
		{"add a driver", fixed("POST", "/api/v1/drivers", driverInput("New Driver")),
			map[string]int{"*": 403, "carrier-admin": 201, "dispatcher": 201, "other-dispatcher": 201, "carrier-api-key": 201}},
		{"set C's driver status", fixed("POST", "/api/v1/drivers/"+w.driverID+"/status", map[string]any{"status": "available"}),
			map[string]int{"*": 200, "shipper-admin": 404, "shipper": 404, "other-shipper": 404, "other-dispatcher": 404, "operator": 403}},
		{"edit other carrier's driver", fixed("PUT", "/api/v1/drivers/"+otherDriver, driverInput("Renamed")),
			map[string]int{"*": 404, "other-dispatcher": 200, "operator": 403}},
		{"list trucks", fixed("GET", "/api/v1/trucks", nil),
			map[string]int{"*": 403, "carrier-admin": 200, "dispatcher": 200, "other-dispatcher": 200, "operator": 200, "carrier-api-key": 200}},
		{"read other carrier's truck", fixed("GET", "/api/v1/trucks/"+otherTruck, nil),
			map[string]int{"*": 404, "other-dispatcher": 200, "operator": 200}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, caller := range callers {
				want, ok := c.want[caller.name]
				if !ok {
					want = c.want["*"]
				}
				if caller.name == "anonymous" {
					want = 401
				}
				req := c.req()
				r := p.call(req.method, req.path, caller.acct.Token, req.body)
				if r.Status != want {
					t.Errorf("%s: %s %s = %d, want %d: %s", caller.name, req.method, req.path, r.Status, want, r.Body)
				}
				if r.Status >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: error answered with %q, want application/problem+json", caller.name, r.Header.Get("Content-Type"))
				}
			}
		})
	}
}

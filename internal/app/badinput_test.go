package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Bad input gets a problem naming the field, and nothing is written.
func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	p := start(t, config(t, "embedded", func(c *appConfig) { c.MaxBodyBytes = 256 << 10 }))
	w := newWorld(t, p)
	foreign := p.signup("shipper", "Foreign", "admin@foreign.test")
	foreignLoad := str(p.must(201, "POST", "/api/v1/loads", foreign.Token, loadInput()), "id")

	with := func(change func(m map[string]any)) map[string]any {
		m := loadInput()
		change(m)
		return m
	}
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "backhaul", "sub": w.shipper.UserID, "org": w.shipper.OrgID, "kind": "shipper", "role": "admin",
		"exp": time.Now().Add(-time.Hour).Unix()}).SignedString([]byte(strings.Repeat("s", 40)))
	cases := []struct {
		name   string
		token  string
		method string
		path   string
		body   any
		status int
		field  string // the field the problem must name, if any
	}{
		{"malformed JSON", w.shipper.Token, "POST", "/api/v1/loads", `{"reference": "x",`, 400, ""},
		{"not an object", w.shipper.Token, "POST", "/api/v1/loads", `[1,2]`, 422, "(body)"},
		{"wrong type", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["weight_lbs"] = "heavy" }), 422, "weight_lbs"},
		{"unknown field", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["colour"] = "red" }), 422, "colour"},
		{"missing equipment", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { delete(m, "equipment") }), 422, "equipment"},
		{"missing pickup", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { delete(m, "pickup") }), 422, "pickup.start"},
		{"latitude out of range", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["origin"] = map[string]any{"lat": 91.0, "lon": -96.8} }), 422, "origin.lat"},
		{"longitude out of range", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["destination"] = map[string]any{"lat": 33.7, "lon": -184.4} }), 422, "destination.lon"},
		{"delivery before pickup", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) {
			pick := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Hour)
			m["delivery"] = map[string]any{"start": pick.Add(-6 * time.Hour).Format(time.RFC3339), "end": pick.Add(-2 * time.Hour).Format(time.RFC3339)}
		}), 422, "delivery.end"},
		{"negative weight", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["weight_lbs"] = -5 }), 422, "weight_lbs"},
		{"unknown equipment", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["equipment"] = "tanker" }), 422, "equipment"},
		{"unknown city", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["origin"] = map[string]any{"city": "Atlantis", "state": "ZZ"} }), 422, "origin"},
		{"posting at no rate", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["rate_usd"] = 0 }), 422, "rate_usd"},
		{"status through PUT", w.dispatcher.Token, "PUT", "/api/v1/drivers/" + w.driverID, func() map[string]any {
			d := driverInput("X")
			d["status"] = "available"
			return d
		}(), 422, "status"},
		{"half a board origin", w.dispatcher.Token, "GET", "/api/v1/board?origin_lat=32.7", nil, 422, "origin_lon"},
		{"fraction of a cent", w.shipper.Token, "POST", "/api/v1/loads", with(func(m map[string]any) { m["rate_usd"] = 10.001 }), 400, ""},
		{"oversized body", w.shipper.Token, "POST", "/api/v1/loads", `{"notes": "` + strings.Repeat("x", 300<<10) + `"}`, 413, ""},
		{"no token", "", "POST", "/api/v1/loads", loadInput(), 401, ""},
		{"garbage token", "not-a-token", "POST", "/api/v1/loads", loadInput(), 401, ""},
		{"expired token", expired, "POST", "/api/v1/loads", loadInput(), 401, ""},
		{"revoked-looking api key", "bhk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "GET", "/api/v1/loads", nil, 401, ""},
		{"foreign tenant's load", w.shipper.Token, "GET", "/api/v1/loads/" + foreignLoad, nil, 404, ""},
		{"foreign tenant's load, cancel", w.shipper.Token, "POST", "/api/v1/loads/" + foreignLoad + "/status", map[string]any{"status": "cancelled"}, 404, ""},
		{"unknown status", w.shipper.Token, "POST", "/api/v1/loads/" + foreignLoad + "/status", map[string]any{"status": "teleported"}, 422, "status"},
		{"bad board radius", w.dispatcher.Token, "GET", "/api/v1/board?origin=Dallas,TX&radius_mi=-4", nil, 422, "radius_mi"},
		{"bad board cursor", w.dispatcher.Token, "GET", "/api/v1/board?cursor=not!a!cursor", nil, 422, "cursor"},
		{"bad board date", w.dispatcher.Token, "GET", "/api/v1/board?pickup_from=tomorrow", nil, 422, "pickup_from"},
		{"bad driver capacity", w.dispatcher.Token, "POST", "/api/v1/drivers", map[string]any{"name": "X", "home_base": map[string]any{"zip": "75201"}, "equipment": "van", "capacity_lbs": 0}, 422, "capacity_lbs"},
		{"bad hos clock", w.driver.Token, "POST", "/api/v1/drivers/" + w.driverID + "/status", map[string]any{"status": "available", "hos": map[string]any{"driving_left_min": 900}}, 422, "hos.driving_left_min"},
		{"short password", "", "POST", "/api/v1/auth/signup", map[string]any{"org_name": "X", "org_kind": "shipper", "name": "X", "email": "x@x.test", "password": "short"}, 422, "password"},
		{"platform sign-up", "", "POST", "/api/v1/auth/signup", map[string]any{"org_name": "X", "org_kind": "platform", "name": "X", "email": "x@x.test", "password": "a-long-password"}, 422, "org_kind"},
		{"duplicate e-mail", "", "POST", "/api/v1/auth/signup", map[string]any{"org_name": "X", "org_kind": "shipper", "name": "X", "email": "admin@acme.test", "password": "a-long-password"}, 409, "email"},
	}
	count := func() int {
		return len(p.must(200, "GET", "/api/v1/loads?limit=500", w.shipper.Token, nil)["items"].([]any))
	}
	before := count()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := p.call(c.method, c.path, c.token, c.body)
			if r.Status != c.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			prob := r.JSON(t)
			if prob["status"].(float64) != float64(c.status) || str(prob, "title") == "" || str(prob, "type") == "" {
				t.Errorf("problem = %v, want status, title and type", prob)
			}
			if c.field != "" {
				found := false
				errs, _ := prob["errors"].([]any)
				for _, e := range errs {
					found = found || str(e.(map[string]any), "field") == c.field
				}
				if !found {
					t.Errorf("problem does not name field %q: %s", c.field, r.Body)
				}
			}
		})
	}
	if after := count(); after != before {
		t.Errorf("bad requests wrote loads: %d before, %d after", before, after)
	}
	if got := str(p.must(200, "GET", "/api/v1/loads/"+foreignLoad, foreign.Token, nil), "status"); got != "posted" {
		t.Errorf("foreign load status = %s after refused requests, want posted", got)
	}
}

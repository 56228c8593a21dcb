package optimize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/solver/plan"
)

var freightStart = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

// cityPoint geocodes a city for the test problems.
func cityPoint(t testing.TB, name, state string) map[string]any {
	t.Helper()
	pl, ok := geocode.Default().City(name, state)
	if !ok {
		t.Fatalf("geocode %s, %s", name, state)
	}
	return map[string]any{"lat": pl.Point.Lat, "lon": pl.Point.Lon}
}

func stopAt(pt map[string]any, earliest time.Time, hours int) map[string]any {
	return map[string]any{"lat": pt["lat"], "lon": pt["lon"], "earliest": earliest, "latest": earliest.Add(time.Duration(hours) * time.Hour),
		"service_min": 45}
}

// freightProblemJSON is a small fleet around the Midwest: three trucks (one
// with a spent clock, one that must end at home), five van loads over two
// days, and a flatbed load no truck can haul.
func freightProblemJSON(t testing.TB) map[string]any {
	chi, ind, stl := cityPoint(t, "Chicago", "IL"), cityPoint(t, "Indianapolis", "IN"), cityPoint(t, "St. Louis", "MO")
	col, mem, kc := cityPoint(t, "Columbus", "OH"), cityPoint(t, "Memphis", "TN"), cityPoint(t, "Kansas City", "MO")
	d := func(h int) time.Time { return freightStart.Add(time.Duration(h) * time.Hour) }
	return map[string]any{
		"format": "freight",
		"trucks": []any{
			map[string]any{"id": "T1", "start": chi, "available_at": d(0), "capacity_lbs": 45000, "equipment": "van"},
			map[string]any{"id": "T2", "start": stl, "available_at": d(2), "equipment": "van",
				"hos": map[string]any{"driving_left_min": 120, "window_left_min": 180, "cycle_left_min": 3000, "until_break_min": 120, "updated_at": d(2)}},
			map[string]any{"id": "T3", "start": ind, "available_at": d(0), "equipment": "van", "end_at_home": true, "shift_end": d(72)},
		},
		"loads": []any{
			map[string]any{"id": "CHI-IND", "pickup": stopAt(chi, d(1), 4), "delivery": stopAt(ind, d(6), 8), "weight_lbs": 30000, "equipment": "van"},
			map[string]any{"id": "IND-COL", "pickup": stopAt(ind, d(12), 6), "delivery": stopAt(col, d(18), 8), "weight_lbs": 22000, "equipment": "van"},
			map[string]any{"id": "STL-MEM", "pickup": stopAt(stl, d(20), 6), "delivery": stopAt(mem, d(26), 10), "weight_lbs": 41000, "equipment": "van"},
			map[string]any{"id": "MEM-KC", "pickup": stopAt(mem, d(40), 8), "delivery": stopAt(kc, d(48), 12), "weight_lbs": 18000, "equipment": "van"},
			map[string]any{"id": "KC-CHI", "pickup": stopAt(kc, d(30), 30), "delivery": stopAt(chi, d(40), 30), "weight_lbs": 12000, "equipment": "van"},
			map[string]any{"id": "STEEL", "pickup": stopAt(chi, d(5), 4), "delivery": stopAt(stl, d(12), 8), "weight_lbs": 40000, "equipment": "flatbed"},
		},
		"settings": map[string]any{"speed_mph": 50, "circuity": 1.2, "cycle_h": 70},
	}
}

func freightBody(t testing.TB, problem map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"name": "midwest", "time_limit_s": 1, "seed": 3, "problem": problem})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFreightDecode(t *testing.T) {
	sp, err := decodeJobRequest(freightBody(t, freightProblemJSON(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := ProblemSummary{Format: "freight", Kind: "freight", Instance: "6 loads, 3 trucks", Nodes: 15}
	if sp.summary != want || sp.name != "midwest" {
		t.Errorf("got %+v named %q, want %+v named midwest", sp.summary, sp.name, want)
	}
	c, err := compileFreight(sp.problem)
	if err != nil {
		t.Fatal(err)
	}
	p := c.(freightProblem).p
	t2, t3 := p.Trucks[1], p.Trucks[2]
	switch {
	case p.Trucks[1].CapacityLbs != freight.MaxLoadLbs:
		t.Errorf("default capacity: got %v", t2.CapacityLbs)
	case t2.HOS == nil || t2.HOS.DrivingLeft != 120:
		t.Errorf("clock: got %+v", t2.HOS)
	case t3.Home == nil || *t3.Home != t3.Start || !t3.ShiftEnd.Equal(freightStart.Add(72*time.Hour)):
		t.Errorf("end at home: got home %v, shift end %s", t3.Home, t3.ShiftEnd)
	case p.Loads[0].Pickup.Service != 45*time.Minute:
		t.Errorf("service: got %s", p.Loads[0].Pickup.Service)
	}
}

// TestFreightRefusals checks that each kind of bad freight input is refused
// with the field named.
func TestFreightRefusals(t *testing.T) {
	edit := func(f func(p map[string]any)) map[string]any {
		p := freightProblemJSON(t)
		f(p)
		return p
	}
	truck := func(p map[string]any, i int) map[string]any { return p["trucks"].([]any)[i].(map[string]any) }
	load := func(p map[string]any, i int) map[string]any { return p["loads"].([]any)[i].(map[string]any) }
	many := func(n int, item func(i int) any) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = item(i)
		}
		return out
	}
	tests := []struct {
		name    string
		problem map[string]any
		field   string
		text    string
	}{
		{"no trucks", edit(func(p map[string]any) { delete(p, "trucks") }), "problem.trucks", "required"},
		{"no loads", edit(func(p map[string]any) { p["loads"] = []any{} }), "problem.loads", "required"},
		{"too many trucks", edit(func(p map[string]any) {
			tr := truck(p, 0)
			p["trucks"] = many(MaxFreightTrucks+1, func(i int) any {
				c := map[string]any{}
				for k, v := range tr {
					c[k] = v
				}
				c["id"] = fmt.Sprint("T", i)
				return c
			})
		}), "problem.trucks", "at most 500"},
		{"too many loads", edit(func(p map[string]any) {
			p["loads"] = many(MaxFreightLoads+1, func(i int) any { return map[string]any{"id": fmt.Sprint(i)} })
		}), "problem.loads", "at most 2000"},
		{"repeated truck", edit(func(p map[string]any) { truck(p, 1)["id"] = "T1" }), "problem.trucks[1].id", "repeats"},
		{"missing latitude", edit(func(p map[string]any) { delete(truck(p, 0)["start"].(map[string]any), "lat") }), "problem.trucks[0].start.lat", "required"},
		{"latitude out of range", edit(func(p map[string]any) {
			load(p, 2)["delivery"].(map[string]any)["lat"] = 95
		}), "problem.loads[2].delivery.lat", "between -90 and 90"},
		{"no availability", edit(func(p map[string]any) { delete(truck(p, 2), "available_at") }), "problem.trucks[2].available_at", "required"},
		{"shift ends first", edit(func(p map[string]any) { truck(p, 2)["shift_end"] = freightStart.Add(-time.Hour) }), "problem.trucks[2].shift_end", "after available_at"},
		{"capacity over the legal limit", edit(func(p map[string]any) { truck(p, 0)["capacity_lbs"] = 90000 }), "problem.trucks[0].capacity_lbs", "at most 48000"},
		{"unknown equipment", edit(func(p map[string]any) { truck(p, 0)["equipment"] = "tanker" }), "problem.trucks[0].equipment", "van, reefer, flatbed"},
		{"clock out of range", edit(func(p map[string]any) {
			truck(p, 1)["hos"].(map[string]any)["driving_left_min"] = 700
		}), "problem.trucks[1].hos.driving_left_min", "between 0 and 660"},
		{"window reversed", edit(func(p map[string]any) {
			load(p, 0)["pickup"].(map[string]any)["latest"] = freightStart
		}), "problem.loads[0].pickup.latest", "before earliest"},
		{"delivery before pickup", edit(func(p map[string]any) {
			load(p, 1)["delivery"] = stopAt(cityPoint(t, "Columbus", "OH"), freightStart, 2)
		}), "problem.loads[1].delivery.latest", "before the pickup window"},
		{"no weight", edit(func(p map[string]any) { delete(load(p, 3), "weight_lbs") }), "problem.loads[3].weight_lbs", "required"},
		{"long service", edit(func(p map[string]any) {
			load(p, 3)["pickup"].(map[string]any)["service_min"] = 2000
		}), "problem.loads[3].pickup.service_min", "between 0 and 1440"},
		{"year 1900", edit(func(p map[string]any) {
			load(p, 4)["delivery"].(map[string]any)["earliest"] = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
		}), "problem.loads[4].delivery.earliest", "between 2000 and 2099"},
		{"horizon", edit(func(p map[string]any) {
			load(p, 4)["delivery"].(map[string]any)["latest"] = freightStart.Add(40 * 24 * time.Hour)
		}), "problem", "at most 31 days"},
		{"speed", edit(func(p map[string]any) { p["settings"].(map[string]any)["speed_mph"] = 0 }), "problem.settings.speed_mph", "between 10 and 80"},
		{"cycle", edit(func(p map[string]any) { p["settings"].(map[string]any)["cycle_h"] = 80 }), "problem.settings.cycle_h", "60 or 70"},
		{"instance text", edit(func(p map[string]any) { p["instance"] = "x" }), "problem.instance", "not used"},
		{"unknown field", edit(func(p map[string]any) { load(p, 0)["hazmat"] = true }), "hazmat", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeJobRequest(freightBody(t, tt.problem))
			var fe *freight.Error
			if !errors.As(err, &fe) || fe.Code != freight.EINVALID {
				t.Fatalf("got %v, want an invalid-input error", err)
			}
			for _, f := range fe.Fields {
				if strings.Contains(f.Field, tt.field) && strings.Contains(f.Detail, tt.text) {
					return
				}
			}
			if strings.Contains(fe.Message, tt.field) && strings.Contains(fe.Message, tt.text) {
				return
			}
			t.Errorf("got %v, want an error on %s mentioning %q", err, tt.field, tt.text)
		})
	}
}

// FuzzFreightProblem feeds the freight decoder arbitrary bodies: each is
// refused as invalid input, or compiles into a problem the planner solves
// without error into a plan its checker accepts.
func FuzzFreightProblem(f *testing.F) {
	f.Add(freightBody(f, freightProblemJSON(f)))
	f.Add([]byte(`{"problem":{"format":"freight","trucks":[{"id":"a","start":{"lat":41,"lon":-87},"available_at":"2026-12-01T06:00:00Z","equipment":"van"}],` +
		`"loads":[{"id":"x","pickup":{"lat":41,"lon":-87,"earliest":"2026-12-01T06:00:00Z","latest":"2026-12-01T06:00:00Z","service_min":0},` +
		`"delivery":{"lat":41,"lon":-87,"earliest":"2026-12-01T06:00:00Z","latest":"2026-12-01T06:00:00Z"},"weight_lbs":0,"equipment":"van"}]}}`))
	f.Add([]byte(`{"problem":{"format":"freight","trucks":[{"id":"a","start":{"lat":90,"lon":180},"available_at":"2099-12-31T23:59:59Z","equipment":"reefer","home":{"lat":-90,"lon":-180},"shift_end":"2099-12-31T23:59:59.5Z"}],` +
		`"loads":[{"id":"x","pickup":{"lat":-90,"lon":-180,"earliest":"2099-12-01T06:00:00Z","latest":"2099-12-31T06:00:00Z"},` +
		`"delivery":{"lat":90,"lon":180,"earliest":"2099-12-01T06:00:00Z","latest":"2099-12-31T23:00:00Z"},"weight_lbs":48000,"equipment":"reefer"}],"settings":{"cycle_h":60,"speed_mph":10,"circuity":3}}}`))
	f.Add([]byte(`{"problem":{"format":"freight","trucks":[{"id":"\u0000"}],"loads":[{}]}}`))
	f.Add([]byte(`{"problem":{"format":"freight","trucks":null,"loads":[{"pickup":null}],"settings":{}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sp, err := decodeJobRequest(body)
		if err != nil {
			var fe *freight.Error
			if !errors.As(err, &fe) || fe.Code != freight.EINVALID {
				t.Fatalf("got error %v (%T), want an invalid-input error", err, err)
			}
			return
		}
		if sp.problem.Format != "freight" {
			return
		}
		enc, err := encodeProblem(sp.problem)
		if err != nil {
			t.Fatal(err)
		}
		p, err := decodeProblem(enc)
		if err != nil {
			t.Fatal(err)
		}
		c, err := formats[p.Format].compile(p)
		if err != nil {
			t.Fatalf("stored problem does not compile: %v", err)
		}
		if c.summary() != sp.summary {
			t.Fatalf("summary changed through the store: got %+v, want %+v", c.summary(), sp.summary)
		}
		fp := c.(freightProblem).p
		sol, err := plan.Solve(context.Background(), fp, plan.Options{MaxIterations: 3, Seed: 1})
		if err != nil {
			t.Fatalf("accepted problem does not solve: %v", err)
		}
		if v := plan.Check(fp, &sol); len(v) > 0 {
			t.Fatalf("plan refused by the checker: %v", v)
		}
	})
}

// TestFreightJob submits a freight problem through the API on both engine
// combinations, lets a worker plan it, and reads the plan, its progress and
// its event stream back.
func TestFreightJob(t *testing.T) {
	t.Parallel()
	eachSetup(t, func(t *testing.T, su setup) {
		db, buses := su.open(t, 1)
		s, _ := newService(t, db, buses[0], testOptions("freight"))
		a := newAPI(t, s)
		code, out := a.do("POST", "/api/v1/jobs", "carrierA", freightBody(t, freightProblemJSON(t)))
		if code != http.StatusCreated {
			t.Fatalf("submit: got %d %s", code, out)
		}
		id := decode[Job](t, out).ID
		run(t, s)
		waitStatus(t, s, id, StatusSucceeded)

		code, out = a.do("GET", "/api/v1/jobs/"+id, "carrierA", nil)
		if code != http.StatusOK {
			t.Fatalf("get: got %d %s", code, out)
		}
		j := decode[Job](t, out)
		r := j.Result
		if r == nil || r.Freight == nil || !r.Feasible || r.Kind != "freight" {
			t.Fatalf("result: got %s", out)
		}
		fr := r.Freight
		if fr.Loads != 6 || fr.Served != 5 || len(fr.Unassigned) != 1 || fr.Unassigned[0].LoadID != "STEEL" ||
			fr.Unassigned[0].Reason != plan.ReasonEquipment {
			t.Errorf("served %d of %d, unassigned %+v; want 5 of 6, STEEL for its equipment", fr.Served, fr.Loads, fr.Unassigned)
		}
		if r.Vehicles != fr.Trucks || len(r.Routes) != fr.Trucks || len(fr.Plans) != fr.Trucks || r.Distance != fr.Miles && absDiff(r.Distance, fr.Miles) > 0.01 {
			t.Errorf("vehicles %d, routes %d, plans %d, trucks %d; distance %.2f, miles %.2f", r.Vehicles, len(r.Routes), len(fr.Plans), fr.Trucks, r.Distance, fr.Miles)
		}
		if absDiff(fr.LoadedMiles+fr.EmptyMiles, fr.Miles) > 0.05 {
			t.Errorf("loaded %.2f + empty %.2f != %.2f miles", fr.LoadedMiles, fr.EmptyMiles, fr.Miles)
		}
		// Routes number the stops of each plan as pickup 2i+1, delivery 2i+2.
		ids := []string{"CHI-IND", "IND-COL", "STL-MEM", "MEM-KC", "KC-CHI", "STEEL"}
		for k, fp := range fr.Plans {
			var want []int
			for _, st := range fp.Stops {
				for i, lid := range ids {
					if st.LoadID == lid {
						if st.Kind == "pickup" {
							want = append(want, 2*i+1)
						} else {
							want = append(want, 2*i+2)
						}
					}
				}
			}
			if fmt.Sprint(want) != fmt.Sprint(r.Routes[k]) {
				t.Errorf("route %d: got %v, want %v from the plan of %s", k, r.Routes[k], want, fp.TruckID)
			}
			if fp.TruckID == "T3" && fp.Stops[len(fp.Stops)-1].Kind != "home" {
				t.Errorf("T3 must end at home, ends with %s", fp.Stops[len(fp.Stops)-1].Kind)
			}
		}
		if j.Progress.Vehicles == nil || *j.Progress.Vehicles != r.Vehicles || j.Progress.Points == 0 {
			t.Errorf("progress: got %+v, want the result's %d trucks", j.Progress, r.Vehicles)
		}
		code, out = a.do("GET", "/api/v1/jobs/"+id+"/progress", "carrierA", nil)
		if code != http.StatusOK || !strings.Contains(string(out), `"vehicles"`) {
			t.Errorf("progress list: got %d %s", code, out)
		}
		code, out = a.do("GET", "/api/v1/jobs/"+id+"/events", "carrierA", nil)
		if code != http.StatusOK || !strings.Contains(string(out), "event: done") || !strings.Contains(string(out), `"freight":{`) {
			t.Errorf("event stream: got %d %.500s", code, out)
		}
		// A refused problem answers 422 with the field.
		bad := freightProblemJSON(t)
		bad["loads"].([]any)[0].(map[string]any)["equipment"] = "tanker"
		code, out = a.do("POST", "/api/v1/jobs", "carrierA", freightBody(t, bad))
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("bad problem: got %d %s, want 422", code, out)
		}
		if p := decode[httpapi.Problem](t, out); len(p.Errors) != 1 || p.Errors[0].Field != "problem.loads[0].equipment" {
			t.Errorf("bad problem: got errors %+v, want one on problem.loads[0].equipment", p.Errors)
		}
	})
}

func absDiff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

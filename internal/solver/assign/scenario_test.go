package assign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

const validScenario = `{"now": "2025-03-10T08:00:00Z",
 "params": {"speed_mph": 50, "circuity": 1.2, "max_deadhead_miles": 250},
 "drivers": [
  {"id": "D1", "lat": 41.88, "lon": -87.63, "equipment": "van", "capacity_lbs": 45000, "available_at": "2025-03-10T09:00:00Z", "hours_left": 10},
  {"id": "D2", "lat": 39.10, "lon": -84.51, "equipment": "reefer", "capacity_lbs": 45000, "available_at": "2025-03-10T08:30:00Z", "hours_left": 6.5}
 ],
 "loads": [
  {"id": "L1", "origin": {"lat": 41.60, "lon": -87.34}, "destination": {"lat": 39.77, "lon": -86.16}, "equipment": "van", "weight_lbs": 30000,
   "pickup_earliest": "2025-03-10T12:00:00Z", "pickup_latest": "2025-03-10T16:00:00Z", "rate_usd": 1200},
  {"id": "L2", "origin": {"lat": 39.96, "lon": -83.00}, "destination": {"lat": 41.50, "lon": -81.69}, "equipment": "reefer", "weight_lbs": 20000,
   "pickup_earliest": "2025-03-10T10:00:00Z", "pickup_latest": "2025-03-10T18:00:00Z", "rate_usd": 950.5}
 ]}`

func TestDecodeScenario(t *testing.T) {
	s, err := DecodeScenario(strings.NewReader(validScenario))
	if err != nil {
		t.Fatalf("DecodeScenario: %v", err)
	}
	if got, want := s.Now, time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("now: got %v, want %v", got, want)
	}
	if got, want := s.Params, (Params{SpeedMPH: 50, Circuity: 1.2, MaxDeadheadMiles: 250}); got != want {
		t.Errorf("params: got %+v, want %+v", got, want)
	}
	if len(s.Drivers) != 2 || len(s.Loads) != 2 {
		t.Fatalf("got %d drivers, %d loads; want 2, 2", len(s.Drivers), len(s.Loads))
	}
	d := s.Drivers[1]
	if d.ID != "D2" || d.Lat != 39.10 || d.Lon != -84.51 || d.Equipment != "reefer" || d.CapacityLbs != 45000 ||
		d.HoursLeft != 6.5 || !d.AvailableAt.Equal(time.Date(2025, 3, 10, 8, 30, 0, 0, time.UTC)) {
		t.Errorf("drivers[1]: got %+v", d)
	}
	l := s.Loads[1]
	if l.ID != "L2" || l.Origin.Lat != 39.96 || l.Destination.Lon != -81.69 || l.WeightLbs != 20000 || l.RateUSD != 950.5 ||
		!l.PickupLatest.Equal(time.Date(2025, 3, 10, 18, 0, 0, 0, time.UTC)) {
		t.Errorf("loads[1]: got %+v", l)
	}
	// The JSON form of a Scenario is the file format: it decodes back.
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeScenario(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("decode re-encoded scenario: %v", err)
	}
	if again.Drivers[0] != s.Drivers[0] || again.Loads[1] != s.Loads[1] {
		t.Errorf("round trip: got %+v, %+v; want %+v, %+v", again.Drivers[0], again.Loads[1], s.Drivers[0], s.Loads[1])
	}
}

// edit decodes validScenario into generic JSON, applies f and re-encodes.
func edit(t *testing.T, f func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(validScenario), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func item(m map[string]any, list string, i int) map[string]any {
	return m[list].([]any)[i].(map[string]any)
}

func TestDecodeScenarioRejects(t *testing.T) {
	tests := []struct {
		name  string
		input func(t *testing.T) string
		want  []string // substrings of the error
		// content is true for errors about the input (errors.Is
		// ErrInvalidScenario), false for failures to read it.
		content bool
	}{
		{"empty input", func(*testing.T) string { return "" }, []string{"empty input"}, true},
		{"not JSON", func(*testing.T) string { return "drivers: []" }, []string{"byte 1: invalid character 'd'"}, true},
		{"truncated", func(*testing.T) string { return validScenario[:200] }, []string{"input ends inside the scenario"}, true},
		{"trailing data", func(*testing.T) string { return validScenario + " {}" }, []string{"data after the scenario"}, true},
		{"unknown field", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "drivers", 0)["colour"] = "red" })
		}, []string{`unknown field "colour"`}, true},
		{"string for a number", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "drivers", 0)["lat"] = "41.8" })
		}, []string{"drivers.lat: got string, want a number"}, true},
		{"NaN as a string is not a number", func(*testing.T) string {
			return strings.Replace(validScenario, `"lat": 41.88`, `"lat": NaN`, 1)
		}, []string{"invalid character 'N'"}, true},
		{"number too large", func(*testing.T) string {
			return strings.Replace(validScenario, `"lat": 41.88`, `"lat": 1e999`, 1)
		}, []string{"drivers.lat: 1e999 is out of range"}, true},
		{"array instead of object", func(*testing.T) string { return "[]" }, []string{"got array, want an object"}, true},
		{"no drivers", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { m["drivers"] = []any{} })
		}, []string{"drivers: no drivers"}, true},
		{"drivers missing", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { delete(m, "drivers") })
		}, []string{"drivers: no drivers"}, true},
		{"no loads", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { m["loads"] = nil })
		}, []string{"loads: no loads"}, true},
		{"duplicate driver ID", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "drivers", 1)["id"] = "D1" })
		}, []string{`drivers[1].id (id "D1"): duplicate of drivers[0]`}, true},
		{"duplicate load ID", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "loads", 1)["id"] = "L1" })
		}, []string{`loads[1].id (id "L1"): duplicate of loads[0]`}, true},
		{"empty ID", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "loads", 0)["id"] = "" })
		}, []string{"loads[0].id: missing"}, true},
		{"missing ID", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { delete(item(m, "drivers", 1), "id") })
		}, []string{"drivers[1].id: missing"}, true},
		{"latitude out of range", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "drivers", 1)["lat"] = 91.5 })
		}, []string{`drivers[1].lat (id "D2"): 91.5 is outside [-90, 90]`}, true},
		{"longitude out of range", func(t *testing.T) string {
			return edit(t, func(m map[string]any) {
				item(m, "loads", 1)["destination"].(map[string]any)["lon"] = -181
			})
		}, []string{`loads[1].destination.lon (id "L2"): -181 is outside [-180, 180]`}, true},
		{"missing coordinate", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { delete(item(m, "loads", 0)["origin"].(map[string]any), "lat") })
		}, []string{`loads[0].origin.lat (id "L1"): missing`}, true},
		{"missing origin", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { delete(item(m, "loads", 0), "origin") })
		}, []string{`loads[0].origin (id "L1"): missing`}, true},
		{"window closes before it opens", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "loads", 1)["pickup_latest"] = "2025-03-10T09:59:00Z" })
		}, []string{`loads[1].pickup_latest (id "L2"): 2025-03-10T09:59:00Z is before pickup_earliest 2025-03-10T10:00:00Z`}, true},
		{"bad timestamp", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "drivers", 0)["available_at"] = "tomorrow" })
		}, []string{`drivers[0].available_at (id "D1"): "tomorrow" is not an RFC 3339 time`}, true},
		{"missing now", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { delete(m, "now") })
		}, []string{"now: missing"}, true},
		{"negative weight", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "loads", 0)["weight_lbs"] = -1 })
		}, []string{`loads[0].weight_lbs (id "L1"): -1 is not a non-negative number`}, true},
		{"negative capacity", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "drivers", 0)["capacity_lbs"] = -45000 })
		}, []string{`drivers[0].capacity_lbs (id "D1"): -45000`}, true},
		{"negative hours left", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "drivers", 1)["hours_left"] = -0.5 })
		}, []string{`drivers[1].hours_left (id "D2")`}, true},
		{"negative rate", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "loads", 1)["rate_usd"] = -3 })
		}, []string{`loads[1].rate_usd (id "L2")`}, true},
		{"missing equipment", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { item(m, "drivers", 0)["equipment"] = nil })
		}, []string{`drivers[0].equipment (id "D1"): missing`}, true},
		{"null driver", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { m["drivers"].([]any)[0] = nil })
		}, []string{"drivers[0]: null"}, true},
		{"zero speed", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { m["params"].(map[string]any)["speed_mph"] = 0 })
		}, []string{"params.speed_mph: 0 is not a positive number"}, true},
		{"circuity below one", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { m["params"].(map[string]any)["circuity"] = 0.8 })
		}, []string{"params.circuity: 0.8 is below 1"}, true},
		{"missing params", func(t *testing.T) string {
			return edit(t, func(m map[string]any) { delete(m, "params") })
		}, []string{"params: missing"}, true},
		{"every problem reported", func(t *testing.T) string {
			return edit(t, func(m map[string]any) {
				item(m, "drivers", 0)["lat"] = 100
				item(m, "loads", 1)["weight_lbs"] = -5
				item(m, "loads", 1)["id"] = "L1"
			})
		}, []string{"drivers[0].lat", "loads[1].id", "loads[1].weight_lbs"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeScenario(strings.NewReader(tt.input(t)))
			if err == nil {
				t.Fatal("DecodeScenario: got nil error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want it to contain %q", err, w)
				}
			}
			if got := errors.Is(err, ErrInvalidScenario); got != tt.content {
				t.Errorf("errors.Is(%q, ErrInvalidScenario): got %v, want %v", err, got, tt.content)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestDecodeScenarioPassesReadErrors(t *testing.T) {
	_, err := DecodeScenario(failingReader{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || errors.Is(err, ErrInvalidScenario) {
		t.Errorf("got %v, want the read error, not ErrInvalidScenario", err)
	}
}

func TestDecodeScenarioReportsEachProblemOnce(t *testing.T) {
	in := edit(t, func(m map[string]any) { m["drivers"].([]any)[0] = nil })
	_, err := DecodeScenario(strings.NewReader(in))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	if len(ve.Problems) != 1 || ve.Problems[0].Field != "drivers[0]" {
		t.Errorf("problems: got %v, want just drivers[0]", ve.Problems)
	}
}

func TestDecodeScenarioCapsTheReport(t *testing.T) {
	in := edit(t, func(m map[string]any) {
		d := item(m, "drivers", 0)
		var drivers []any
		for range 50 {
			drivers = append(drivers, d) // 49 duplicates of D1
		}
		m["drivers"] = drivers
	})
	_, err := DecodeScenario(strings.NewReader(in))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	if len(ve.Problems) != maxProblems || ve.Omitted != 49-maxProblems {
		t.Errorf("got %d problems and %d omitted, want %d and %d", len(ve.Problems), ve.Omitted, maxProblems, 49-maxProblems)
	}
	if !strings.Contains(err.Error(), "and 29 more") {
		t.Errorf("error %q: want it to say how many more", err)
	}
}

func TestValidateRejectsNonFinite(t *testing.T) {
	s, err := DecodeScenario(strings.NewReader(validScenario))
	if err != nil {
		t.Fatal(err)
	}
	s.Drivers[0].Lat = math.NaN()
	s.Loads[0].Origin.Lon = math.Inf(1)
	s.Params.MaxDeadheadMiles = math.Inf(1)
	err = s.Validate()
	for _, w := range []string{"drivers[0].lat", "loads[0].origin.lon", "params.max_deadhead_miles"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate: got %v, want an error naming %s", err, w)
		}
	}
}

// FuzzDecodeScenario checks that no input crashes the decoder, and that
// whatever it accepts is a valid scenario on which the whole pipeline runs
// and yields a valid assignment of feasible pairs.
func FuzzDecodeScenario(f *testing.F) {
	f.Add([]byte(validScenario))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"now":"2025-03-10T08:00:00Z","params":{"speed_mph":1,"circuity":1,"max_deadhead_miles":20000},` +
		`"drivers":[{"id":"a","lat":90,"lon":180,"equipment":"x","capacity_lbs":0,"available_at":"2025-03-10T08:00:00Z","hours_left":0}],` +
		`"loads":[{"id":"a","origin":{"lat":90,"lon":-180},"destination":{"lat":-90,"lon":0},"equipment":"x","weight_lbs":0,` +
		`"pickup_earliest":"2025-03-10T08:00:00Z","pickup_latest":"2025-03-10T08:00:00Z","rate_usd":0}]}`))
	f.Add([]byte(strings.Replace(validScenario, `"D2"`, `"D1"`, 1)))
	f.Add([]byte(strings.Replace(validScenario, `41.88`, `-1e308`, 1)))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := DecodeScenario(bytes.NewReader(in))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted a scenario that does not validate: %v", err)
		}
		if len(s.Drivers)*len(s.Loads) > 10000 {
			return // keep each run quick
		}
		sol, err := Assign(context.Background(), &s)
		if err != nil {
			t.Fatalf("Assign: %v", err)
		}
		dUsed, lUsed := map[int]bool{}, map[int]bool{}
		for _, p := range sol.Pairs {
			miles, ok := Feasible(s.Params, &s.Drivers[p.Driver], &s.Loads[p.Load])
			if !ok || miles != p.Miles || dUsed[p.Driver] || lUsed[p.Load] {
				t.Fatalf("pair %+v: feasible %v (%v miles), driver used %v, load used %v",
					p, ok, miles, dUsed[p.Driver], lUsed[p.Load])
			}
			dUsed[p.Driver], lUsed[p.Load] = true, true
		}
		if g := Greedy(&s, mustCandidates(t, &s)); g.Assigned() > sol.Assigned() {
			t.Fatalf("greedy covers %d loads, the optimum %d", g.Assigned(), sol.Assigned())
		}
	})
}

func mustCandidates(t testing.TB, s *Scenario) []Edge {
	t.Helper()
	edges, err := Candidates(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return edges
}

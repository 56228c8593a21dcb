package freight

import (
	"encoding/json"
	"testing"
	"time"
)

func TestStatusMachine(t *testing.T) {
	legal := map[[2]LoadStatus]bool{
		{StatusDraft, StatusPosted}: true, {StatusDraft, StatusCancelled}: true,
		{StatusPosted, StatusBooked}: true, {StatusPosted, StatusCancelled}: true, {StatusPosted, StatusDraft}: true,
		{StatusBooked, StatusDispatched}: true, {StatusBooked, StatusPosted}: true, {StatusBooked, StatusCancelled}: true,
		{StatusDispatched, StatusAtPickup}: true, {StatusDispatched, StatusBooked}: true, {StatusDispatched, StatusCancelled}: true,
		{StatusAtPickup, StatusInTransit}: true, {StatusInTransit, StatusAtDelivery}: true, {StatusAtDelivery, StatusDelivered}: true,
	}
	for _, from := range LoadStatuses {
		for _, to := range LoadStatuses {
			if got, want := from.CanMoveTo(to), legal[[2]LoadStatus{from, to}]; got != want {
				t.Errorf("%s -> %s allowed = %v, want %v", from, to, got, want)
			}
		}
	}
	for _, s := range []LoadStatus{StatusDelivered, StatusCancelled} {
		if !s.Terminal() {
			t.Errorf("%s not terminal", s)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Money
		ok   bool
	}{
		{"2150", 215000, true}, {"2150.5", 215050, true}, {"0.07", 7, true}, {"10.001", 0, false},
		{`"12"`, 0, false}, {"1e308", 0, false}, {"-5", -500, true},
	}
	for _, tt := range tests {
		var m Money
		err := json.Unmarshal([]byte(tt.in), &m)
		if (err == nil) != tt.ok || (tt.ok && m != tt.want) {
			t.Errorf("Unmarshal(%s) = %d, %v; want %d, ok=%v", tt.in, m, err, tt.want, tt.ok)
		}
	}
	b, _ := json.Marshal(Money(215050))
	if string(b) != "2150.5" {
		t.Errorf("Marshal = %s, want 2150.5", b)
	}
}

func TestLoadInputValidate(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	valid := func() LoadInput {
		r := Money(100000)
		return LoadInput{Origin: Location{City: "Dallas", State: "TX"}, Destination: Location{ZIP: "30303"},
			Pickup:   Window{now.Add(24 * time.Hour), now.Add(28 * time.Hour)},
			Delivery: Window{now.Add(48 * time.Hour), now.Add(52 * time.Hour)}, Equipment: Van, WeightLbs: 1000, Rate: &r}
	}
	tests := []struct {
		name   string
		change func(*LoadInput)
		field  string
	}{
		{"valid", func(*LoadInput) {}, ""},
		{"no origin", func(in *LoadInput) { in.Origin = Location{} }, "origin"},
		{"bad zip", func(in *LoadInput) { in.Destination.ZIP = "3030" }, "destination.zip"},
		{"lat", func(in *LoadInput) { in.Origin = Location{Lat: -91, Lon: 1} }, "origin.lat"},
		{"pickup reversed", func(in *LoadInput) { in.Pickup.End = in.Pickup.Start.Add(-time.Hour) }, "pickup.end"},
		{"pickup past", func(in *LoadInput) { in.Pickup = Window{now.Add(-72 * time.Hour), now.Add(-48 * time.Hour)} }, "pickup.end"},
		{"delivery before pickup", func(in *LoadInput) { in.Delivery = Window{now, now.Add(time.Hour)} }, "delivery.end"},
		{"delivery starts early", func(in *LoadInput) { in.Delivery.Start = now }, "delivery.start"},
		{"heavy", func(in *LoadInput) { in.WeightLbs = 90000 }, "weight_lbs"},
		{"equipment", func(in *LoadInput) { in.Equipment = "tanker" }, "equipment"},
		{"negative rate", func(in *LoadInput) { r := Money(-1); in.Rate = &r }, "rate_usd"},
		{"long notes", func(in *LoadInput) { in.Notes = string(make([]byte, 5000)) }, "notes"},
	}
	for _, tt := range tests {
		in := valid()
		tt.change(&in)
		err := in.Validate(now)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%s: err = %v, want a field error on %s", tt.name, err, tt.field)
			continue
		}
		found := false
		for _, f := range e.Fields {
			found = found || f.Field == tt.field
		}
		if !found {
			t.Errorf("%s: fields %v, want %s", tt.name, e.Fields, tt.field)
		}
	}
}

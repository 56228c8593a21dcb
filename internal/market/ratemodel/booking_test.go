package ratemodel

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

const header = "load_id,booked_at,pickup_at,origin_city,origin_state,origin_lat,origin_lon,dest_city,dest_state,dest_lat,dest_lon,equipment,weight_lbs,miles,rate_usd"

const goodRow = "B1,2024-01-01T00:14:45Z,2024-01-02T07:00:00Z,Pontiac,Michigan,42.63892,-83.29105,Cleveland,Ohio,41.49932,-81.69436,van,41990,130,500.01"

// row is goodRow with the named columns replaced.
func row(changes map[string]string) string {
	cols := strings.Split(header, ",")
	vals := strings.Split(goodRow, ",")
	for k, v := range changes {
		for i, c := range cols {
			if c == k {
				vals[i] = v
			}
		}
	}
	return strings.Join(vals, ",")
}

func TestReadBookingsRejectsBadRowsWithLineNumbers(t *testing.T) {
	tests := []struct {
		name string
		row  string
		want error // nil: kept
		msg  string
	}{
		{"good", goodRow, nil, ""},
		{"missing field", strings.TrimSuffix(goodRow, ",500.01"), ErrFieldCount, "got 14, want 15"},
		{"extra field", goodRow + ",x", ErrFieldCount, "got 16, want 15"},
		{"bad booked_at", row(map[string]string{"booked_at": "2024-13-01T00:00:00Z"}), ErrBadValue, "booked_at"},
		{"bad pickup_at", row(map[string]string{"pickup_at": "tomorrow"}), ErrBadValue, "pickup_at"},
		{"negative miles", row(map[string]string{"miles": "-130"}), ErrBadValue, "miles"},
		{"zero miles", row(map[string]string{"miles": "0"}), ErrBadValue, "miles"},
		{"negative weight", row(map[string]string{"weight_lbs": "-1"}), ErrBadValue, "weight_lbs"},
		{"unknown equipment", row(map[string]string{"equipment": "tanker"}), ErrBadValue, "equipment"},
		{"empty equipment", row(map[string]string{"equipment": ""}), ErrBadValue, "equipment"},
		{"rate not a number", row(map[string]string{"rate_usd": "$500"}), ErrBadValue, "rate_usd"},
		{"zero rate", row(map[string]string{"rate_usd": "0"}), ErrBadValue, "rate_usd"},
		{"NaN rate", row(map[string]string{"rate_usd": "NaN"}), ErrBadValue, "rate_usd"},
		{"latitude out of range", row(map[string]string{"origin_lat": "142.6"}), ErrBadValue, "origin"},
		{"empty load_id", row(map[string]string{"load_id": ""}), ErrBadValue, "load_id"},
		{"bare quote", row(map[string]string{"origin_city": `Pon"tiac`}), ErrBadValue, ""},
		{"equipment in capitals", row(map[string]string{"equipment": " Reefer "}), nil, ""},
		{"date without zone", row(map[string]string{"booked_at": "2024-01-01 00:14:45"}), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// the row under test is on line 3, between two good rows
			in := header + "\n" + row(map[string]string{"load_id": "A"}) + "\n" + tt.row + "\n" + row(map[string]string{"load_id": "Z"}) + "\n"
			got, rep, err := ReadBookings(strings.NewReader(in))
			if err != nil {
				t.Fatalf("ReadBookings: %v", err)
			}
			if rep.Rows != 3 {
				t.Errorf("rows: got %d, want 3", rep.Rows)
			}
			if tt.want == nil {
				if len(rep.Rejected) != 0 || len(got) != 3 || rep.Kept != 3 {
					t.Fatalf("got %d kept, rejected %v; want all 3 kept", len(got), rep.Rejected)
				}
				return
			}
			if len(got) != 2 || rep.Kept != 2 || len(rep.Rejected) != 1 {
				t.Fatalf("got %d kept and %d rejected, want 2 and 1", len(got), len(rep.Rejected))
			}
			e := rep.Rejected[0]
			if e.Line != 3 || e.Row != 2 {
				t.Errorf("rejected at line %d row %d, want line 3 row 2", e.Line, e.Row)
			}
			if !errors.Is(e, tt.want) {
				t.Errorf("error: got %v, want %v", e, tt.want)
			}
			if !strings.Contains(e.Error(), tt.msg) || !strings.Contains(e.Error(), "line 3") {
				t.Errorf("message %q, want it to name line 3 and contain %q", e.Error(), tt.msg)
			}
			if got[0].LoadID != "A" || got[1].LoadID != "Z" {
				t.Errorf("kept %s and %s, want A and Z", got[0].LoadID, got[1].LoadID)
			}
		})
	}
}

func TestReadBookingsValues(t *testing.T) {
	got, _, err := ReadBookings(strings.NewReader("\ufeff" + header + "\n" + goodRow + "\n"))
	if err != nil || len(got) != 1 {
		t.Fatalf("got %d bookings, %v; want 1", len(got), err)
	}
	want := Booking{
		Load: Load{
			LoadID:    "B1",
			BookedAt:  time.Date(2024, 1, 1, 0, 14, 45, 0, time.UTC),
			PickupAt:  time.Date(2024, 1, 2, 7, 0, 0, 0, time.UTC),
			Origin:    Place{"Pontiac", "Michigan", 42.63892, -83.29105},
			Dest:      Place{"Cleveland", "Ohio", 41.49932, -81.69436},
			Equipment: Van, WeightLbs: 41990, Miles: 130,
		},
		RateUSD: 500.01,
	}
	if fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", got[0], want)
	}
}

func TestReadBookingsDuplicatesAndLineNumbers(t *testing.T) {
	in := header + "\n" +
		row(map[string]string{"load_id": "A"}) + "\n" +
		"\n" + // a blank line is skipped, not a row
		row(map[string]string{"load_id": "B", "origin_city": "\"Pontiac,\nMI\""}) + "\n" + // a quoted field across two lines
		row(map[string]string{"load_id": "A"}) + "\n"
	got, rep, err := ReadBookings(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Origin.City != "Pontiac,\nMI" {
		t.Fatalf("got %+v, want A and B kept", got)
	}
	if len(rep.Rejected) != 1 {
		t.Fatalf("rejected %v, want the second A", rep.Rejected)
	}
	e := rep.Rejected[0]
	if !errors.Is(e, ErrDuplicateID) || e.Line != 6 || e.LoadID != "A" || !strings.Contains(e.Error(), "first seen on line 2") {
		t.Errorf("got %v (line %d), want a duplicate of line 2 on line 6", e, e.Line)
	}
	if s := rep.Summary(0); !strings.HasPrefix(s, "3 rows read, 2 kept, 1 rejected\n  line 6 (load A): duplicate load_id") {
		t.Errorf("summary %q", s)
	}
}

func TestReadBookingsHeader(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
	}{
		{"empty", "", "empty file"},
		{"missing columns", "load_id,booked_at\n", "pickup_at"},
		{"no rate", strings.TrimSuffix(header, ",rate_usd") + "\n", "rate_usd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadBookings(strings.NewReader(tt.in))
			if !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrHeader naming %q", err, tt.want)
			}
		})
	}
	// columns in another order, with one more
	cols := strings.Split(header, ",")
	vals := strings.Split(goodRow, ",")
	for i, j := 0, len(cols)-1; i < j; i, j = i+1, j-1 {
		cols[i], cols[j] = cols[j], cols[i]
		vals[i], vals[j] = vals[j], vals[i]
	}
	in := strings.Join(append(cols, "note"), ",") + "\n" + strings.Join(append(vals, "hi"), ",") + "\n"
	got, _, err := ReadBookings(strings.NewReader(in))
	if err != nil || len(got) != 1 || got[0].RateUSD != 500.01 || got[0].Miles != 130 {
		t.Errorf("reordered columns: got %+v, %v", got, err)
	}
}

func TestReadQueries(t *testing.T) {
	noRate := strings.TrimSuffix(header, ",rate_usd")
	q := func(id string) string { return strings.TrimSuffix(row(map[string]string{"load_id": id}), ",500.01") }
	in := noRate + "\n" + q("Q1") + "\n" + q("Q2") + "\n" + q("Q1") + "\n" + strings.Replace(q("Q3"), "van", "tanker", 1) + "\n"
	got, rep, err := ReadQueries(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].LoadID != "Q1" {
		t.Errorf("got %d queries, want 3 with Q1 repeated", len(got))
	}
	if len(rep.Rejected) != 1 || rep.Rejected[0].Row != 4 || rep.Rejected[0].Line != 5 || rep.Rejected[0].LoadID != "Q3" {
		t.Errorf("rejected %+v, want Q3 at row 4, line 5", rep.Rejected)
	}
	// a bookings file is a valid query file: rate_usd is ignored
	got, _, err = ReadQueries(strings.NewReader(header + "\n" + goodRow + "\n"))
	if err != nil || len(got) != 1 {
		t.Errorf("bookings as queries: got %d, %v", len(got), err)
	}
}

func TestParseEquipment(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Equipment
		ok   bool
	}{{"van", Van, true}, {"REEFER", Reefer, true}, {" flatbed", Flatbed, true}, {"tanker", "", false}, {"", "", false}} {
		got, err := ParseEquipment(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseEquipment(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzReadBookings(f *testing.F) {
	f.Add(header + "\n" + goodRow + "\n")
	f.Add(header + "\n" + goodRow + "\n" + goodRow + "\n")
	f.Add(header + "\n\"a,b\n" + goodRow)
	f.Add("load_id\n1\n")
	f.Add(header + "\n" + row(map[string]string{"miles": "1e309", "rate_usd": "-0"}) + "\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, rep, err := ReadBookings(strings.NewReader(in))
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("error %v with %d bookings", err, len(got))
			}
			return
		}
		if rep.Kept != len(got) || rep.Kept+len(rep.Rejected) != rep.Rows {
			t.Fatalf("report %d kept + %d rejected != %d rows; %d returned", rep.Kept, len(rep.Rejected), rep.Rows, len(got))
		}
		seen := map[string]bool{}
		for _, b := range got {
			if seen[b.LoadID] || b.LoadID == "" {
				t.Fatalf("load_id %q empty or repeated", b.LoadID)
			}
			seen[b.LoadID] = true
			if !(b.Miles > 0) || b.WeightLbs < 0 || !(b.RateUSD > 0) || math.IsInf(b.RateUSD, 0) || b.Equipment.index() < 0 {
				t.Fatalf("kept an invalid booking %+v", b)
			}
		}
		for _, e := range rep.Rejected {
			if e.Line < 2 || e.Row < 1 || e.Row > rep.Rows {
				t.Fatalf("rejected row with line %d, row %d of %d", e.Line, e.Row, rep.Rows)
			}
		}
	})
}

func FuzzReadQueries(f *testing.F) {
	noRate := strings.TrimSuffix(header, ",rate_usd")
	f.Add(noRate + "\n" + strings.TrimSuffix(goodRow, ",500.01") + "\n")
	f.Add(header + "\n" + goodRow + "\n")
	f.Add(noRate + "\n,,,,,,,,,,,,,\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, rep, err := ReadQueries(strings.NewReader(in))
		if err != nil {
			return
		}
		if rep.Kept != len(got) || rep.Kept+len(rep.Rejected) != rep.Rows {
			t.Fatalf("report %d kept + %d rejected != %d rows", rep.Kept, len(rep.Rejected), rep.Rows)
		}
		prev := 0
		for _, e := range rep.Rejected {
			if e.Row <= prev {
				t.Fatalf("rejected rows out of order: %d after %d", e.Row, prev)
			}
			prev = e.Row
		}
	})
}

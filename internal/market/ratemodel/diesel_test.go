package ratemodel

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultDiesel(t *testing.T) {
	d := DefaultDiesel()
	if len(d.Prices) < 100 {
		t.Fatalf("embedded series has %d weeks, want the two years of bookings and more", len(d.Prices))
	}
	first, last := d.Weeks[0], d.Weeks[len(d.Weeks)-1]
	if first.After(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || last.Before(time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("embedded series spans %s to %s, want all of 2024 and 2025", first, last)
	}
	for i, p := range d.Prices {
		if p < 2 || p > 7 {
			t.Errorf("week %s: price %g, want a plausible diesel price", d.Weeks[i], p)
		}
	}
}

func TestDieselAt(t *testing.T) {
	d, err := ReadDiesel(strings.NewReader("week_start,diesel_usd_per_gal\n2024-01-08,3.9\n2024-01-01,3.8\n2024-01-15,4.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	tests := []struct {
		at   string
		want float64
	}{
		{"2023-12-01T00:00:00Z", 3.8}, // before the series: the first price
		{"2024-01-01T00:00:00Z", 3.8},
		{"2024-01-07T23:59:59Z", 3.8},
		{"2024-01-08T00:00:00Z", 3.9},
		{"2024-01-16T12:00:00Z", 4.0},
		{"2026-06-01T00:00:00Z", 4.0}, // after it: the last price carries forward
	}
	for _, tt := range tests {
		if got := d.At(day(tt.at)); got != tt.want {
			t.Errorf("At(%s) = %g, want %g", tt.at, got, tt.want)
		}
	}
}

func TestReadDieselErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
		msg      string
	}{
		{"no header", "", ErrHeader, "empty"},
		{"wrong columns", "week,price\n2024-01-01,3.8\n", ErrHeader, "week_start"},
		{"bad date", "week_start,diesel_usd_per_gal\n2024-01-01,3.8\nsoon,3.9\n", ErrBadValue, "line 3"},
		{"bad price", "week_start,diesel_usd_per_gal\n2024-01-01,-3.8\n", ErrBadValue, "line 2"},
		{"short row", "week_start,diesel_usd_per_gal\n2024-01-01\n", ErrFieldCount, "line 2"},
		{"week twice", "week_start,diesel_usd_per_gal\n2024-01-01,3.8\n2024-01-01,3.9\n", ErrBadValue, "twice"},
		{"no prices", "week_start,diesel_usd_per_gal\n", nil, "no prices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadDiesel(strings.NewReader(tt.in))
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

func FuzzReadDiesel(f *testing.F) {
	f.Add("week_start,diesel_usd_per_gal\n2024-01-01,3.851\n2024-01-08,3.892\n")
	f.Add("diesel_usd_per_gal,week_start\n3.8,2024-01-01T00:00:00Z\n")
	f.Add("week_start,diesel_usd_per_gal\n\"2024-01-01\",\"3.8\"\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ReadDiesel(strings.NewReader(in))
		if err != nil {
			return
		}
		if len(d.Weeks) == 0 || len(d.Weeks) != len(d.Prices) {
			t.Fatalf("%d weeks, %d prices", len(d.Weeks), len(d.Prices))
		}
		for i := range d.Weeks {
			if i > 0 && !d.Weeks[i].After(d.Weeks[i-1]) {
				t.Fatalf("weeks not ascending at %d", i)
			}
			if !(d.Prices[i] > 0) {
				t.Fatalf("price %g", d.Prices[i])
			}
			if got := d.At(d.Weeks[i]); got != d.Prices[i] {
				t.Fatalf("At(week %d) = %g, want %g", i, got, d.Prices[i])
			}
		}
	})
}

package ratemodel

import (
	"testing"
	"time"
)

func TestHolidays(t *testing.T) {
	want := map[int][]string{
		2024: {"2024-01-01", "2024-05-27", "2024-07-04", "2024-09-02", "2024-11-28", "2024-12-25"},
		2025: {"2025-01-01", "2025-05-26", "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25"},
	}
	for year, days := range want {
		got := holidays(year)
		for i, d := range days {
			if g := got[i].Format(time.DateOnly); g != d {
				t.Errorf("%d holiday %d: got %s, want %s", year, i, g, d)
			}
		}
	}
}

func TestHolidayOffset(t *testing.T) {
	tests := []struct {
		at   string
		want int
	}{
		{"2024-11-27T23:00:00Z", -1}, // the eve of Thanksgiving
		{"2024-11-28T06:00:00Z", 0},
		{"2024-12-31T08:00:00Z", -1}, // New Year of the next year
		{"2025-01-02T08:00:00Z", 1},
		{"2024-03-15T08:00:00Z", 14}, // far from any: clamped
		{"2024-07-10T08:00:00Z", 6},
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.at)
		if got := holidayOffset(at, 14); got != tt.want {
			t.Errorf("holidayOffset(%s) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

func TestInUS(t *testing.T) {
	tests := []struct {
		name     string
		lat, lon float64
		want     bool
	}{
		{"New York", 40.71, -74.01, true},
		{"Los Angeles", 34.05, -118.24, true},
		{"San Diego", 32.72, -117.16, true},
		{"El Paso", 31.79, -106.42, true},
		{"Brownsville", 25.93, -97.48, true},
		{"Miami", 25.76, -80.19, true},
		{"Key West", 24.56, -81.78, true},
		{"Seattle", 47.61, -122.33, true},
		{"Detroit", 42.33, -83.05, true},
		{"Buffalo", 42.89, -78.88, true},
		{"Duluth", 46.79, -92.10, true},
		{"Bangor", 44.80, -68.77, true},
		{"Anchorage", 61.22, -149.90, true},
		{"Juneau", 58.30, -134.42, true},
		{"Honolulu", 21.31, -157.86, true},
		{"San Juan", 18.47, -66.11, true},
		{"Toronto", 43.65, -79.38, false},
		{"Montreal", 45.50, -73.57, false},
		{"Vancouver", 49.28, -123.12, false},
		{"Victoria", 48.43, -123.37, false},
		{"Winnipeg", 49.90, -97.14, false},
		{"Halifax", 44.65, -63.57, false},
		{"Whitehorse", 60.72, -135.05, false},
		{"Monterrey", 25.69, -100.32, false},
		{"Mexico City", 19.43, -99.13, false},
		{"Tijuana", 32.46, -116.98, false},
		{"Hermosillo", 29.07, -110.96, false},
		{"Havana", 23.11, -82.37, false},
		{"Nassau", 25.04, -77.35, false},
		{"London", 51.51, -0.13, false},
		{"null island", 0, 0, false},
	}
	for _, tt := range tests {
		if got := inUS(tt.lat, tt.lon); got != tt.want {
			t.Errorf("inUS(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

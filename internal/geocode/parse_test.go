package geocode

import (
	"testing"

	"github.com/backhaul/backhaul/internal/geocode/internal/placename"
)

func TestParse(t *testing.T) {
	g := Default()
	tests := []struct {
		in        string
		wantOK    bool
		wantCity  string
		wantState string
		wantZIP   string // "" means any ZIP code of the city
	}{
		{"Dallas, TX", true, "Dallas", "TX", ""},
		{"dallas tx", true, "Dallas", "TX", ""},
		{"Dallas Texas", true, "Dallas", "TX", ""},
		{"dallas tx 75201", true, "Dallas", "TX", "75201"},
		{"Dallas, TX 75202-1234", true, "Dallas", "TX", "75202"},
		{"75201", true, "Dallas", "TX", "75201"},
		{"  75201  ", true, "Dallas", "TX", "75201"},
		{"75201-1234", true, "Dallas", "TX", "75201"},
		{"St. Louis, MO, USA", true, "St. Louis", "MO", ""},
		{"saint louis missouri united states", true, "St. Louis", "MO", ""},
		{"New York, New York", true, "New York", "NY", ""},
		{"new york new york", true, "New York", "NY", ""},
		{"New York NY 10001", true, "New York", "NY", "10001"},
		{"Kansas City Kansas", true, "Kansas City", "KS", ""},
		{"Kansas City", true, "Kansas City", "MO", ""},
		{"Ft Worth, Texas", true, "Fort Worth", "TX", ""},
		{"Washington, D.C.", true, "Washington", "DC", ""},
		{"Washington DC", true, "Washington", "DC", ""},
		{"San Juan, PR", true, "San Juan", "PR", ""},
		{"Springfield, IL", true, "Springfield", "IL", ""},
		{"Springfield", true, "Springfield", "MO", ""},
		{"Portland, Maine", true, "Portland", "ME", ""},
		// A ZIP code wins over the city and state written before it.
		{"Dallas, TX 10001", true, "New York", "NY", "10001"},
		// An unknown ZIP code falls back to the city and state.
		{"Dallas, TX 00000", true, "Dallas", "TX", ""},
		{"Dallas, Narnia", false, "", "", ""},
		{"Nowhereville, TX", false, "", "", ""},
		{"2134", false, "", "", ""},
		{"00000", false, "", "", ""},
		{"USA", false, "", "", ""},
		{", , ,", false, "", "", ""},
		{"", false, "", "", ""},
		{"TX", false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := g.Parse(tt.in)
			if ok != tt.wantOK {
				t.Fatalf("got ok=%v (%q), want %v", ok, got, tt.wantOK)
			}
			if !ok {
				return
			}
			if got.City != tt.wantCity || got.State != tt.wantState {
				t.Errorf("got %q, want %s, %s", got, tt.wantCity, tt.wantState)
			}
			if tt.wantZIP != "" && got.ZIP != tt.wantZIP {
				t.Errorf("got ZIP %q, want %q", got.ZIP, tt.wantZIP)
			}
		})
	}
}

// A city found by Parse is the same place City finds.
func TestParseAgreesWithCity(t *testing.T) {
	g := Default()
	for _, c := range populationList(t) {
		want, ok := g.City(c.city, c.state)
		if !ok {
			t.Fatalf("City(%q, %q): not found", c.city, c.state)
		}
		for _, text := range []string{c.city + ", " + c.state, c.city + " " + c.state} {
			got, ok := g.Parse(text)
			if !ok || got != want {
				t.Errorf("Parse(%q): got %q ok=%v, want %q", text, got, ok, want)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"Dallas, TX", "dallas tx 75201", "75201", "75201-1234", "St. Louis, MO, USA",
		"New York New York", ",", "  ", "Ñandú, ÑY", "O'Fallon mo", "99546", "a,b,c,d,e", "\xff\xfe"} {
		f.Add(s)
	}
	g := Default()
	f.Fuzz(func(t *testing.T, text string) {
		p, ok := g.Parse(text)
		if !ok {
			if p != (Place{}) {
				t.Fatalf("Parse(%q): got %+v with ok=false, want the zero Place", text, p)
			}
			return
		}
		if err := p.Point.Validate(); err != nil {
			t.Fatalf("Parse(%q) = %+v: %v", text, p, err)
		}
		if _, ok := placename.StateName(p.State); !ok {
			t.Fatalf("Parse(%q) = %+v: unknown state", text, p)
		}
		if len(p.ZIP) != 5 || !allDigits(p.ZIP) {
			t.Fatalf("Parse(%q) = %+v: malformed ZIP code", text, p)
		}
		if p.City == "" {
			t.Fatalf("Parse(%q) = %+v: empty city", text, p)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	g := Default()
	for b.Loop() {
		g.Parse("Saint Louis, Missouri 63101")
	}
}

package placename

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestCityKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Dallas", "dallas"},
		{"  DALLAS  ", "dallas"},
		{"St. Louis", "saintlouis"},
		{"Saint Louis", "saintlouis"},
		{"st louis", "saintlouis"},
		{"Ste. Genevieve", "saintegenevieve"},
		{"Ft. Worth", "fortworth"},
		{"Mt Vernon", "mountvernon"},
		{"Pt. Pleasant", "pointpleasant"},
		{"Winston-Salem", "winstonsalem"},
		{"O'Fallon", "ofallon"},
		{"O’Fallon", "ofallon"},
		{"Mc Allen", "mcallen"},
		{"Cañon City", "canoncity"},
		{"CAÑON CITY", "canoncity"},
		{"Coeur d'Alene", "coeurdalene"},
		{"Stockton", "stockton"},        // "st" inside a word stays
		{"Eastport", "eastport"},        // so does "pt"
		{"Louis St", "louissaint"},      // a last word is expanded too
		{"Boston 02134", "boston02134"}, // digits are kept
		{"", ""},
		{" .-, ", ""},
		{"日本", ""},
	}
	for _, tt := range tests {
		if got := CityKey(tt.in); got != tt.want {
			t.Errorf("CityKey(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCityKeyPrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"st", "st"},
		{"st ", "saint"},
		{"st.", "saint"},
		{"st lo", "saintlo"},
		{"ft", "ft"},
		{"ft w", "fortw"},
		{"san ", "san"},
		{"Winston-", "winston"},
	}
	for _, tt := range tests {
		if got := CityKeyPrefix(tt.in); got != tt.want {
			t.Errorf("CityKeyPrefix(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPlainKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"MT", "mt"}, {"St", "st"}, {"New  York", "newyork"}, {"D.C.", "dc"},
	}
	for _, tt := range tests {
		if got := PlainKey(tt.in); got != tt.want {
			t.Errorf("PlainKey(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStateCode(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"tx", "TX", true}, {"Texas", "TX", true}, {"MT", "MT", true}, {"mt", "MT", true},
		{"North  Carolina", "NC", true}, {"north-carolina", "NC", true}, {"Washington, D.C.", "DC", true},
		{"Micronesia", "FM", true}, {"Northern Mariana Islands", "MP", true},
		{"Carolina", "", false}, {"T X", "TX", true}, {"", "", false}, {"AA", "", false},
	}
	for _, tt := range tests {
		got, ok := StateCode(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("StateCode(%q): got %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
	for _, s := range States {
		for _, in := range []string{s.Code, s.Name, strings.ToUpper(s.Name), strings.ToLower(s.Code)} {
			if got, ok := StateCode(in); !ok || got != s.Code {
				t.Errorf("StateCode(%q): got %q, %v, want %q", in, got, ok, s.Code)
			}
		}
		if got, ok := StateName(s.Code); !ok || got != s.Name {
			t.Errorf("StateName(%q): got %q, %v, want %q", s.Code, got, ok, s.Name)
		}
	}
}

func TestStatesWithPrefix(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"new", []string{"NH", "NJ", "NM", "NY"}},
		{"n", []string{"MP", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY"}},
		{" T", []string{"TN", "TX"}},
		{"tex", []string{"TX"}},
		{"mo", []string{"MO", "MT"}},
		{"zz", nil},
	}
	for _, tt := range tests {
		got := slices.Sorted(maps.Keys(StatesWithPrefix(tt.in)))
		if !slices.Equal(got, tt.want) {
			t.Errorf("StatesWithPrefix(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := len(StatesWithPrefix("")); got != len(States) {
		t.Errorf("StatesWithPrefix(\"\"): got %d states, want %d", got, len(States))
	}
}

func FuzzCityKey(f *testing.F) {
	for _, s := range []string{"St. Louis", "O'Fallon", "Cañon City", "st ", "\xff", "ft-mt-pt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := CityKey(s)
		for i := 0; i < len(k); i++ {
			if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				t.Fatalf("CityKey(%q) = %q: byte %q outside [a-z0-9]", s, k, c)
			}
		}
		if got := CityKeyPrefix(s + " "); got != k {
			t.Fatalf("CityKeyPrefix(%q + \" \") = %q, want CityKey's %q", s, got, k)
		}
		if got := CityKey(strings.ToUpper(s)); isASCII(s) && got != k {
			t.Fatalf("CityKey(upper %q) = %q, want %q", s, got, k)
		}
		StateCode(s)
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func BenchmarkCityKey(b *testing.B) {
	for b.Loop() {
		CityKey("St. Louis Park")
	}
}

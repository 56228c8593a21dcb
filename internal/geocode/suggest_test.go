package geocode

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/backhaul/backhaul/internal/geocode/internal/placename"
)

func TestSuggest(t *testing.T) {
	g := Default()
	tests := []struct {
		prefix string
		limit  int
		want   []string // Place.String() of each, in order
	}{
		{"san", 4, []string{"San Antonio, TX", "San Diego, CA", "San Jose, CA", "San Francisco, CA"}},
		{"SAN   d", 2, []string{"San Diego, CA", "Sandy Springs, GA"}},
		{"new y", 3, []string{"New York, NY", "New York Mills, MN", "New York Mills, NY"}},
		{"st. lo", 2, []string{"St. Louis, MO", "St. Louis Park, MN"}},
		{"st ", 1, []string{"St. Louis, MO"}},
		{"st", 1, []string{"Stockton, CA"}},
		{"ft wo", 1, []string{"Fort Worth, TX"}},
		{"springfield, m", 9, []string{"Springfield, MO", "Springfield, MA", "Springfield, ME", "Springfield, MN"}},
		{"springfield, ore", 9, []string{"Springfield, OR"}},
		{"springfield,", 3, []string{"Springfield, MO", "Springfield, MA", "Springfield, IL"}},
		{"springfield, zz", 3, nil},
		{"752", 3, []string{"Dallas, TX 75201", "Dallas, TX 75202", "Dallas, TX 75203"}},
		{" 0213", 2, []string{"Jamaica Plain, MA 02130", "Roslindale, MA 02131"}},
		{"75201", 5, []string{"Dallas, TX 75201"}},
		{"752011", 5, nil},
		{"xqzz", 5, nil},
		{"", 5, nil},
		{"   ", 5, nil},
		{"dallas", 0, nil},
		{"dallas", -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			var got []string
			for _, p := range g.Suggest(tt.prefix, tt.limit) {
				s := p.String()
				if !allDigits(strings.TrimSpace(tt.prefix)) {
					s = p.City + ", " + p.State
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Suggest(%q, %d): got %q, want %q", tt.prefix, tt.limit, got, tt.want)
			}
		})
	}
}

// Suggest's top-k selection matches sorting every match in full.
func TestSuggestAgainstBruteForce(t *testing.T) {
	g := Default()
	type cand struct {
		pop         int
		name, state string
	}
	r := rand.New(rand.NewPCG(9, 9))
	letters := "abcdefghijklmnopqrstuvwxyz"
	for i := 0; i < 300; i++ {
		n := 1 + r.IntN(3)
		var b strings.Builder
		for range n {
			b.WriteByte(letters[r.IntN(len(letters))])
		}
		prefix := b.String()
		var all []cand
		for _, c := range g.cities {
			if strings.HasPrefix(c.key, prefix) {
				all = append(all, cand{c.pop, c.name, c.state})
			}
		}
		slices.SortFunc(all, func(a, b cand) int {
			if a.pop != b.pop {
				return b.pop - a.pop
			}
			if c := strings.Compare(a.name, b.name); c != 0 {
				return c
			}
			return strings.Compare(a.state, b.state)
		})
		limit := 1 + r.IntN(12)
		got := g.Suggest(prefix, limit)
		if want := min(limit, len(all)); len(got) != want {
			t.Fatalf("Suggest(%q, %d): got %d places, want %d", prefix, limit, len(got), want)
		}
		for j, p := range got {
			if w := all[j]; p.Population != w.pop || p.City != w.name || p.State != w.state {
				t.Fatalf("Suggest(%q, %d)[%d]: got %s (%d), want %s, %s (%d)", prefix, limit, j, p, p.Population, w.name, w.state, w.pop)
			}
		}
	}
}

func FuzzSuggest(f *testing.F) {
	for _, s := range []string{"san", "st ", "752", "springfield, m", ",", " 0", "ñ", "a,b,c"} {
		f.Add(s, 5)
	}
	g := Default()
	f.Fuzz(func(t *testing.T, prefix string, limit int) {
		limit %= 50
		got := g.Suggest(prefix, limit)
		if len(got) > max(limit, 0) {
			t.Fatalf("Suggest(%q, %d): got %d places, want at most %d", prefix, limit, len(got), limit)
		}
		for _, p := range got {
			if err := p.Point.Validate(); err != nil {
				t.Fatalf("Suggest(%q, %d): %+v: %v", prefix, limit, p, err)
			}
			if _, ok := placename.StateName(p.State); !ok {
				t.Fatalf("Suggest(%q, %d): %+v: unknown state", prefix, limit, p)
			}
		}
	})
}

func BenchmarkSuggest(b *testing.B) {
	g := Default()
	g.Suggest("warm", 1) // build the index outside the timing
	for _, prefix := range []string{"s", "san", "752"} {
		b.Run(prefix, func(b *testing.B) {
			for b.Loop() {
				g.Suggest(prefix, 10)
			}
		})
	}
}

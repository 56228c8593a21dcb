package geocode

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode/internal/placename"
)

// listed is one row of the embedded population list.
type listed struct {
	city, state string
	pop         string
	lat, lon    string
}

func populationList(t testing.TB) []listed {
	t.Helper()
	var out []listed
	lines := strings.Split(strings.TrimSpace(string(citiesCSV)), "\n")
	for _, line := range lines[1:] {
		f := strings.Split(line, ",")
		if len(f) != 5 {
			t.Fatalf("cities.csv: got %d fields in %q, want 5", len(f), line)
		}
		out = append(out, listed{f[0], f[1], f[2], f[3], f[4]})
	}
	return out
}

func TestEmbeddedData(t *testing.T) {
	g := Default()
	if g != Default() {
		t.Fatal("Default returned two geocoders, want one shared")
	}
	if got, want := len(g.zips), 41906; got != want {
		t.Errorf("got %d ZIP codes, want %d", got, want)
	}
	if got, want := len(populationList(t)), 1001; got != want {
		t.Errorf("got %d listed cities, want %d", got, want)
	}
	states := map[string]bool{}
	for _, s := range States() {
		states[s.Code] = true
	}
	for i, z := range g.zips {
		if err := z.pt.Validate(); err != nil {
			t.Fatalf("ZIP code %s: %v", z.code, err)
		}
		if i > 0 && g.zips[i-1].code >= z.code {
			t.Fatalf("ZIP code %s follows %s, want ascending", z.code, g.zips[i-1].code)
		}
		if c := g.cities[z.city]; !states[c.state] {
			t.Fatalf("ZIP code %s: state %q not in States()", z.code, c.state)
		}
	}
	for _, c := range g.cities {
		if c.zip < 0 || int(c.zip) >= len(g.zips) {
			t.Fatalf("%s, %s: no representative ZIP code", c.name, c.state)
		}
		// The representative ZIP is the city's own unless the postal data
		// does not know the city.
		if z := g.zips[c.zip]; c.nzips > 0 && g.cities[z.city].key != c.key {
			t.Fatalf("%s, %s: representative ZIP %s belongs to %s", c.name, c.state, z.code, g.cities[z.city].name)
		}
	}
}

func TestZIP(t *testing.T) {
	g := Default()
	tests := []struct {
		in        string
		wantOK    bool
		wantZIP   string
		wantCity  string
		wantState string
		wantPoint geo.Point
	}{
		{"75201", true, "75201", "Dallas", "TX", geo.Point{Lat: 32.7904, Lon: -96.8044}},
		{"02134", true, "02134", "Allston", "MA", geo.Point{Lat: 42.3535, Lon: -71.1329}},
		{"02134-1234", true, "02134", "Allston", "MA", geo.Point{Lat: 42.3535, Lon: -71.1329}},
		{"  75201\t", true, "75201", "Dallas", "TX", geo.Point{Lat: 32.7904, Lon: -96.8044}},
		// The source's lost minus sign is restored.
		{"10200", true, "10200", "New York", "NY", geo.Point{Lat: 40.77, Lon: -73.95}},
		// Listed spelling wins over the postal one ("O Fallon").
		{"63366", true, "63366", "O'Fallon", "MO", geo.Point{Lat: 38.8239, Lon: -90.7427}},
		{"99546", true, "99546", "Adak", "AK", geo.Point{Lat: 51.874, Lon: -176.634}},
		{"96910", true, "96910", "Hagatna", "GU", geo.Point{Lat: 13.47, Lon: 144.74}},
		{"00901", true, "00901", "San Juan", "PR", geo.Point{Lat: 18.4, Lon: -66.06}},
		{"2134", false, "", "", "", geo.Point{}},
		{" 2134", false, "", "", "", geo.Point{}},
		{"7520", false, "", "", "", geo.Point{}},
		{"752011", false, "", "", "", geo.Point{}},
		{"752011234", false, "", "", "", geo.Point{}},
		{"75201-123", false, "", "", "", geo.Point{}},
		{"75201 1234", false, "", "", "", geo.Point{}},
		{"75201-12345", false, "", "", "", geo.Point{}},
		{"7520l", false, "", "", "", geo.Point{}},
		{"00000", false, "", "", "", geo.Point{}},
		{"09001", false, "", "", "", geo.Point{}}, // military mail, left out
		{"", false, "", "", "", geo.Point{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := g.ZIP(tt.in)
			if ok != tt.wantOK {
				t.Fatalf("got ok=%v (%+v), want %v", ok, got, tt.wantOK)
			}
			if !ok {
				return
			}
			if got.ZIP != tt.wantZIP || got.City != tt.wantCity || got.State != tt.wantState {
				t.Errorf("got %q, want %s, %s %s", got, tt.wantCity, tt.wantState, tt.wantZIP)
			}
			if got.Point != tt.wantPoint {
				t.Errorf("got point %v, want %v", got.Point, tt.wantPoint)
			}
		})
	}
}

func TestCity(t *testing.T) {
	g := Default()
	tests := []struct {
		name, city, state string
		wantOK            bool
		wantCity          string
		wantState         string
	}{
		{"code", "Dallas", "TX", true, "Dallas", "TX"},
		{"full state name", "dallas", "texas", true, "Dallas", "TX"},
		{"case and spaces", "  DALLAS ", " tx ", true, "Dallas", "TX"},
		{"St. abbreviation", "St. Louis", "MO", true, "St. Louis", "MO"},
		{"Saint spelled out", "Saint Louis", "Missouri", true, "St. Louis", "MO"},
		{"St without period", "st louis", "mo", true, "St. Louis", "MO"},
		{"Ft. abbreviation", "Ft. Worth", "TX", true, "Fort Worth", "TX"},
		{"Fort spelled out", "Fort Worth", "tx", true, "Fort Worth", "TX"},
		{"Mt. abbreviation", "Mt Vernon", "NY", true, "Mount Vernon", "NY"},
		{"extra inner spaces", "Fort   Worth", "TX", true, "Fort Worth", "TX"},
		{"hyphen or space", "Winston Salem", "NC", true, "Winston-Salem", "NC"},
		{"apostrophe", "OFallon", "MO", true, "O'Fallon", "MO"},
		{"joined Mc", "Mc Allen", "TX", true, "McAllen", "TX"},
		{"accent folded", "Dállas", "TX", true, "Dallas", "TX"},
		{"two-word state", "Albany", "new  york", true, "Albany", "NY"},
		{"territory", "Hagatna", "Guam", true, "Hagatna", "GU"},
		{"district", "Washington", "D.C.", true, "Washington", "DC"},
		{"listed city the postal data files elsewhere", "Eagan", "MN", true, "Eagan", "MN"},
		{"no state: most populous", "Springfield", "", true, "Springfield", "MO"},
		{"no state: Portland", "portland", "", true, "Portland", "OR"},
		{"wrong state", "Dallas", "NV", false, "", ""},
		{"unknown state", "Dallas", "ZZ", false, "", ""},
		{"unknown city", "Nowhereville", "TX", false, "", ""},
		{"empty city", "", "TX", false, "", ""},
		{"punctuation only", " .,- ", "TX", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := g.City(tt.city, tt.state)
			if ok != tt.wantOK {
				t.Fatalf("City(%q, %q): got ok=%v (%+v), want %v", tt.city, tt.state, ok, got, tt.wantOK)
			}
			if !ok {
				return
			}
			if got.City != tt.wantCity || got.State != tt.wantState {
				t.Errorf("City(%q, %q): got %s, %s, want %s, %s", tt.city, tt.state, got.City, got.State, tt.wantCity, tt.wantState)
			}
			if err := got.Point.Validate(); err != nil {
				t.Errorf("City(%q, %q): %v", tt.city, tt.state, err)
			}
			z, ok := g.ZIP(got.ZIP)
			if !ok || z.State != got.State {
				t.Errorf("City(%q, %q): got ZIP %q, want a ZIP code of %s", tt.city, tt.state, got.ZIP, got.State)
			}
		})
	}
}

// Every listed city is found under its listed name and placed at its listed
// coordinate with its listed population.
func TestCityUsesPopulationList(t *testing.T) {
	g := Default()
	for _, c := range populationList(t) {
		got, ok := g.City(c.city, c.state)
		if !ok {
			t.Errorf("City(%q, %q): not found", c.city, c.state)
			continue
		}
		want, err := parsePoint(c.lat, c.lon)
		if err != nil {
			t.Fatal(err)
		}
		if got.Point != want || got.City != c.city || got.State != c.state || c.pop != itoa(got.Population) {
			t.Errorf("City(%q, %q): got %s at %v pop %d, want %s, %s at %v pop %s", c.city, c.state, got, got.Point, got.Population, c.city, c.state, want, c.pop)
		}
	}
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	if len(b) == 0 {
		return "0"
	}
	return string(b)
}

// A city not in the population list sits at the centroid of its ZIP codes.
func TestCityCentroid(t *testing.T) {
	g := Default()
	type acc struct {
		lat, lon float64
		n        int
	}
	sums := map[int32]*acc{}
	for _, z := range g.zips {
		a := sums[z.city]
		if a == nil {
			a = &acc{}
			sums[z.city] = a
		}
		a.lat += z.pt.Lat
		a.lon += z.pt.Lon
		a.n++
	}
	checked := 0
	for ci, a := range sums {
		c := g.cities[ci]
		if c.pop > 0 || a.n < 2 {
			continue
		}
		// A plain mean of degrees is close enough away from the
		// antimeridian; the Aleutians are left out.
		if c.state == "AK" {
			continue
		}
		got, ok := g.City(c.name, c.state)
		if !ok {
			t.Fatalf("City(%q, %q): not found", c.name, c.state)
		}
		want := geo.Point{Lat: a.lat / float64(a.n), Lon: a.lon / float64(a.n)}
		if d := geo.GreatCircleMiles(got.Point, want); d > 0.5 {
			t.Errorf("City(%q, %q): got %v, want the centroid %v of %d ZIP codes (%.2f miles apart)", c.name, c.state, got.Point, want, a.n, d)
		}
		checked++
	}
	if checked < 1000 {
		t.Errorf("got %d multi-ZIP cities checked, want at least 1000", checked)
	}
}

func TestNearestAgainstBruteForce(t *testing.T) {
	g := Default()
	// The brute force ranks by the dot product of unit vectors, a formula
	// independent of the haversine the index uses, and cheap enough to
	// scan every ZIP code for every point.
	vecs := make([][3]float64, len(g.zips))
	for i, z := range g.zips {
		vecs[i] = unitVector(z.pt)
	}
	brute := func(p geo.Point) int32 {
		v := unitVector(p)
		best, bestDot := int32(-1), math.Inf(-1)
		for i, w := range vecs {
			if d := v[0]*w[0] + v[1]*w[1] + v[2]*w[2]; d > bestDot {
				best, bestDot = int32(i), d
			}
		}
		return best
	}
	r := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 1500; i++ {
		var p geo.Point
		switch i % 3 {
		case 0: // the lower 48 and around
			p = geo.Point{Lat: 24 + r.Float64()*26, Lon: -125 + r.Float64()*59}
		case 1: // Alaska, Hawaii, the Pacific and across the antimeridian
			p = geo.Point{Lat: r.Float64()*75 - 15, Lon: 130 + r.Float64()*120}
			if p.Lon > 180 {
				p.Lon -= 360
			}
		default: // anywhere, oceans and poles included
			p = geo.Point{Lat: math.Asin(r.Float64()*2-1) * 180 / math.Pi, Lon: r.Float64()*360 - 180}
		}
		got, ok := g.Nearest(p)
		if !ok {
			t.Fatalf("Nearest(%v): not found", p)
		}
		// Equally near ZIP codes (many share a centroid) may come back in
		// either order, so compare distances; the dot product resolves
		// distances to about 10 cm.
		want := g.zipPlace(brute(p))
		if gotD, wantD := geo.GreatCircleMiles(p, got.Point), geo.GreatCircleMiles(p, want.Point); gotD > wantD+1e-4 {
			t.Fatalf("Nearest(%v): got %s at %.6f miles, want %s at %.6f miles", p, got, gotD, want, wantD)
		}
	}
}

func TestNearest(t *testing.T) {
	g := Default()
	tests := []struct {
		name    string
		p       geo.Point
		wantOK  bool
		wantZIP string
	}{
		{"on a ZIP centroid", geo.Point{Lat: 32.7904, Lon: -96.8044}, true, "75201"},
		{"near Adak", geo.Point{Lat: 51.9, Lon: -176.6}, true, "99546"},
		{"invalid", geo.Point{Lat: 91, Lon: 0}, false, ""},
		{"NaN", geo.Point{Lat: math.NaN(), Lon: 0}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := g.Nearest(tt.p)
			if ok != tt.wantOK || got.ZIP != tt.wantZIP {
				t.Errorf("got %q ok=%v, want ZIP %q ok=%v", got.ZIP, ok, tt.wantZIP, tt.wantOK)
			}
		})
	}
}

func TestStates(t *testing.T) {
	states := States()
	if got, want := len(states), 59; got != want {
		t.Fatalf("got %d states, want %d (50, DC and 8 territories)", got, want)
	}
	if !slices.IsSortedFunc(states, func(a, b State) int { return strings.Compare(a.Code, b.Code) }) {
		t.Error("got states out of code order")
	}
	if !slices.Contains(states, State{Code: "TX", Name: "Texas"}) {
		t.Error("got no Texas")
	}
	states[0].Name = "changed"
	if States()[0].Name == "changed" {
		t.Error("States returned shared memory, want a copy")
	}
}

func TestStateCode(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"TX", "TX", true}, {"tx", "TX", true}, {"Texas", "TX", true}, {" new  YORK ", "NY", true},
		{"MT", "MT", true}, {"Montana", "MT", true}, {"D.C.", "DC", true}, {"Washington DC", "DC", true},
		{"District of Columbia", "DC", true}, {"Puerto Rico", "PR", true}, {"U.S. Virgin Islands", "VI", true},
		{"ZZ", "", false}, {"Tex", "", false}, {"", "", false}, {"AE", "", false},
	}
	for _, tt := range tests {
		got, ok := StateCode(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("StateCode(%q): got %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestPlace(t *testing.T) {
	tests := []struct {
		p        Place
		wantZIP3 string
		wantStr  string
	}{
		{Place{City: "Dallas", State: "TX", ZIP: "75201"}, "752", "Dallas, TX 75201"},
		{Place{City: "Allston", State: "MA", ZIP: "02134"}, "021", "Allston, MA 02134"},
		{Place{City: "Dallas", State: "TX"}, "", "Dallas, TX"},
	}
	for _, tt := range tests {
		if got := tt.p.ZIP3(); got != tt.wantZIP3 {
			t.Errorf("%+v.ZIP3(): got %q, want %q", tt.p, got, tt.wantZIP3)
		}
		if got := tt.p.String(); got != tt.wantStr {
			t.Errorf("%+v.String(): got %q, want %q", tt.p, got, tt.wantStr)
		}
	}
}

// One geocoder serves many goroutines; each must see what a lone caller
// sees. Run with -race to check the lazily built suggestion index too.
func TestConcurrentUse(t *testing.T) {
	g, err := decode(zipcodesGz, citiesCSV)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := decode(zipcodesGz, citiesCSV)
	if err != nil {
		t.Fatal(err)
	}
	want := ref.Suggest("sa", 5)
	wantNear, _ := ref.Nearest(geo.Point{Lat: 40, Lon: -100})
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 8 {
		wg.Go(func() {
			if got := g.Suggest("sa", 5); !slices.Equal(got, want) {
				errs <- "Suggest differs"
			}
			if got, _ := g.Nearest(geo.Point{Lat: 40, Lon: -100}); got != wantNear {
				errs <- "Nearest differs"
			}
			if got, ok := g.Parse("Dallas, TX"); !ok || got.City != "Dallas" {
				errs <- "Parse differs"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestDecodeErrors(t *testing.T) {
	const zipHeader = "zip,city,state,lat,lon\n"
	const cityHeader = "city,state,population,lat,lon\n"
	goodZips := zipHeader + "75201,Dallas,TX,32.7904,-96.8044\n75202,Dallas,TX,32.7809,-96.8012\n"
	goodCities := cityHeader + "Dallas,TX,1257676,32.7767,-96.797\n"
	tests := []struct {
		name          string
		zips, cities  string
		wantErrSubstr string
	}{
		{"good", goodZips, goodCities, ""},
		{"CRLF", strings.ReplaceAll(goodZips, "\n", "\r\n"), goodCities, ""},
		{"no rows", zipHeader, goodCities, "no rows"},
		{"bad header", "zip,city\n", goodCities, "header"},
		{"bad ZIP", zipHeader + "7520,Dallas,TX,32.79,-96.80\n", goodCities, "bad ZIP"},
		{"unsorted", zipHeader + "75202,Dallas,TX,32.79,-96.80\n75201,Dallas,TX,32.79,-96.80\n", goodCities, "out of order"},
		{"duplicate", zipHeader + "75201,Dallas,TX,32.79,-96.80\n75201,Dallas,TX,32.79,-96.80\n", goodCities, "out of order"},
		{"unknown state", zipHeader + "75201,Dallas,XX,32.79,-96.80\n", goodCities, "unknown state"},
		{"latitude range", zipHeader + "75201,Dallas,TX,132.79,-96.80\n", goodCities, "latitude"},
		{"longitude not a number", zipHeader + "75201,Dallas,TX,32.79,west\n", goodCities, "longitude"},
		{"too few fields", zipHeader + "75201,Dallas,TX,32.79\n", goodCities, "fields"},
		{"too many fields", zipHeader + "75201,Dallas,TX,32.79,-96.80,x\n", goodCities, "fields"},
		{"empty city", zipHeader + "75201,--,TX,32.79,-96.80\n", goodCities, "empty city"},
		{"city population", goodZips, cityHeader + "Dallas,TX,many,32.7767,-96.797\n", "population"},
		{"city state", goodZips, cityHeader + "Dallas,Texas,1,32.7767,-96.797\n", "unknown state"},
		{"city coordinates", goodZips, cityHeader + "Dallas,TX,1,32.7767,-196.797\n", "longitude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := build(tt.zips, tt.cities)
			if tt.wantErrSubstr == "" {
				if err != nil {
					t.Fatalf("got error %v, want nil", err)
				}
				if p, ok := g.City("dallas", "tx"); !ok || p.Population != 1257676 {
					t.Errorf("got %+v ok=%v, want Dallas with its population", p, ok)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErrSubstr)
			}
		})
	}
	if _, err := decode([]byte("not gzip"), []byte(goodCities)); err == nil {
		t.Error("decode of non-gzip data: got nil error, want one")
	}
}

func FuzzBuild(f *testing.F) {
	f.Add("zip,city,state,lat,lon\n75201,Dallas,TX,32.7904,-96.8044\n", "city,state,population,lat,lon\nDallas,TX,1,32.7,-96.7\n")
	f.Add("zip,city,state,lat,lon\n00001,A,AK,89.9,179.99\n00002,B,AK,-89.9,-180\n", "city,state,population,lat,lon\nC,HI,0,0,0\n")
	f.Fuzz(func(t *testing.T, zips, cities string) {
		g, err := build(zips, cities)
		if err != nil {
			return
		}
		for _, c := range g.cities {
			if err := c.pt.Validate(); err != nil {
				t.Fatalf("%s, %s: %v", c.name, c.state, err)
			}
			if _, ok := placename.StateName(c.state); !ok {
				t.Fatalf("%s: unknown state %q accepted", c.name, c.state)
			}
		}
		g.Suggest("a", 3)
		g.Nearest(geo.Point{Lat: 1, Lon: 2})
	})
}

func BenchmarkDecode(b *testing.B) {
	for b.Loop() {
		if _, err := decode(zipcodesGz, citiesCSV); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkZIP(b *testing.B) {
	g := Default()
	for b.Loop() {
		g.ZIP("75201")
	}
}

func BenchmarkCity(b *testing.B) {
	g := Default()
	for b.Loop() {
		g.City("St. Louis", "Missouri")
	}
}

// BenchmarkNearest reverse-geocodes positions such as trucks report: near
// (within about 10 miles of) a ZIP code centroid.
func BenchmarkNearest(b *testing.B) {
	g := Default()
	r := rand.New(rand.NewPCG(1, 1))
	pts := make([]geo.Point, 1024)
	for i := range pts {
		z := g.zips[r.IntN(len(g.zips))]
		pts[i] = geo.Destination(z.pt, r.Float64()*360, r.Float64()*10)
	}
	i := 0
	for b.Loop() {
		g.Nearest(pts[i%len(pts)])
		i++
	}
}

package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small country: a big metro with a suburb across a state line, a town
// of its own, and an island nobody's city reaches.
const zipsCSV = `zip,city,state,lat,lon
10001,Bigtown,AA,40.0000,-90.0000
10002,Bigtown,AA,40.0500,-90.0500
10101,Bigtown,AA,40.1000,-90.1000
20001,Suburbia,BB,40.2000,-89.8000
30001,Farville,AA,42.5000,-90.0000
30002,Farville,AA,42.6000,-90.1000
40001,Isle,CC,20.0000,-150.0000
40002,Port,CC,20.1000,-150.1000
40003,Port,CC,20.2000,-150.2000
40004,Port,BB,20.1000,-150.0000
`

const citiesCSV = `city,state,population,lat,lon
Bigtown,AA,900000,40.0000,-90.0000
Suburbia,BB,60000,40.2000,-89.8000
Farville,AA,50000,42.5500,-90.0500
`

func runFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(zipsCSV))
	w.Close()
	if err := os.WriteFile(filepath.Join(dir, "zips.csv.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cities.csv"), []byte(citiesCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := run(filepath.Join(dir, "zips.csv.gz"), filepath.Join(dir, "cities.csv"), out, 80, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "areas.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRules(t *testing.T) {
	got := runFixture(t)
	want := `id,city,state,lat,lon,zip3s
aa-bigtown,Bigtown,AA,40.0750,-90.0250,100 101 200
aa-farville,Farville,AA,42.5500,-90.0500,300
cc-port,Port,CC,20.1000,-150.0500,400
`
	// Suburbia is within 80 miles of Bigtown, so it is no hub, and its
	// region 200 joins Bigtown across the state line. Farville, 170 miles
	// away, is a hub of its own. Region 400, out of every city's reach, is
	// mostly CC: its hub is named after Port, the CC city with the most
	// ZIP codes there. An area's middle is the median of all its ZIP codes.
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if again := runFixture(t); again != got {
		t.Error("a second run wrote different bytes")
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, ".gz") {
			var gz bytes.Buffer
			w := gzip.NewWriter(&gz)
			w.Write([]byte(text))
			w.Close()
			text = gz.String()
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cities := write("cities.csv", citiesCSV)
	for _, tt := range []struct{ name, zips string }{
		{"header", "zip,town,state,lat,lon\n10001,A,AA,1,1\n"},
		{"empty", "zip,city,state,lat,lon\n"},
		{"coordinates", "zip,city,state,lat,lon\n10001,A,AA,91,1\n"},
		{"fields", "zip,city,state,lat,lon\n10001,A,AA,1\n"},
		{"zip", "zip,city,state,lat,lon\n1001,A,AA,1,1\n"},
	} {
		zips := write(tt.name+".csv.gz", tt.zips)
		if err := run(zips, cities, filepath.Join(dir, "out"), 80, io.Discard); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

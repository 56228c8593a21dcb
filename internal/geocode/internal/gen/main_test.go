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

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

const codesJS = `exports.codes = {` +
	`"75201":{"zip":"75201","latitude":32.790412,"longitude":-96.80444,"city":"Dallas","state":"TX","country":"US"},` +
	`"10200":{"zip":"10200","latitude":40.77,"longitude":73.95,"city":"New York","state":"NY","country":"US"},` +
	`"09001":{"zip":"09001","latitude":50.1,"longitude":8.6,"city":"Apo","state":"AE","country":"US"},` +
	`"34001":{"zip":"34001","latitude":0,"longitude":0,"city":"Apo","state":"AA","country":"US"},` +
	`"96910":{"zip":"96910","latitude":13.47,"longitude":144.74,"city":"Hagatna","state":"GU","country":"US"},` +
	`"40507":{"zip":"40507","latitude":38.0464,"longitude":-84.4970,"city":"Lexington","state":"KY","country":"US"},` +
	`"00501":{"zip":"00501","latitude":40.8154,"longitude":-73.0451,"city":"Holtsville","state":"NY","country":"US"}};
exports.stateMap = {};
`

const citiesCSV = `City,State,Population,lat,lon
Dallas,Texas,1257676,32.7766642,-96.7969879
Lexington-Fayette,Kentucky,308428,38.0405837,-84.5037164
Eagan,Minnesota,65453,44.8041322,-93.1668858
`

func runFixture(t *testing.T, codes, cities string) (zips, citiesOut string, err error) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "zipcodes", "package.json"), `{"name":"zipcodes","version":"8.0.0","license":"BSD"}`)
	writeFile(t, filepath.Join(dir, "zipcodes", "lib", "codes.js"), codes)
	writeFile(t, filepath.Join(dir, "cities.csv"), cities)
	out := filepath.Join(dir, "out")
	if err := run(filepath.Join(dir, "zipcodes"), filepath.Join(dir, "cities.csv"), out, io.Discard); err != nil {
		return "", "", err
	}
	gz, err := os.ReadFile(filepath.Join(out, "zipcodes.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(filepath.Join(out, "cities.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw), string(c), nil
}

func TestRun(t *testing.T) {
	zips, cities, err := runFixture(t, codesJS, citiesCSV)
	if err != nil {
		t.Fatal(err)
	}
	wantZips := `zip,city,state,lat,lon
00501,Holtsville,NY,40.8154,-73.0451
10200,New York,NY,40.77,-73.95
40507,Lexington,KY,38.0464,-84.497
75201,Dallas,TX,32.7904,-96.8044
96910,Hagatna,GU,13.47,144.74
`
	if zips != wantZips {
		t.Errorf("got zipcodes.csv\n%s\nwant\n%s", zips, wantZips)
	}
	wantCities := `city,state,population,lat,lon
Lexington,KY,308428,38.0406,-84.5037
Eagan,MN,65453,44.8041,-93.1669
Dallas,TX,1257676,32.7767,-96.797
`
	if cities != wantCities {
		t.Errorf("got cities.csv\n%s\nwant\n%s", cities, wantCities)
	}
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name          string
		codes, cities string
		want          string
	}{
		{"unknown state", strings.Replace(codesJS, `"state":"TX"`, `"state":"XX"`, 1), citiesCSV, "unknown state"},
		{"comma in city", strings.Replace(codesJS, `"city":"Dallas"`, `"city":"Dallas, East"`, 1), citiesCSV, "comma"},
		{"bad zip", strings.Replace(codesJS, `"zip":"75201"`, `"zip":"7520"`, 1), citiesCSV, "malformed ZIP"},
		{"no codes line", "module.exports = {};\n", citiesCSV, "no"},
		{"city state", codesJS, strings.Replace(citiesCSV, "Texas", "Tejas", 1), "unknown state"},
		{"city header", codesJS, strings.Replace(citiesCSV, "City,State", "Town,State", 1), "header"},
		{"city twice", codesJS, citiesCSV + "Dallas,Texas,1,32.7,-96.7\n", "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runFixture(t, tt.codes, tt.cities)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

package scalesim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// shortRuns are 30 minutes of the spike scenario from 10:50, across the
// campaign's start, with the guide's settings and with predictive scaling.
func shortRuns(t *testing.T) []*Result {
	t.Helper()
	var runs []*Result
	for _, predictive := range []bool{false, true} {
		cfg := guideConfig(t, "spike", predictive)
		cfg.Scenario.Start = cfg.Scenario.Start.Add(10*time.Hour + 50*time.Minute)
		cfg.Duration, cfg.Step = 30*time.Minute, 5*time.Second
		if predictive {
			cfg.Label = "predictive"
		}
		runs = append(runs, mustRun(t, cfg))
	}
	return runs
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; run go test -update and review the diff\n--- got ---\n%s", path, got)
	}
}

func TestGoldenReports(t *testing.T) {
	runs := shortRuns(t)
	tests := []struct {
		file  string
		write func(io.Writer, ...*Result) error
		runs  []*Result
	}{
		{"spike-30m.txt", WriteText, runs[:1]},
		{"spike-30m.json", WriteJSON, runs[:1]},
		{"spike-30m-compare.txt", WriteText, runs},
		{"spike-30m-compare.json", WriteJSON, runs},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b, tt.runs...); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, b.Bytes())
		})
	}
}

// The JSON report decodes back into the same results.
func TestJSONRoundTrip(t *testing.T) {
	runs := shortRuns(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, runs...); err != nil {
		t.Fatal(err)
	}
	var back []Result
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[1].Label != "predictive" || !back[1].Predictive || len(back[0].Services) != 7 {
		t.Fatalf("got %d runs, want the two of the comparison with 7 services each", len(back))
	}
	if got, want := len(back[0].Services[0].Timeline), 30; got != want {
		t.Errorf("timeline: got %d points, want one a minute (%d)", got, want)
	}
}

// TestSVGWellFormed parses the chart with encoding/xml and checks it draws
// a load area and a replica line per run for every service and node group.
func TestSVGWellFormed(t *testing.T) {
	runs := shortRuns(t)
	for _, n := range []int{1, 2} {
		var b bytes.Buffer
		if err := WriteSVG(&b, runs[:n]...); err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(&b)
		dec.Strict = true
		var root string
		paths, texts := 0, 0
		depth := 0
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%d runs: not well-formed XML: %v", n, err)
			}
			switch e := tok.(type) {
			case xml.StartElement:
				if depth == 0 {
					root = e.Name.Space + " " + e.Name.Local
				}
				depth++
				switch e.Name.Local {
				case "path":
					paths++
				case "text":
					texts++
				case "script", "foreignObject":
					t.Errorf("%d runs: found <%s>; the chart must be plain SVG", n, e.Name.Local)
				}
			case xml.EndElement:
				depth--
			}
		}
		if root != "http://www.w3.org/2000/svg svg" {
			t.Errorf("%d runs: root element %q, want svg in the SVG namespace", n, root)
		}
		services, groups := len(runs[0].Services), 2
		if want := services*(1+n) + groups*n; paths != want {
			t.Errorf("%d runs: got %d paths, want %d (a load area and %d replica lines per service, %d node lines per group)", n, paths, want, n, n)
		}
		if texts == 0 {
			t.Errorf("%d runs: no labels", n)
		}
	}
}

func TestTextReportNamesEveryService(t *testing.T) {
	runs := shortRuns(t)
	var b bytes.Buffer
	if err := WriteText(&b, runs...); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range runs[0].Services {
		if !strings.Contains(out, s.Service+" (predictive)") || !strings.Contains(out, s.Service+" (guide)") {
			t.Errorf("the comparison has no timeline for %s in both configurations", s.Service)
		}
	}
	if err := WriteText(&b); err == nil {
		t.Error("no runs: got nil error")
	}
}

package optimize

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

func TestDecodeJobRequest(t *testing.T) {
	lr := instanceText(t, "lr101_12.txt")
	body := func(fields string) []byte {
		return []byte(`{` + fields + `"problem":{"format":"lilim","instance":` + quote(lr) + `}}`)
	}
	tests := []struct {
		name     string
		body     []byte
		priority Priority
		limit    time.Duration
		seed     int64
		jobName  string
	}{
		{"defaults", body(``), PriorityNormal, 30 * time.Second, 1, ""},
		{"everything", body(`"name":"  night run ","priority":"high","time_limit_s":600,"seed":0,`), PriorityHigh, 600 * time.Second, 0, "night run"},
		{"low and short", body(`"priority":"low","time_limit_s":1,"seed":9007199254740993,`), PriorityLow, time.Second, 9007199254740993, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp, err := decodeJobRequest(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if sp.priority != tt.priority || sp.timeLimit != tt.limit || sp.seed != tt.seed || sp.name != tt.jobName {
				t.Errorf("got priority %s, limit %s, seed %d, name %q; want %s, %s, %d, %q",
					sp.priority, sp.timeLimit, sp.seed, sp.name, tt.priority, tt.limit, tt.seed, tt.jobName)
			}
			if sp.summary.Kind != "pdptw" || sp.summary.Nodes != 25 {
				t.Errorf("summary: got %+v", sp.summary)
			}
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// FuzzJobRequest feeds the decoder and validator arbitrary bodies: each is
// refused with an invalid-input error, or accepted as a job a worker can
// run.
func FuzzJobRequest(f *testing.F) {
	lr := instanceText(f, "lr101_12.txt")
	sol := instanceText(f, "r101_25.txt")
	seeds := []string{
		`{"problem":{"format":"lilim","instance":` + quote(lr) + `}}`,
		`{"name":"x","priority":"high","time_limit_s":5,"seed":3,"problem":{"format":"solomon","instance":` + quote(sol) + `}}`,
		`{"problem":{"format":"solomon","instance":` + quote(lr) + `}}`,
		`{"problem":{"format":"lilim","instance":"3\t10\t1\n0\t0\t0\t0\t0\t1000\t0\t0\t0\n1\t10\t0\t5\t0\t100\t5\t0\t2\n2\t20\t0\t-5\t0\t200\t5\t1\t0\n"}}`,
		`{"problem":{"format":"lilim","instance":"3 10 1\n0 0 0 0 0 1000 0 0 0\n1 10 0 5 0 100 5 2 0\n"}}`,
		`{"problem":{"format":"freight"}}`,
		`{"time_limit_s":-1,"seed":-5,"priority":"","problem":null}`,
		`{"name":"\u0000","problem":{}}`,
		`[]`, `null`, `{"problem":{"format":"lilim","instance":"\u0000"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sp, err := decodeJobRequest(body)
		if err != nil {
			var fe *freight.Error
			if !errors.As(err, &fe) || fe.Code != freight.EINVALID {
				t.Fatalf("got error %v (%T), want an invalid-input error", err, err)
			}
			return
		}
		if !sp.priority.Valid() || sp.timeLimit < time.Second || sp.timeLimit > MaxTimeLimit || sp.seed < 0 {
			t.Fatalf("accepted out-of-range values: %+v", sp)
		}
		if len(sp.name) > maxNameLen || strings.ContainsRune(sp.name, 0) {
			t.Fatalf("accepted name %q", sp.name)
		}
		if sp.summary.Nodes < 2 || (sp.summary.Kind != "pdptw" && sp.summary.Kind != "vrptw" && sp.summary.Kind != "freight") {
			t.Fatalf("accepted problem %+v", sp.summary)
		}
		// What the worker does with the stored problem must succeed too.
		enc, err := encodeProblem(sp.problem)
		if err != nil {
			t.Fatal(err)
		}
		p, err := decodeProblem(enc)
		if err != nil {
			t.Fatal(err)
		}
		c, err := formats[p.Format].compile(p)
		if err != nil {
			t.Fatalf("stored problem does not compile: %v", err)
		}
		if c.summary() != sp.summary {
			t.Fatalf("summary changed through the store: got %+v, want %+v", c.summary(), sp.summary)
		}
	})
}

func TestInstanceNameBecomesJobName(t *testing.T) {
	text := strings.Replace(instanceText(t, "r101_25.txt"), "R101_25", "R101 \x01"+strings.Repeat("é", 150), 1)
	sp, err := JobRequest{Problem: &Problem{Format: "solomon", Instance: text}}.validate()
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.name) > maxNameLen || strings.ContainsRune(sp.name, 1) || !strings.HasPrefix(sp.name, "R101 é") {
		t.Errorf("got name %q (%d bytes), want the printable start of the instance's name, at most %d bytes", sp.name, len(sp.name), maxNameLen)
	}
}

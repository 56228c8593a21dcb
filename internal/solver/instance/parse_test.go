package instance

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTestdata(t *testing.T) {
	tests := []struct {
		file     string
		problem  Problem
		nodes    int
		vehicles int
		capacity int
	}{
		{"tiny_pdptw.txt", PDPTW, 5, 3, 10},
		{"tiny_vrptw.txt", VRPTW, 4, 2, 10},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			in, err := ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if in.Problem != tc.problem || in.N() != tc.nodes || in.Vehicles != tc.vehicles || in.Capacity != tc.capacity {
				t.Errorf("got %s n=%d K=%d Q=%d, want %s n=%d K=%d Q=%d", in.Problem, in.N(), in.Vehicles, in.Capacity, tc.problem, tc.nodes, tc.vehicles, tc.capacity)
			}
			if got, want := in.Dist(1, 2), 10.0; got != want {
				t.Errorf("got dist(1,2)=%g, want %g", got, want)
			}
			if got, want := in.Dist(0, 0), 0.0; got != want {
				t.Errorf("got dist(0,0)=%g, want %g", got, want)
			}
			if got, want := in.Name, strings.TrimSuffix(tc.file, ".txt"); got != want {
				t.Errorf("got name %q, want %q", got, want)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	in, err := ReadFile(filepath.Join("testdata", "tiny_pdptw.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := Node{ID: 2, X: 20, Y: 0, Demand: -5, Ready: 0, Due: 200, Service: 5, Pickup: 1}
	if got := in.Nodes[2]; got != want {
		t.Errorf("got node %+v, want %+v", got, want)
	}
	if got, want := in.Nodes[1].Delivery, 2; got != want {
		t.Errorf("got delivery of 1 = %d, want %d", got, want)
	}
}

const lilimHead = "2\t10\t1\n0\t0\t0\t0\t0\t1000\t0\t0\t0\n"

const solomonHead = "X\n\nVEHICLE\nNUMBER CAPACITY\n 2 10\n\nCUSTOMER\nCUST NO. XCOORD. YCOORD. DEMAND READY DUE SERVICE\n\n 0 0 0 0 0 1000 0\n"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr error
		wantMsg string
	}{
		{"empty", "", ErrUnknownFormat, "empty"},
		{"blank", "\r\n \r\n", ErrUnknownFormat, "empty"},
		{"garbage", "hello world\n", ErrUnknownFormat, "VEHICLE"},
		{"lilim depot only", lilimHead, ErrEmptyInstance, ""},
		{"lilim truncated row", lilimHead + "1\t10\t0\t5\t0\t100", ErrMalformed, "line 3"},
		{"lilim missing delivery", lilimHead + "1\t10\t0\t5\t0\t100\t5\t0\t2\n", ErrInconsistent, "pickup 1"},
		{"lilim mismatched pair", lilimHead + "1\t10\t0\t5\t0\t100\t5\t0\t2\n2\t20\t0\t-5\t0\t200\t5\t3\t0\n3\t20\t0\t-5\t0\t200\t5\t1\t0\n", ErrInconsistent, "delivery 2"},
		{"lilim demand mismatch", lilimHead + "1\t10\t0\t5\t0\t100\t5\t0\t2\n2\t20\t0\t-4\t0\t200\t5\t1\t0\n", ErrInconsistent, "do not cancel"},
		{"lilim unpaired", lilimHead + "1\t10\t0\t5\t0\t100\t5\t0\t0\n", ErrInconsistent, "node 1"},
		{"lilim self pair", lilimHead + "1\t10\t0\t5\t0\t100\t5\t0\t1\n", ErrInconsistent, "pickup 1"},
		{"lilim over capacity", lilimHead + "1\t10\t0\t11\t0\t100\t5\t0\t2\n2\t20\t0\t-11\t0\t200\t5\t1\t0\n", ErrOverCapacity, "node 1"},
		{"lilim zero vehicles", "0\t10\t1\n0\t0\t0\t0\t0\t1000\t0\t0\t0\n1\t10\t0\t5\t0\t100\t5\t0\t2\n2\t20\t0\t-5\t0\t200\t5\t1\t0\n", ErrNoVehicles, ""},
		{"lilim delivery window too early", lilimHead + "1\t10\t0\t5\t0\t100\t5\t0\t2\n2\t20\t0\t-5\t0\t12\t5\t1\t0\n", ErrUnservable, "delivery 2"},
		{"lilim unreachable pickup", lilimHead + "1\t10\t0\t5\t0\t5\t5\t0\t2\n2\t20\t0\t-5\t0\t200\t5\t1\t0\n", ErrUnservable, "node 1"},
		{"lilim no return", lilimHead + "1\t10\t0\t5\t990\t995\t5\t0\t2\n2\t20\t0\t-5\t0\t2000\t5\t1\t0\n", ErrUnservable, "node 2"},
		{"lilim ready after due", lilimHead + "1\t10\t0\t5\t50\t40\t5\t0\t2\n2\t20\t0\t-5\t0\t200\t5\t1\t0\n", ErrUnservable, "node 1"},
		{"lilim ids out of order", lilimHead + "2\t10\t0\t5\t0\t100\t5\t0\t1\n", ErrMalformed, "id 2"},
		{"lilim not a number", lilimHead + "1\tx\t0\t5\t0\t100\t5\t0\t2\n", ErrMalformed, "line 3"},
		{"lilim bad header", "2\t10\n", ErrUnknownFormat, ""},
		{"solomon truncated header", "X\n\nVEHICLE\nNUMBER CAPACITY\n", ErrMalformed, "truncated"},
		{"solomon truncated row", solomonHead + " 1 10 0 4 0 100", ErrMalformed, "7 fields"},
		{"solomon zero vehicles", strings.Replace(solomonHead, " 2 10", " 0 10", 1) + " 1 10 0 4 0 100 5\n", ErrNoVehicles, ""},
		{"solomon over capacity", solomonHead + " 1 10 0 40 0 100 5\n", ErrOverCapacity, "node 1"},
		{"solomon negative demand", solomonHead + " 1 10 0 -4 0 100 5\n", ErrMalformed, "node 1"},
		{"solomon unservable", solomonHead + " 1 10 0 4 0 9 5\n", ErrUnservable, "node 1"},
		{"solomon fractional demand", solomonHead + " 1 10 0 4.5 0 100 5\n", ErrMalformed, "demand"},
		{"solomon no fleet", "X\nVEHICLE\nNUMBER CAPACITY\nCUSTOMER\n", ErrMalformed, "fleet line"},
		{"solomon no customer section", "X\nVEHICLE\nNUMBER CAPACITY\n2 10\n 0 0 0 0 0 1000 0\n", ErrMalformed, "CUSTOMER"},
		{"solomon negative service", solomonHead + " 1 10 0 4 0 100 -5\n", ErrMalformed, "service"},
		{"solomon huge coordinate", solomonHead + " 1 1e300 0 4 0 100 5\n", ErrMalformed, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := Parse("t", strings.NewReader(tc.input))
			if err == nil {
				t.Fatalf("got instance with %d nodes, want error %v", in.N(), tc.wantErr)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("got error %q, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("got error %q, want it to mention %q", err, tc.wantMsg)
			}
		})
	}
}

func TestCRLFAndLFParseAlike(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "tiny_vrptw.txt"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Parse("a", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("a", strings.NewReader(strings.ReplaceAll(string(data), "\r\n", "\n")))
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Nodes {
		if a.Nodes[i] != b.Nodes[i] {
			t.Errorf("node %d: got %+v with LF, want %+v as with CRLF", i, b.Nodes[i], a.Nodes[i])
		}
	}
}

func TestLazyDistances(t *testing.T) {
	in, err := ReadFile(filepath.Join("testdata", "tiny_pdptw.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lazy := *in
	lazy.dist = nil
	for i := range in.N() {
		for j := range in.N() {
			if got, want := lazy.Dist(i, j), in.Dist(i, j); got != want {
				t.Errorf("dist(%d,%d): got %g lazily, want %g", i, j, got, want)
			}
		}
	}
	if got, want := in.Dist(1, 3), math.Sqrt(200); got != want {
		t.Errorf("got dist(1,3)=%g, want %g", got, want)
	}
}

func TestMaxRouteDurationTightensHorizon(t *testing.T) {
	in, err := ReadFile(filepath.Join("testdata", "tiny_pdptw.txt"))
	if err != nil {
		t.Fatal(err)
	}
	in.MaxRouteDuration = 40
	if got, want := in.Horizon(), 40.0; got != want {
		t.Errorf("got horizon %g, want %g", got, want)
	}
	if err := in.Validate(); !errors.Is(err, ErrUnservable) {
		t.Errorf("got %v, want %v with a 40-unit duration limit", err, ErrUnservable)
	}
}

// TestParseBenchmarks parses every shipped benchmark file.
func TestParseBenchmarks(t *testing.T) {
	root := benchmarksDir(t)
	files, err := filepath.Glob(filepath.Join(root, "*", "*", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 200 {
		t.Fatalf("got %d benchmark files, want at least 200", len(files))
	}
	for _, f := range files {
		in, err := ReadFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		wantProblem := VRPTW
		if strings.Contains(f, string(filepath.Separator)+"pdptw"+string(filepath.Separator)) {
			wantProblem = PDPTW
		}
		if in.Problem != wantProblem {
			t.Errorf("%s: got problem %s, want %s", f, in.Problem, wantProblem)
		}
		if in.N() < 101 {
			t.Errorf("%s: got %d nodes, want at least 101", f, in.N())
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"tiny_pdptw.txt", "tiny_vrptw.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(lilimHead))
	f.Add([]byte(solomonHead))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := Parse("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		// Whatever parses must be a valid instance.
		if err := in.Validate(); err != nil {
			t.Fatalf("parsed instance fails validation: %v", err)
		}
	})
}

func FuzzParseLiLim(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "tiny_pdptw.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseLiLim("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if in.Problem != PDPTW {
			t.Fatalf("got problem %s, want %s", in.Problem, PDPTW)
		}
		if err := in.Validate(); err != nil {
			t.Fatalf("parsed instance fails validation: %v", err)
		}
	})
}

func FuzzParseSolomon(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "tiny_vrptw.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseSolomon("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if in.Problem != VRPTW {
			t.Fatalf("got problem %s, want %s", in.Problem, VRPTW)
		}
		if err := in.Validate(); err != nil {
			t.Fatalf("parsed instance fails validation: %v", err)
		}
	})
}

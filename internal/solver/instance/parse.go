package instance

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxFileSize bounds what the parsers read: the largest benchmark file is
// about 80 kB, so 64 MB leaves room for far larger instances while keeping
// a mistaken input from exhausting memory.
const maxFileSize = 64 << 20

// ReadFile reads and parses an instance file, detecting its format. The
// instance is named after the file without its extension.
func ReadFile(path string) (*Instance, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open instance: %w", err)
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	in, err := Parse(name, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return in, nil
}

// Parse reads an instance in either benchmark format: a file whose first
// non-blank line holds three numbers is Li & Lim, one that starts with a
// name line followed by a VEHICLE section is Solomon / Gehring & Homberger.
// An empty name means: use the name line of a Solomon file.
func Parse(name string, r io.Reader) (*Instance, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read instance: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, maxFileSize)
	}
	lines := splitLines(data)
	for _, l := range lines {
		if len(l.fields) == 0 {
			continue
		}
		if len(l.fields) == 3 && allNumeric(l.fields) {
			return parseLiLim(name, lines)
		}
		return parseSolomon(name, lines)
	}
	return nil, fmt.Errorf("%w: empty file", ErrUnknownFormat)
}

// ParseLiLim parses a Li & Lim PDPTW file.
func ParseLiLim(name string, r io.Reader) (*Instance, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read instance: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, maxFileSize)
	}
	return parseLiLim(name, splitLines(data))
}

// ParseSolomon parses a Solomon or Gehring & Homberger VRPTW file.
func ParseSolomon(name string, r io.Reader) (*Instance, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read instance: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, maxFileSize)
	}
	return parseSolomon(name, splitLines(data))
}

type line struct {
	no     int // 1-based
	fields []string
}

// splitLines cuts the file into lines of whitespace-separated fields,
// tolerating CRLF and tabs.
func splitLines(data []byte) []line {
	var out []line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), maxFileSize)
	no := 0
	for sc.Scan() {
		no++
		out = append(out, line{no: no, fields: strings.Fields(sc.Text())})
	}
	return out
}

func allNumeric(fields []string) bool {
	for _, f := range fields {
		if _, err := strconv.ParseFloat(f, 64); err != nil {
			return false
		}
	}
	return true
}

func parseInt(l line, i int, what string) (int, error) {
	v, err := strconv.Atoi(l.fields[i])
	if err != nil {
		return 0, fmt.Errorf("%w: line %d: %s %q is not an integer", ErrMalformed, l.no, what, l.fields[i])
	}
	return v, nil
}

func parseNum(l line, i int, what string) (float64, error) {
	v, err := strconv.ParseFloat(l.fields[i], 64)
	if err != nil {
		return 0, fmt.Errorf("%w: line %d: %s %q is not a number", ErrMalformed, l.no, what, l.fields[i])
	}
	// Coordinates and times of real instances are far below this; the
	// bound keeps sums and squares finite.
	if v > 1e12 || v < -1e12 || v != v {
		return 0, fmt.Errorf("%w: line %d: %s %q is out of range", ErrMalformed, l.no, what, l.fields[i])
	}
	return v, nil
}

var nodeFieldNames = []string{"id", "x", "y", "demand", "ready time", "due time", "service time", "pickup", "delivery"}

// parseNode reads id x y demand ready due service [pickup delivery].
func parseNode(l line) (Node, error) {
	var nd Node
	var err error
	if nd.ID, err = parseInt(l, 0, "id"); err != nil {
		return nd, err
	}
	if nd.X, err = parseNum(l, 1, "x"); err != nil {
		return nd, err
	}
	if nd.Y, err = parseNum(l, 2, "y"); err != nil {
		return nd, err
	}
	if nd.Demand, err = parseInt(l, 3, "demand"); err != nil {
		return nd, err
	}
	if nd.Ready, err = parseNum(l, 4, "ready time"); err != nil {
		return nd, err
	}
	if nd.Due, err = parseNum(l, 5, "due time"); err != nil {
		return nd, err
	}
	if nd.Service, err = parseNum(l, 6, "service time"); err != nil {
		return nd, err
	}
	if len(l.fields) == 9 {
		if nd.Pickup, err = parseInt(l, 7, "pickup"); err != nil {
			return nd, err
		}
		if nd.Delivery, err = parseInt(l, 8, "delivery"); err != nil {
			return nd, err
		}
	}
	return nd, nil
}

func appendNode(nodes []Node, nd Node, l line) ([]Node, error) {
	if nd.ID != len(nodes) {
		return nil, fmt.Errorf("%w: line %d: node id %d, want %d: %w", ErrMalformed, l.no, nd.ID, len(nodes), errNodeOutOfOrder)
	}
	return append(nodes, nd), nil
}

func parseLiLim(name string, lines []line) (*Instance, error) {
	in := &Instance{Name: name, Problem: PDPTW}
	header := true
	for _, l := range lines {
		if len(l.fields) == 0 {
			continue
		}
		if header {
			if len(l.fields) != 3 {
				return nil, fmt.Errorf("%w: line %d: header wants 3 fields (vehicles capacity speed), got %d", ErrMalformed, l.no, len(l.fields))
			}
			var err error
			if in.Vehicles, err = parseInt(l, 0, "vehicle count"); err != nil {
				return nil, err
			}
			if in.Capacity, err = parseInt(l, 1, "capacity"); err != nil {
				return nil, err
			}
			if _, err = parseNum(l, 2, "speed"); err != nil {
				return nil, err
			}
			header = false
			continue
		}
		if len(l.fields) != len(nodeFieldNames) {
			return nil, fmt.Errorf("%w: line %d: node wants %d fields (%s), got %d", ErrMalformed, l.no, len(nodeFieldNames), strings.Join(nodeFieldNames, " "), len(l.fields))
		}
		nd, err := parseNode(l)
		if err != nil {
			return nil, err
		}
		if in.Nodes, err = appendNode(in.Nodes, nd, l); err != nil {
			return nil, err
		}
	}
	if header {
		return nil, fmt.Errorf("%w: no header line", ErrMalformed)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in.Prepare()
	return in, nil
}

func parseSolomon(name string, lines []line) (*Instance, error) {
	in := &Instance{Name: name, Problem: VRPTW}
	// The sections in order: name, VEHICLE, NUMBER CAPACITY, the fleet
	// line, CUSTOMER, the column header, then node rows.
	const (
		wantName = iota
		wantVehicle
		wantFleetHeader
		wantFleet
		wantCustomer
		wantColumns
		wantNodes
	)
	state := wantName
	for _, l := range lines {
		if len(l.fields) == 0 {
			continue
		}
		word := strings.ToUpper(l.fields[0])
		switch state {
		case wantName:
			if in.Name == "" {
				in.Name = strings.Join(l.fields, " ")
			}
			state = wantVehicle
		case wantVehicle:
			if word != "VEHICLE" {
				return nil, fmt.Errorf("%w: line %d: want VEHICLE section, got %q", ErrUnknownFormat, l.no, strings.Join(l.fields, " "))
			}
			state = wantFleetHeader
		case wantFleetHeader:
			if word != "NUMBER" {
				return nil, fmt.Errorf("%w: line %d: want NUMBER CAPACITY header, got %q", ErrMalformed, l.no, strings.Join(l.fields, " "))
			}
			state = wantFleet
		case wantFleet:
			if len(l.fields) != 2 {
				return nil, fmt.Errorf("%w: line %d: fleet line wants 2 fields (number capacity), got %d", ErrMalformed, l.no, len(l.fields))
			}
			var err error
			if in.Vehicles, err = parseInt(l, 0, "vehicle count"); err != nil {
				return nil, err
			}
			if in.Capacity, err = parseInt(l, 1, "capacity"); err != nil {
				return nil, err
			}
			state = wantCustomer
		case wantCustomer:
			if word != "CUSTOMER" {
				return nil, fmt.Errorf("%w: line %d: want CUSTOMER section, got %q", ErrMalformed, l.no, strings.Join(l.fields, " "))
			}
			state = wantColumns
		case wantColumns:
			if word != "CUST" {
				return nil, fmt.Errorf("%w: line %d: want column header, got %q", ErrMalformed, l.no, strings.Join(l.fields, " "))
			}
			state = wantNodes
		case wantNodes:
			if len(l.fields) != 7 {
				return nil, fmt.Errorf("%w: line %d: node wants 7 fields (%s), got %d", ErrMalformed, l.no, strings.Join(nodeFieldNames[:7], " "), len(l.fields))
			}
			nd, err := parseNode(l)
			if err != nil {
				return nil, err
			}
			if in.Nodes, err = appendNode(in.Nodes, nd, l); err != nil {
				return nil, err
			}
		}
	}
	if state <= wantVehicle {
		return nil, fmt.Errorf("%w: no VEHICLE section", ErrUnknownFormat)
	}
	if state != wantNodes {
		return nil, fmt.Errorf("%w: file ends before the customer rows (truncated?)", ErrMalformed)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in.Prepare()
	return in, nil
}

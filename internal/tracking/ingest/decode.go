// Package ingest decodes batches of position reports and filters out the
// points that must not be stored, each with its reason, as a GPS tracking
// server does before it writes anything. It does no I/O: the tracking
// service reads the body, keeps each driver's Track and writes what passes.
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

// Point is one position report as a device sends it.
type Point struct {
	// DriverID names the driver (and so the truck) the fix belongs to. A
	// device key bound to a driver may leave it out.
	DriverID string    `json:"driver_id"`
	Time     time.Time `json:"time"`
	Lat      float64   `json:"lat"`
	Lon      float64   `json:"lon"`
	// The optional readings; nil when the device did not send them.
	SpeedMph   *float64 `json:"speed_mph"`
	HeadingDeg *float64 `json:"heading_deg"`
	AccuracyM  *float64 `json:"accuracy_m"`
}

// Reason says why a point was not stored.
type Reason string

// The reasons a point is rejected, in the order the checks run.
const (
	Malformed          Reason = "malformed"           // not a position object, or a field of the wrong type
	InvalidCoordinates Reason = "invalid_coordinates" // outside the globe, or 0,0
	Future             Reason = "future"              // recorded after now plus the allowed clock skew
	TooOld             Reason = "too_old"             // recorded before the accepted age
	PoorAccuracy       Reason = "poor_accuracy"       // reported accuracy worse than allowed
	InvalidReading     Reason = "invalid_reading"     // speed or heading out of range
	Duplicate          Reason = "duplicate"           // the same fix was already accepted
	OutOfOrder         Reason = "out_of_order"        // older than the driver's last accepted fix
	ImpossibleJump     Reason = "impossible_jump"     // needs a speed above the configured limit
)

// Reasons lists every reason, for metrics.
var Reasons = []Reason{Malformed, InvalidCoordinates, Future, TooOld, PoorAccuracy, InvalidReading, Duplicate, OutOfOrder, ImpossibleJump}

// Rejection reports one point that was not stored.
type Rejection struct {
	Index  int    `json:"index"` // the point's position in the batch, from 0
	Reason Reason `json:"reason"`
	Detail string `json:"detail"`
}

// Decode reads a batch: a JSON array of points, or NDJSON (one point per
// line). A point that cannot be read becomes a Malformed rejection at its
// index while the rest of the batch stands; a batch whose structure is
// broken (an array with a syntax error) is an EINVALID error, and one with
// more than maxPoints points an ETOOLARGE error. points[i] keeps index
// indexes[i] of the batch.
func Decode(body []byte, maxPoints int) (points []Point, indexes []int, rejected []Rejection, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return nil, nil, nil, freight.Errorf(freight.EINVALID, "empty batch; send a JSON array of positions or NDJSON")
	case trimmed[0] == '[':
		return decodeArray(trimmed, maxPoints)
	case trimmed[0] == '{':
		return decodeLines(trimmed, maxPoints)
	}
	return nil, nil, nil, freight.Errorf(freight.EINVALID, "a batch is a JSON array of positions or NDJSON, one position object per line")
}

func tooLarge(maxPoints int) error {
	return freight.Errorf(freight.ETOOLARGE, "batch holds more than %d positions; split it", maxPoints)
}

func decodeArray(body []byte, maxPoints int) ([]Point, []int, []Rejection, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if _, err := dec.Token(); err != nil {
		return nil, nil, nil, syntaxError(err)
	}
	var (
		points   []Point
		indexes  []int
		rejected []Rejection
	)
	i := 0
	for dec.More() {
		if i >= maxPoints {
			return nil, nil, nil, tooLarge(maxPoints)
		}
		var p Point
		// Decode reads the whole element before filling p, so an element of
		// the wrong shape leaves the stream at the next one: only syntax
		// errors break the batch.
		if err := dec.Decode(&p); err != nil {
			if isSyntax(err) {
				return nil, nil, nil, syntaxError(err)
			}
			rejected = append(rejected, Rejection{Index: i, Reason: Malformed, Detail: fieldDetail(err)})
		} else {
			points, indexes = append(points, p), append(indexes, i)
		}
		i++
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, nil, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, nil, freight.Errorf(freight.EINVALID, "unexpected data after the JSON array")
	}
	return points, indexes, rejected, nil
}

func decodeLines(body []byte, maxPoints int) ([]Point, []int, []Rejection, error) {
	var (
		points   []Point
		indexes  []int
		rejected []Rejection
	)
	i := 0
	for len(body) > 0 {
		line := body
		if n := bytes.IndexByte(body, '\n'); n >= 0 {
			line, body = body[:n], body[n+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if i >= maxPoints {
			return nil, nil, nil, tooLarge(maxPoints)
		}
		// Each line stands alone, so even a syntax error spoils only its line.
		var p Point
		if err := decodeOne(line, &p); err != nil {
			rejected = append(rejected, Rejection{Index: i, Reason: Malformed, Detail: fieldDetail(err)})
		} else {
			points, indexes = append(points, p), append(indexes, i)
		}
		i++
	}
	return points, indexes, rejected, nil
}

func decodeOne(line []byte, p *Point) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the position object")
	}
	return nil
}

func isSyntax(err error) bool {
	var syn *json.SyntaxError
	return errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func syntaxError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return freight.Errorf(freight.EINVALID, "malformed JSON at byte %d: %v", syn.Offset, syn)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return freight.Errorf(freight.EINVALID, "malformed JSON: unexpected end of input")
	}
	return freight.Errorf(freight.EINVALID, "malformed JSON: %v", err)
}

// fieldDetail names the offending field where encoding/json says which.
func fieldDetail(err error) string {
	var (
		typ *json.UnmarshalTypeError
		syn *json.SyntaxError
	)
	switch {
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("want a position object, got JSON %s", typ.Value)
		}
		return fmt.Sprintf("%s: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`) + ": unknown field"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

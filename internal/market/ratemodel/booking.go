// Package ratemodel learns truckload rates from booking history and quotes
// the P10, P50 and P90 of the all-in rate for a load, with the factors that
// moved the price.
//
// The model is gradient-boosted regression trees, written here, on the log of
// the rate relative to a smooth distance curve per equipment. The P10-P90 range
// comes from split conformal calibration on bookings held back from training,
// scaled by a second, small tree model of how uncertain each quote is. Every
// feature is known when the quote is asked for; the recent-market features use
// only bookings made on earlier days.
//
// The package does no I/O of its own: readers take an io.Reader.
package ratemodel

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Equipment is a trailer type.
type Equipment string

// The trailer types the model knows.
const (
	Van     Equipment = "van"
	Reefer  Equipment = "reefer"
	Flatbed Equipment = "flatbed"
)

// Equipments lists the known trailer types in feature order.
var Equipments = []Equipment{Van, Reefer, Flatbed}

// ParseEquipment accepts a known trailer type, ignoring case and surrounding
// spaces.
func ParseEquipment(s string) (Equipment, error) {
	e := Equipment(strings.ToLower(strings.TrimSpace(s)))
	if e.index() < 0 {
		return "", fmt.Errorf("unknown equipment %q (want van, reefer or flatbed)", s)
	}
	return e, nil
}

func (e Equipment) index() int {
	for i, k := range Equipments {
		if e == k {
			return i
		}
	}
	return -1
}

// Place is one end of a lane.
type Place struct {
	City  string
	State string
	Lat   float64
	Lon   float64
}

// Load is what is known about a load when it is quoted.
type Load struct {
	LoadID    string
	BookedAt  time.Time // when the quote is asked for (the booking time in history)
	PickupAt  time.Time
	Origin    Place
	Dest      Place
	Equipment Equipment
	WeightLbs float64
	Miles     float64 // practical road miles
}

// Booking is a load with the all-in rate paid (linehaul plus fuel surcharge).
type Booking struct {
	Load
	RateUSD float64
}

// RowError is one rejected row of a CSV file.
type RowError struct {
	Line   int    // line in the file, 1-based, the header being line 1
	Row    int    // data row, 1-based, in file order
	LoadID string // when it could be read
	Err    error
}

func (e RowError) Error() string {
	if e.LoadID != "" {
		return fmt.Sprintf("line %d (load %s): %v", e.Line, e.LoadID, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e RowError) Unwrap() error { return e.Err }

// ReadReport summarises a read: how many data rows there were, how many were
// kept and why the others were rejected.
type ReadReport struct {
	Rows     int
	Kept     int
	Rejected []RowError
}

// Summary is one line for people, followed by one line per rejected row (at
// most limit of them; limit <= 0 means all).
func (r ReadReport) Summary(limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows read, %d kept, %d rejected", r.Rows, r.Kept, len(r.Rejected))
	for i, e := range r.Rejected {
		if limit > 0 && i == limit {
			fmt.Fprintf(&b, "\n  ... and %d more", len(r.Rejected)-limit)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Errors a row can be rejected for; match them with errors.Is.
var (
	ErrFieldCount  = errors.New("wrong number of fields")
	ErrBadValue    = errors.New("bad value")
	ErrDuplicateID = errors.New("duplicate load_id")
)

// ErrHeader is returned when the header lacks a required column.
var ErrHeader = errors.New("bad header")

var loadColumns = []string{
	"load_id", "booked_at", "pickup_at",
	"origin_city", "origin_state", "origin_lat", "origin_lon",
	"dest_city", "dest_state", "dest_lat", "dest_lon",
	"equipment", "weight_lbs", "miles",
}

const rateColumn = "rate_usd"

// ReadBookings reads booking history in the format of bookings.csv. Columns
// are found by their header name, in any order; extra columns are ignored. A
// row with missing fields, a bad date, a negative or zero distance, a negative
// weight, an unknown equipment, a non-positive rate or a load_id seen before
// is rejected with its line number and the rest are kept. The error is
// non-nil only when the file itself cannot be read (no header, a required
// column missing).
func ReadBookings(r io.Reader) ([]Booking, ReadReport, error) {
	var out []Booking
	rep, err := readRows(r, true, true, func(l Load, rate float64) {
		out = append(out, Booking{Load: l, RateUSD: rate})
	})
	return out, rep, err
}

// ReadQueries reads loads to quote: the columns of bookings.csv without
// rate_usd (a rate_usd column, if present, is ignored). Rows are checked like
// ReadBookings, except that a load_id may repeat: each row gets its own quote.
func ReadQueries(r io.Reader) ([]Load, ReadReport, error) {
	var out []Load
	rep, err := readRows(r, false, false, func(l Load, _ float64) { out = append(out, l) })
	return out, rep, err
}

func readRows(r io.Reader, wantRate, uniqueIDs bool, keep func(Load, float64)) (ReadReport, error) {
	var rep ReadReport
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, so one short row does not end the read
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return rep, fmt.Errorf("%w: empty file", ErrHeader)
		}
		return rep, fmt.Errorf("%w: %w", ErrHeader, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := cols[h]; !dup {
			cols[h] = i
		}
	}
	need := loadColumns
	if wantRate {
		need = append(append([]string(nil), loadColumns...), rateColumn)
	}
	idx := make([]int, len(need))
	var missing []string
	for i, c := range need {
		j, ok := cols[c]
		if !ok {
			missing = append(missing, c)
		}
		idx[i] = j
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("%w: missing column(s) %s", ErrHeader, strings.Join(missing, ", "))
	}
	width := len(header)
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		rep.Rows++
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rep.Rejected = append(rep.Rejected, RowError{Line: pe.StartLine, Row: rep.Rows, Err: fmt.Errorf("%w: %v", ErrBadValue, pe.Err)})
				continue
			}
			return rep, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		reject := func(id string, err error) {
			rep.Rejected = append(rep.Rejected, RowError{Line: line, Row: rep.Rows, LoadID: id, Err: err})
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" && width > 1 {
			rep.Rows-- // a blank line is not a row
			continue
		}
		id := ""
		if idx[0] < len(rec) {
			id = strings.TrimSpace(rec[idx[0]])
		}
		if len(rec) != width {
			reject(id, fmt.Errorf("%w: got %d, want %d", ErrFieldCount, len(rec), width))
			continue
		}
		f := func(i int) string { return strings.TrimSpace(rec[idx[i]]) }
		l, rate, err := parseRow(f, wantRate)
		if err != nil {
			reject(id, err)
			continue
		}
		if uniqueIDs {
			if first, dup := seen[l.LoadID]; dup {
				reject(id, fmt.Errorf("%w: first seen on line %d", ErrDuplicateID, first))
				continue
			}
			seen[l.LoadID] = line
		}
		rep.Kept++
		keep(l, rate)
	}
	return rep, nil
}

// parseRow reads the fields of one row; f(i) is the value of need[i].
func parseRow(f func(int) string, wantRate bool) (Load, float64, error) {
	var l Load
	var errs []string
	bad := func(col string, format string, args ...any) {
		errs = append(errs, col+": "+fmt.Sprintf(format, args...))
	}
	num := func(i int) float64 {
		s := f(i)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			bad(loadColumns[i], "not a number: %q", s)
			return 0
		}
		return v
	}
	when := func(i int) time.Time {
		s := f(i)
		t, err := parseTime(s)
		if err != nil {
			bad(loadColumns[i], "not a date: %q", s)
		}
		return t
	}
	l.LoadID = f(0)
	if l.LoadID == "" {
		bad("load_id", "empty")
	}
	l.BookedAt = when(1)
	l.PickupAt = when(2)
	l.Origin = Place{City: f(3), State: f(4), Lat: num(5), Lon: num(6)}
	l.Dest = Place{City: f(7), State: f(8), Lat: num(9), Lon: num(10)}
	for _, p := range []struct {
		col string
		v   Place
	}{{"origin", l.Origin}, {"dest", l.Dest}} {
		if p.v.Lat < -90 || p.v.Lat > 90 || p.v.Lon < -180 || p.v.Lon > 180 {
			bad(p.col, "coordinates out of range: %g,%g", p.v.Lat, p.v.Lon)
		}
	}
	eq, err := ParseEquipment(f(11))
	if err != nil {
		bad("equipment", "%v", err)
	}
	l.Equipment = eq
	l.WeightLbs = num(12)
	if l.WeightLbs < 0 {
		bad("weight_lbs", "negative: %g", l.WeightLbs)
	}
	l.Miles = num(13)
	if l.Miles <= 0 {
		bad("miles", "not positive: %g", l.Miles)
	}
	var rate float64
	if wantRate {
		s := f(14)
		v, err := strconv.ParseFloat(s, 64)
		switch {
		case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
			bad(rateColumn, "not a number: %q", s)
		case v <= 0:
			bad(rateColumn, "not positive: %g", v)
		}
		rate = v
	}
	if len(errs) > 0 {
		return Load{}, 0, fmt.Errorf("%w: %s", ErrBadValue, strings.Join(errs, "; "))
	}
	return l, rate, nil
}

// parseTime accepts RFC 3339 (the format of the files) and, as a courtesy, a
// bare date or a space instead of the T; times without a zone are UTC.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date: %q", s)
}

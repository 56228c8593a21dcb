package ratemodel

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dieselWeekly is the weekly on-highway diesel price shipped with the product,
// so that quotes work with no setup; see DefaultDiesel.
//
//go:embed diesel-weekly.csv
var dieselWeekly []byte

// Diesel is a weekly diesel price series (USD per gallon).
type Diesel struct {
	Weeks  []time.Time `json:"weeks"` // week start, UTC midnight, ascending
	Prices []float64   `json:"prices"`
}

// DefaultDiesel is the series embedded in the binary. It is shared: treat it
// as read-only.
func DefaultDiesel() *Diesel { return defaultDiesel() }

var defaultDiesel = sync.OnceValue(func() *Diesel {
	d, err := ReadDiesel(bytes.NewReader(dieselWeekly))
	if err != nil {
		panic(fmt.Sprintf("embedded diesel series: %v", err)) // a build defect, caught by the tests
	}
	return d
})

// ReadDiesel reads a series with the columns week_start (a date) and
// diesel_usd_per_gal. Unlike bookings, a bad row fails the whole read: a price
// series with silent gaps would bias every quote near the gap.
func ReadDiesel(r io.Reader) (*Diesel, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty diesel file", ErrHeader)
		}
		return nil, fmt.Errorf("%w: %w", ErrHeader, err)
	}
	wi, pi := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "week_start":
			wi = i
		case "diesel_usd_per_gal":
			pi = i
		}
	}
	if wi < 0 || pi < 0 {
		return nil, fmt.Errorf("%w: want columns week_start and diesel_usd_per_gal", ErrHeader)
	}
	type point struct {
		week  time.Time
		price float64
		line  int
	}
	var pts []point
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read diesel: %w", err) // a csv.ParseError names its line
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) <= max(wi, pi) {
			return nil, fmt.Errorf("diesel line %d: %w", line, ErrFieldCount)
		}
		w, err := parseTime(strings.TrimSpace(rec[wi]))
		if err != nil {
			return nil, fmt.Errorf("diesel line %d: %w: week_start: %v", line, ErrBadValue, err)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(rec[pi]), 64)
		if err != nil || math.IsNaN(p) || math.IsInf(p, 0) || p <= 0 {
			return nil, fmt.Errorf("diesel line %d: %w: price %q", line, ErrBadValue, rec[pi])
		}
		pts = append(pts, point{w.Truncate(24 * time.Hour), p, line})
	}
	if len(pts) == 0 {
		return nil, errors.New("diesel file has no prices")
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].week.Before(pts[j].week) })
	d := &Diesel{}
	for i, p := range pts {
		if i > 0 && p.week.Equal(pts[i-1].week) {
			return nil, fmt.Errorf("diesel line %d: %w: week %s given twice", p.line, ErrBadValue, p.week.Format(time.DateOnly))
		}
		d.Weeks = append(d.Weeks, p.week)
		d.Prices = append(d.Prices, p.price)
	}
	return d, nil
}

// At is the price published for the week containing t: the latest week that
// starts on or before t. Before the series it is the first price; after it,
// the last one carries forward.
func (d *Diesel) At(t time.Time) float64 {
	if d == nil || len(d.Prices) == 0 {
		return math.NaN()
	}
	i := sort.Search(len(d.Weeks), func(i int) bool { return d.Weeks[i].After(t) })
	if i == 0 {
		return d.Prices[0]
	}
	return d.Prices[i-1]
}

package scalesim

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"
)

// Scenario is a traffic pattern of guide section 8: each service's load
// over simulated time, in the service's own unit per second.
type Scenario struct {
	Name        string
	Description string
	Start       time.Time
	Duration    time.Duration // the default simulated span
	// Load is the arrival rate of a service at t.
	Load func(service string, t time.Time) float64
	// Usual is the load without the scenario's one-off events: what the
	// weeks before Start looked like, and what a forecaster may learn from.
	Usual func(service string, t time.Time) float64
}

// traffic is one service's ordinary week: a weekday peak, the shape of a day
// relative to it, and the weekend's level.
type traffic struct {
	peak    float64
	shape   *[24]float64
	weekend float64
}

// business follows office hours: shippers post and search loads, dispatchers
// plan, from 07:00 to 18:00, with a lunch dip.
var business = [24]float64{
	0.12, 0.10, 0.09, 0.09, 0.10, 0.16, 0.32, 0.58, 0.85, 1.00, 1.00, 0.96,
	0.88, 0.94, 1.00, 0.97, 0.88, 0.72, 0.52, 0.40, 0.31, 0.24, 0.19, 0.15,
}

// onTheRoad follows trucks: they drive around the clock, more by day.
var onTheRoad = [24]float64{
	0.45, 0.42, 0.40, 0.40, 0.45, 0.55, 0.70, 0.85, 0.95, 1.00, 1.00, 1.00,
	0.98, 1.00, 1.00, 0.98, 0.93, 0.85, 0.75, 0.67, 0.60, 0.55, 0.50, 0.47,
}

// weekdayPeaks are each service's ordinary weekday peak. They size a fleet
// of about 100,000 trucks reporting every other second (tracking), with the
// gateway and the load board busy at several thousand requests a second.
var weekdayPeaks = map[string]traffic{
	"api-gateway":          {9000, &business, 0.35},
	"load-matching":        {400, &business, 0.35},
	"driver-service":       {1000, &onTheRoad, 0.6},
	"load-service":         {800, &business, 0.3},
	"tracking-service":     {60000, &onTheRoad, 0.6},
	"optimization-engine":  {0.2, &business, 0.2},
	"notification-service": {600, &business, 0.4},
}

// noiseAmplitude is the relative size of minute-to-minute fluctuation.
const noiseAmplitude = 0.04

func (tr traffic) at(service string, t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
	i := int(h) % 24
	frac := h - math.Floor(h)
	shape := tr.shape[i]*(1-frac) + tr.shape[(i+1)%24]*frac
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		shape *= tr.weekend
	}
	return tr.peak * shape * (1 + noiseAmplitude*noise(service, t))
}

// noise is a smooth deterministic fluctuation in [-1, 1]: a hash of the
// service and the minute, interpolated between minutes, so that every run
// and every step size sees the same traffic.
func noise(service string, t time.Time) float64 {
	sec := t.Unix()
	m := sec / 60
	frac := float64(sec%60) / 60
	return hashUnit(service, m)*(1-frac) + hashUnit(service, m+1)*frac
}

func hashUnit(service string, minute int64) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", service, minute)
	return float64(h.Sum64()%2001)/1000 - 1
}

func usual(service string, t time.Time) float64 {
	tr, ok := weekdayPeaks[service]
	if !ok {
		return 0
	}
	return tr.at(service, t)
}

// burst is extra load during [from, from+ramp+hold+decay): it rises linearly
// over ramp, holds, and falls linearly over decay.
type burst struct {
	from              time.Duration // since midnight
	ramp, hold, decay time.Duration
}

func (b burst) level(sinceMidnight time.Duration) float64 {
	d := sinceMidnight - b.from
	switch {
	case d < 0:
		return 0
	case d < b.ramp:
		return float64(d) / float64(b.ramp)
	case d < b.ramp+b.hold:
		return 1
	case d < b.ramp+b.hold+b.decay:
		return 1 - float64(d-b.ramp-b.hold)/float64(b.decay)
	}
	return 0
}

func sinceMidnight(t time.Time) time.Duration {
	return t.Sub(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()))
}

// The scenarios start on fixed dates so that every run is the same: a
// Tuesday for the one-day scenarios, a Monday for the two-week one.
var (
	tuesday = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	monday  = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
)

// spikeMultipliers say how much a campaign multiplies each service's load at
// its height: the shipper-facing path takes it all, drivers and the solver
// some, and trucks do not drive more because of it.
var spikeMultipliers = map[string]float64{
	"api-gateway":          5,
	"load-service":         5,
	"load-matching":        5,
	"notification-service": 5,
	"driver-service":       2,
	"optimization-engine":  2,
	"tracking-service":     1,
}

// spikeBurst is the campaign: from 11:00 the load climbs to its height in two
// minutes, holds 45 minutes and fades over 15.
var spikeBurst = burst{from: 11 * time.Hour, ramp: 2 * time.Minute, hold: 45 * time.Minute, decay: 15 * time.Minute}

// nightlyBatch is the extra load of the nightly runs, in each service's unit
// per second, and when.
var nightlyBatch = map[string]struct {
	rate float64
	when burst
}{
	// 150 route-planning jobs submitted together at 02:00.
	"optimization-engine": {2.5, burst{from: 2 * time.Hour, hold: time.Minute}},
	// Re-matching every open load: 600,000 match requests over 10 minutes.
	"load-matching": {1000, burst{from: 2 * time.Hour, hold: 10 * time.Minute}},
	// Daily digests: 120,000 e-mails over 5 minutes once matching is done.
	"notification-service": {400, burst{from: 2*time.Hour + 15*time.Minute, hold: 5 * time.Minute}},
	// Report generation reads loads: 2,000 transactions a second for 15 minutes.
	"load-service": {2000, burst{from: 2*time.Hour + 30*time.Minute, hold: 15 * time.Minute}},
}

func withBatch(service string, t time.Time) float64 {
	base := usual(service, t)
	if b, ok := nightlyBatch[service]; ok {
		base += b.rate * b.when.level(sinceMidnight(t))
	}
	return base
}

// seasonalGrowth is the multiplier of a peak season's build-up: 15% over
// the four weeks before Start, then 60% over the two simulated weeks.
func seasonalGrowth(t time.Time) float64 {
	days := float64(t.Sub(monday)) / float64(24*time.Hour)
	if days < 0 {
		return 1 + 0.15*days/28
	}
	return 1 + 0.6*days/14
}

// Scenarios returns the four scenarios of guide section 8.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Name:        "daily",
			Description: "an ordinary weekday: a business-hours peak from 07:00 to 18:00 with a lunch dip, trucks reporting around the clock (8.1)",
			Start:       tuesday, Duration: 24 * time.Hour,
			Load: usual, Usual: usual,
		},
		{
			Name:        "spike",
			Description: "the weekday with a campaign at 11:00: shipper-facing load x5 within 2 minutes for 45 minutes, drivers and jobs x2 (8.2)",
			Start:       tuesday, Duration: 24 * time.Hour,
			Load: func(service string, t time.Time) float64 {
				m := spikeMultipliers[service]
				return usual(service, t) * (1 + (m-1)*spikeBurst.level(sinceMidnight(t)))
			},
			Usual: usual,
		},
		{
			Name:        "seasonal",
			Description: "two weeks of a peak season's build-up: every service's load grows 60% from Monday to Monday two weeks on, after 15% over the month before (8.6)",
			Start:       monday, Duration: 14 * 24 * time.Hour,
			Load:  func(service string, t time.Time) float64 { return usual(service, t) * seasonalGrowth(t) },
			Usual: func(service string, t time.Time) float64 { return usual(service, t) * seasonalGrowth(t) },
		},
		{
			Name:        "batch",
			Description: "the weekday with the nightly runs: 150 optimization jobs at 02:00, 600,000 re-match requests, 120,000 digests, reports (8.5)",
			Start:       tuesday, Duration: 24 * time.Hour,
			Load: withBatch, Usual: withBatch,
		},
	}
}

// ScenarioNames lists the scenarios' names in order.
func ScenarioNames() []string {
	var names []string
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	return names
}

// LookupScenario returns the scenario of that name.
func LookupScenario(name string) (Scenario, error) {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, nil
		}
	}
	names := ScenarioNames()
	slices.Sort(names)
	return Scenario{}, fmt.Errorf("unknown scenario %q: want one of %s", name, strings.Join(names, ", "))
}

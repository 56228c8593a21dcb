// Package reports serves shippers' and carriers' reports: volume, spend and
// rate per lane, on-time pickup and delivery, detention and the share of
// empty miles, as JSON or CSV. Reports read report_lane_daily, the
// pre-aggregated rows (a materialized view on PostgreSQL, a table on
// SQLite) that Refresh rebuilds on a schedule, through the store's
// stale-tolerant read path, so they may run on a read replica.
package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/store"
)

// Prefixes are the API paths this package owns (served by load-service).
var Prefixes = []string{"/api/v1/reports"}

// View is the name of the pre-aggregated report rows.
const View = "report_lane_daily"

// Groups are the ways a report's rows can be grouped, each with its SQL key.
var groups = map[string]string{
	"lane":        `origin_state || '-' || dest_state`,
	"origin":      `origin_state`,
	"destination": `dest_state`,
	"equipment":   `equipment`,
	"day":         `day`,
	"month":       `substr(day, 1, 7)`,
	"carrier":     `carrier_id`,
	"shipper":     `shipper_id`,
}

// GroupNames lists the valid values of the group parameter.
func GroupNames() []string {
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	return names
}

// MaxDays bounds a report's date range.
const MaxDays = 731

// Query selects a report's rows: pickup days From through To (inclusive,
// UTC) grouped by Group.
type Query struct {
	From, To time.Time
	Group    string
	CSV      bool
}

// ParseQuery reads from, to, group and format, with defaults: the last 90
// days up to today, grouped by lane, as JSON. Every bad parameter is named.
func ParseQuery(v url.Values, today time.Time, defaultGroup string) (Query, error) {
	today = today.UTC().Truncate(24 * time.Hour)
	q := Query{From: today.AddDate(0, 0, -89), To: today, Group: defaultGroup}
	var fs freight.Fields
	date := func(name string, dst *time.Time) {
		s := v.Get(name)
		if s == "" {
			return
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			fs.Add(name, "must be a date as YYYY-MM-DD")
			return
		}
		*dst = t
	}
	date("from", &q.From)
	date("to", &q.To)
	if q.To.Before(q.From) {
		fs.Add("to", "before from")
	} else if q.To.Sub(q.From) > (MaxDays-1)*24*time.Hour {
		fs.Add("to", "the range spans more than %d days", MaxDays)
	}
	if g := v.Get("group"); g != "" {
		if _, ok := groups[g]; !ok {
			fs.Add("group", "must be one of %s", strings.Join(GroupNames(), ", "))
		} else {
			q.Group = g
		}
	}
	switch v.Get("format") {
	case "", "json":
	case "csv":
		q.CSV = true
	default:
		fs.Add("format", "must be json or csv")
	}
	return q, fs.Err()
}

// Service answers report queries.
type Service struct {
	db  *store.DB
	log *slog.Logger
	now func() time.Time

	refreshes *prometheus.CounterVec
	refreshed prometheus.Gauge
}

// New returns the reports service; reg receives its refresh metrics.
func New(db *store.DB, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	s := &Service{db: db, log: log, now: time.Now,
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backhaul_report_refreshes_total",
			Help: "Refreshes of the report tables by result: ok, skipped (another process refreshed) or error.",
		}, []string{"result"}),
		refreshed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "backhaul_report_refreshed_timestamp_seconds",
			Help: "When this process last refreshed the report tables (Unix time).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.refreshes, s.refreshed} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("reports metrics: %w", err)
			}
		}
	}
	return s, nil
}

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// refreshLock keeps processes from refreshing at once ("reports" in ASCII).
const refreshLock = 0x7265706f727473

// Refresh rebuilds the report rows from the loads and their stop visits. On
// PostgreSQL it refreshes the materialized view CONCURRENTLY, so reports
// keep reading the old rows meanwhile; a process that finds another one
// refreshing skips. On SQLite it rewrites the table in one transaction.
func (s *Service) Refresh(ctx context.Context) error {
	ran := true
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.Postgres {
			var got bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(?)`, int64(refreshLock)).Scan(&got); err != nil {
				return err
			}
			if !got {
				ran = false
				return nil
			}
			if _, err := tx.Exec(ctx, `REFRESH MATERIALIZED VIEW CONCURRENTLY `+View); err != nil {
				return err
			}
		} else {
			if _, err := tx.Exec(ctx, `DELETE FROM `+View); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+View+` SELECT * FROM report_lane_daily_source`); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO report_refreshes (name, refreshed_at) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET refreshed_at = excluded.refreshed_at`, View, tx.Now())
		return err
	})
	switch {
	case err != nil:
		s.refreshes.WithLabelValues("error").Inc()
		return fmt.Errorf("refresh reports: %w", err)
	case !ran:
		s.refreshes.WithLabelValues("skipped").Inc()
	default:
		s.refreshes.WithLabelValues("ok").Inc()
		s.refreshed.Set(float64(s.now().Unix()))
	}
	return nil
}

// Run refreshes the reports at once and then every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("report refresh failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// LaneRow is one group of the lanes report: volume, spend and rate.
type LaneRow struct {
	Group        string  `json:"group"`
	Loads        int64   `json:"loads"`
	SpendCents   int64   `json:"spend_cents"`
	AvgRateCents int64   `json:"avg_rate_cents"`
	LoadedMiles  float64 `json:"loaded_miles"`
	RatePerMile  float64 `json:"rate_per_mile"`
}

// PerformanceRow is one group of the performance report.
type PerformanceRow struct {
	Group              string   `json:"group"`
	Loads              int64    `json:"loads"`
	PickupsMeasured    int64    `json:"pickups_measured"`
	OnTimePickupPct    *float64 `json:"on_time_pickup_pct"`
	DeliveriesMeasured int64    `json:"deliveries_measured"`
	OnTimeDeliveryPct  *float64 `json:"on_time_delivery_pct"`
	DetentionHours     float64  `json:"detention_hours"`
	LoadedMiles        float64  `json:"loaded_miles"`
	EmptyMiles         float64  `json:"empty_miles"`
	EmptyMileShare     *float64 `json:"empty_mile_share"`
}

// Report is a report's answer.
type Report[R any] struct {
	From        string     `json:"from"`
	To          string     `json:"to"`
	Group       string     `json:"group"`
	RefreshedAt *time.Time `json:"refreshed_at"`
	Items       []R        `json:"items"`
}

// scope restricts the rows to what p may see: a platform operator sees the
// marketplace; any other organization its own loads as shipper or broker
// and its bookings as carrier, and nothing of anyone else.
func scope(p freight.Principal) (string, []any, error) {
	if p.Is(freight.RoleDriver) {
		return "", nil, freight.Errorf(freight.EFORBIDDEN, "reports are for shippers, dispatchers, admins and operators")
	}
	if p.OrgKind == freight.OrgPlatform && p.Is(freight.RoleOperator, freight.RoleAdmin) {
		return "1 = 1", nil, nil
	}
	return "(shipper_id = ? OR carrier_id = ?)", []any{p.OrgID, p.OrgID}, nil
}

const sums = `COUNT(*), SUM(loads), SUM(spend_cents), SUM(loaded_miles), SUM(empty_miles), SUM(pickups_measured),
	SUM(pickups_on_time), SUM(deliveries_measured), SUM(deliveries_on_time), SUM(detention_min)`

type totals struct {
	group                                           string
	rows, loads, spend, pm, pot, dm, dot, detention int64
	loaded, empty                                   float64
}

// query sums the report rows p may see, grouped as q asks.
func (s *Service) query(ctx context.Context, p freight.Principal, q Query) ([]totals, *time.Time, error) {
	where, args, err := scope(p)
	if err != nil {
		return nil, nil, err
	}
	key := groups[q.Group]
	if key == "" {
		return nil, nil, freight.Errorf(freight.EINVALID, "unknown group %q", q.Group)
	}
	args = append(args, q.From.Format(time.DateOnly), q.To.Format(time.DateOnly))
	rows, err := s.db.ReadQuery(ctx, `SELECT `+key+` AS k, `+sums+` FROM `+View+`
		WHERE `+where+` AND day >= ? AND day <= ? GROUP BY k ORDER BY k`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	var out []totals
	for rows.Next() {
		var t totals
		var loaded, empty sql.NullFloat64
		if err := rows.Scan(&t.group, &t.rows, &t.loads, &t.spend, &loaded, &empty, &t.pm, &t.pot, &t.dm, &t.dot, &t.detention); err != nil {
			return nil, nil, fmt.Errorf("report: %w", err)
		}
		t.loaded, t.empty = loaded.Float64, empty.Float64
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("report: %w", err)
	}
	var at time.Time
	err = s.db.ReadQueryRow(ctx, `SELECT refreshed_at FROM report_refreshes WHERE name = ?`, View).Scan(store.Time(&at))
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("report freshness: %w", err)
	}
	return out, &at, nil
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func pct(n, d int64) *float64 {
	if d == 0 {
		return nil
	}
	v := round(100*float64(n)/float64(d), 1)
	return &v
}

// Lanes is the volume, spend and rate per group.
func (s *Service) Lanes(ctx context.Context, p freight.Principal, q Query) (Report[LaneRow], error) {
	r := Report[LaneRow]{From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), Group: q.Group, Items: []LaneRow{}}
	ts, at, err := s.query(ctx, p, q)
	if err != nil {
		return r, err
	}
	r.RefreshedAt = at
	for _, t := range ts {
		row := LaneRow{Group: t.group, Loads: t.loads, SpendCents: t.spend, LoadedMiles: round(t.loaded, 1)}
		if t.loads > 0 {
			row.AvgRateCents = int64(math.Round(float64(t.spend) / float64(t.loads)))
		}
		if t.loaded > 0 {
			row.RatePerMile = round(float64(t.spend)/100/t.loaded, 2)
		}
		r.Items = append(r.Items, row)
	}
	return r, nil
}

// Performance is on-time pickup and delivery, detention and empty miles per
// group. On-time shares count the stops whose arrival was recorded.
func (s *Service) Performance(ctx context.Context, p freight.Principal, q Query) (Report[PerformanceRow], error) {
	r := Report[PerformanceRow]{From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), Group: q.Group, Items: []PerformanceRow{}}
	ts, at, err := s.query(ctx, p, q)
	if err != nil {
		return r, err
	}
	r.RefreshedAt = at
	for _, t := range ts {
		row := PerformanceRow{Group: t.group, Loads: t.loads,
			PickupsMeasured: t.pm, OnTimePickupPct: pct(t.pot, t.pm),
			DeliveriesMeasured: t.dm, OnTimeDeliveryPct: pct(t.dot, t.dm),
			DetentionHours: round(float64(t.detention)/60, 2),
			LoadedMiles:    round(t.loaded, 1), EmptyMiles: round(t.empty, 1)}
		if total := t.loaded + t.empty; total > 0 {
			v := round(t.empty/total, 4)
			row.EmptyMileShare = &v
		}
		r.Items = append(r.Items, row)
	}
	return r, nil
}

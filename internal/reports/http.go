package reports

import (
	"encoding/csv"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/httpapi"
)

// Routes registers the report endpoints.
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/reports/lanes", s.handleLanes)
	mux.HandleFunc("GET /api/v1/reports/performance", s.handlePerformance)
}

// parse reads the query; Accept: text/csv asks for CSV like format=csv.
func (s *Service) parse(r *http.Request, defaultGroup string) (Query, error) {
	q, err := ParseQuery(r.URL.Query(), s.now(), defaultGroup)
	if err != nil {
		return q, err
	}
	if r.URL.Query().Get("format") == "" && acceptsCSV(r.Header.Get("Accept")) {
		q.CSV = true
	}
	return q, nil
}

// acceptsCSV reports whether the Accept header prefers text/csv to JSON.
func acceptsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "text/csv" {
			continue
		}
		if qv, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(qv, 64); err != nil || f == 0 {
				continue
			}
		}
		return true
	}
	return false
}

func (s *Service) handleLanes(w http.ResponseWriter, r *http.Request) {
	q, err := s.parse(r, "lane")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	rep, err := s.Lanes(r.Context(), httpapi.Principal(r), q)
	if err != nil || !q.CSV {
		httpapi.Respond(w, r, http.StatusOK, rep, err)
		return
	}
	rows := [][]string{{rep.Group, "loads", "spend_usd", "avg_rate_usd", "loaded_miles", "rate_per_mile"}}
	for _, it := range rep.Items {
		rows = append(rows, []string{it.Group, itoa(it.Loads), usd(it.SpendCents), usd(it.AvgRateCents),
			ftoa(it.LoadedMiles), ftoa(it.RatePerMile)})
	}
	writeCSV(w, "lanes", rep.From, rep.To, rep.RefreshedAt, rows)
}

func (s *Service) handlePerformance(w http.ResponseWriter, r *http.Request) {
	q, err := s.parse(r, "month")
	if err != nil {
		httpapi.Error(w, r, err)
		return
	}
	rep, err := s.Performance(r.Context(), httpapi.Principal(r), q)
	if err != nil || !q.CSV {
		httpapi.Respond(w, r, http.StatusOK, rep, err)
		return
	}
	rows := [][]string{{rep.Group, "loads", "pickups_measured", "on_time_pickup_pct", "deliveries_measured",
		"on_time_delivery_pct", "detention_hours", "loaded_miles", "empty_miles", "empty_mile_share"}}
	for _, it := range rep.Items {
		rows = append(rows, []string{it.Group, itoa(it.Loads), itoa(it.PickupsMeasured), optf(it.OnTimePickupPct),
			itoa(it.DeliveriesMeasured), optf(it.OnTimeDeliveryPct), ftoa(it.DetentionHours),
			ftoa(it.LoadedMiles), ftoa(it.EmptyMiles), optf(it.EmptyMileShare)})
	}
	writeCSV(w, "performance", rep.From, rep.To, rep.RefreshedAt, rows)
}

func itoa(v int64) string   { return strconv.FormatInt(v, 10) }
func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
func usd(cents int64) string {
	return strconv.FormatFloat(float64(cents)/100, 'f', 2, 64)
}

func optf(v *float64) string {
	if v == nil {
		return ""
	}
	return ftoa(*v)
}

// cell keeps a spreadsheet from reading a value as a formula (CSV
// injection): group names come from what tenants typed.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeCSV(w http.ResponseWriter, name, from, to string, refreshed *time.Time, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+"-"+from+"-"+to+`.csv"`)
	if refreshed != nil {
		w.Header().Set("Last-Modified", refreshed.UTC().Format(http.TimeFormat))
	}
	cw := csv.NewWriter(w)
	for i, row := range rows {
		if i > 0 {
			row[0] = cell(row[0])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

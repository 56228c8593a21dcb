package loads

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/httpapi"
)

// BoardQuery filters and sorts the load board.
type BoardQuery struct {
	Origin      *freight.Location // search around this point
	RadiusMiles float64           // around Origin (road miles)
	Dest        *freight.Location
	DestRadius  float64
	DestState   string
	Equipment   freight.Equipment
	PickupFrom  time.Time
	PickupTo    time.Time
	MinRate     freight.Money
	MinRPM      float64 // minimum rate per loaded mile
	Sort        string  // pickup (default), rate, rpm, deadhead, newest
	Cursor      string
	Limit       int
}

// BoardItem is a load on the board with the figures a carrier compares.
type BoardItem struct {
	freight.Load
	DeadheadMiles *float64 `json:"deadhead_miles,omitempty"` // from the search origin to the pickup
	RatePerMile   float64  `json:"rate_per_mile"`
}

// Board sorts.
var boardSorts = []string{"pickup", "rate", "rpm", "deadhead", "newest"}

// maxBoardScan bounds the rows a sort computed outside SQL may consider.
const maxBoardScan = 5000

// Validate checks a board query.
func (q *BoardQuery) Validate() error {
	var fs freight.Fields
	if q.Sort == "" {
		q.Sort = "pickup"
	}
	if !slices.Contains(boardSorts, q.Sort) {
		fs.Add("sort", "must be one of %s", strings.Join(boardSorts, ", "))
	}
	if q.Origin != nil {
		q.Origin.ValidatePoint("origin", &fs)
		if q.RadiusMiles == 0 {
			q.RadiusMiles = 150
		}
	}
	if q.RadiusMiles != 0 && !(q.RadiusMiles >= 1 && q.RadiusMiles <= 1000) {
		fs.Add("radius_mi", "must be between 1 and 1000")
	}
	if q.Dest != nil {
		q.Dest.ValidatePoint("dest", &fs)
		if q.DestRadius == 0 {
			q.DestRadius = 150
		}
	}
	if q.DestRadius != 0 && !(q.DestRadius >= 1 && q.DestRadius <= 1000) {
		fs.Add("dest_radius_mi", "must be between 1 and 1000")
	}
	if q.DestState != "" && len(q.DestState) != 2 {
		fs.Add("dest_state", "must be a two-letter state code")
	}
	if q.Equipment != "" && !q.Equipment.Valid() {
		fs.Add("equipment", "must be one of van, reefer, flatbed")
	}
	if !q.PickupFrom.IsZero() && !q.PickupTo.IsZero() && q.PickupTo.Before(q.PickupFrom) {
		fs.Add("pickup_to", "before pickup_from")
	}
	if q.MinRate < 0 {
		fs.Add("min_rate", "must not be negative")
	}
	if q.MinRPM < 0 || math.IsNaN(q.MinRPM) || q.MinRPM > 100 {
		fs.Add("min_rpm", "must be between 0 and 100")
	}
	if q.Sort == "deadhead" && q.Origin == nil {
		fs.Add("sort", "sorting by deadhead needs an origin")
	}
	return fs.Err()
}

func point(l freight.Location) geo.Point { return geo.Point{Lat: l.Lat, Lon: l.Lon} }

// Board returns open loads matching q, cursor-paginated.
func (s *Service) Board(ctx context.Context, p freight.Principal, q BoardQuery) (httpapi.Page[BoardItem], error) {
	page := httpapi.Page[BoardItem]{Items: []BoardItem{}}
	if !hauler(p) && !p.Is(freight.RoleOperator) {
		return page, freight.Errorf(freight.EFORBIDDEN, "the load board is for carriers, brokers and operators")
	}
	if err := q.Validate(); err != nil {
		return page, err
	}
	where := []string{"status = 'posted'"}
	var args []any
	if q.Equipment != "" {
		where, args = append(where, "equipment = ?"), append(args, string(q.Equipment))
	}
	if !q.PickupFrom.IsZero() {
		where, args = append(where, "pickup_end >= ?"), append(args, q.PickupFrom)
	}
	if !q.PickupTo.IsZero() {
		where, args = append(where, "pickup_start <= ?"), append(args, q.PickupTo)
	}
	if q.MinRate > 0 {
		where, args = append(where, "rate_cents >= ?"), append(args, int64(q.MinRate))
	}
	if q.DestState != "" {
		where, args = append(where, "dest_state = ?"), append(args, strings.ToUpper(q.DestState))
	}
	// Road miles are never shorter than great-circle miles, so a box of the
	// road radius is a safe pre-filter; the exact test runs below.
	if q.Origin != nil {
		a, b, c, d := geo.BoundingBox(point(*q.Origin), q.RadiusMiles)
		where, args = append(where, "origin_lat BETWEEN ? AND ?", "origin_lon BETWEEN ? AND ?"), append(args, a, b, c, d)
	}
	if q.Dest != nil {
		a, b, c, d := geo.BoundingBox(point(*q.Dest), q.DestRadius)
		where, args = append(where, "dest_lat BETWEEN ? AND ?", "dest_lon BETWEEN ? AND ?"), append(args, a, b, c, d)
	}
	keep := func(l freight.Load) (BoardItem, bool) {
		it := BoardItem{Load: l, RatePerMile: math.Round(l.RatePerMile()*100) / 100}
		if q.MinRPM > 0 && it.RatePerMile < q.MinRPM {
			return it, false
		}
		if q.Origin != nil {
			dh := round1(s.miles.RoadMiles(point(*q.Origin), point(l.Origin)))
			if dh > q.RadiusMiles {
				return it, false
			}
			it.DeadheadMiles = &dh
		}
		if q.Dest != nil && s.miles.RoadMiles(point(*q.Dest), point(l.Destination)) > q.DestRadius {
			return it, false
		}
		return it, true
	}
	switch q.Sort {
	case "rpm", "deadhead":
		return s.boardComputed(ctx, q, where, args, keep)
	}
	return s.boardKeyset(ctx, q, where, args, keep)
}

// boardKeyset pages through SQL-sortable orders with keyset pagination,
// reading further chunks when the exact filters drop rows.
func (s *Service) boardKeyset(ctx context.Context, q BoardQuery, where []string, args []any, keep func(freight.Load) (BoardItem, bool)) (httpapi.Page[BoardItem], error) {
	page := httpapi.Page[BoardItem]{Items: []BoardItem{}}
	var order string
	var after func(keys []string) (string, []any, error)
	var key func(l freight.Load) []string
	switch q.Sort {
	case "pickup":
		order = "pickup_start, id"
		key = func(l freight.Load) []string { return []string{l.Pickup.Start.Format(time.RFC3339Nano), l.ID} }
		after = func(k []string) (string, []any, error) {
			t, err := time.Parse(time.RFC3339Nano, k[0])
			return "(pickup_start > ? OR (pickup_start = ? AND id > ?))", []any{t, t, k[1]}, err
		}
	case "rate":
		order = "rate_cents DESC, id"
		key = func(l freight.Load) []string { return []string{strconv.FormatInt(int64(l.Rate), 10), l.ID} }
		after = func(k []string) (string, []any, error) {
			r, err := strconv.ParseInt(k[0], 10, 64)
			return "(rate_cents < ? OR (rate_cents = ? AND id > ?))", []any{r, r, k[1]}, err
		}
	default: // newest
		order = "id DESC"
		key = func(l freight.Load) []string { return []string{"", l.ID} }
		after = func(k []string) (string, []any, error) { return "id < ?", []any{k[1]}, nil }
	}
	var cursor []string
	if q.Cursor != "" {
		var err error
		if cursor, err = httpapi.DecodeCursor(q.Cursor, 2); err != nil {
			return page, err
		}
	}
	chunk := q.Limit + 1
	for scanned := 0; scanned < maxBoardScan; {
		w, a := where, args
		if cursor != nil {
			cond, cargs, err := after(cursor)
			if err != nil {
				return page, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
					Fields: []freight.FieldError{{Field: "cursor", Detail: "malformed cursor"}}}
			}
			w, a = append(slices.Clip(w), cond), append(slices.Clip(a), cargs...)
		}
		// The board tolerates a replica's few seconds of staleness.
		rows, err := s.db.ReadQuery(ctx, `SELECT `+loadCols+` FROM loads WHERE `+strings.Join(w, " AND ")+` ORDER BY `+order+` LIMIT ?`, append(a, chunk)...)
		if err != nil {
			return page, fmt.Errorf("board: %w", err)
		}
		n := 0
		for rows.Next() {
			l, err := scanLoad(rows)
			if err != nil {
				rows.Close()
				return page, err
			}
			n++
			cursor = key(l)
			if it, ok := keep(l); ok {
				page.Items = append(page.Items, it)
				if len(page.Items) == q.Limit+1 {
					break
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return page, fmt.Errorf("board: %w", err)
		}
		scanned += n
		if len(page.Items) > q.Limit || n < chunk {
			break
		}
		chunk = min(chunk*2, 1000)
	}
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		page.NextCursor = httpapi.EncodeCursor(key(page.Items[q.Limit-1].Load)...)
	}
	return page, nil
}

// boardComputed serves orders computed in Go (rate per mile, deadhead) over
// at most maxBoardScan candidates.
func (s *Service) boardComputed(ctx context.Context, q BoardQuery, where []string, args []any, keep func(freight.Load) (BoardItem, bool)) (httpapi.Page[BoardItem], error) {
	page := httpapi.Page[BoardItem]{Items: []BoardItem{}}
	rows, err := s.db.ReadQuery(ctx, `SELECT `+loadCols+` FROM loads WHERE `+strings.Join(where, " AND ")+` ORDER BY pickup_start, id LIMIT ?`, append(args, maxBoardScan)...)
	if err != nil {
		return page, fmt.Errorf("board: %w", err)
	}
	defer rows.Close()
	var all []BoardItem
	for rows.Next() {
		l, err := scanLoad(rows)
		if err != nil {
			return page, err
		}
		if it, ok := keep(l); ok {
			all = append(all, it)
		}
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("board: %w", err)
	}
	// The sort value: smaller first (rate per mile is negated).
	val := func(it BoardItem) float64 {
		if q.Sort == "rpm" {
			return -it.RatePerMile
		}
		return *it.DeadheadMiles
	}
	slices.SortFunc(all, func(a, b BoardItem) int {
		if c := cmpFloat(val(a), val(b)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	start := 0
	if q.Cursor != "" {
		k, err := httpapi.DecodeCursor(q.Cursor, 2)
		if err != nil {
			return page, err
		}
		v, err := strconv.ParseFloat(k[0], 64)
		if err != nil {
			return page, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
				Fields: []freight.FieldError{{Field: "cursor", Detail: "malformed cursor"}}}
		}
		start, _ = slices.BinarySearchFunc(all, struct {
			v  float64
			id string
		}{v, k[1]}, func(it BoardItem, t struct {
			v  float64
			id string
		}) int {
			if c := cmpFloat(val(it), t.v); c != 0 {
				return c
			}
			return strings.Compare(it.ID, t.id)
		})
		if start < len(all) && all[start].ID == k[1] {
			start++
		}
	}
	end := min(start+q.Limit, len(all))
	page.Items = append(page.Items, all[start:end]...)
	if end < len(all) {
		last := all[end-1]
		page.NextCursor = httpapi.EncodeCursor(strconv.FormatFloat(val(last), 'g', -1, 64), last.ID)
	}
	return page, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ListFilter narrows the caller's own loads.
type ListFilter struct {
	Status freight.LoadStatus
	Cursor string
	Limit  int
}

// List returns the loads the caller may see (posted, booked or assigned to
// it), newest first.
func (s *Service) List(ctx context.Context, p freight.Principal, f ListFilter) (httpapi.Page[freight.Load], error) {
	page := httpapi.Page[freight.Load]{Items: []freight.Load{}}
	where, args := visible(p)
	// The board shows other organizations' posted loads; the list is the
	// caller's own work.
	switch {
	case p.Is(freight.RoleOperator), p.Is(freight.RoleDriver):
	case poster(p) && hauler(p):
		where, args = "(org_id = ? OR carrier_id = ?)", []any{p.OrgID, p.OrgID}
	case hauler(p):
		where, args = "carrier_id = ?", []any{p.OrgID}
	}
	if f.Status != "" {
		if !f.Status.Valid() {
			return page, &freight.Error{Code: freight.EINVALID, Message: "invalid input",
				Fields: []freight.FieldError{{Field: "status", Detail: "unknown load status"}}}
		}
		where += " AND status = ?"
		args = append(args, string(f.Status))
	}
	if f.Cursor != "" {
		k, err := httpapi.DecodeCursor(f.Cursor, 1)
		if err != nil {
			return page, err
		}
		where += " AND id < ?"
		args = append(args, k[0])
	}
	rows, err := s.db.Query(ctx, `SELECT `+loadCols+` FROM loads WHERE `+where+` ORDER BY id DESC LIMIT ?`, append(args, f.Limit+1)...)
	if err != nil {
		return page, fmt.Errorf("loads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLoad(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, l)
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		page.NextCursor = httpapi.EncodeCursor(page.Items[f.Limit-1].ID)
	}
	return page, rows.Err()
}

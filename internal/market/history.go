package market

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/market/ratemodel"
	"github.com/backhaul/backhaul/internal/store"
)

// The platform's own bookings: every load with an active booking, at the
// booked rate, as of the moment it was booked. A cancelled load still had a
// market price, but one nobody hauled for; it is left out.
const platformBookings = `SELECT l.id, b.created_at, l.pickup_start, l.origin_city, l.origin_state, l.origin_lat, l.origin_lon,
	l.dest_city, l.dest_state, l.dest_lat, l.dest_lon, l.equipment, l.weight_lbs, l.miles, b.rate_cents
	FROM bookings b JOIN loads l ON l.id = b.load_id
	WHERE b.status = 'active' AND l.status <> 'cancelled' AND b.created_at >= ?`

const importedBookings = `SELECT load_id, booked_at, pickup_at, origin_city, origin_state, origin_lat, origin_lon,
	dest_city, dest_state, dest_lat, dest_lon, equipment, weight_lbs, miles, rate_usd
	FROM market_bookings WHERE booked_at >= ?`

// epoch stands for "since ever": the store turns a zero time into NULL,
// which compares with nothing.
var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// history reads the bookings booked at or after since (zero: all of them),
// the platform's own and the imported, ordered by booking time and load ID
// so that training on the same history gives the same model. A load ID in
// both keeps the platform's booking.
func history(ctx context.Context, db *store.DB, since time.Time) ([]ratemodel.Booking, error) {
	if since.IsZero() || since.Before(epoch) {
		since = epoch
	}
	var out []ratemodel.Booking
	own := map[string]bool{}
	for _, src := range []struct {
		q        string
		platform bool
	}{{platformBookings, true}, {importedBookings, false}} {
		rows, err := db.Query(ctx, src.q, since)
		if err != nil {
			return nil, fmt.Errorf("read bookings: %w", err)
		}
		for rows.Next() {
			var b ratemodel.Booking
			var eq string
			var rate float64
			o, d := &b.Origin, &b.Dest
			var cents int64
			dst := []any{&b.LoadID, store.Time(&b.BookedAt), store.Time(&b.PickupAt), &o.City, &o.State, &o.Lat, &o.Lon,
				&d.City, &d.State, &d.Lat, &d.Lon, &eq, &b.WeightLbs, &b.Miles, &rate}
			if src.platform {
				dst[len(dst)-1] = &cents
			}
			if err := rows.Scan(dst...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read bookings: %w", err)
			}
			if src.platform {
				rate = freight.Money(cents).Dollars()
				own[b.LoadID] = true
			} else if own[b.LoadID] {
				continue
			}
			b.Equipment, b.RateUSD = ratemodel.Equipment(eq), rate
			out = append(out, b)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read bookings: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b ratemodel.Booking) int {
		if c := a.BookedAt.Compare(b.BookedAt); c != 0 {
			return c
		}
		return strings.Compare(a.LoadID, b.LoadID)
	})
	return out, nil
}

// historySize counts the bookings history would read and finds the latest
// booking time (zero when there is none).
func historySize(ctx context.Context, db *store.DB) (n int64, latest time.Time, err error) {
	for _, q := range []string{
		`SELECT COUNT(*), MAX(b.created_at) FROM bookings b JOIN loads l ON l.id = b.load_id WHERE b.status = 'active' AND l.status <> 'cancelled'`,
		`SELECT COUNT(*), MAX(booked_at) FROM market_bookings`,
	} {
		var c int64
		var last *time.Time
		if err := db.QueryRow(ctx, q).Scan(&c, store.NullTime(&last)); err != nil {
			return 0, time.Time{}, fmt.Errorf("count bookings: %w", err)
		}
		n += c
		if last != nil && last.After(latest) {
			latest = *last
		}
	}
	return n, latest, nil
}

// heldBackShare is the share of bookings no model ever learns from: every
// model, the one in service and each candidate, is scored on them, so a
// comparison is fair however the history has grown since the last one.
const heldBackShare = 20 // percent

// heldBack reports whether a booking belongs to the held-back share. It
// depends on the load ID alone, so a booking stays on its side forever.
func heldBack(loadID string) bool {
	h := fnv.New64a()
	io.WriteString(h, loadID)
	return h.Sum64()%100 < heldBackShare
}

// splitHeldBack separates the bookings models learn from and those they are
// scored on.
func splitHeldBack(all []ratemodel.Booking) (train, held []ratemodel.Booking) {
	for _, b := range all {
		if heldBack(b.LoadID) {
			held = append(held, b)
		} else {
			train = append(train, b)
		}
	}
	return train, held
}

// ImportReport says what Import did with a file.
type ImportReport struct {
	ratemodel.ReadReport        // rows read, and those rejected with their line numbers
	Imported             int    // rows stored
	Skipped              int    // rows whose load_id was already stored
	Queued               *int64 // the retraining run queued afterwards, if any
}

// Summary is one line for people, followed by one line per rejected row (at
// most limit of them; limit <= 0 means all).
func (r ImportReport) Summary(limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows read: %d imported, %d already stored (skipped), %d rejected", r.Rows, r.Imported, r.Skipped, len(r.Rejected))
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

// importBatch is how many rows one INSERT statement carries; 15 columns
// each stays far below both engines' limits on parameters.
const importBatch = 200

// Import reads booking history in the format of bookings.csv and stores it
// for training. A row with missing fields, a bad date, a negative or zero
// distance, an unknown equipment, a non-positive rate, or a load_id seen
// earlier in the file is rejected with its line number; the rest are stored,
// except those whose load_id is already stored, which are skipped and
// counted. The error is non-nil only when nothing could be read (the header
// lacks a column) or the store failed; rows stored before a failure stay.
// source names the file in the table; progress, when set, is told how many
// rows have been stored or skipped so far.
func Import(ctx context.Context, db *store.DB, r io.Reader, source string, progress func(done, total int)) (ImportReport, error) {
	rows, rep, err := ratemodel.ReadBookings(bufio.NewReaderSize(r, 1<<20))
	out := ImportReport{ReadReport: rep}
	if err != nil {
		return out, err
	}
	const cols = `(load_id, booked_at, pickup_at, origin_city, origin_state, origin_lat, origin_lon,
		dest_city, dest_state, dest_lat, dest_lon, equipment, weight_lbs, miles, rate_usd, source, imported_at)`
	const one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	for start := 0; start < len(rows); start += importBatch * 10 {
		end := min(len(rows), start+importBatch*10)
		var imported, skipped int // counted once committed
		err := db.InTx(ctx, func(tx *store.Tx) error {
			imported, skipped = 0, 0
			for i := start; i < end; i += importBatch {
				batch := rows[i:min(end, i+importBatch)]
				var q strings.Builder
				q.WriteString("INSERT INTO market_bookings " + cols + " VALUES ")
				args := make([]any, 0, len(batch)*17)
				for k, b := range batch {
					if k > 0 {
						q.WriteString(", ")
					}
					q.WriteString(one)
					args = append(args, b.LoadID, b.BookedAt, b.PickupAt, b.Origin.City, b.Origin.State, b.Origin.Lat, b.Origin.Lon,
						b.Dest.City, b.Dest.State, b.Dest.Lat, b.Dest.Lon, string(b.Equipment), b.WeightLbs, b.Miles, b.RateUSD,
						source, tx.Now())
				}
				q.WriteString(" ON CONFLICT (load_id) DO NOTHING")
				res, err := tx.Exec(ctx, q.String(), args...)
				if err != nil {
					return fmt.Errorf("store bookings: %w", err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return fmt.Errorf("store bookings: %w", err)
				}
				imported += int(n)
				skipped += len(batch) - int(n)
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		out.Imported += imported
		out.Skipped += skipped
		if progress != nil {
			progress(end, len(rows))
		}
	}
	return out, nil
}

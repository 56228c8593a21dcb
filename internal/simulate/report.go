package simulate

import (
	"fmt"
	"io"
	"time"
)

// Outcome is what a simulated period achieved, by the world's own
// measure (simulated time).
type Outcome struct {
	Mode     string    `json:"dispatch"`
	Seed     uint64    `json:"seed"`
	Shippers int       `json:"shippers"`
	Carriers int       `json:"carriers"`
	Trucks   int       `json:"trucks"`
	Start    time.Time `json:"simulated_start"`
	End      time.Time `json:"simulated_end"`
	Days     float64   `json:"simulated_days"`
	RealSecs float64   `json:"real_seconds"`

	Generated int `json:"loads_generated"`
	Posted    int `json:"loads_posted"`
	Booked    int `json:"loads_booked"`
	Delivered int `json:"loads_delivered"`
	Expired   int `json:"loads_expired"`     // cancelled: no truck before the pickup window closed
	OpenAtEnd int `json:"loads_open_at_end"` // still on the board when the run ended (then cancelled)
	InFlight  int `json:"loads_in_flight_at_end"`
	// PlatformDelivered is the platform's count of the world's delivered
	// loads at the end (-1 when it could not be read).
	PlatformDelivered int `json:"platform_delivered"`

	Covered        float64 `json:"covered_share"`          // booked / (booked + expired)
	OnTimePickup   float64 `json:"on_time_pickup_share"`   // arrivals at the pickup by the window's end
	OnTimeDelivery float64 `json:"on_time_delivery_share"` // arrivals at the delivery by the window's end
	LoadedMiles    float64 `json:"loaded_miles"`
	EmptyMiles     float64 `json:"empty_miles"`
	EmptyShare     float64 `json:"empty_mile_share"`
	Revenue        float64 `json:"revenue_usd"`
	RevenuePerTD   float64 `json:"revenue_per_truck_day_usd"`
	DetentionHours float64 `json:"detention_hours"`

	PositionsAccepted int            `json:"positions_accepted"`
	PositionsRejected int            `json:"positions_rejected"`
	RejectReasons     map[string]int `json:"positions_rejected_by_reason,omitempty"`
	PositionsHeld     int            `json:"positions_held_back"` // still in the platform's future at the end
	PositionsTooOld   int            `json:"positions_too_old"`
	PositionErrors    int            `json:"position_batches_failed"`
	PODs              int            `json:"proofs_of_delivery"`
	Requests          int64          `json:"requests"`
	Errors            int            `json:"failed_actions"`
	Backoffs          int            `json:"backoffs"`
	// Searches are idle trucks' look-ups; CandidatesInfeasible are
	// offered loads the truck could not make in simulated time.
	Repositions            int `json:"repositions"` // idle trucks sent empty to a bigger market
	Searches               int `json:"searches"`
	SearchesWithCandidates int `json:"searches_with_candidates"`
	CandidatesInfeasible   int `json:"candidates_infeasible"`

	pickupsOnTime, deliveriesOnTime, trips int
}

func (o *Outcome) addTrip(ls *loadState, t *Trip) {
	times := t.EventTimes()
	o.trips++
	o.Delivered++
	if !times[0].After(ls.spec.Pickup.End) {
		o.pickupsOnTime++
	}
	if !times[2].After(ls.spec.Delivery.End) {
		o.deliveriesOnTime++
	}
	o.LoadedMiles += ls.spec.Miles
	o.EmptyMiles += t.Deadhead
	o.Revenue += ls.spec.RateUSD
	o.DetentionHours += (Detention(ls.spec.PickupDwell) + Detention(ls.spec.DropDwell)).Hours()
}

func (o *Outcome) finish(w *World, real time.Duration) {
	o.RealSecs = real.Seconds()
	o.Days = o.End.Sub(o.Start).Hours() / 24
	o.Requests = w.c.Sent()
	for _, tr := range w.trucks {
		if tr.Trip != nil {
			o.InFlight++
		}
		o.PositionsHeld += len(tr.pending)
	}
	if n := o.Booked + o.Expired; n > 0 {
		o.Covered = float64(o.Booked) / float64(n)
	}
	if o.trips > 0 {
		o.OnTimePickup = float64(o.pickupsOnTime) / float64(o.trips)
		o.OnTimeDelivery = float64(o.deliveriesOnTime) / float64(o.trips)
	}
	if m := o.LoadedMiles + o.EmptyMiles; m > 0 {
		o.EmptyShare = o.EmptyMiles / m
	}
	if o.Days > 0 && o.Trucks > 0 {
		o.RevenuePerTD = o.Revenue / float64(o.Trucks) / o.Days
	}
}

// WriteOutcomes prints outcomes side by side.
func WriteOutcomes(w io.Writer, outs []Outcome) {
	if len(outs) == 0 {
		return
	}
	fmt.Fprintf(w, "%-34s", "outcome")
	for _, o := range outs {
		fmt.Fprintf(w, " %14s", o.Mode)
	}
	fmt.Fprintln(w)
	row := func(name string, f func(o Outcome) string) {
		fmt.Fprintf(w, "%-34s", name)
		for _, o := range outs {
			fmt.Fprintf(w, " %14s", f(o))
		}
		fmt.Fprintln(w)
	}
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	row("simulated days", func(o Outcome) string { return fmt.Sprintf("%.2f", o.Days) })
	row("loads posted", func(o Outcome) string { return fmt.Sprint(o.Posted) })
	row("loads booked", func(o Outcome) string { return fmt.Sprint(o.Booked) })
	row("loads delivered", func(o Outcome) string { return fmt.Sprint(o.Delivered) })
	row("delivered, as the platform counts", func(o Outcome) string { return fmt.Sprint(o.PlatformDelivered) })
	row("loads expired uncovered", func(o Outcome) string { return fmt.Sprint(o.Expired) })
	row("loads covered", func(o Outcome) string { return pct(o.Covered) })
	row("on-time pickup", func(o Outcome) string { return pct(o.OnTimePickup) })
	row("on-time delivery", func(o Outcome) string { return pct(o.OnTimeDelivery) })
	row("empty-mile share", func(o Outcome) string { return pct(o.EmptyShare) })
	row("loaded miles", func(o Outcome) string { return fmt.Sprintf("%.0f", o.LoadedMiles) })
	row("empty miles", func(o Outcome) string { return fmt.Sprintf("%.0f", o.EmptyMiles) })
	row("revenue per truck per day (USD)", func(o Outcome) string { return fmt.Sprintf("%.0f", o.RevenuePerTD) })
	row("detention hours", func(o Outcome) string { return fmt.Sprintf("%.1f", o.DetentionHours) })
	row("positions accepted", func(o Outcome) string { return fmt.Sprint(o.PositionsAccepted) })
	row("positions rejected", func(o Outcome) string { return fmt.Sprint(o.PositionsRejected) })
	row("positions held back (future)", func(o Outcome) string { return fmt.Sprint(o.PositionsHeld) })
	row("proofs of delivery uploaded", func(o Outcome) string { return fmt.Sprint(o.PODs) })
	row("searches (with candidates)", func(o Outcome) string { return fmt.Sprintf("%d (%d)", o.Searches, o.SearchesWithCandidates) })
	row("empty repositioning moves", func(o Outcome) string { return fmt.Sprint(o.Repositions) })
	row("offered loads infeasible", func(o Outcome) string { return fmt.Sprint(o.CandidatesInfeasible) })
	row("API requests", func(o Outcome) string { return fmt.Sprint(o.Requests) })
	row("failed actions", func(o Outcome) string { return fmt.Sprint(o.Errors) })
	row("real seconds", func(o Outcome) string { return fmt.Sprintf("%.0f", o.RealSecs) })
}

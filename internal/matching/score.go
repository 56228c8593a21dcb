package matching

import (
	"fmt"
	"math"

	"github.com/backhaul/backhaul/internal/freight"
)

// Factors explain a driver-load match.
type Factors struct {
	DeadheadMiles     float64       `json:"deadhead_miles"`
	LoadedMiles       float64       `json:"loaded_miles"`
	RateUSD           freight.Money `json:"rate_usd"`
	RatePerLoadedMile float64       `json:"rate_per_loaded_mile"`
	RatePerTotalMile  float64       `json:"rate_per_total_mile"`
	// PickupSlackHours is how much later the truck could reach the pickup
	// and still load inside its window.
	PickupSlackHours float64 `json:"pickup_slack_hours"`
	// HOSMarginHours is the driving the driver has left after delivering
	// before the next rest.
	HOSMarginHours float64 `json:"hos_margin_hours"`
	Rests          int     `json:"rests"` // 10-hour rests and 34-hour restarts the trip needs
	// ReloadOutlook is how likely and how good the next load from the
	// destination is, in [0, 1]; the source is "market" (market
	// intelligence) or "board" (open loads near the destination now).
	ReloadOutlook     float64 `json:"reload_outlook"`
	ReloadRatePerMile float64 `json:"reload_rate_per_mile"`
	ReloadSource      string  `json:"reload_source"`
	PreferenceFit     float64 `json:"preference_fit"` // in [0, 1]
	PreferenceNote    string  `json:"preference_note,omitempty"`
}

// The score is in points worth a dollar per total mile: the all-in rate per
// total mile, less a deadhead penalty (empty miles cost more than the rate
// per mile shows: wear, fuel, the driver's time), plus bounded bonuses for
// slack at the pickup, hours left after delivery, a good reload outlook and
// the driver's preferences. Every term is linear in its factor (up to its
// cap), so the change a factor needs to overtake another match is exact.
const (
	wDeadhead   = 0.002 // points per deadhead mile
	wSlack      = 0.10  // points for capSlack or more of pickup slack
	capSlack    = 4.0   // hours
	wMargin     = 0.10  // points for capMargin or more of HOS margin
	capMargin   = 11.0  // hours
	wOutlook    = 0.40  // points for a certain, good reload
	wPreference = 0.25  // points for a preferred lane
)

// Contribution is one factor's share of a score.
type Contribution struct {
	Factor string  `json:"factor"`
	Points float64 `json:"points"`
}

// Factor names, as contributions and changes name them.
const (
	factorRate       = "rate_per_total_mile"
	factorDeadhead   = "deadhead"
	factorSlack      = "pickup_slack"
	factorMargin     = "hos_margin"
	factorOutlook    = "reload_outlook"
	factorPreference = "preference_fit"
)

func (f *Factors) contributions() []Contribution {
	return []Contribution{
		{factorRate, round3(f.RatePerTotalMile)},
		{factorDeadhead, round3(-wDeadhead * f.DeadheadMiles)},
		{factorSlack, round3(wSlack * math.Min(f.PickupSlackHours, capSlack) / capSlack)},
		{factorMargin, round3(wMargin * math.Min(f.HOSMarginHours, capMargin) / capMargin)},
		{factorOutlook, round3(wOutlook * f.ReloadOutlook)},
		{factorPreference, round3(wPreference * f.PreferenceFit)},
	}
}

// score is the sum of the contributions, unrounded.
func (f *Factors) score() float64 {
	return f.RatePerTotalMile - wDeadhead*f.DeadheadMiles +
		wSlack*math.Min(math.Max(f.PickupSlackHours, 0), capSlack)/capSlack +
		wMargin*math.Min(math.Max(f.HOSMarginHours, 0), capMargin)/capMargin +
		wOutlook*f.ReloadOutlook + wPreference*f.PreferenceFit
}

// upperBound is the best score f can reach whatever its slack and margin,
// which only the hours-of-service plan tells.
func (f *Factors) upperBound() float64 {
	return f.RatePerTotalMile - wDeadhead*f.DeadheadMiles + wSlack + wMargin + wOutlook*f.ReloadOutlook + wPreference*f.PreferenceFit
}

// rateTerms fills the rate factors from the rate and the miles.
func (f *Factors) rateTerms() {
	r := f.RateUSD.Dollars()
	f.RatePerLoadedMile, f.RatePerTotalMile = 0, 0
	if f.LoadedMiles > 0 {
		f.RatePerLoadedMile = r / f.LoadedMiles
	}
	if t := f.LoadedMiles + f.DeadheadMiles; t > 0 {
		f.RatePerTotalMile = r / t
	}
}

// Change is what would make a match rank higher, all else equal.
type Change struct {
	Factor string  `json:"factor"`
	By     float64 `json:"by"` // in the factor's unit: dollars per mile, miles, hours, or a fraction
	Text   string  `json:"text"`
}

// toRankHigher lists the single-factor changes that would lift a match with
// factors f above a score of target, moving it to rank `to`. Factors that
// cannot close the gap within their range are left out. ofLoad lists the
// load's factors (for ranking loads for a driver); otherwise the driver's
// (for ranking drivers for a load, where the rate and the destination are
// the same for everyone).
func toRankHigher(f Factors, target float64, to int, ofLoad bool) []Change {
	gap := target - f.score() + 1e-6
	if gap <= 0 {
		return nil
	}
	var out []Change
	rank := fmt.Sprintf("would move it to #%d", to)
	if ofLoad {
		if total := f.LoadedMiles + f.DeadheadMiles; total > 0 {
			// The rate enters only through the rate per total mile.
			perMile := math.Ceil(gap*100) / 100
			out = append(out, Change{Factor: factorRate, By: perMile,
				Text: fmt.Sprintf("rate per total mile +$%.2f (rate +$%.0f) %s", perMile, math.Ceil(gap*total), rank)})
		}
	}
	if d, ok := deadheadFor(f, gap); ok {
		out = append(out, Change{Factor: factorDeadhead, By: -d, Text: fmt.Sprintf("deadhead -%.0f miles %s", d, rank)})
	}
	bounded := func(factor, unit string, have, limit, weight, step float64) {
		room := weight * (limit - math.Min(math.Max(have, 0), limit)) / limit
		if room < gap {
			return
		}
		by := math.Ceil(gap*limit/weight/step) * step
		out = append(out, Change{Factor: factor, By: by, Text: fmt.Sprintf("%s +%s %s", prettyFactor(factor), unitText(by, unit), rank)})
	}
	bounded(factorSlack, "h", f.PickupSlackHours, capSlack, wSlack, 0.1)
	bounded(factorMargin, "h", f.HOSMarginHours, capMargin, wMargin, 0.1)
	if ofLoad {
		bounded(factorOutlook, "", f.ReloadOutlook, 1, wOutlook, 0.01)
	}
	bounded(factorPreference, "", f.PreferenceFit, 1, wPreference, 0.01)
	return out
}

// deadheadFor is the fewest whole miles of deadhead to cut to gain gap
// points, with the rate per total mile rising as the empty miles fall.
func deadheadFor(f Factors, gap float64) (float64, bool) {
	if f.DeadheadMiles <= 0 {
		return 0, false
	}
	r := f.RateUSD.Dollars()
	value := func(d float64) float64 {
		t := f.LoadedMiles + d
		if t <= 0 {
			return math.Inf(1)
		}
		return r/t - wDeadhead*d
	}
	need := value(f.DeadheadMiles) + gap
	if value(0) < need {
		return 0, false
	}
	lo, hi := 0.0, f.DeadheadMiles // value(lo) >= need > value(hi)
	for range 50 {
		mid := (lo + hi) / 2
		if value(mid) >= need {
			lo = mid
		} else {
			hi = mid
		}
	}
	cut := math.Ceil(f.DeadheadMiles - lo)
	if cut > f.DeadheadMiles {
		return 0, false
	}
	return cut, true
}

func prettyFactor(f string) string {
	switch f {
	case factorSlack:
		return "pickup slack"
	case factorMargin:
		return "HOS margin"
	case factorOutlook:
		return "reload outlook"
	case factorPreference:
		return "preference fit"
	}
	return f
}

func unitText(v float64, unit string) string {
	if unit == "h" {
		return fmt.Sprintf("%.1f h", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
func round2(x float64) float64 { return math.Round(x*100) / 100 }
func round1(x float64) float64 { return math.Round(x*10) / 10 }

package ratemodel

import (
	"math"
	"slices"
)

// distanceBands are the upper bounds, in miles, of the bands of the rate
// table and of the first outlier screen.
var distanceBands = []float64{100, 250, 500, 1000, 1500, 2000, math.Inf(1)}

func distanceBand(miles float64) int {
	for i, b := range distanceBands {
		if miles < b {
			return i
		}
	}
	return len(distanceBands) - 1
}

// madScale turns a median absolute deviation into a standard deviation for
// normally distributed data.
const madScale = 1.4826

// Outlier thresholds, in robust standard deviations. The screen compares a
// booking with every load of its equipment and distance band, so it allows
// for the spread that lanes, seasons and the rest explain; the residual check
// compares it with a model of all of that, so it can be tighter. At 4.5
// robust standard deviations a normally distributed market flags about one
// genuine booking in 150,000, while a rate off by half is caught whenever the
// model explains the market to within about 9%.
const (
	screenZ   = 6
	residualZ = 4.5
)

// DetectOutliers flags bookings whose rate per mile is implausible for their
// equipment and distance band: a robust z-score (median and median absolute
// deviation) of log(rate per mile) beyond z. It catches typos of a digit and
// rates entered in the wrong unit (cents, thousands, per mile); Train follows
// it with a check of each booking against a model of its lane, date and the
// rest, which catches subtler errors.
func DetectOutliers(rows []Booking, z float64) []bool {
	groups := map[[2]int][]int{}
	for i := range rows {
		k := [2]int{rows[i].Equipment.index(), distanceBand(rows[i].Miles)}
		groups[k] = append(groups[k], i)
	}
	flag := make([]bool, len(rows))
	vals := make([]float64, 0, len(rows))
	for _, idx := range groups {
		if len(idx) < 10 {
			continue // too few to say what is normal
		}
		vals = vals[:0]
		for _, i := range idx {
			vals = append(vals, math.Log(rows[i].RateUSD/rows[i].Miles))
		}
		med, sd := robustCentre(vals)
		if sd == 0 {
			continue
		}
		for k, i := range idx {
			if math.Abs(vals[k]-med)/sd > z {
				flag[i] = true
			}
		}
	}
	return flag
}

// robustCentre is the median and the MAD-based standard deviation.
func robustCentre(v []float64) (med, sd float64) {
	if len(v) == 0 {
		return 0, 0
	}
	s := slices.Clone(v)
	med = median(s)
	for i := range s {
		s[i] = math.Abs(v[i] - med)
	}
	return med, madScale * median(s)
}

// median sorts v in place.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

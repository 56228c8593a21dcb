package freight

import (
	"fmt"
	"math"
	"strconv"
)

// Money is an amount in US cents. JSON carries it as dollars with at most two
// decimals ("2450.5"), so clients never see floating-point cents.
type Money int64

// Dollars returns m in dollars.
func (m Money) Dollars() float64 { return float64(m) / 100 }

// FromDollars rounds d to the nearest cent.
func FromDollars(d float64) Money { return Money(math.Round(d * 100)) }

func (m Money) String() string { return fmt.Sprintf("$%.2f", m.Dollars()) }

// MarshalJSON writes dollars.
func (m Money) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, m.Dollars(), 'f', -1, 64), nil
}

// UnmarshalJSON reads dollars and refuses fractions of a cent and values a
// truckload never costs.
func (m *Money) UnmarshalJSON(b []byte) error {
	d, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("want a number of dollars")
	}
	if math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) > 10_000_000 {
		return fmt.Errorf("amount out of range")
	}
	c := d * 100
	if math.Abs(c-math.Round(c)) > 1e-6 {
		return fmt.Errorf("at most two decimals")
	}
	*m = Money(math.Round(c))
	return nil
}

package ratemodel

import "time"

// holidays are the days on which US freight capacity tightens most: shippers
// push loads out before them and few drivers run on them.
func holidays(year int) []time.Time {
	d := func(m time.Month, day int) time.Time { return time.Date(year, m, day, 0, 0, 0, 0, time.UTC) }
	return []time.Time{
		d(time.January, 1),
		nthWeekday(year, time.May, time.Monday, -1), // Memorial Day
		d(time.July, 4),
		nthWeekday(year, time.September, time.Monday, 1),  // Labor Day
		nthWeekday(year, time.November, time.Thursday, 4), // Thanksgiving
		d(time.December, 25),
	}
}

// nthWeekday is the n-th weekday of a month; n = -1 is the last one.
func nthWeekday(year int, m time.Month, wd time.Weekday, n int) time.Time {
	if n < 0 {
		last := time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC)
		return last.AddDate(0, 0, -((int(last.Weekday()) - int(wd) + 7) % 7))
	}
	first := time.Date(year, m, 1, 0, 0, 0, 0, time.UTC)
	return first.AddDate(0, 0, (int(wd)-int(first.Weekday())+7)%7+7*(n-1))
}

// holidayOffset is the signed number of days from the nearest holiday to t
// (negative before it), clamped to ±limit.
func holidayOffset(t time.Time, limit int) int {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	best := limit + 1
	for y := t.Year() - 1; y <= t.Year()+1; y++ {
		for _, h := range holidays(y) {
			off := int(day.Sub(h).Hours() / 24)
			if abs(off) < abs(best) {
				best = off
			}
		}
	}
	return max(-limit, min(limit, best))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

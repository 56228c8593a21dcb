package freight

import "time"

// US FMCSA hours-of-service limits for property-carrying drivers.
const (
	MaxDriving      = 11 * time.Hour // driving after 10 consecutive hours off duty
	MaxWindow       = 14 * time.Hour // on-duty window after coming on duty
	BreakAfter      = 8 * time.Hour  // cumulative driving before a 30-minute break
	BreakLength     = 30 * time.Minute
	RestLength      = 10 * time.Hour
	MaxCycle70      = 70 * time.Hour // on duty in 8 days
	MaxCycle60      = 60 * time.Hour // on duty in 7 days
	CycleRestartOff = 34 * time.Hour
)

// HOSClock is what a driver has left under the rules, as last reported by the
// driver's logging device or phone.
type HOSClock struct {
	DrivingLeft Minutes   `json:"driving_left_min"`
	WindowLeft  Minutes   `json:"window_left_min"`
	CycleLeft   Minutes   `json:"cycle_left_min"`
	UntilBreak  Minutes   `json:"until_break_min"` // driving allowed before the 30-minute break
	UpdatedAt   time.Time `json:"updated_at"`
}

// Minutes is a duration in whole minutes, as clocks and ELDs show it.
type Minutes int

// Duration converts m.
func (m Minutes) Duration() time.Duration { return time.Duration(m) * time.Minute }

// FreshHOS is the clock of a driver after a full rest and a cycle restart.
func FreshHOS(at time.Time) HOSClock {
	return HOSClock{
		DrivingLeft: Minutes(MaxDriving / time.Minute),
		WindowLeft:  Minutes(MaxWindow / time.Minute),
		CycleLeft:   Minutes(MaxCycle70 / time.Minute),
		UntilBreak:  Minutes(BreakAfter / time.Minute),
		UpdatedAt:   at.UTC(),
	}
}

func (c *HOSClock) validate(prefix string, fs *Fields) {
	check := func(name string, v Minutes, max time.Duration) {
		if v < 0 || v.Duration() > max {
			fs.Add(prefix+"."+name, "must be between 0 and %d minutes", int(max/time.Minute))
		}
	}
	check("driving_left_min", c.DrivingLeft, MaxDriving)
	check("window_left_min", c.WindowLeft, MaxWindow)
	check("cycle_left_min", c.CycleLeft, MaxCycle70)
	check("until_break_min", c.UntilBreak, BreakAfter)
}

// Validate checks the clock against the rules' maxima.
func (c HOSClock) Validate() error {
	var fs Fields
	c.validate("hos", &fs)
	return fs.Err()
}

// DrivableNow is how long the driver may drive before a required rest,
// ignoring the 30-minute break (which only delays, never stops, a trip).
func (c HOSClock) DrivableNow() time.Duration {
	return min(c.DrivingLeft.Duration(), c.WindowLeft.Duration(), c.CycleLeft.Duration())
}

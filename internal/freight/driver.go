package freight

import (
	"slices"
	"time"
)

// DriverStatus is what a driver is doing now.
type DriverStatus string

const (
	DriverOffDuty   DriverStatus = "off_duty"
	DriverAvailable DriverStatus = "available" // ready for a load
	DriverOnLoad    DriverStatus = "on_load"
	DriverResting   DriverStatus = "resting" // in a required rest
)

// DriverStatuses lists every driver status.
var DriverStatuses = []DriverStatus{DriverOffDuty, DriverAvailable, DriverOnLoad, DriverResting}

// Valid reports whether s is a known status.
func (s DriverStatus) Valid() bool { return slices.Contains(DriverStatuses, s) }

// Driver is a person who drives for a carrier.
type Driver struct {
	ID          string       `json:"id"`
	CarrierID   string       `json:"carrier_id"`
	Name        string       `json:"name"`
	Phone       string       `json:"phone,omitempty"`
	HomeBase    Location     `json:"home_base"`
	Equipment   Equipment    `json:"equipment"`
	CapacityLbs int          `json:"capacity_lbs"`
	TruckID     string       `json:"truck_id,omitempty"`
	Status      DriverStatus `json:"status"`
	HOS         HOSClock     `json:"hos"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// DriverInput creates or updates a driver.
type DriverInput struct {
	Name        string       `json:"name"`
	Phone       string       `json:"phone"`
	HomeBase    Location     `json:"home_base"`
	Equipment   Equipment    `json:"equipment"`
	CapacityLbs int          `json:"capacity_lbs"`
	TruckID     string       `json:"truck_id"`
	Status      DriverStatus `json:"status"`
	HOS         *HOSClock    `json:"hos"`
}

// Validate checks the input before geocoding.
func (in *DriverInput) Validate() error {
	var fs Fields
	if in.Name == "" {
		fs.Add("name", "required")
	}
	checkText(&fs, "name", in.Name, maxShortText)
	checkText(&fs, "phone", in.Phone, 40)
	checkLocation(&fs, "home_base", in.HomeBase)
	if !in.Equipment.Valid() {
		fs.Add("equipment", "must be one of van, reefer, flatbed")
	}
	if in.CapacityLbs <= 0 || in.CapacityLbs > MaxLoadLbs {
		fs.Add("capacity_lbs", "must be between 1 and %d", MaxLoadLbs)
	}
	if in.Status != "" && !in.Status.Valid() {
		fs.Add("status", "must be one of off_duty, available, on_load, resting")
	}
	if in.HOS != nil {
		in.HOS.validate("hos", &fs)
	}
	return fs.Err()
}

// Truck is a power unit of a carrier.
type Truck struct {
	ID          string    `json:"id"`
	CarrierID   string    `json:"carrier_id"`
	Unit        string    `json:"unit"` // the carrier's unit number
	Equipment   Equipment `json:"equipment"`
	CapacityLbs int       `json:"capacity_lbs"`
	Plate       string    `json:"plate,omitempty"`
	VIN         string    `json:"vin,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// TruckInput creates a truck.
type TruckInput struct {
	Unit        string    `json:"unit"`
	Equipment   Equipment `json:"equipment"`
	CapacityLbs int       `json:"capacity_lbs"`
	Plate       string    `json:"plate"`
	VIN         string    `json:"vin"`
}

// Validate checks the input.
func (in *TruckInput) Validate() error {
	var fs Fields
	if in.Unit == "" {
		fs.Add("unit", "required")
	}
	checkText(&fs, "unit", in.Unit, 40)
	checkText(&fs, "plate", in.Plate, 20)
	if in.VIN != "" && len(in.VIN) != 17 {
		fs.Add("vin", "must be 17 characters")
	}
	if !in.Equipment.Valid() {
		fs.Add("equipment", "must be one of van, reefer, flatbed")
	}
	if in.CapacityLbs <= 0 || in.CapacityLbs > MaxLoadLbs {
		fs.Add("capacity_lbs", "must be between 1 and %d", MaxLoadLbs)
	}
	return fs.Err()
}

// Booking is a carrier's commitment to haul a load at a rate.
type Booking struct {
	ID        string    `json:"id"`
	LoadID    string    `json:"load_id"`
	CarrierID string    `json:"carrier_id"`
	DriverID  string    `json:"driver_id,omitempty"`
	TruckID   string    `json:"truck_id,omitempty"`
	Rate      Money     `json:"rate_usd"`
	Status    string    `json:"status"` // active or cancelled
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Booking statuses.
const (
	BookingActive    = "active"
	BookingCancelled = "cancelled"
)

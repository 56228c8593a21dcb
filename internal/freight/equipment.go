package freight

import "slices"

// Equipment is the trailer type a load needs and a truck pulls.
type Equipment string

const (
	Van     Equipment = "van"
	Reefer  Equipment = "reefer"
	Flatbed Equipment = "flatbed"
)

// EquipmentTypes lists every equipment type.
var EquipmentTypes = []Equipment{Van, Reefer, Flatbed}

// Valid reports whether e is a known equipment type.
func (e Equipment) Valid() bool { return slices.Contains(EquipmentTypes, e) }

// MaxLoadLbs is the legal gross cargo weight of a standard US truckload
// (80,000 lb gross vehicle weight minus a typical tractor-trailer).
const MaxLoadLbs = 48000

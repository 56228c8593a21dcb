// Package placename normalises US city and state names so that the spellings
// people type ("St. Louis", "ft worth", "Winston-Salem", "texas") meet the
// spellings in the postal data ("Saint Louis", "Fort Worth", "Winston Salem",
// "TX"). The data generator and the geocoder share it, so the embedded data
// and the lookups agree on one key.
package placename

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// folds maps accented Latin letters to their plain forms, as the postal data
// writes them ("Cañon City" is "Canon City" there).
var folds = map[rune]byte{
	'á': 'a', 'à': 'a', 'â': 'a', 'ä': 'a', 'ã': 'a', 'å': 'a',
	'é': 'e', 'è': 'e', 'ê': 'e', 'ë': 'e',
	'í': 'i', 'ì': 'i', 'î': 'i', 'ï': 'i',
	'ó': 'o', 'ò': 'o', 'ô': 'o', 'ö': 'o', 'õ': 'o',
	'ú': 'u', 'ù': 'u', 'û': 'u', 'ü': 'u',
	'ñ': 'n', 'ç': 'c', 'ý': 'y', 'ÿ': 'y',
}

// CityKey is the comparison key of a city name: its words lowercased, with
// accents folded, apostrophes dropped ("O'Fallon" is "ofallon"), every other
// character a word break, the abbreviations St., Ste., Ft., Mt. and Pt.
// expanded to Saint, Sainte, Fort, Mount and Point, and the words joined
// without spaces, so that "Mc Allen" and "McAllen", or "Winston-Salem" and
// "Winston Salem", share a key.
func CityKey(name string) string { return key(name, expandAll) }

// CityKeyPrefix is the key of a city name typed so far: like CityKey, except
// that a last word still being typed is not expanded ("st" may become
// "Stockton"), while a finished one is ("st " means "saint ").
func CityKeyPrefix(prefix string) string { return key(prefix, expandClosed) }

// PlainKey is CityKey without abbreviations expanded, for state and country
// names: "MT" is Montana, not "mount".
func PlainKey(s string) string { return key(s, expandNone) }

type expandMode int

const (
	expandNone expandMode = iota
	expandClosed
	expandAll
)

// key builds a key in one pass; the geocoder computes one per distinct city
// name when it decodes its data, so this avoids per-word allocations.
func key(s string, mode expandMode) string {
	var arr [64]byte
	buf := arr[:0]
	start, inWord := 0, false
	for i := 0; i < len(s); {
		var b byte
		if c := s[i]; c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				b = c
			case c >= 'A' && c <= 'Z':
				b = c + 'a' - 'A'
			case c == '\'' || c == '`':
				continue // dropped within a word: "O'Fallon"
			}
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			if r == '’' {
				continue
			}
			b = folds[unicode.ToLower(r)] // 0 (a word break) when not a letter we fold
		}
		if b != 0 {
			if !inWord {
				start, inWord = len(buf), true
			}
			buf = append(buf, b)
			continue
		}
		if inWord && mode != expandNone {
			buf = expand(buf, start)
		}
		inWord = false
	}
	if inWord && mode == expandAll {
		buf = expand(buf, start)
	}
	return string(buf)
}

// expand replaces the word buf[start:] by its full form when it is an
// abbreviation that postal data and people write differently.
func expand(buf []byte, start int) []byte {
	var full string
	switch string(buf[start:]) {
	case "st":
		full = "saint"
	case "ste":
		full = "sainte"
	case "ft":
		full = "fort"
	case "mt":
		full = "mount"
	case "pt":
		full = "point"
	default:
		return buf
	}
	return append(buf[:start], full...)
}

// State is a US state, district or territory with a postal code.
type State struct {
	Code string // two-letter USPS code, e.g. "TX"
	Name string // e.g. "Texas"
}

// States lists the 50 states, the District of Columbia and the inhabited
// territories that have ZIP codes, ordered by code.
var States = []State{
	{"AK", "Alaska"},
	{"AL", "Alabama"},
	{"AR", "Arkansas"},
	{"AS", "American Samoa"},
	{"AZ", "Arizona"},
	{"CA", "California"},
	{"CO", "Colorado"},
	{"CT", "Connecticut"},
	{"DC", "District of Columbia"},
	{"DE", "Delaware"},
	{"FL", "Florida"},
	{"FM", "Federated States of Micronesia"},
	{"GA", "Georgia"},
	{"GU", "Guam"},
	{"HI", "Hawaii"},
	{"IA", "Iowa"},
	{"ID", "Idaho"},
	{"IL", "Illinois"},
	{"IN", "Indiana"},
	{"KS", "Kansas"},
	{"KY", "Kentucky"},
	{"LA", "Louisiana"},
	{"MA", "Massachusetts"},
	{"MD", "Maryland"},
	{"ME", "Maine"},
	{"MH", "Marshall Islands"},
	{"MI", "Michigan"},
	{"MN", "Minnesota"},
	{"MO", "Missouri"},
	{"MP", "Northern Mariana Islands"},
	{"MS", "Mississippi"},
	{"MT", "Montana"},
	{"NC", "North Carolina"},
	{"ND", "North Dakota"},
	{"NE", "Nebraska"},
	{"NH", "New Hampshire"},
	{"NJ", "New Jersey"},
	{"NM", "New Mexico"},
	{"NV", "Nevada"},
	{"NY", "New York"},
	{"OH", "Ohio"},
	{"OK", "Oklahoma"},
	{"OR", "Oregon"},
	{"PA", "Pennsylvania"},
	{"PR", "Puerto Rico"},
	{"PW", "Palau"},
	{"RI", "Rhode Island"},
	{"SC", "South Carolina"},
	{"SD", "South Dakota"},
	{"TN", "Tennessee"},
	{"TX", "Texas"},
	{"UT", "Utah"},
	{"VA", "Virginia"},
	{"VI", "Virgin Islands"},
	{"VT", "Vermont"},
	{"WA", "Washington"},
	{"WI", "Wisconsin"},
	{"WV", "West Virginia"},
	{"WY", "Wyoming"},
}

// stateKeys maps the key of each code, name and common alias to the code.
var stateKeys = func() map[string]string {
	m := make(map[string]string, 3*len(States))
	for _, s := range States {
		m[PlainKey(s.Code)] = s.Code
		m[PlainKey(s.Name)] = s.Code
	}
	for alias, code := range map[string]string{
		"Washington DC":       "DC",
		"Washington D.C.":     "DC",
		"US Virgin Islands":   "VI",
		"U.S. Virgin Islands": "VI",
		"Micronesia":          "FM",
		"Mariana Islands":     "MP",
	} {
		m[PlainKey(alias)] = code
	}
	return m
}()

// StateCode resolves a state written as its code or full name, in any case
// and spacing ("tx", "Texas", "new  york", "D.C."), to its two-letter code.
func StateCode(s string) (string, bool) {
	code, ok := stateKeys[PlainKey(s)]
	return code, ok
}

// StateName is the full name of the state with the given code.
func StateName(code string) (string, bool) {
	name, ok := stateNames[code]
	return name, ok
}

var stateNames = func() map[string]string {
	m := make(map[string]string, len(States))
	for _, s := range States {
		m[s.Code] = s.Name
	}
	return m
}()

// StatesWithPrefix returns the codes of the states whose code or name starts
// with the given prefix, ignoring case and spacing ("n" gives NC, ND, NE,
// NH, NJ, NM, NV, NY, MP; "new" gives NH, NJ, NM, NY); every state for an
// empty prefix.
func StatesWithPrefix(prefix string) map[string]bool {
	p := PlainKey(prefix)
	out := make(map[string]bool)
	for _, s := range States {
		if strings.HasPrefix(PlainKey(s.Code), p) || strings.HasPrefix(PlainKey(s.Name), p) {
			out[s.Code] = true
		}
	}
	return out
}

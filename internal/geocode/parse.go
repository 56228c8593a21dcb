package geocode

import (
	"strings"

	"github.com/backhaul/backhaul/internal/geocode/internal/placename"
)

// maxParseLen bounds the free text Parse considers; no US place line comes
// near it, and the bound keeps the work per call small.
const maxParseLen = 256

// countries are the keys of trailing country names that Parse ignores.
var countries = map[string]bool{"us": true, "usa": true, "unitedstates": true, "unitedstatesofamerica": true, "america": true}

// Parse geocodes free text the way people write a place: "75201",
// "75201-1234", "Dallas, TX", "dallas tx", "Dallas, Texas 75201",
// "St. Louis, MO, USA" or a bare city name ("Dallas", the most populous city
// of that name). A valid ZIP code at the end wins over the city and state,
// being the more precise; a ZIP code not in the data falls back to them.
func (g *Geocoder) Parse(text string) (Place, bool) {
	if len(text) > maxParseLen {
		return Place{}, false
	}
	toks := tokens(text)
	toks = trimCommas(toks)
	// A trailing country name: "..., USA", "... United States".
	for n := min(4, len(toks)-1); n >= 1; n-- {
		if countries[placename.PlainKey(strings.Join(toks[len(toks)-n:], " "))] {
			toks = trimCommas(toks[:len(toks)-n])
			break
		}
	}
	if len(toks) == 0 {
		return Place{}, false
	}
	if last := toks[len(toks)-1]; isZIPToken(last) {
		if p, ok := g.ZIP(last); ok {
			return p, true
		}
		toks = trimCommas(toks[:len(toks)-1])
		if len(toks) == 0 {
			return Place{}, false
		}
	}

	// "City, State": the text after the last comma must be a state.
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i] != "," {
			continue
		}
		state, ok := placename.StateCode(strings.Join(toks[i+1:], " "))
		if !ok {
			return Place{}, false
		}
		return g.City(strings.Join(toks[:i], " "), state)
	}

	// "City State": try the longest state name that ends the text ("New
	// York New York" is New York, NY), then the text as a bare city name.
	for n := min(4, len(toks)-1); n >= 1; n-- {
		state, ok := placename.StateCode(strings.Join(toks[len(toks)-n:], " "))
		if !ok {
			continue
		}
		if p, ok := g.City(strings.Join(toks[:len(toks)-n], " "), state); ok {
			return p, true
		}
	}
	return g.City(strings.Join(toks, " "), "")
}

// tokens splits text into words, with each comma a token of its own.
func tokens(text string) []string {
	return strings.Fields(strings.ReplaceAll(text, ",", " , "))
}

func trimCommas(toks []string) []string {
	for len(toks) > 0 && toks[len(toks)-1] == "," {
		toks = toks[:len(toks)-1]
	}
	for len(toks) > 0 && toks[0] == "," {
		toks = toks[1:]
	}
	return toks
}

func isZIPToken(s string) bool {
	_, ok := zip5(s)
	return ok || len(s) >= 5 && allDigits(s[:5]) && strings.Trim(s, "0123456789-") == ""
}

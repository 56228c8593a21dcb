package geocode

import (
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/backhaul/backhaul/internal/geocode/internal/placename"
)

// Suggest completes what a person has typed so far, best first, at most
// limit places. Digits complete a ZIP code ("752" lists 75201, 75202, ...
// in order). Anything else completes a city name, most populous first, then
// by name: "san" offers San Antonio, San Diego, San Jose, .... After a
// comma, the rest narrows the state by code or name prefix ("springfield,
// m" offers the Springfields of Massachusetts, Missouri, Michigan, ...).
func (g *Geocoder) Suggest(prefix string, limit int) []Place {
	if limit <= 0 || len(prefix) > maxParseLen {
		return nil
	}
	// Leading spaces mean nothing; a trailing one ends a word ("st ").
	prefix = strings.TrimLeftFunc(prefix, unicode.IsSpace)
	if digits := strings.TrimRightFunc(prefix, unicode.IsSpace); allDigits(digits) {
		return g.suggestZIP(digits, limit)
	}
	cityPart, statePart, hasState := strings.Cut(prefix, ",")
	var key string
	var states map[string]bool
	if hasState {
		// The comma ends the city name, so its last word is complete.
		key = placename.CityKey(cityPart)
		states = placename.StatesWithPrefix(statePart)
		if len(states) == 0 {
			return nil
		}
	} else {
		key = placename.CityKeyPrefix(prefix)
	}
	if key == "" {
		return nil
	}
	ix := g.suggest()
	lo := sort.Search(len(ix.byKey), func(i int) bool { return ix.byKey[i].key >= key })
	// Keep the best limit candidates by rank: a short prefix can match a few
	// thousand cities, far more than are shown.
	top := make([]keyed, 0, min(limit, 64))
	for _, k := range ix.byKey[lo:] {
		if !strings.HasPrefix(k.key, key) {
			break
		}
		if hasState && k.key != key {
			break // the city name is complete: exact matches only
		}
		if states != nil && !states[g.cities[k.city].state] {
			continue
		}
		if len(top) == limit && k.rank >= top[len(top)-1].rank {
			continue
		}
		at, _ := slices.BinarySearchFunc(top, k.rank, func(t keyed, r int32) int { return int(t.rank - r) })
		if len(top) == limit {
			top = top[:len(top)-1]
		}
		top = slices.Insert(top, at, k)
	}
	out := make([]Place, len(top))
	for i, k := range top {
		out[i] = g.cityPlace(k.city)
	}
	return out
}

// suggestIndex lists every city by key, for prefix search.
type suggestIndex struct {
	byKey []keyed // ascending by key, then rank
}

type keyed struct {
	key  string
	rank int32 // position in the order of population, then name, then state
	city int32
}

func (g *Geocoder) buildSuggestIndex() *suggestIndex {
	type ranked struct {
		pop         int
		name, state string
		city        int32
	}
	byRank := make([]ranked, len(g.cities))
	for i := range g.cities {
		c := &g.cities[i]
		byRank[i] = ranked{c.pop, c.name, c.state, int32(i)}
	}
	slices.SortFunc(byRank, func(a, b ranked) int {
		if a.pop != b.pop {
			return b.pop - a.pop
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.state, b.state)
	})
	ix := &suggestIndex{byKey: make([]keyed, len(byRank))}
	for r, x := range byRank {
		ix.byKey[r] = keyed{key: g.cities[x.city].key, rank: int32(r), city: x.city}
	}
	slices.SortFunc(ix.byKey, func(a, b keyed) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return int(a.rank - b.rank)
	})
	return ix
}

func (g *Geocoder) suggestZIP(prefix string, limit int) []Place {
	if len(prefix) > 5 {
		return nil
	}
	lo := sort.Search(len(g.zips), func(i int) bool { return g.zips[i].code >= prefix })
	var out []Place
	for i := lo; i < len(g.zips) && len(out) < limit && strings.HasPrefix(g.zips[i].code, prefix); i++ {
		out = append(out, g.zipPlace(int32(i)))
	}
	return out
}

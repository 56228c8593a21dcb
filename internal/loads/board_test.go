package loads

import (
	"net/url"
	"testing"

	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
)

type fixedGeocoder struct{}

func (fixedGeocoder) Resolve(l freight.Location) (freight.Location, bool) {
	if l.City == "Dallas" || l.ZIP == "75201" {
		l.Lat, l.Lon = 32.78, -96.80
		return l, true
	}
	return l, false
}

func TestParseBoardQuery(t *testing.T) {
	s := &Service{geo: fixedGeocoder{}, miles: geo.DefaultCircuity}
	tests := []struct {
		query string
		field string
	}{
		{"origin=Dallas,TX&radius_mi=100&equipment=van&sort=rate", ""},
		{"origin_lat=32.7&origin_lon=-96.8&pickup_from=2030-01-01&pickup_to=2030-01-05", ""},
		{"origin=Atlantis", "origin"},
		{"origin_lat=abc&origin_lon=1", "origin_lat"},
		{"origin_lat=95&origin_lon=1", "origin.lat"},
		{"radius_mi=5000", "radius_mi"},
		{"equipment=tanker", "equipment"},
		{"sort=cheapest", "sort"},
		{"sort=deadhead", "sort"},
		{"pickup_from=2030-01-05&pickup_to=2030-01-01", "pickup_to"},
		{"limit=0", "limit"},
		{"min_rpm=-1", "min_rpm"},
		{"dest_state=Texas", "dest_state"},
	}
	for _, tt := range tests {
		v, _ := url.ParseQuery(tt.query)
		q, err := s.ParseBoardQuery(v)
		if err == nil {
			err = q.Validate()
		}
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.query, err)
			}
			continue
		}
		fe, ok := err.(*freight.Error)
		if !ok || len(fe.Fields) == 0 || fe.Fields[0].Field != tt.field {
			t.Errorf("%s: err = %v, want a problem with %s", tt.query, err, tt.field)
		}
	}
}

func FuzzParseBoardQuery(f *testing.F) {
	f.Add("origin=Dallas,TX&radius_mi=100&sort=deadhead&cursor=abc")
	f.Add("origin_lat=NaN&origin_lon=Inf&min_rpm=NaN&radius_mi=NaN")
	f.Add("pickup_from=2030-01-01T00:00:00Z&limit=200")
	s := &Service{geo: fixedGeocoder{}, miles: geo.DefaultCircuity}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := s.ParseBoardQuery(v)
		if err != nil {
			if freight.ErrorCode(err) != freight.EINVALID {
				t.Fatalf("code %s for %q", freight.ErrorCode(err), raw)
			}
			return
		}
		if err := q.Validate(); err != nil {
			if freight.ErrorCode(err) != freight.EINVALID {
				t.Fatalf("code %s for %q", freight.ErrorCode(err), raw)
			}
			return
		}
		if q.Limit < 1 || q.Limit > 200 || q.RadiusMiles < 0 || q.RadiusMiles > 1000 || q.RadiusMiles != q.RadiusMiles {
			t.Fatalf("accepted %q as %+v", raw, q)
		}
	})
}

package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/freight"
)

func TestDecodeNamesTheField(t *testing.T) {
	type in struct {
		Name   string `json:"name"`
		Weight int    `json:"weight_lbs"`
		Nested struct {
			Lat float64 `json:"lat"`
		} `json:"origin"`
	}
	tests := []struct {
		body, code, field string
	}{
		{`{"name":"a"}`, "", ""},
		{``, freight.EINVALID, ""},
		{`{"name":`, freight.EINVALID, ""},
		{`{"name":"a"} {"x":1}`, freight.EINVALID, ""},
		{`{"weight_lbs":"heavy"}`, freight.EINVALID, "weight_lbs"},
		{`{"origin":{"lat":"north"}}`, freight.EINVALID, "origin.lat"},
		{`{"colour":"red"}`, freight.EINVALID, "colour"},
		{`[]`, freight.EINVALID, "(body)"},
	}
	for _, tt := range tests {
		var v in
		err := DecodeBytes([]byte(tt.body), &v)
		if tt.code == "" {
			if err != nil {
				t.Errorf("%s: %v, want nil", tt.body, err)
			}
			continue
		}
		var fe *freight.Error
		if !errors.As(err, &fe) || fe.Code != tt.code {
			t.Errorf("%s: err = %v, want code %s", tt.body, err, tt.code)
			continue
		}
		if tt.field != "" && (len(fe.Fields) != 1 || fe.Fields[0].Field != tt.field) {
			t.Errorf("%s: fields = %v, want %s", tt.body, fe.Fields, tt.field)
		}
	}
}

func TestDecodeLimitsAndContentType(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":"`+strings.Repeat("x", 100)+`"}`))
	var v map[string]string
	if err := Decode(r, &v, 50); freight.ErrorCode(err) != freight.ETOOLARGE {
		t.Errorf("oversized body: %v, want too_large", err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(`a=b`))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := Decode(r, &v, 0); freight.ErrorCode(err) != freight.EINVALID {
		t.Errorf("form body: %v, want invalid", err)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := EncodeCursor("2026-01-01T00:00:00Z", "id-1")
	keys, err := DecodeCursor(c, 2)
	if err != nil || keys[0] != "2026-01-01T00:00:00Z" || keys[1] != "id-1" {
		t.Fatalf("DecodeCursor = %v, %v", keys, err)
	}
	if _, err := DecodeCursor(c, 1); err == nil {
		t.Error("cursor with the wrong arity accepted")
	}
}

// FuzzDecodeLoadInput feeds arbitrary bodies to the load decoder and
// validator: they may refuse, never panic, and anything accepted is valid.
func FuzzDecodeLoadInput(f *testing.F) {
	f.Add(`{"origin":{"city":"Dallas","state":"TX"},"destination":{"zip":"30303"},"pickup":{"start":"2030-01-01T08:00:00Z","end":"2030-01-01T10:00:00Z"},"delivery":{"start":"2030-01-02T08:00:00Z","end":"2030-01-02T10:00:00Z"},"equipment":"van","weight_lbs":1000,"rate_usd":10.5}`)
	f.Add(`{"origin":{"lat":91,"lon":0},"weight_lbs":-1,"rate_usd":1e308}`)
	f.Add(`{"rate_usd":0.001}`)
	f.Add(`null`)
	now := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body string) {
		var in freight.LoadInput
		if err := DecodeBytes([]byte(body), &in); err != nil {
			if freight.ErrorCode(err) != freight.EINVALID {
				t.Fatalf("decode error with code %s: %v", freight.ErrorCode(err), err)
			}
			return
		}
		if err := in.Validate(now); err != nil {
			if freight.ErrorCode(err) != freight.EINVALID {
				t.Fatalf("validation error with code %s", freight.ErrorCode(err))
			}
			return
		}
		if !in.Equipment.Valid() || in.WeightLbs <= 0 || in.WeightLbs > freight.MaxLoadLbs {
			t.Fatalf("accepted invalid load: %+v", in)
		}
		if in.Origin.HasPoint() && (in.Origin.Lat < -90 || in.Origin.Lat > 90 || in.Origin.Lon < -180 || in.Origin.Lon > 180) {
			t.Fatalf("accepted invalid coordinates: %+v", in.Origin)
		}
		if in.Delivery.End.Before(in.Pickup.Start) {
			t.Fatalf("accepted delivery before pickup: %+v", in)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor("a", "b"))
	f.Add("!!!")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := DecodeCursor(s, 2)
		if err == nil && len(keys) != 2 {
			t.Fatalf("DecodeCursor(%q) = %v without error", s, keys)
		}
	})
}

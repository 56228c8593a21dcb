package app_test

import (
	"net/http"
	"net/url"
	"testing"
)

// BenchmarkBoardQuery measures one authenticated load-board query through
// the whole HTTP stack of an embedded platform with the demo network.
func BenchmarkBoardQuery(b *testing.B) {
	cfg := config(b, "embedded", func(c *appConfig) { c.Demo = true; c.RateUser, c.RateUserBurst = 1e6, 1e6 })
	p := start(b, cfg)
	tok := p.login("dispatch@blueridge.example", "backhaul-demo").Token
	q := url.Values{"origin": {"Dallas, TX"}, "radius_mi": {"500"}, "equipment": {"van"}, "limit": {"20"}}
	req, _ := http.NewRequest("GET", p.base+"/api/v1/board?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	for b.Loop() {
		res, err := client.Do(req.Clone(req.Context()))
		if err != nil || res.StatusCode != 200 {
			b.Fatal(err, res.StatusCode)
		}
		res.Body.Close()
	}
}

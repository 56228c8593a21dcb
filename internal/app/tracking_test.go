package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A device key posts positions through the gateway; the fleet sees where its
// driver is, and another carrier cannot post for that driver.
func TestPositionsThroughTheGateway(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			p := start(t, config(t, engine))
			w := newWorld(t, p)
			device := str(p.must(201, "POST", "/api/v1/api-keys", w.carrier.Token,
				map[string]any{"name": "phone", "role": "driver", "driver_id": w.driverID}), "secret")
			now := time.Now().UTC().Truncate(time.Second)
			var lines []string
			for i := range 5 {
				lines = append(lines, fmt.Sprintf(`{"driver_id":%q,"time":%q,"lat":%.5f,"lon":-96.80,"speed_mph":50,"accuracy_m":8}`,
					w.driverID, now.Add(time.Duration(i-5)*time.Minute).Format(time.RFC3339), 32.70+float64(i)*0.01))
			}
			lines = append(lines, fmt.Sprintf(`{"driver_id":%q,"time":%q,"lat":95,"lon":-96.80}`, w.driverID, now.Format(time.RFC3339)))
			r := p.callWith("POST", "/api/v1/positions", device, "application/x-ndjson", strings.Join(lines, "\n"))
			if r.Status != 200 {
				t.Fatalf("ingest = %d: %s", r.Status, r.Body)
			}
			res := r.JSON(t)
			rej, _ := res["rejected"].([]any)
			if res["accepted"].(float64) != 5 || len(rej) != 1 || rej[0].(map[string]any)["index"].(float64) != 5 {
				t.Fatalf("ingest result = %s, want 5 accepted and index 5 rejected", r.Body)
			}
			latest := p.must(200, "GET", "/api/v1/tracking/drivers/"+w.driverID+"/latest", w.dispatcher.Token, nil)
			if !strings.Contains(jsonString(t, latest), "32.74") {
				t.Errorf("latest position = %v, want the last fix at 32.74", latest)
			}
			other := p.signup("carrier", "Other", "o@other.test")
			otherKey := str(p.must(201, "POST", "/api/v1/api-keys", other.Token, map[string]any{"name": "tms", "role": "dispatcher"}), "secret")
			if r := p.callWith("POST", "/api/v1/positions", otherKey, "application/json",
				fmt.Sprintf(`[{"driver_id":%q,"time":%q,"lat":33,"lon":-97}]`, w.driverID, now.Format(time.RFC3339))); r.Status != 403 && r.Status != 404 {
				t.Errorf("foreign carrier posting for the driver = %d, want 403 or 404: %s", r.Status, r.Body)
			}
			p.must(404, "GET", "/api/v1/tracking/drivers/"+w.driverID+"/latest", other.Token, nil)
			if m := string(p.call("GET", "/metrics", "", nil).Body); !strings.Contains(m, "position_updates_count 5") {
				t.Errorf("/metrics lacks position_updates_count 5")
			}
		})
	}
}

// A dispatcher streaming its fleet from one replica sees positions that
// another replica ingests.
func TestLiveFleetStreamAcrossReplicas(t *testing.T) {
	a := start(t, config(t, "production"))
	bcfg := config(t, "production")
	bcfg.DatabaseURL, bcfg.NATSURL, bcfg.NATSNamespace = a.app.Config().DatabaseURL, a.app.Config().NATSURL, a.app.Config().NATSNamespace
	b := start(t, bcfg)
	w := newWorld(t, a)
	device := str(a.must(201, "POST", "/api/v1/api-keys", w.carrier.Token,
		map[string]any{"name": "phone", "role": "driver", "driver_id": w.driverID}), "secret")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/api/v1/tracking/fleet/stream", nil)
	req.Header.Set("Authorization", "Bearer "+w.dispatcher.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("fleet stream = %d", res.StatusCode)
	}
	seen := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data:") && strings.Contains(sc.Text(), w.driverID) {
				seen <- sc.Text()
				return
			}
		}
	}()
	// Keep posting on the other replica until the stream shows a fix (the
	// subscription may start a moment after the stream opens).
	for i := 0; ; i++ {
		fix := fmt.Sprintf(`[{"driver_id":%q,"time":%q,"lat":%.4f,"lon":-96.8}]`, w.driverID,
			time.Now().UTC().Add(time.Duration(i-30)*time.Second).Format(time.RFC3339), 32.7+float64(i)*0.001)
		if r := a.callWith("POST", "/api/v1/positions", device, "application/json", fix); r.Status != 200 {
			t.Fatalf("ingest = %d %s", r.Status, r.Body)
		}
		select {
		case <-seen:
			return
		case <-ctx.Done():
			t.Fatal("the fleet stream on one replica never showed a position ingested by the other")
		case <-time.After(300 * time.Millisecond):
		}
	}
}

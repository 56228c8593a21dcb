package app_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/demo"
	"github.com/backhaul/backhaul/internal/testenv"
)

// TestBrowserFlow drives the portal in headless Debian Chromium through
// e2e/flow.mjs (playwright-core): post, board, book, assign, dispatch,
// driver positions on the shipper's map, delivered. The demo network gives
// it a marketplace with rate history, a carrier with drivers, and an
// operator. Screenshots and page figures land in e2e/artifacts.
func TestBrowserFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: not in -short")
	}
	root, err := filepath.Abs("../../e2e")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "node is not installed: %v", err)
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		testenv.Unavailable(t, "Debian's chromium is not installed (apt-get install chromium): %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "playwright-core")); err != nil {
		testenv.Unavailable(t, "playwright-core is not installed (npm ci --prefix e2e): %v", err)
	}

	cfg := config(t, "embedded")
	cfg.Demo = true
	p := start(t, cfg)

	artifacts := filepath.Join(root, "artifacts")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	users, err := json.Marshal(map[string]map[string]string{
		"shipper":    {"email": "shipper@acme-foods.example", "password": demo.Password},
		"dispatcher": {"email": "dispatch@blueridge.example", "password": demo.Password},
		"driver":     {"email": "driver@blueridge.example", "password": demo.Password, "name": "Alex Rivera"},
		"operator":   {"email": "ops@backhaul.example", "password": demo.Password},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "flow.mjs")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "BASE_URL="+p.base, "ARTIFACTS="+artifacts, "E2E_USERS="+string(users),
		"E2E_INSTANCE="+testenv.Shared(t, "benchmarks", "vrptw", "solomon", "C101.txt"))
	out, err := cmd.CombinedOutput()
	t.Logf("flow.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("browser flow failed: %v (screenshots in %s)", err, artifacts)
	}

	// The browser's story, checked against the platform's own record.
	var loadID string
	for _, line := range strings.Split(string(out), "\n") {
		if id, ok := strings.CutPrefix(line, "LOAD_ID="); ok {
			loadID = strings.TrimSpace(id)
		}
	}
	if loadID == "" {
		t.Fatal("the flow did not report the load it posted")
	}
	shipper := p.login("shipper@acme-foods.example", demo.Password)
	l := p.must(200, "GET", "/api/v1/loads/"+loadID, shipper.Token, nil)
	if l["status"] != "delivered" || l["reference"] != "E2E-FLATBED-1" || l["equipment"] != "flatbed" {
		t.Errorf("load after the flow: status %v, reference %v, equipment %v; want delivered E2E-FLATBED-1 flatbed", l["status"], l["reference"], l["equipment"])
	}
	h := p.must(200, "GET", "/api/v1/loads/"+loadID+"/history", shipper.Token, nil)
	var path []string
	for _, e := range h["items"].([]any) {
		path = append(path, e.(map[string]any)["to"].(string))
	}
	want := "posted booked dispatched at_pickup in_transit at_delivery delivered"
	if got := strings.Join(path, " "); got != want {
		t.Errorf("history %q, want %q", got, want)
	}
	for _, shot := range []string{"landing", "shipper", "carrier", "driver", "shipment", "ops", "ops-job", "platform"} {
		if fi, err := os.Stat(filepath.Join(artifacts, shot+".png")); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s.png missing or empty: %v", shot, err)
		}
	}
}

package tracking

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/accounts"
	"github.com/backhaul/backhaul/internal/auth"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/httpapi"
	"github.com/backhaul/backhaul/internal/store"
)

// The crash test runs the ingest server in a child process (this test
// binary again, which TestMain turns into the server, as os/exec's own
// tests do), kills it with SIGKILL while
// batches are in flight, restarts it, and checks that every position it
// acknowledged is in the store.

const crashEnv = "BACKHAUL_TRACKING_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		if err := crashChild(); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// crashChild serves the ingest path until it is killed.
func crashChild() error {
	ctx := context.Background()
	dir, url, addrFile := os.Getenv("CRASH_DATA_DIR"), os.Getenv("CRASH_DATABASE_URL"), os.Getenv("CRASH_ADDR_FILE")
	db, err := store.Open(ctx, store.Config{URL: url, DataDir: dir}, nil)
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	tokens, err := auth.NewTokens([]byte(strings.Repeat("k", 32)), time.Hour, nil)
	if err != nil {
		return err
	}
	drv := drivers.New(db, noPlaces{}, log)
	acc := accounts.New(db, tokens, drv, log)
	svc, err := New(db, Config{DatabaseURL: url}, Deps{Drivers: drv, Now: func() time.Time { return t0 }}, log, nil)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(addrFile+".tmp", []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	if err := os.Rename(addrFile+".tmp", addrFile); err != nil {
		return err
	}
	return http.Serve(ln, httpapi.RequireAuth(mux, acc)) // until killed
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dir, url string) *child {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashEnv+"=1", "CRASH_DATA_DIR="+dir, "CRASH_DATABASE_URL="+url, "CRASH_ADDR_FILE="+addrFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil {
			return &child{cmd: cmd, addr: string(b)}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("child did not start: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

func TestCrashKeepsAcknowledgedPositions(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	eachEngine(t, func(t *testing.T, db *store.DB, u string) {
		w := newWorld(t, db, u, nil)
		w.svc.Close() // the child serves; this process only checks
		dir := t.TempDir()
		if db.Dialect() == store.SQLite {
			dir = sqliteDir(t, db)
		}
		c := startChild(t, dir, u)
		killed := false
		defer func() {
			if !killed {
				c.kill(t)
			}
		}()

		// Four clients, one per driver, post batches of 50 fixes until the
		// kill; a device posts its batches one after another.
		type acked struct {
			driver string
			at     time.Time
		}
		var (
			mu    sync.Mutex
			acks  []acked
			sent  int
			wg    sync.WaitGroup
			stop  = make(chan struct{})
			drvrs = []string{w.driverA, w.driverB, w.newDriver(w.carrier, "Cy"), w.newDriver(w.carrier, "Di")}
		)
		client := &http.Client{Timeout: 10 * time.Second}
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				driver := drvrs[g]
				base := t0.Add(-6 * 24 * time.Hour)
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					var fixes []string
					var ats []time.Time
					for i := range 50 {
						at := base.Add(time.Duration(n*50+i) * 10 * time.Millisecond)
						ats = append(ats, at)
						fixes = append(fixes, fix(driver, at, 32.7+float64(n*50+i)*1e-6, -96.8, ""))
					}
					req, _ := http.NewRequest("POST", "http://"+c.addr+"/api/v1/positions", strings.NewReader(array(fixes...)))
					req.Header.Set("X-API-Key", w.keyDispatch)
					mu.Lock()
					sent += len(fixes)
					mu.Unlock()
					res, err := client.Do(req)
					if err != nil {
						return // the server died
					}
					var r Result
					err = json.NewDecoder(res.Body).Decode(&r)
					res.Body.Close()
					if err != nil || res.StatusCode != 200 {
						return
					}
					if r.Accepted != len(fixes) {
						t.Errorf("got %d of %d accepted: %+v", r.Accepted, len(fixes), r.Rejected)
						return
					}
					mu.Lock()
					for _, at := range ats {
						acks = append(acks, acked{driver, at})
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(700 * time.Millisecond)
		c.kill(t)
		killed = true
		close(stop)
		wg.Wait()
		if len(acks) == 0 {
			t.Fatal("no batch was acknowledged before the kill")
		}

		// Restart and check every acknowledged fix is there.
		c = startChild(t, dir, u)
		killed = false
		stored := map[string]map[time.Time]bool{}
		for _, d := range drvrs {
			stored[d] = map[time.Time]bool{}
			rows, err := db.Query(context.Background(), `SELECT recorded_at FROM positions WHERE driver_id = ?`, d)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var at time.Time
				if err := rows.Scan(store.Time(&at)); err != nil {
					t.Fatal(err)
				}
				stored[d][at.UTC()] = true
			}
			rows.Close()
		}
		missing := 0
		for _, a := range acks {
			if !stored[a.driver][store.Now(a.at)] {
				missing++
			}
		}
		total := 0
		for _, d := range drvrs {
			total += len(stored[d])
		}
		t.Logf("%d fixes sent, %d acknowledged, %d stored, killed mid-ingest", sent, len(acks), total)
		if missing > 0 {
			t.Errorf("got %d acknowledged fixes missing after the crash, want 0", missing)
		}
		// The restarted server takes new fixes.
		var r Result
		req, _ := http.NewRequest("POST", "http://"+c.addr+"/api/v1/positions",
			strings.NewReader(array(fix(w.driverA, t0.Add(-time.Minute), 32.7, -96.8, ""))))
		req.Header.Set("X-API-Key", w.keyDispatch)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(res.Body).Decode(&r)
		res.Body.Close()
		if res.StatusCode != 200 || r.Accepted != 1 {
			t.Errorf("after the restart: got %d, %+v", res.StatusCode, r)
		}
	})
}

// sqliteDir finds the data directory of a SQLite store opened by storetest.
func sqliteDir(t *testing.T, db *store.DB) string {
	t.Helper()
	var file string
	if err := db.QueryRow(context.Background(), `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(file)
}

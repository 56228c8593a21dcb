package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// binDir holds the backhaul binary the tests build once for the package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "backhaul-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// testVersion is what the tests stamp into the binary through the
// Dockerfile's -ldflags, to prove the flag reaches internal/app.Version.
const testVersion = "v0.0.0-deploytest"

// backhaulBinary builds cmd/backhaul with the Dockerfile's build command
// (CGO_ENABLED=0, -trimpath, its -ldflags with VERSION=testVersion).
func backhaulBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		df, err := readDockerfile("../Dockerfile")
		if err != nil {
			buildErr = err
			return
		}
		b, err := df.goBuild()
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(binDir, "backhaul")
		args := append([]string{"build"}, b.flags...)
		args = append(args, "-ldflags="+strings.ReplaceAll(b.ldflags, "${VERSION}", testVersion), "-o", buildPath, b.pkg)
		cmd := exec.Command(goTool(), args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build backhaul: %v", buildErr)
	}
	return buildPath
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// process is one running `backhaul serve`.
type process struct {
	name string // the pod name Prometheus labels it with
	addr string // host:port
}

// startServe starts `backhaul serve` with args on a free loopback port and
// waits until /readyz answers 200. The process is stopped when the test ends.
func startServe(t *testing.T, name string, env []string, args ...string) process {
	t.Helper()
	addr := freeAddr(t)
	all := append([]string{"serve", "--http-addr=" + addr, "--data-dir=" + t.TempDir(), "--log-level=warn"}, args...)
	cmd := exec.Command(backhaulBinary(t), all...)
	cmd.Env = append(os.Environ(), env...)
	logs := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	p := process{name: name, addr: addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("%s exited before it was ready:\n%s", name, logs)
		default:
		}
		if status(p.url("/readyz")) == http.StatusOK {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60 s:\n%s", name, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p process) url(path string) string { return "http://" + p.addr + path }

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// metricNames returns the metric families a process exports at /metrics.
func metricNames(ctx context.Context, p process) (map[string]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url("/metrics"), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s /metrics: %s", p.name, resp.Status)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// "# TYPE name kind" names every family, samples or not.
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			names[f[2]] = true
		}
	}
	return names, sc.Err()
}

// tailBuffer keeps the last 16 KiB a process wrote, for failure messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 16<<10 {
		b.buf = b.buf[len(b.buf)-16<<10:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

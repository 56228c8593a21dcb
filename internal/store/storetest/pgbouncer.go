package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/backhaul/backhaul/internal/testenv"
)

// PgBouncer is a PgBouncer process in transaction pooling mode in front of
// the test PostgreSQL server, started for one test.
type PgBouncer struct {
	t    testing.TB
	dir  string
	Port int
	bin  string
	run  func(string, ...string) *exec.Cmd
	proc *os.Process
	done chan struct{}
}

// StartPgBouncer starts Debian's pgbouncer on a free port with transaction
// pooling, forwarding every database name to the test PostgreSQL server.
// Without pgbouncer the test is Unavailable.
func StartPgBouncer(t testing.TB) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr != nil {
			testenv.Unavailable(t, "pgbouncer: %v", err)
		}
		bin = "/usr/sbin/pgbouncer"
	}
	pu, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(pu.Host)
	if err != nil {
		t.Fatalf("test database url: %v", err)
	}
	user := pu.User.Username()
	if user == "" {
		user = "postgres"
	}
	dir, err := os.MkdirTemp("", "backhaul-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// PgBouncer refuses to run as root; runner switches to postgres.
	run, err := runner(dir)
	if err != nil {
		testenv.Unavailable(t, "pgbouncer: %v", err)
	}
	p := &PgBouncer{t: t, dir: dir, Port: freePort(t), bin: bin, run: run}
	// The pool sizes and the idle timeout are the scaling guide's: 10-100
	// server connections per service, 5 minutes idle.
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%s user=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 20
max_client_conn = 500
server_idle_timeout = 300
ignore_startup_parameters = extra_float_digits
logfile = %s
pidfile = %s
`, host, port, user, p.Port, filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	if err := os.WriteFile(filepath.Join(dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Start starts pgbouncer and waits until it accepts connections.
func (p *PgBouncer) Start() {
	p.t.Helper()
	cmd := p.run(p.bin, filepath.Join(p.dir, "pgbouncer.ini"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start pgbouncer: %v", err)
	}
	p.proc, p.done = cmd.Process, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(p.done)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(p.dir, "pgbouncer.log"))
			p.t.Fatalf("pgbouncer exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("pgbouncer not listening after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts pgbouncer down at once (SIGTERM), cutting every client and
// server connection, and waits until it has exited.
func (p *PgBouncer) Stop() {
	if p.done == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	// Signal pgbouncer itself, not the runuser in front of it.
	if b, err := os.ReadFile(filepath.Join(p.dir, "pgbouncer.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	_ = p.proc.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.proc.Kill()
		<-p.done
	}
}

// Restart stops pgbouncer and starts it again on the same port.
func (p *PgBouncer) Restart() {
	p.t.Helper()
	p.Stop()
	p.Start()
}

// URL is the URL of database dbname through pgbouncer.
func (p *PgBouncer) URL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, dbname)
}

// CreateDatabase creates an empty database on the test PostgreSQL server,
// dropped when the test ends, and returns its name and its direct URL.
// Tests through PgBouncer use a database of their own instead of a schema:
// PgBouncer does not pass search_path as a startup parameter.
func CreateDatabase(t testing.TB) (name, direct string) {
	t.Helper()
	base := testenv.PostgresURL(t)
	name = "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		testenv.Unavailable(t, "PostgreSQL create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	pu, _ := url.Parse(base)
	pu.Path = "/" + name
	return name, pu.String()
}

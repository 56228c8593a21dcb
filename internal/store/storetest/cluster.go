package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backhaul/backhaul/internal/testenv"
)

// Server is a PostgreSQL server a test started in a directory of its own.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	log  string
	Port int
	URL  string
	run  func(name string, args ...string) *exec.Cmd
}

// Cluster is a fresh PostgreSQL primary and a streaming replica made from it
// with pg_basebackup. The test's local server cannot be used for this: its
// pg_hba.conf need not allow replication connections, and a test must not
// edit /etc.
type Cluster struct {
	Primary *Server
	Replica *Server
}

// pgBin finds the directory of the PostgreSQL server binaries.
func pgBin() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", fmt.Errorf("initdb not found (install the PostgreSQL server package)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// runner returns how to run the server binaries: PostgreSQL refuses to run
// as root, so as root they run as the postgres user, who must own dir.
func runner(dir string) (func(string, ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return exec.Command, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return nil, err
	}
	return func(name string, args ...string) *exec.Cmd {
		return exec.Command(runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
	}, nil
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartCluster starts a primary and a streaming replica on free ports and
// waits until the replica streams. Both stop when the test ends. Without
// the PostgreSQL server binaries the test is Unavailable.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, err := pgBin()
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL server binaries: %v", err)
	}
	// Not t.TempDir: its parents are private to the test's user.
	root, err := os.MkdirTemp("", "backhaul-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	run, err := runner(root)
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL server binaries: %v", err)
	}
	mk := func(name string) *Server {
		port := freePort(t)
		return &Server{t: t, bin: bin, dir: filepath.Join(root, name), log: filepath.Join(root, name+".log"), Port: port,
			URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), run: run}
	}
	p, r := mk("primary"), mk("replica")
	// initdb's pg_hba.conf trusts local and 127.0.0.1 connections,
	// replication included, with --auth=trust.
	p.must("initdb", "-D", p.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nwal_level = replica\n"+
		"max_wal_senders = 4\nfsync = off\nshared_buffers = 16MB\nmax_connections = 60\nhot_standby = on\n", root)
	if err := appendFile(filepath.Join(p.dir, "postgresql.conf"), conf); err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(p.stopQuietly)
	r.must("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", "postgres", "-D", r.dir, "-R", "-X", "stream")
	if err := appendFile(filepath.Join(r.dir, "postgresql.auto.conf"), fmt.Sprintf("port = %d\n", r.Port)); err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(r.stopQuietly)
	c := &Cluster{Primary: p, Replica: r}
	c.WaitStreaming()
	return c
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	return errors.Join(err, f.Close())
}

func (s *Server) must(name string, args ...string) {
	s.t.Helper()
	out, err := s.run(filepath.Join(s.bin, name), args...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(s.log)
		s.t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, log)
	}
}

// Start starts the server and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	s.must("pg_ctl", "-D", s.dir, "-l", s.log, "-o", "-p "+strconv.Itoa(s.Port), "-w", "-t", "60", "start")
}

// Stop stops the server (fast shutdown: sessions are cut, nothing is lost).
func (s *Server) Stop() {
	s.t.Helper()
	s.must("pg_ctl", "-D", s.dir, "-m", "fast", "-w", "-t", "60", "stop")
}

func (s *Server) stopQuietly() {
	_ = s.run(filepath.Join(s.bin, "pg_ctl"), "-D", s.dir, "-m", "immediate", "-w", "stop").Run()
}

// Exec runs statements on the server as the superuser.
func (s *Server) Exec(q string, args ...any) {
	s.t.Helper()
	db, err := sql.Open("pgx", s.URL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// WaitStreaming waits until the primary reports the replica streaming.
func (c *Cluster) WaitStreaming() {
	t := c.Primary.t
	t.Helper()
	db, err := sql.Open("pgx", c.Primary.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&n)
		if err == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(c.Replica.log)
			t.Fatalf("replica not streaming after 60s (err %v)\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

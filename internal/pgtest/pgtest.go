// Package pgtest starts a private PostgreSQL server for one test: a
// cluster of its own (initdb) in a temporary directory, listening on a
// free loopback port with trust authentication and its unix socket in
// that directory. A test can stop it (pg_ctl stop -m fast), crash it
// (-m immediate) and start it again without touching the shared server
// that other test packages use at the same time.
//
// The server binaries are taken from /usr/lib/postgresql/<version>/bin
// (Debian's layout, the newest version) or else from PATH. Without them
// New skips the test, or fails it when the environment sets
// CALLTRAIL_REQUIRE_PG_BINARIES (CI does, so that the tests built on this
// package never vanish unnoticed).
//
// initdb and postgres refuse to run as root. When the test runs as root,
// they run as the "postgres" OS user, which then owns the directory.
package pgtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// RequireEnv, when set in the environment, turns missing server binaries
// from a skip into a failure.
const RequireEnv = "CALLTRAIL_REQUIRE_PG_BINARIES"

// debianBinGlob is where Debian and Ubuntu install the server binaries.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// A Cluster is one private PostgreSQL server. Its methods fail the test
// on error; call them from the test's goroutine.
type Cluster struct {
	t       testing.TB
	bin     string // the directory holding initdb, pg_ctl and postgres
	dir     string // owned by the server's user: data/, the socket, server.log
	port    int
	cred    *syscall.Credential // who the server runs as; nil: this process's user
	running bool
}

// New creates a cluster in a fresh temporary directory and starts it.
// The test's cleanup stops it (immediate mode) and removes the directory.
func New(t testing.TB) *Cluster {
	t.Helper()
	bin, err := findBin(debianBinGlob)
	if err != nil {
		unavailable(t, err.Error())
	}
	c := &Cluster{t: t, bin: bin}
	var uid, gid int = -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "running as root, and initdb refuses root, but there is no postgres user to run it as: "+err.Error())
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parents are private to this process's user, and
	// the server's user must reach the directory.
	c.dir, err = os.MkdirTemp("", "calltrail-pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(c.cleanup)
	if c.cred != nil {
		if err := os.Chown(c.dir, uid, gid); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}

	out, err := c.command(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync").CombinedOutput()
	if err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	// Settings go into postgresql.conf, where a later line wins: a
	// restart keeps them, and a new port is one more line.
	if err := c.configure(
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '"+c.dir+"'",
		"max_connections = 40",
		"shared_buffers = 32MB",
		// What is under test is the client's behaviour when the server
		// goes away, not PostgreSQL's durability across power cuts: an
		// immediate stop still recovers every committed transaction from
		// the WAL, which the OS holds.
		"fsync = off",
	); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// A free port may be taken between the check and the bind: try again
	// on another.
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		if err := c.configure(fmt.Sprintf("port = %d", c.port)); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		err = c.start()
		if err == nil {
			return c
		}
		if attempt == 3 {
			t.Fatalf("pgtest: %v", err)
		}
	}
}

// unavailable skips the test, or fails it when RequireEnv is set.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("pgtest: no private PostgreSQL server (%s is set): %s", RequireEnv, why)
	}
	t.Skipf("pgtest: no private PostgreSQL server (set %s to make this a failure): %s", RequireEnv, why)
}

// findBin returns the directory of the newest server binaries matching
// glob (by version number: 9.6 is older than 16), or else the directory
// of pg_ctl on PATH when initdb and postgres are beside it.
func findBin(glob string) (string, error) {
	dirs, _ := filepath.Glob(glob)
	var found []string
	for _, d := range dirs {
		if complete(d) {
			found = append(found, d)
		}
	}
	if len(found) > 0 {
		slices.SortFunc(found, func(a, b string) int { return compareVersions(versionOf(a), versionOf(b)) })
		return found[len(found)-1], nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil && complete(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no initdb, pg_ctl and postgres in %s or on PATH (Debian: apt-get install postgresql)", glob)
}

func complete(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionOf is the version part of …/postgresql/<version>/bin.
func versionOf(bin string) string { return filepath.Base(filepath.Dir(bin)) }

// compareVersions orders dotted version numbers numerically; a part that
// is not a number sorts before every number.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		x, y := -1, -1
		if i < len(pa) {
			if n, err := strconv.Atoi(pa[i]); err == nil {
				x = n
			}
		}
		if i < len(pb) {
			if n, err := strconv.Atoi(pb[i]); err == nil {
				y = n
			}
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// freePort returns a loopback port nobody listens on, chosen below the
// kernel's ephemeral range so that no outgoing connection or port-0
// listener of a parallel test takes it while the server is stopped.
func freePort() (int, error) {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				lo = n
			}
		}
	}
	for range 100 {
		p := 10000 + rand.IntN(lo-10000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("no free loopback port found")
}

func (c *Cluster) data() string    { return filepath.Join(c.dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.dir, "server.log") }

// command runs a server binary as the server's user, in the cluster's
// directory (initdb wants a working directory it can read), with an
// environment of its own: no PGPORT or PGDATA of the caller leaks in.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=" + c.bin + ":/usr/bin:/bin", "HOME=" + c.dir, "LC_ALL=C", "TZ=UTC"}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

func (c *Cluster) configure(lines ...string) error {
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("\n# pgtest\n" + strings.Join(lines, "\n") + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c *Cluster) start() error {
	out, err := c.command(filepath.Join(c.bin, "pg_ctl"), "start", "-D", c.data(), "-l", c.logFile(), "-w", "-t", "60").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, c.Log())
	}
	c.running = true
	return nil
}

func (c *Cluster) stop(mode string) error {
	out, err := c.command(filepath.Join(c.bin, "pg_ctl"), "stop", "-D", c.data(), "-m", mode, "-w", "-t", "60").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	c.running = false
	return nil
}

// DSN is the cluster's postgres:// URL (superuser postgres, database
// postgres, TCP on the loopback address).
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Addr is the server's host:port; it stays the same across restarts.
func (c *Cluster) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

// Running reports whether the server was started and not stopped since.
func (c *Cluster) Running() bool { return c.running }

// Start starts the stopped server again, on the same port, and returns
// once it accepts connections (after crash recovery, when it crashed).
func (c *Cluster) Start() {
	c.t.Helper()
	if c.running {
		c.t.Fatal("pgtest: Start: the server is running")
	}
	if err := c.start(); err != nil {
		c.t.Fatalf("pgtest: %v", err)
	}
}

// Stop shuts the server down as an administrator does (pg_ctl stop -m
// fast): open sessions are ended, transactions in progress rolled back,
// and it returns once the server is gone.
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.stop("fast"); err != nil {
		c.t.Fatalf("pgtest: %v", err)
	}
}

// Crash stops the server as a crash would (pg_ctl stop -m immediate: the
// processes quit at once, without a checkpoint); the next Start recovers
// from the WAL.
func (c *Cluster) Crash() {
	c.t.Helper()
	if err := c.stop("immediate"); err != nil {
		c.t.Fatalf("pgtest: %v", err)
	}
}

// Restart stops the server (fast) and starts it again.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.Stop()
	c.Start()
}

// Log returns the server's log so far.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(c.logFile())
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	return string(b)
}

func (c *Cluster) cleanup() {
	if c.running {
		if err := c.stop("immediate"); err != nil {
			c.t.Errorf("pgtest: cleanup: %v", err)
		}
	}
	if c.t.Failed() {
		log := c.Log()
		if len(log) > 8<<10 {
			log = "…" + log[len(log)-8<<10:]
		}
		c.t.Logf("pgtest: server log of %s:\n%s", c.Addr(), log)
	}
	os.RemoveAll(c.dir)
}

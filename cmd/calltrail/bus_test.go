package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calltrail/calltrail/internal/bus/bustest"
	"github.com/calltrail/calltrail/internal/netfault"
	"github.com/calltrail/calltrail/internal/sim"
	"github.com/calltrail/calltrail/internal/store"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func capturePaths(t *testing.T, sets ...string) []string {
	t.Helper()
	var paths []string
	for _, set := range sets {
		p, _ := filepath.Glob(filepath.Join("..", "..", "testdata", set, "*", "ami.log"))
		sort.Strings(p)
		paths = append(paths, p...)
	}
	if len(paths) == 0 {
		t.Fatal("no captures")
	}
	return paths
}

// TestBusKillEngine is the many-server deployment end to end, with real
// processes: two fake Asterisks, a collector beside each publishing to
// NATS JetStream, one engine consuming both into PostgreSQL. The engine is
// killed with SIGKILL again and again while it works; the database must
// end up holding exactly what replay computes from each server's stream:
// no call lost, none twice, every time identical, every call complete
// (no event was lost, so no gap may be claimed).
func TestBusKillEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite")
	}
	cfg := bustest.Config(t)
	bustest.Open(t, "", cfg) // creates the stream; deleted at the end
	dsn := envOr("CALLTRAIL_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	prefix := fmt.Sprintf("bus%08x_", rand.Uint32())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := store.OpenWith(ctx, dsn, store.Options{TablePrefix: prefix})
	if err != nil {
		t.Fatalf("postgres: %v (.ci/run starts it)", err)
	}
	defer st.Close()
	defer st.DropTables(context.Background())

	servers := []struct {
		id    string
		paths []string
	}{
		{"pbx1", capturePaths(t, "asterisk20")},
		{"pbx2", capturePaths(t, "asterisk22", "quality")},
	}
	dir := t.TempDir()
	want := map[string]string{} // server/call → leg times
	for _, s := range servers {
		var caps []*sim.Capture
		for _, p := range s.paths {
			c, err := sim.LoadCapture(p)
			if err != nil {
				t.Fatal(err)
			}
			caps = append(caps, c)
		}
		// What the sim process plays, as replay sees it.
		for id, c := range expected(t, (&sim.Server{Captures: caps, Gap: 50 * time.Millisecond}).Events()) {
			want[s.id+"/"+id] = legTimesOf(c) + fmt.Sprintf("\ncomplete=%v", c.Complete)
		}
		addr := freeAddr(t)
		startProc(t, append([]string{"sim", "--user", "lab", "--secret", "labpass", "--speed", "40", "--gap", "50ms", "--listen", addr}, s.paths...)...)
		startProc(t, "collect", "--ami", addr, "--user", "lab", "--server-id", s.id, "--nats", bustest.URL(),
			"--stream", cfg.Name, "--subject-prefix", cfg.Prefix, "--spool", filepath.Join(dir, "spool-"+s.id), "--log-level", "warn")
	}

	engine := func() *proc {
		return startProc(t, "serve", "--nats", bustest.URL(), "--nats-servers", "pbx1,pbx2",
			"--nats-stream", cfg.Name, "--nats-prefix", cfg.Prefix,
			"--db", dsn, "--table-prefix", prefix, "--journal", filepath.Join(dir, "journal"),
			"--agi", "off", "--log-level", "warn")
	}

	count := func() int {
		calls, err := st.Calls(ctx, store.Filter{Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		return len(calls)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	kills := 0
	e := engine()
	for count() < len(want) {
		if ctx.Err() != nil {
			t.Fatalf("stored %d of %d calls after %d kills:\n%s", count(), len(want), kills, e.out.String())
		}
		if kills < 20 {
			time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
			e.signal(syscall.SIGKILL)
			kills++
			e = engine()
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.signal(syscall.SIGTERM)
	if kills < 10 {
		t.Errorf("only %d kills happened before the calls were in", kills)
	}

	calls, err := st.Calls(ctx, store.Filter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != len(want) {
		t.Fatalf("stored %d calls, replay computes %d", len(calls), len(want))
	}
	for _, c := range calls {
		key := c.Server + "/" + c.ID
		w, ok := want[key]
		if !ok {
			t.Errorf("stored %s, which replay does not compute", key)
			continue
		}
		if got := legTimesOf(c) + fmt.Sprintf("\ncomplete=%v", c.Complete); got != w {
			t.Errorf("%s:\n%s\nwant:\n%s", key, got, w)
		}
	}
	t.Logf("%d calls from 2 servers through JetStream, engine killed %d times", len(calls), kills)
}

// A collector started while NATS is away follows Asterisk at once: the
// events wait in its spool and reach the stream when NATS comes.
func TestCollectBeforeNATS(t *testing.T) {
	cfg := bustest.Config(t)
	b := bustest.Open(t, "", cfg)
	px := netfault.New(t, "127.0.0.1:4222")
	px.SetUp(false)
	path := filepath.Join("..", "..", "testdata", "asterisk20", "S01", "ami.log")
	c, err := sim.LoadCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	startProc(t, "sim", "--user", "lab", "--secret", "labpass", "--fast", "--listen", addr, path)
	col := startProc(t, "collect", "--ami", addr, "--user", "lab", "--server-id", "pbx1", "--nats", "nats://"+px.Addr(),
		"--stream", cfg.Name, "--subject-prefix", cfg.Prefix, "--spool", filepath.Join(t.TempDir(), "spool"), "--log-level", "info")
	// The whole capture is spooled while NATS is away.
	spooled := func() bool { return strings.Contains(col.out.String(), "ami: connected") }
	for deadline := time.Now().Add(10 * time.Second); !spooled(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the collector never followed Asterisk:\n%s", col.out)
		}
	}
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if info, err := b.Stream.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("the stream holds %v messages while NATS was away (%v)", info.State.Msgs, err)
	}
	px.SetUp(true)
	want := uint64(len(c.Events)) // and the collector's connection marker
	for {
		info, err := b.Stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs > want {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the stream holds %d messages, want %d and a marker:\n%s", info.State.Msgs, want, col.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := col.out.String(); !strings.Contains(out, "waits for NATS") && !strings.Contains(out, "waiting for NATS") {
		t.Errorf("the collector did not say it waited for NATS:\n%s", col.out)
	}
}

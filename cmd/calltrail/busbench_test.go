package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calltrail/calltrail/internal/bus/bustest"
	"github.com/calltrail/calltrail/internal/store"
)

// TestBusThroughput measures the many-server deployment with real
// processes: CALLTRAIL_BUS_BENCH=N calls per server (N×86 events or so)
// on CALLTRAIL_BUS_SERVERS servers (2), each a sim --fast with a collector,
// into one engine on PostgreSQL. It prints how fast the collectors
// publish and how fast the engine turns the backlog into stored calls;
// docs/scale.md holds the figures. It asserts nothing about time.
func TestBusThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CALLTRAIL_BUS_BENCH"))
	if n == 0 {
		t.Skip("set CALLTRAIL_BUS_BENCH=calls per server to measure")
	}
	servers, _ := strconv.Atoi(os.Getenv("CALLTRAIL_BUS_SERVERS"))
	if servers == 0 {
		servers = 2
	}
	cfg := bustest.Config(t)
	b := bustest.Open(t, "", cfg)
	dsn := envOr("CALLTRAIL_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	prefix := fmt.Sprintf("bb%08x_", rand.Uint32())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	st, err := store.OpenWith(ctx, dsn, store.Options{TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer st.DropTables(context.Background())

	dir := t.TempDir()
	events := 0
	var start time.Time
	var ids []string
	for i := range servers {
		id := fmt.Sprintf("pbx%d", i+1)
		ids = append(ids, id)
		file := filepath.Join(dir, id+".log")
		gen := startProc(t, "gen", "--calls", strconv.Itoa(n), "--concurrency", "200", "--seed", strconv.Itoa(i+1), "--out", file)
		if err := gen.cmd.Wait(); err != nil {
			t.Fatalf("gen: %v\n%s", err, gen.out)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		n := bytes.Count(data, []byte("\nEvent: "))
		events += n
		t.Logf("%s: %d events, %.1f MB", id, n, float64(len(data))/1e6)
		addr := freeAddr(t)
		startProc(t, "sim", "--user", "lab", "--secret", "labpass", "--fast", "--listen", addr, file)
		startProc(t, "collect", "--ami", addr, "--user", "lab", "--server-id", id, "--nats", bustest.URL(),
			"--stream", cfg.Name, "--subject-prefix", cfg.Prefix, "--spool", filepath.Join(dir, "spool-"+id), "--log-level", "warn")
	}
	start = time.Now()
	// Wait until every event is in the stream (with each collector's
	// connection marker).
	for {
		info, err := b.Stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= uint64(events) {
			events = int(info.State.Msgs)
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the stream holds %d of %d events", info.State.Msgs, events)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pub := time.Since(start)
	t.Logf("published: %d events from %d servers in %v: %.0f events/s", events, servers, pub.Round(time.Millisecond), float64(events)/pub.Seconds())

	start = time.Now()
	if f := os.Getenv("CALLTRAIL_BUS_PROFILE"); f != "" {
		t.Setenv("CALLTRAIL_CPUPROFILE", f)
	}
	e := startProc(t, "serve", "--nats", bustest.URL(), "--nats-servers", strings.Join(ids, ","), "--nats-stream", cfg.Name, "--nats-prefix", cfg.Prefix,
		"--db", dsn, "--table-prefix", prefix, "--journal", filepath.Join(dir, "journal"), "--agi", "off", "--log-level", "warn")
	want := n * servers
	for {
		// One call at offset want-1: all are in.
		got, err := st.Calls(ctx, store.Filter{Offset: want - 1, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not all %d calls stored:\n%s", want, e.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	e.signal(syscall.SIGTERM)
	os.Unsetenv("CALLTRAIL_CPUPROFILE")
	t.Logf("engine: %d calls (%d events) stored in %v: %.0f events/s, %.0f calls/s", want, events, took.Round(time.Millisecond),
		float64(events)/took.Seconds(), float64(want)/took.Seconds())
}

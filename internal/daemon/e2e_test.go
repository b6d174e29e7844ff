package daemon

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/sim"
	"github.com/calltrail/calltrail/internal/store"
)

// captures lists every scenario capture in testdata.
func captures(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, set := range []string{"asterisk20", "asterisk22", "quality"} {
		paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", set, "*", "ami.log"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, paths...)
	}
	sort.Strings(out)
	if len(out) < 30 {
		t.Fatalf("only %d captures found", len(out))
	}
	return out
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// TestEveryCaptureIntoEveryDatabase is the daemon's contract: serve,
// following a fake Asterisk (sim) that plays every capture over a real
// AMI socket, stores exactly the calls replay computes from the same
// captures — in SQLite, PostgreSQL and MariaDB.
func TestEveryCaptureIntoEveryDatabase(t *testing.T) {
	paths := captures(t)
	want := map[string]*callgraph.Call{}
	var caps []*sim.Capture
	for _, p := range paths {
		for id, c := range replayCalls(t, "pbx1", p) {
			if want[id] != nil {
				t.Fatalf("call id %s in two captures", id)
			}
			want[id] = c
		}
		c, err := sim.LoadCapture(p)
		if err != nil {
			t.Fatal(err)
		}
		caps = append(caps, c)
	}
	pg := envOr("CALLTRAIL_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	my := envOr("CALLTRAIL_TEST_MYSQL", "mysql://root@tcp(127.0.0.1:3306)/test")
	dbs := []struct {
		name, dsn string
		writers   int
	}{
		{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "calls.db"), 1},
		{"postgres", pg, 1},
		{"mysql", my, 1},
		{"postgres, three writers", pg, 3},
		{"mysql, three writers", my, 3},
	}
	for _, db := range dbs {
		t.Run(db.name, func(t *testing.T) {
			if db.dsn == "off" {
				t.Skip("turned off by the environment")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			prefix := fmt.Sprintf("e%08x_", rand.Uint32())
			st, err := store.OpenWith(ctx, db.dsn, store.Options{TablePrefix: prefix})
			if err != nil {
				t.Fatalf("%s: %v (is it running? .ci/run starts it)", db.name, err)
			}
			defer st.Close()
			defer st.DropTables(context.Background())

			asterisk := &sim.Server{User: "lab", Secret: "labpass", Captures: caps, Fast: true, Gap: 100 * time.Millisecond}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go asterisk.Serve(l)
			defer asterisk.Close()
			cfg := ami.DefaultConfig()
			cfg.Username, cfg.Secret = "lab", "labpass"
			d, err := New(Options{
				Sources:         []Source{{ID: "pbx1", Addr: l.Addr().String(), Config: cfg}},
				Store:           st,
				CheckpointEvery: 50 * time.Millisecond,
				WriterDelay:     20 * time.Millisecond,
				WriterParallel:  db.writers,
			})
			if err != nil {
				t.Fatal(err)
			}
			rctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- d.Run(rctx) }()
			select {
			case <-asterisk.Done():
			case <-ctx.Done():
				t.Fatal("sim did not finish")
			}
			for !d.Status().Idle() {
				if ctx.Err() != nil {
					t.Fatalf("daemon not idle: %+v", d.Status())
				}
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got, err := st.Calls(ctx, store.Filter{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("stored %d calls, replay computes %d", len(got), len(want))
			}
			for _, c := range got {
				w := want[c.ID]
				if w == nil {
					t.Fatalf("stored a call %s replay does not have", c.ID)
				}
				if legTimes(c) != legTimes(w) || len(c.Connections) != len(w.Connections) || len(c.Segments) != len(w.Segments) {
					t.Errorf("call %s differs (complete %v gaps %+v):\nstored:\n%s\nreplay:\n%s", c.ID, c.Complete, c.Gaps, legTimes(c), legTimes(w))
				}
			}
		})
	}
}

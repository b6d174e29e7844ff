package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/gen"
	"github.com/calltrail/calltrail/internal/journal"
	"github.com/calltrail/calltrail/internal/pgtest"
	"github.com/calltrail/calltrail/internal/sim"
	"github.com/calltrail/calltrail/internal/store"
)

// pgOutage is how long TestPostgresServerStopped keeps the PostgreSQL
// server stopped; CALLTRAIL_PG_OUTAGE (a Go duration) overrides it, e.g.
// to 5s while working on the test.
var pgOutage = 30 * time.Second

// pgCrash is how long the same test keeps the server down after crashing
// it (pg_ctl stop -m immediate).
var pgCrash = time.Second

// syncBuffer is a log sink the daemon's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// replayStream is what the engine makes on its own of the events the sim
// plays: what the daemon must store.
func replayStream(t *testing.T, server string, events []sim.Event) map[string]*callgraph.Call {
	t.Helper()
	eng := callgraph.New(callgraph.Options{Server: server})
	out := map[string]*callgraph.Call{}
	for _, e := range events {
		m, err := ami.NewReader(bufio.NewReader(bytes.NewReader(e.Raw))).ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range eng.Handle(m, time.Now()) {
			if out[c.ID] != nil {
				t.Fatalf("replay completes call %s twice", c.ID)
			}
			out[c.ID] = c
		}
	}
	return out
}

// TestPostgresServerStopped is issue #7's "PostgreSQL stopped for 30 s in
// the middle of a run, then started: nothing lost". serve follows a fake
// Asterisk playing a stream of hundreds of overlapping calls into a
// private PostgreSQL server (internal/pgtest; the shared one is left
// alone). Early in the run the server crashes (pg_ctl stop -m immediate)
// and comes back a second later; then it is stopped (pg_ctl stop -m
// fast) for pgOutage while calls keep completing. Meanwhile the writer
// reports the outage in its status and its log and holds the calls; once
// the server is back they all land, and the database holds exactly what
// replay computes from the same stream: no call lost, none twice, every
// billsec identical.
func TestPostgresServerStopped(t *testing.T) {
	outage := pgOutage
	if v := os.Getenv("CALLTRAIL_PG_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CALLTRAIL_PG_OUTAGE: %v", err)
		}
		outage = d
	}
	pg := pgtest.New(t)
	began := time.Now()

	// About 600 calls, 60 at a time, played so that the stream lasts the
	// outage and 8 s more: calls complete before, during and after it.
	var stream bytes.Buffer
	o := gen.DefaultOptions()
	o.Calls, o.Concurrency, o.Seed = 600, 60, 7
	if _, err := gen.Write(&stream, o); err != nil {
		t.Fatal(err)
	}
	capture, err := sim.ReadCapture("generated", &stream)
	if err != nil {
		t.Fatal(err)
	}
	evs := capture.Events
	span := evs[len(evs)-1].Time.Sub(evs[0].Time)
	asterisk := &sim.Server{User: "lab", Secret: "labpass", Captures: []*sim.Capture{capture},
		Speed: span.Seconds() / (outage + 8*time.Second).Seconds()}
	want := replayStream(t, "pbx1", asterisk.Events())

	ctx, cancel := context.WithTimeout(context.Background(), outage+90*time.Second)
	defer cancel()
	st, err := store.Open(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	logs := &syncBuffer{}
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go asterisk.Serve(l)
	defer asterisk.Close()
	d, err := New(Options{
		Sources: []Source{{ID: "pbx1", Addr: l.Addr().String(), Config: cfg}},
		Store:   st, Journal: j,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()

	// waitUntil polls the daemon's status until cond holds.
	waitUntil := func(what string, limit time.Duration, cond func(Status) bool) Status {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			s := d.Status()
			if cond(s) {
				return s
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Fatalf("%s: not within %v; status %+v\nlog:\n%s", what, limit, s, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	healthy := func(s Status) bool { return !s.Writer.Unreachable && s.Writer.LastError == nil }

	waitUntil("the first calls stored", 20*time.Second, func(s Status) bool { return s.Writer.Saved >= 5 })

	// A crash of the database server.
	crashed := time.Now()
	saved := d.Status().Writer.Saved
	pg.Crash()
	waitUntil("the crash noticed", 10*time.Second, func(s Status) bool { return s.Writer.Unreachable })
	time.Sleep(time.Until(crashed.Add(pgCrash)))
	pg.Start()
	waitUntil("the writer healthy after the crash", 15*time.Second, func(s Status) bool {
		return healthy(s) && s.Writer.Saved > saved
	})

	// The server stopped for the whole outage.
	pg.Stop()
	stopped := time.Now()
	before := d.Status()
	// The writer saves one batch at a time: once it has found the server
	// gone, nothing can be saved until the server is back.
	noticed := waitUntil("the outage noticed", 10*time.Second, func(s Status) bool { return s.Writer.Unreachable })
	maxWaiting := 0
	for time.Since(stopped) < outage {
		s := d.Status()
		maxWaiting = max(maxWaiting, s.Writer.Waiting)
		if s.Writer.Saved != noticed.Writer.Saved {
			t.Fatalf("%d calls saved while the server was stopped", s.Writer.Saved-noticed.Writer.Saved)
		}
		time.Sleep(50 * time.Millisecond)
	}
	during := d.Status()
	completed := during.Sent - before.Sent
	if !during.Writer.Unreachable || !errors.Is(during.Writer.LastError, store.ErrUnreachable) {
		t.Errorf("writer status at the end of the outage: %+v, want unreachable", during.Writer)
	}
	// The stream spreads its calls evenly over the outage and 8 s more.
	if share := float64(len(want)) * outage.Seconds() / (outage + 8*time.Second).Seconds(); float64(completed) < share/3 {
		t.Errorf("%d calls completed during the outage; the stream should give about %.0f", completed, share)
	}
	if during.Writer.Waiting == 0 || maxWaiting > store.DefaultMaxQueue {
		t.Errorf("%d calls wait in the writer (at most %d), want some and at most MaxQueue %d", during.Writer.Waiting, maxWaiting, store.DefaultMaxQueue)
	}
	if lg := logs.String(); !strings.Contains(lg, `msg="store: save deferred" err="store: database unreachable, `) {
		t.Errorf("no log line says the database is unreachable:\n%s", lg)
	}

	pg.Start()
	restarted := time.Now()
	drained := waitUntil("the calls of the outage stored", 30*time.Second, func(s Status) bool {
		return s.Writer.Saved >= during.Sent
	})
	drain := time.Since(restarted)
	if !healthy(drained) {
		t.Errorf("writer status after the drain: %+v, want healthy", drained.Writer)
	}

	select {
	case <-asterisk.Done():
	case <-ctx.Done():
		t.Fatal("the stream did not finish")
	}
	final := waitUntil("every call stored", 30*time.Second, Status.Idle)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !healthy(final) || final.Writer.Rejected != 0 {
		t.Errorf("writer status at the end: %+v, want healthy, nothing rejected", final.Writer)
	}
	if n := strings.Count(logs.String(), `msg="store: database reachable again"`); n < 2 {
		t.Errorf("%d log lines say the database is back, want one per outage", n)
	}

	got, err := st.Calls(context.Background(), store.Filter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range got {
		if seen[c.ID] {
			t.Errorf("call %s stored twice", c.ID)
		}
		seen[c.ID] = true
		w := want[c.ID]
		if w == nil {
			t.Errorf("stored call %s that replay does not have", c.ID)
			continue
		}
		if legTimes(c) != legTimes(w) || len(c.Connections) != len(w.Connections) || len(c.Segments) != len(w.Segments) || c.Complete != w.Complete {
			t.Errorf("call %s (complete %v, gaps %+v):\nstored:\n%s\nreplay:\n%s", c.ID, c.Complete, c.Gaps, legTimes(c), legTimes(w))
		}
	}
	lost := 0
	for id := range want {
		if !seen[id] {
			lost++
			if lost <= 5 {
				t.Errorf("call %s lost", id)
			}
		}
	}
	if lost > 0 || len(got) != len(want) {
		t.Fatalf("stored %d calls, replay computes %d: %d lost", len(got), len(want), lost)
	}
	t.Logf("%d events, %d calls, all stored once and exact; crash: down %v; stop: down %v, %d calls completed meanwhile (at most %d waiting), %d stored after the restart, the outage's calls drained %v after it; %v in all",
		len(evs), len(want), pgCrash, outage.Round(time.Millisecond), completed, maxWaiting,
		final.Writer.Saved-before.Writer.Saved, drain.Round(time.Millisecond), time.Since(began).Round(100*time.Millisecond))
}

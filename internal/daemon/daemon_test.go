package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/journal"
	"github.com/calltrail/calltrail/internal/store"
)

// replayCalls is what the engine makes of a capture on its own: what the
// daemon must store.
func replayCalls(t *testing.T, server, path string) map[string]*callgraph.Call {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eng := callgraph.New(callgraph.Options{Server: server})
	r := ami.NewReader(bufio.NewReader(f))
	out := map[string]*callgraph.Call{}
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range eng.Handle(m, time.Now()) {
			out[c.ID] = c
		}
	}
	return out
}

// legTimes is what must be identical between the daemon and replay.
func legTimes(c *callgraph.Call) string {
	var parts []string
	for _, l := range c.Legs {
		parts = append(parts, fmt.Sprintf("%s %s ring=%.3f billsec=%.3f talk=%.3f %s", l.ID, l.Role, l.Ring, l.Billsec, l.Talk, l.Disposition))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

type fixture struct {
	asterisk *amitest.Server
	st       *store.Store
	d        *Daemon
	cancel   context.CancelFunc
	done     chan error
	agiAddr  string
	jdir     string
}

func start(t *testing.T, dir string, withJournal bool, agiOn bool) *fixture {
	t.Helper()
	return startWith(t, dir, withJournal, agiOn, nil)
}

// startWith is start with a last say on the daemon's options.
func startWith(t *testing.T, dir string, withJournal, agiOn bool, adjust func(*Options)) *fixture {
	t.Helper()
	ast := amitest.NewServer(amitest.Config{Username: "lab", Secret: "labpass"})
	t.Cleanup(ast.Close)
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "calls.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	opts := Options{
		Sources:         []Source{{ID: "pbx1", Addr: ast.Addr(), Config: cfg}},
		Store:           st,
		CheckpointEvery: 20 * time.Millisecond,
		WriterDelay:     10 * time.Millisecond,
	}
	if withJournal {
		jdir := filepath.Join(dir, "journal")
		j, err := journal.Open(jdir, journal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.Close() })
		opts.Journal = j
	}
	f := &fixture{asterisk: ast, st: st, jdir: filepath.Join(dir, "journal")}
	if agiOn {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		opts.AGIListener = l
		f.agiAddr = l.Addr().String()
	}
	if adjust != nil {
		adjust(&opts)
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.d, f.cancel, f.done = d, cancel, make(chan error, 1)
	go func() { f.done <- d.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := ast.WaitLogins(wctx, 1); err != nil {
		t.Fatalf("daemon never logged in: %v", err)
	}
	// Events flow once the client has turned them on: wait for that, or
	// the test's first events would go nowhere.
	for ast.Send(ami.NewMessage("Event", "TestReady")) == 0 {
		if wctx.Err() != nil {
			t.Fatal("the daemon's connection never took events")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return f
}

func (f *fixture) stop(t *testing.T) {
	t.Helper()
	f.cancel()
	select {
	case err := <-f.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
}

// waitCalls polls the database until it holds n calls.
func waitCalls(t *testing.T, st *store.Store, n int) []*callgraph.Call {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		calls, err := st.Calls(context.Background(), store.Filter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) >= n || time.Now().After(deadline) {
			return calls
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The daemon stores, over a real AMI socket, exactly the calls replay
// computes from the same capture.
func TestServeStoresWhatReplayComputes(t *testing.T) {
	for _, name := range []string{"asterisk20/S05", "asterisk20/S14", "asterisk22/P03"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", name, "ami.log")
			want := replayCalls(t, "pbx1", path)
			f := start(t, t.TempDir(), true, false)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.asterisk.Play(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			got := waitCalls(t, f.st, len(want))
			f.stop(t)
			if len(got) != len(want) {
				t.Fatalf("stored %d calls, replay computes %d", len(got), len(want))
			}
			for _, c := range got {
				w := want[c.ID]
				if w == nil {
					t.Fatalf("stored call %s that replay does not have", c.ID)
				}
				if legTimes(c) != legTimes(w) {
					t.Errorf("call %s:\nstored:\n%s\nreplay:\n%s", c.ID, legTimes(c), legTimes(w))
				}
				if c.Server != "pbx1" || !c.Complete {
					t.Errorf("call %s: server %q complete %v gaps %+v (logins %d, requests %+v)", c.ID, c.Server, c.Complete, c.Gaps, f.asterisk.Logins(), f.asterisk.Requests())
				}
			}
		})
	}
}

// A call in flight at shutdown is completed from the journal by the next
// start, and stored once.
func TestShutdownKeepsCallsInFlight(t *testing.T) {
	dir := t.TempDir()
	msgs := readCapture(t, filepath.Join("..", "..", "testdata", "asterisk20", "S06", "ami.log"))
	half := len(msgs) / 2

	f := start(t, dir, true, false)
	f.asterisk.Send(msgs[:half]...)
	time.Sleep(200 * time.Millisecond)
	f.stop(t)
	if calls := waitCalls(t, f.st, 0); len(calls) != 0 {
		t.Fatalf("%d calls stored before the call ended", len(calls))
	}
	f.st.Close()

	g := start(t, dir, true, false)
	g.asterisk.Send(msgs[half:]...)
	got := waitCalls(t, g.st, 1)
	g.stop(t)
	if len(got) != 1 {
		t.Fatalf("%d calls stored, want 1", len(got))
	}
	want := replayCalls(t, "pbx1", filepath.Join("..", "..", "testdata", "asterisk20", "S06", "ami.log"))
	w := want[got[0].ID]
	if w == nil || legTimes(got[0]) != legTimes(w) {
		t.Fatalf("recovered call:\n%s\nwant:\n%v", legTimes(got[0]), w)
	}
	// The restart is a gap in what Asterisk told us: the record says so.
	if got[0].Complete || len(got[0].Gaps) == 0 {
		t.Errorf("a call that spans a restart is marked complete")
	}
}

// Without a journal, a call in flight at shutdown is written incomplete
// rather than lost.
func TestShutdownWithoutJournalWritesIncomplete(t *testing.T) {
	dir := t.TempDir()
	msgs := readCapture(t, filepath.Join("..", "..", "testdata", "asterisk20", "S01", "ami.log"))
	f := start(t, dir, false, false)
	f.asterisk.Send(msgs[:len(msgs)/2]...)
	time.Sleep(200 * time.Millisecond)
	f.stop(t)
	calls := waitCalls(t, f.st, 1)
	if len(calls) != 1 || calls[0].Complete {
		t.Fatalf("want one incomplete call, got %d", len(calls))
	}
}

// The FastAGI tag handler attaches the account and tags to the leg, even
// though FastAGI and AMI are two connections.
func TestTagOverFastAGI(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "asterisk20", "S13", "ami.log")
	msgs := readCapture(t, path)
	var caller string
	for _, m := range msgs {
		if m.Event() == "Newchannel" {
			caller = m.Get("Uniqueid")
			break
		}
	}
	f := start(t, t.TempDir(), true, true)
	// The tag comes first: the dialplan's AGI can beat the AMI events.
	env := agitest.Env("agi://127.0.0.1:4573/tag?account=acme&customer=42&cdr=1", nil,
		agi.Var{Name: "agi_uniqueid", Value: caller})
	err := agitest.Run(context.Background(), f.agiAddr, env,
		agitest.Step{Command: "SET VARIABLE CDR(accountcode) acme", Reply: "200 result=1"},
		agitest.Step{Command: "SET VARIABLE CDR(userfield) customer=42", Reply: "200 result=1"},
		agitest.Step{Command: "SET VARIABLE CALLTRAIL_TAGGED 1", Reply: "200 result=1"},
	)
	if err != nil {
		t.Fatal(err)
	}
	f.asterisk.Send(msgs...)
	got := waitCalls(t, f.st, 1)
	f.stop(t)
	if len(got) != 1 {
		t.Fatalf("%d calls", len(got))
	}
	for _, l := range got[0].Legs {
		if l.ID == caller {
			if l.Account != "acme" || l.Tags["customer"] != "42" {
				t.Fatalf("caller leg account %q tags %v", l.Account, l.Tags)
			}
			if st := f.d.Status().AGI; st.Sessions != 1 || st.Failed != 0 {
				t.Errorf("FastAGI counters %+v, want the one session", st)
			}
			return
		}
	}
	t.Fatalf("caller leg %s not stored", caller)
}

func readCapture(t *testing.T, path string) []*ami.Message {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := ami.NewReader(bufio.NewReader(f))
	var out []*ami.Message
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.IsEvent() {
			out = append(out, m)
		}
	}
}

// The connection drops mid-call and the call ends while it is down: after
// the reconnect the daemon asks Asterisk which channels are alive, learns
// that none are, and stores the call at once, flagged and closed at the
// last moment it was known alive.
func TestResyncAfterReconnect(t *testing.T) {
	msgs := readCapture(t, filepath.Join("..", "..", "testdata", "asterisk20", "S01", "ami.log"))
	f := start(t, t.TempDir(), true, false)
	f.asterisk.HandleList("CoreShowChannels") // nothing alive any more
	half := len(msgs) / 2
	f.asterisk.Send(msgs[:half]...)
	time.Sleep(100 * time.Millisecond)
	f.asterisk.Drop()
	got := waitCalls(t, f.st, 1)
	f.stop(t)
	if len(got) != 1 {
		t.Fatalf("%d calls stored after the reconnect, want the one in flight", len(got))
	}
	c := got[0]
	if c.Complete || len(c.Gaps) == 0 {
		t.Fatalf("call across a lost connection stored as complete")
	}
	estimated := 0
	for _, g := range c.Gaps {
		estimated += len(g.Estimated)
	}
	if estimated == 0 {
		t.Errorf("gaps %+v list no estimated time", c.Gaps)
	}
}

// With a retention, the journal segments no open call needs are deleted
// once the calls before them are in the database; what remains still
// recovers.
func TestJournalRetention(t *testing.T) {
	dir := t.TempDir()
	ast := amitest.NewServer(amitest.Config{Username: "lab", Secret: "labpass"})
	defer ast.Close()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "calls.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jdir := filepath.Join(dir, "journal")
	j, err := journal.Open(jdir, journal.Options{SegmentSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	d, err := New(Options{
		Sources: []Source{{ID: "pbx1", Addr: ast.Addr(), Config: cfg}},
		Store:   st, Journal: j, JournalRetention: time.Nanosecond,
		CheckpointEvery: 20 * time.Millisecond, WriterDelay: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := ast.WaitLogins(wctx, 1); err != nil {
		t.Fatal(err)
	}
	for ast.Send(ami.NewMessage("Event", "TestReady")) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "asterisk20", "S14", "ami.log"))
	if err != nil {
		t.Fatal(err)
	}
	ast.Play(bytes.NewReader(data))
	waitCalls(t, st, 20)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(jdir, "journal-00000001.log")); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first journal segment was never pruned")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(jdir)
	if len(entries) == 0 {
		t.Fatal("pruning removed the segment being written")
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/journal"
	"github.com/calltrail/calltrail/internal/sim"
	"github.com/calltrail/calltrail/internal/store"
)

// The test binary doubles as the calltrail binary, so that the fault tests
// can kill -9 a real serve process without building one.
func TestMain(m *testing.M) {
	if os.Getenv("CALLTRAIL_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// proc is a calltrail process started from the test binary; out holds
// what it writes, readable while it runs.
type proc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startProc runs calltrail with args until the test ends (then it is
// killed, if it still runs).
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CALLTRAIL_TEST_AS_MAIN=1", "CALLTRAIL_AMI_SECRET=labpass")
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, out: out}
	t.Cleanup(func() { p.signal(syscall.SIGKILL) })
	return p
}

func startServe(t *testing.T, amiAddr, db, journalDir string) *proc {
	t.Helper()
	return startProc(t, "serve", "--ami", amiAddr, "--user", "lab", "--secret", "labpass",
		"--db", db, "--journal", journalDir, "--agi", "off", "--log-level", "info")
}

// signal sends sig and waits for the process to end, unless it has.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(sig)
		p.cmd.Wait()
	}
}

func (p *proc) kill(t *testing.T) { p.signal(syscall.SIGKILL) }

// term stops the process with SIGTERM and fails the test unless it exits
// cleanly within 30 s.
func (p *proc) term(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s exited with %v:\n%s", p.cmd.Args[1], err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("%s did not stop on SIGTERM:\n%s", p.cmd.Args[1], p.out.String())
	}
}

// journaled counts the Asterisk events in the journal (calltrail's own
// markers and resync lists left out).
func journaled(dir string) int {
	return countJournaled(dir)
}

// skipped reports whether the journal count leaves a message out.
func skipped(data []byte) bool {
	return bytes.HasPrefix(data, []byte("Event: ami.")) || bytes.HasPrefix(data, []byte("Event: calltrail.")) ||
		bytes.HasPrefix(data, []byte("Event: CoreShowChannel")) || bytes.HasPrefix(data, []byte("Event: FullyBooted"))
}

// countable is how many of the sim's first n events the journal count
// sees.
func countable(events []sim.Event, n int) int {
	c := 0
	for _, e := range events[:n] {
		if !skipped(e.Raw) {
			c++
		}
	}
	return c
}

func countJournaled(dir string) int {
	rd, err := journal.NewReader(dir, journal.Position{})
	if err != nil {
		return 0
	}
	defer rd.Close()
	n := 0
	for {
		r, _, err := rd.Next()
		if err != nil {
			return n
		}
		if skipped(r.Data) {
			continue
		}
		n++
	}
}

// missing lists the events (index: name and timestamp) not in the journal.
func missing(dir string, events []sim.Event) []string {
	key := func(data []byte) string {
		m, err := ami.NewReader(bufio.NewReader(bytes.NewReader(data))).ReadMessage()
		if err != nil {
			return ""
		}
		return m.Event() + "@" + m.Get("Timestamp") + "/" + m.Get("Uniqueid")
	}
	have := map[string]int{}
	rd, err := journal.NewReader(dir, journal.Position{})
	if err == nil {
		for {
			r, _, err := rd.Next()
			if err != nil {
				break
			}
			have[key(r.Data)]++
		}
		rd.Close()
	}
	var out []string
	for i, e := range events {
		if skipped(e.Raw) {
			continue
		}
		k := key(e.Raw)
		if have[k] > 0 {
			have[k]--
			continue
		}
		out = append(out, fmt.Sprintf("%d:%s", i, k))
	}
	return out
}

// faultCaptures is the stream the fault tests play: every capture, one
// after another.
func faultCaptures(t *testing.T) []*sim.Capture {
	t.Helper()
	var caps []*sim.Capture
	for _, set := range []string{"asterisk20", "asterisk22", "quality"} {
		paths, _ := filepath.Glob(filepath.Join("..", "..", "testdata", set, "*", "ami.log"))
		sort.Strings(paths)
		for _, p := range paths {
			c, err := sim.LoadCapture(p)
			if err != nil {
				t.Fatal(err)
			}
			caps = append(caps, c)
		}
	}
	return caps
}

// expected is what replay computes from exactly the events the sim plays.
func expected(t *testing.T, events []sim.Event) map[string]*callgraph.Call {
	t.Helper()
	eng := callgraph.New(callgraph.Options{Server: "127.0.0.1"})
	out := map[string]*callgraph.Call{}
	for _, e := range events {
		m, err := ami.NewReader(bufio.NewReader(bytes.NewReader(e.Raw))).ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range eng.Handle(m, time.Now()) {
			out[c.ID] = c
		}
	}
	return out
}

func legTimesOf(c *callgraph.Call) string {
	var parts []string
	for _, l := range c.Legs {
		parts = append(parts, fmt.Sprintf("%s ring=%.3f billsec=%.3f %s", l.ID, l.Ring, l.Billsec, l.Disposition))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

func storedCalls(t *testing.T, db string) []*callgraph.Call {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	calls, err := st.Calls(context.Background(), store.Filter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// TestKillNineExact kills serve with SIGKILL at 20 random events of the
// stream; the fake Asterisk holds the stream while serve is down, as if no
// event were lost. The database must hold exactly what replay computes:
// no call lost, none twice, every billsec identical.
func TestKillNineExact(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite")
	}
	caps := faultCaptures(t)
	asterisk := &sim.Server{User: "lab", Secret: "labpass", Captures: caps, Fast: true, Gap: 50 * time.Millisecond, AuthFailDelay: time.Millisecond}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go asterisk.Serve(l)
	defer asterisk.Close()
	events := asterisk.Events()
	want := expected(t, events)

	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "calls.db")
	jdir := filepath.Join(dir, "journal")
	rng := rand.New(rand.NewPCG(7, 11))
	kills := map[int]bool{}
	for len(kills) < 20 {
		kills[1+rng.IntN(len(events)-2)] = true
	}
	points := make([]int, 0, len(kills))
	for k := range kills {
		points = append(points, k)
	}
	sort.Ints(points)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proc := startServe(t, l.Addr().String(), db, jdir)
	for _, k := range points {
		asterisk.PauseAt(k)
		if _, err := asterisk.WaitPaused(ctx); err != nil {
			t.Fatalf("pause at %d: %v\n%s", k, err, proc.out.String())
		}
		// Kill only once serve has journaled every event it was sent.
		for journaled(jdir) < countable(events, k) || len(missing(jdir, events[max(k-50, 0):k])) > 0 {
			if ctx.Err() != nil {
				if d := os.Getenv("FAULT_KEEP"); d != "" {
					exec.Command("cp", "-r", jdir, d).Run()
				}
				t.Fatalf("serve journaled %d of %d events (sim sent %d, connections %+v), missing %v:\n%s", journaled(jdir), countable(events, k), asterisk.Sent(), asterisk.Conns(), missing(jdir, events[:k]), proc.out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		proc.kill(t)
		if m := missing(jdir, events[max(k-50, 0):k]); len(m) > 0 {
			t.Fatalf("after the kill, the journal lacks %v", m)
		}
		proc = startServe(t, l.Addr().String(), db, jdir)
		if os.Getenv("FAULT_DEBUG") != "" {
			for i := 0; i < 30; i++ {
				if m := missing(jdir, events[max(k-50, 0):k]); len(m) > 0 {
					t.Fatalf("%d ms after the restart, the journal lacks %v:\n%s", i*10, m, proc.out.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		// Go on once the fake Asterisk has seen the dead connection go
		// and the new one log in: a write into the dead socket would
		// otherwise "deliver" an event nobody reads. The next PauseAt
		// lets the player go on (a Resume here would race it past the
		// next pause point).
		waitSwitch(t, ctx, asterisk, proc)
	}
	asterisk.Resume()
	select {
	case <-asterisk.Done():
	case <-ctx.Done():
		t.Fatalf("the stream did not finish:\n%s", proc.out.String())
	}
	for journaled(jdir) < countable(events, len(events)) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	proc.term(t)

	got := storedCalls(t, db)
	if len(got) != len(want) {
		t.Fatalf("stored %d calls, replay computes %d", len(got), len(want))
	}
	flagged := 0
	for _, c := range got {
		w := want[c.ID]
		if w == nil {
			t.Fatalf("stored call %s that replay does not have", c.ID)
		}
		if legTimesOf(c) != legTimesOf(w) || len(c.Connections) != len(w.Connections) || len(c.Segments) != len(w.Segments) {
			t.Errorf("call %s:\nstored:\n%s\nreplay:\n%s", c.ID, legTimesOf(c), legTimesOf(w))
		}
		if !c.Complete {
			flagged++
		}
	}
	t.Logf("%d kills, %d calls, all exact; %d calls spanned a restart and say so", len(points), len(got), flagged)
}

// TestKillNineWithDowntime kills serve at random moments while the fake
// Asterisk goes on playing, as a real one would: what Asterisk said while
// serve was down is lost. No call may be stored twice; a call that ended
// before a kill is exact; a call that spans a downtime is stored, flagged,
// and never billed more than it lasted.
func TestKillNineWithDowntime(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite")
	}
	caps := faultCaptures(t)
	asterisk := &sim.Server{User: "lab", Secret: "labpass", Captures: caps, Speed: 25, Lossy: true, Gap: 50 * time.Millisecond, AuthFailDelay: time.Millisecond}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go asterisk.Serve(l)
	defer asterisk.Close()
	events := asterisk.Events()
	want := expected(t, events)

	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "calls.db")
	jdir := filepath.Join(dir, "journal")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(3, 5))

	type downtime struct{ from, to int } // event indexes the sim reached
	var downs []downtime
	proc := startServe(t, l.Addr().String(), db, jdir)
	for i := 0; i < 20; i++ {
		select {
		case <-asterisk.Done():
		case <-time.After(time.Duration(100+rng.IntN(400)) * time.Millisecond):
		}
		if isDone(asterisk) {
			break
		}
		proc.kill(t)
		from := asterisk.Sent()
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		proc = startServe(t, l.Addr().String(), db, jdir)
		downs = append(downs, downtime{from, asterisk.Sent()})
	}
	select {
	case <-asterisk.Done():
	case <-ctx.Done():
		t.Fatalf("the stream did not finish:\n%s", proc.out.String())
	}
	time.Sleep(500 * time.Millisecond)
	proc.term(t)

	// Where each expected call's events lie in the stream.
	first, last := map[string]int{}, map[string]int{}
	eng := callgraph.New(callgraph.Options{})
	for i, e := range events {
		m, _ := ami.NewReader(bufio.NewReader(bytes.NewReader(e.Raw))).ReadMessage()
		if id := m.Get("Linkedid"); id != "" {
			if _, ok := first[id]; !ok {
				first[id] = i
			}
		}
		for _, c := range eng.Handle(m, time.Now()) {
			last[c.ID] = i
		}
	}
	lost := lostEvents(asterisk, len(events))
	got := storedCalls(t, db)
	seen := map[string]bool{}
	for _, c := range got {
		if seen[c.ID] {
			t.Fatalf("call %s stored twice", c.ID)
		}
		seen[c.ID] = true
	}
	byID := map[string]*callgraph.Call{}
	for _, c := range got {
		byID[c.ID] = c
	}
	exact, flaggedOK := 0, 0
	for id, w := range want {
		// Touched: an event of the call was lost, or the call was open
		// when serve went down (its engine state had to come back from
		// the journal and a snapshot).
		touched := false
		for i := first[id]; i <= last[id] && i < len(lost); i++ {
			if lost[i] {
				touched = true
			}
		}
		for _, d := range downs {
			if first[id] < d.from && last[id] >= d.from-1 {
				touched = true
			}
		}
		c := byID[id]
		if !touched {
			if c == nil || legTimesOf(c) != legTimesOf(w) {
				t.Errorf("call %s, clear of every downtime, is not exact", id)
				continue
			}
			exact++
			continue
		}
		if c == nil {
			continue // wholly inside a downtime: nobody saw it
		}
		if c.Complete && legTimesOf(c) != legTimesOf(w) {
			t.Errorf("call %s spans a downtime, is wrong, and is marked complete", id)
		}
		bill := map[string]float64{}
		for _, l := range w.Legs {
			bill[l.ID] = float64(l.Billsec)
		}
		for _, l := range c.Legs {
			if b, ok := bill[l.ID]; ok && float64(l.Billsec) > b+0.001 {
				t.Errorf("call %s leg %s billed %.3f s, it lasted %.3f s", id, l.ID, l.Billsec, b)
				if os.Getenv("FAULT_DEBUG") != "" {
					for _, x := range w.Legs {
						if x.ID == l.ID {
							t.Logf("  want created %v answered %v ended %v", x.Created, x.Answered, x.Ended)
						}
					}
					t.Logf("  got  created %v answered %v ended %v gaps %+v", l.Created, l.Answered, l.Ended, c.Gaps)
				}
			}
		}
		flaggedOK++
	}
	t.Logf("%d downtimes; %d calls exact, %d touched by a downtime stored and flagged or exact, %d stored in all", len(downs), exact, flaggedOK, len(got))
	if len(downs) < 10 {
		t.Errorf("only %d downtimes happened before the stream ended", len(downs))
	}
}

// waitSwitch waits until every connection but the newest is closed and
// the newest has logged in.
func waitSwitch(t *testing.T, ctx context.Context, s *sim.Server, proc *proc) {
	t.Helper()
	for {
		conns := s.Conns()
		ok := len(conns) > 0 && !conns[len(conns)-1].Closed
		for _, c := range conns[:max(len(conns)-1, 0)] {
			ok = ok && c.Closed
		}
		if ok && len(conns) > 1 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("serve did not reconnect:\n%s", proc.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lostEvents lists the events no connection was sent: those of the
// downtimes.
func lostEvents(s *sim.Server, total int) []bool {
	got := make([]bool, total)
	for _, c := range s.Conns() {
		for i := max(c.First, 0); c.First >= 0 && i < c.Next && i < total; i++ {
			got[i] = true
		}
	}
	lost := make([]bool, total)
	for i := range got {
		lost[i] = !got[i]
	}
	return lost
}

func isDone(s *sim.Server) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

package daemon

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

// The live view shows a call while it is up, from the engine that follows
// the server, and forgets it once it is stored.
func TestLive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join("..", "..", "testdata", "asterisk20", "S01", "ami.log")
	msgs := readCapture(t, path)
	// Play up to the moment both parties talk.
	answered := -1
	for i, m := range msgs {
		if m.Event() == "BridgeEnter" {
			answered = i
		}
	}
	if answered < 0 {
		t.Fatal("S01 has no BridgeEnter")
	}
	f := start(t, dir, true, false)
	defer f.stop(t)
	f.asterisk.Send(msgs[:answered+1]...)

	var live []*callgraph.Call
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		live = f.d.Live()
		if len(live) == 1 && len(live[0].Legs) == 2 && live[0].Legs[1].Disposition == callgraph.DispositionUp {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(live) != 1 || len(live[0].Legs) != 2 {
		t.Fatalf("live: %d calls, want the one up", len(live))
	}
	c := live[0]
	if c.Server != "pbx1" || c.Complete || c.Disposition != "ANSWERED" {
		t.Errorf("live call: server %q complete %v disposition %q", c.Server, c.Complete, c.Disposition)
	}
	for _, l := range c.Legs {
		if l.Disposition != callgraph.DispositionUp {
			t.Errorf("leg %s (%s) is %q, want UP", l.ID, l.Role, l.Disposition)
		}
	}

	f.asterisk.Send(msgs[answered+1:]...)
	waitCalls(t, f.st, 1)
	if live := f.d.Live(); len(live) != 0 {
		t.Errorf("after the hangup %d calls are still live", len(live))
	}

	// The status counts what happened, for /metrics.
	want := map[string]int64{}
	for _, m := range msgs {
		want[m.Event()]++
	}
	var st Status
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		st = f.d.Status()
		if len(st.Sources) == 1 && st.Sources[0].EventsByType["Hangup"] == want["Hangup"] {
			break
		}
	}
	src := st.Sources[0]
	for _, name := range []string{"Newchannel", "DialBegin", "BridgeEnter", "Hangup"} {
		if src.EventsByType[name] != want[name] {
			t.Errorf("%s events counted %d, the capture has %d", name, src.EventsByType[name], want[name])
		}
	}
	if src.CallsByDisposition["ANSWERED"] != 1 || src.Reconnects != 0 {
		t.Errorf("calls by disposition %v, reconnects %d", src.CallsByDisposition, src.Reconnects)
	}
	if st.JournalBytes == 0 || st.Writer.Writes.Count == 0 {
		t.Errorf("journal %d bytes, %d writes timed", st.JournalBytes, st.Writer.Writes.Count)
	}
}

// A peer that invents event names cannot grow the metrics without end:
// past maxEventTypes names, the rest count as "other".
func TestEventTypesBounded(t *testing.T) {
	p := &pipeline{}
	for i := range maxEventTypes + 44 {
		p.count(ami.NewMessage("Event", fmt.Sprintf("Made%d", i)))
	}
	p.count(ami.NewMessage("Event", "Made0"))
	if len(p.byType) != maxEventTypes+1 || p.byType["other"] != 44 || p.byType["Made0"] != 2 {
		t.Fatalf("%d names, other %d, Made0 %d", len(p.byType), p.byType["other"], p.byType["Made0"])
	}
}

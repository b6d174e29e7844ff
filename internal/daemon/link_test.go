package daemon

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
)

// A call that crosses two Asterisk servers over a SIP trunk is stored as
// two calls, one per server, each linked to the other through the legs
// that are the two ends of the trunk's dialog.
func TestCallAcrossTwoServersIsLinked(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "asterisk20", "S01", "ami.log")
	first := readCapture(t, path)
	// The same call seen on the next server: other channels, and the leg
	// that comes in over the trunk carries the Call-ID of the leg pbx1
	// sent out (1002 on pbx1 stands for the trunk).
	const (
		callerDialog = "7129a00ff0db@lab-1001"
		calleeDialog = "252b91311e30d2ba7c9412ba6407c060@127.0.0.1:5060"
	)
	rename := map[string]string{
		"1795333490.0": "1795339999.0", "1795333490.1": "1795339999.1",
		calleeDialog: "d00d@pbx2", callerDialog: calleeDialog,
	}
	var second []*ami.Message
	for _, m := range first {
		c := m.Clone()
		for i, f := range c.Fields {
			if v, ok := rename[f.Value]; ok {
				c.Fields[i].Value = v
			}
		}
		second = append(second, c)
	}

	dir := t.TempDir()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "calls.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	var srcs []Source
	var asterisks []*amitest.Server
	for _, id := range []string{"pbx1", "pbx2"} {
		a := amitest.NewServer(amitest.Config{Username: "lab", Secret: "labpass"})
		defer a.Close()
		asterisks = append(asterisks, a)
		srcs = append(srcs, Source{ID: id, Addr: a.Addr(), Config: cfg})
	}
	d, err := New(Options{Sources: srcs, Store: st, CheckpointEvery: 20 * time.Millisecond, WriterDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for _, a := range asterisks {
		for a.Send(ami.NewMessage("Event", "TestReady")) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	asterisks[0].Send(first...)
	waitCalls(t, st, 1) // pbx1's call is stored before pbx2's completes
	asterisks[1].Send(second...)

	var calls []*callgraph.Call
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		calls, err = st.Calls(context.Background(), store.Filter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) == 2 && len(calls[0].Linked) > 0 && len(calls[1].Linked) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	byServer := map[string]*callgraph.Call{}
	for _, c := range calls {
		byServer[c.Server] = c
	}
	a, b := byServer["pbx1"], byServer["pbx2"]
	if a == nil || b == nil {
		t.Fatalf("stored %d calls, want one per server", len(calls))
	}
	wantA := []callgraph.Link{{Server: "pbx2", CallID: b.ID, Leg: "1795339999.0", Via: "1795333490.1", SIPCallID: calleeDialog}}
	wantB := []callgraph.Link{{Server: "pbx1", CallID: a.ID, Leg: "1795333490.1", Via: "1795339999.0", SIPCallID: calleeDialog}}
	if !slices.Equal(a.Linked, wantA) || !slices.Equal(b.Linked, wantB) {
		t.Fatalf("links:\npbx1 %+v\npbx2 %+v\nwant\npbx1 %+v\npbx2 %+v", a.Linked, b.Linked, wantA, wantB)
	}
	// The link changes nothing else: pbx1's call is what it was.
	want := replayCalls(t, "pbx1", path)[a.ID]
	if legTimes(a) != legTimes(want) {
		t.Errorf("pbx1's call changed:\n%s\nwant\n%s", legTimes(a), legTimes(want))
	}
}

package callgraph_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

// aliveAt lists the channels a CoreShowChannels would report after the
// first n events: what Asterisk had alive then, with state and bridge.
func aliveAt(msgs []*ami.Message, n int) []*ami.Message {
	type ch struct {
		m      *ami.Message
		state  string
		bridge string
		born   time.Time
	}
	alive := map[string]*ch{}
	var order []string
	var now time.Time
	for _, m := range msgs[:n] {
		if sec, usec, ok := m.Timestamp(); ok {
			now = time.Unix(sec, usec*1000)
		}
		uid := m.Get("Uniqueid")
		switch m.Event() {
		case "Newchannel":
			alive[uid] = &ch{m: m, state: m.Get("ChannelState"), born: now}
			order = append(order, uid)
		case "Newstate":
			if c := alive[uid]; c != nil {
				c.state = m.Get("ChannelState")
			}
		case "BridgeEnter":
			if c := alive[uid]; c != nil {
				c.bridge = m.Get("BridgeUniqueid")
			}
		case "BridgeLeave":
			if c := alive[uid]; c != nil {
				c.bridge = ""
			}
		case "Hangup":
			delete(alive, uid)
		}
	}
	var out []*ami.Message
	for _, uid := range order {
		c := alive[uid]
		if c == nil {
			continue
		}
		age := now.Sub(c.born)
		out = append(out, ami.NewMessage(
			"Event", "CoreShowChannel", "Channel", c.m.Get("Channel"), "ChannelState", c.state,
			"CallerIDNum", c.m.Get("CallerIDNum"), "Context", c.m.Get("Context"), "Exten", c.m.Get("Exten"),
			"Uniqueid", uid, "Linkedid", c.m.Get("Linkedid"), "BridgeId", c.bridge,
			"Duration", fmt.Sprintf("%02d:%02d:%02d", int(age.Hours()), int(age.Minutes())%60, int(age.Seconds())%60),
		))
	}
	return out
}

// A lost connection: events from..to never arrive; then the client
// reconnects and the daemon feeds the snapshot. Calls that ended before the
// gap are exact, calls touched by it are flagged and never billed more than
// they lasted, calls that begin after it are exact.
func TestResyncAfterGap(t *testing.T) {
	msgs := readMessages(t, filepath.Join("..", "testdata", "asterisk20", "S14", "ami.log"))
	exact := map[string]*callgraph.Call{}
	var exactEnd = map[string]int{}
	eng := callgraph.New(callgraph.Options{})
	for i, m := range msgs {
		for _, c := range eng.Handle(m, time.Time{}) {
			exact[c.ID] = c
			exactEnd[c.ID] = i
		}
	}
	firstEvent := map[string]int{}
	for i, m := range msgs {
		if id := m.Get("Linkedid"); id != "" {
			if _, ok := firstEvent[id]; !ok {
				firstEvent[id] = i
			}
		}
	}
	for _, cut := range []struct{ from, to int }{{200, 260}, {500, 700}, {900, 905}, {1200, 1500}} {
		t.Run(fmt.Sprintf("events %d-%d lost", cut.from, cut.to), func(t *testing.T) {
			eng := callgraph.New(callgraph.Options{})
			var calls []*callgraph.Call
			// Events arrive when Asterisk stamped them: no skew.
			handle := func(m *ami.Message) {
				arrival := time.Time{}
				if sec, usec, ok := m.Timestamp(); ok {
					arrival = time.Unix(sec, usec*1000)
				}
				calls = append(calls, eng.Handle(m, arrival)...)
			}
			for _, m := range msgs[:cut.from] {
				handle(m)
			}
			handle(ami.NewMessage("Event", callgraph.EventDisconnected, "Reason", "EOF"))
			// The connection comes back when the first event after the gap
			// is sent.
			back := msgs[cut.to].Get("Timestamp")
			handle(ami.NewMessage("Event", callgraph.EventConnected, "Connection", "2", "Timestamp", back))
			for _, m := range callgraph.SnapshotMessages(aliveAt(msgs, cut.to), callgraph.ResyncActionID+"-1") {
				handle(m)
			}
			for _, m := range msgs[cut.to:] {
				handle(m)
			}
			beforeFlush := len(calls)
			calls = append(calls, eng.Flush(time.Time{})...)
			for _, c := range calls[beforeFlush:] {
				t.Errorf("call %s was still open at the end of the stream: the resync did not close it (gaps %+v)", c.ID, c.Gaps)
			}
			got := map[string]*callgraph.Call{}
			for _, c := range calls {
				if got[c.ID] != nil {
					t.Fatalf("call %s written twice", c.ID)
				}
				got[c.ID] = c
			}
			spanning := 0
			defer func() {
				if spanning == 0 {
					t.Errorf("no call spans events %d-%d: the cut tests nothing", cut.from, cut.to)
				}
			}()
			for id, w := range exact {
				g := got[id]
				start, end := firstEvent[id], exactEnd[id]
				switch {
				case end < cut.from:
					if g == nil || !g.Complete || legTimes(g) != legTimes(w) {
						t.Errorf("call %s ended before the gap but differs", id)
					}
				case start >= cut.to:
					if g == nil || !g.Complete || legTimes(g) != legTimes(w) {
						t.Errorf("call %s began after the gap but differs", id)
					}
				case start >= cut.from && end < cut.to:
					// Entirely inside the gap: nobody saw it.
				default:
					spanning++
					if g == nil {
						t.Errorf("call %s spans the gap and was lost", id)
						continue
					}
					if g.Complete {
						t.Errorf("call %s spans the gap but is marked complete", id)
					}
					bill := map[string]float64{}
					for _, l := range w.Legs {
						bill[l.ID] = float64(l.Billsec)
					}
					for _, l := range g.Legs {
						if want, ok := bill[l.ID]; ok && float64(l.Billsec) > want+0.001 {
							t.Errorf("call %s leg %s billed %.3f s, it lasted %.3f s", id, l.ID, l.Billsec, want)
						}
					}
				}
			}
		})
	}
}

func legTimes(c *callgraph.Call) string {
	s := ""
	for _, l := range c.Legs {
		s += l.ID + " " + strconv.FormatFloat(float64(l.Ring), 'f', 3, 64) + " " + strconv.FormatFloat(float64(l.Billsec), 'f', 3, 64) + "\n"
	}
	return s
}

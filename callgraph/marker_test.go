package callgraph_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

// feed runs messages through a fresh engine, inserting extra messages
// before the message of the given index.
func feed(msgs []*ami.Message, insert map[int][]*ami.Message) []*callgraph.Call {
	eng := callgraph.New(callgraph.Options{})
	var calls []*callgraph.Call
	at := time.Unix(1795333000, 0)
	for i, m := range msgs {
		for _, x := range insert[i] {
			calls = append(calls, eng.Handle(x, at)...)
		}
		calls = append(calls, eng.Handle(m, at)...)
	}
	return append(calls, eng.Flush(time.Time{})...)
}

func indexOf(msgs []*ami.Message, event, uniqueid string) int {
	for i, m := range msgs {
		if m.Event() == event && m.Get("Uniqueid") == uniqueid {
			return i
		}
	}
	return -1
}

// A FastAGI tag reaches the leg whether it arrives before the channel's
// Newchannel (the two connections race) or while the call is up.
func TestTag(t *testing.T) {
	msgs := readMessages(t, filepath.Join("..", "testdata", "asterisk20", "S13", "ami.log"))
	var caller string
	for _, m := range msgs {
		if m.Event() == "Newchannel" {
			caller = m.Get("Uniqueid")
			break
		}
	}
	newch := indexOf(msgs, "Newchannel", caller)
	tests := []struct {
		name string
		at   int
	}{
		{"before Newchannel", newch},
		{"during the call", newch + 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := callgraph.TagMessage(caller, "acme", map[string]string{"customer": "42"})
			calls := feed(msgs, map[int][]*ami.Message{tt.at: {tag}})
			if len(calls) != 1 {
				t.Fatalf("%d calls", len(calls))
			}
			l := calls[0].Legs[0]
			if l.ID != caller || l.Account != "acme" || l.Tags["customer"] != "42" {
				t.Errorf("leg %s account %q tags %v, want %s acme customer=42", l.ID, l.Account, l.Tags, caller)
			}
		})
	}
}

// A reconnect while a call is up marks it incomplete with the gap; a call
// that starts after the reconnect is complete.
func TestReconnectMarksGap(t *testing.T) {
	msgs := readMessages(t, filepath.Join("..", "testdata", "asterisk20", "S05", "ami.log"))
	mid := indexOf(msgs, "BlindTransfer", "")
	if mid < 0 {
		mid = len(msgs) / 2
	}
	lost := ami.NewMessage("Event", callgraph.EventDisconnected, "Reason", "read: connection reset")
	back := ami.NewMessage("Event", callgraph.EventConnected, "Connection", "2")
	calls := feed(msgs, map[int][]*ami.Message{mid: {lost, back}})
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if c.Complete || len(c.Gaps) != 1 {
		t.Fatalf("complete %v gaps %+v, want one gap", c.Complete, c.Gaps)
	}
	if c.Gaps[0].Reason == "" || c.Gaps[0].From.IsZero() || c.Gaps[0].To.IsZero() {
		t.Errorf("gap %+v lacks its span or reason", c.Gaps[0])
	}
	// The same markers before the call leave it whole.
	calls = feed(msgs, map[int][]*ami.Message{0: {lost, back}})
	if len(calls) != 1 || !calls[0].Complete {
		t.Errorf("a reconnect before the call marked it incomplete")
	}
}

// An event without a Timestamp in a stamped stream (the FullyBooted at
// login) must not pull this host's clock, which may be skewed from
// Asterisk's, into the call's times.
func TestUntimedEventInStampedStream(t *testing.T) {
	msgs := readMessages(t, filepath.Join("..", "testdata", "asterisk20", "S01", "ami.log"))
	plain := feed(msgs, nil)
	eng := callgraph.New(callgraph.Options{})
	var skewed []*callgraph.Call
	future := time.Now().Add(48 * time.Hour)
	for i, m := range msgs {
		if i == 3 {
			skewed = append(skewed, eng.Handle(ami.NewMessage("Event", "FullyBooted", "Status", "Fully Booted"), future)...)
		}
		skewed = append(skewed, eng.Handle(m, future)...)
	}
	if len(plain) != 1 || len(skewed) != 1 {
		t.Fatalf("%d and %d calls", len(plain), len(skewed))
	}
	for i, l := range skewed[0].Legs {
		p := plain[0].Legs[i]
		if l.Billsec != p.Billsec || l.Ring != p.Ring || !l.Ended.Equal(p.Ended.Time) {
			t.Errorf("leg %s: billsec %.3f ring %.3f with a skewed untimed event, %.3f %.3f without", l.ID, l.Billsec, l.Ring, p.Billsec, p.Ring)
		}
	}
}

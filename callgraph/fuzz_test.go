package callgraph_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

// eventKinds are the events the fuzzer composes; each names one or two
// channels and maybe a bridge, chosen by the input bytes.
var eventKinds = []string{
	"Newchannel", "Newstate", "Newstate", "DialBegin", "DialState", "DialEnd", "BridgeEnter",
	"BridgeLeave", "BridgeMerge", "Hold", "Unhold", "HangupRequest", "SoftHangupRequest", "Hangup",
	"Hangup", "BlindTransfer", "AttendedTransfer", "LocalBridge", "QueueCallerJoin", "AgentCalled",
	"AgentConnect", "AgentRingNoAnswer", "QueueCallerLeave", "QueueCallerAbandon", "ConfbridgeJoin",
	"ConfbridgeLeave", "Pickup", "ParkedCall", "UnParkedCall", "Rename", "RTCPSent", "RTCPReceived",
	"VarSet",
}

var channelNames = []string{
	"SIP/1001-00000001", "SIP/1002-00000002", "PJSIP/trunk-00000003", "Local/100@ctx-00000001;1",
	"Local/100@ctx-00000001;2", "SIP/1002-00000004", "CBAnn/conf-00000005", "PJSIP/1003-00000006",
}

// events turns fuzz input into a well-formed event sequence: every
// message is one Asterisk could send, in an order it may not.
func events(data []byte) []*ami.Message {
	var out []*ami.Message
	ts := int64(1795333546000000)
	chanBlock := func(m *ami.Message, prefix string, b byte) {
		i := int(b) % len(channelNames)
		m.Add(prefix+"Channel", channelNames[i])
		m.Add(prefix+"ChannelState", fmt.Sprint(int(b>>3)%8))
		m.Add(prefix+"CallerIDNum", fmt.Sprint(1000+i))
		m.Add(prefix+"Uniqueid", fmt.Sprintf("1795333546.%d", i))
		m.Add(prefix+"Linkedid", fmt.Sprintf("1795333546.%d", int(b>>4)%len(channelNames)))
	}
	for i := 0; i+3 < len(data); i += 4 {
		kind := eventKinds[int(data[i])%len(eventKinds)]
		ts += int64(data[i+3]) * 7919
		m := ami.NewMessage("Event", kind, "Privilege", "call,all",
			"Timestamp", fmt.Sprintf("%d.%06d", ts/1e6, ts%1e6))
		chanBlock(m, "", data[i+1])
		switch kind {
		case "DialBegin", "DialState", "DialEnd", "AgentCalled", "AgentConnect", "AgentRingNoAnswer":
			chanBlock(m, "Dest", data[i+2])
			m.Add("DialStatus", []string{"ANSWER", "BUSY", "NOANSWER", "CANCEL", "RINGING"}[int(data[i+2])%5])
			m.Add("Queue", "support")
			m.Add("RingTime", "1500")
		case "BlindTransfer":
			chanBlock(m, "Transferer", data[i+1])
			chanBlock(m, "Transferee", data[i+2])
			m.Add("Result", "Success")
			m.Add("Extension", "1003")
			m.Add("BridgeUniqueid", fmt.Sprintf("b%d", data[i+2]%3))
		case "AttendedTransfer":
			chanBlock(m, "OrigTransferer", data[i+1])
			chanBlock(m, "SecondTransferer", data[i+2])
			chanBlock(m, "Transferee", data[i+2]>>1)
			chanBlock(m, "TransferTarget", data[i+3])
			m.Add("Result", "Success")
			m.Add("DestType", []string{"Bridge", "App", "Link", "Threeway", "Fail"}[int(data[i+3])%5])
		case "LocalBridge":
			chanBlock(m, "LocalOne", 3)
			chanBlock(m, "LocalTwo", 4)
		case "Pickup":
			chanBlock(m, "Target", data[i+2])
		case "ParkedCall", "UnParkedCall":
			chanBlock(m, "Parkee", data[i+2])
			chanBlock(m, "Retriever", data[i+1])
			m.Add("ParkingSpace", "701")
		case "Rename":
			m.Add("Newname", channelNames[int(data[i+2])%len(channelNames)])
		case "RTCPSent", "RTCPReceived":
			m.Add("ReportCount", "1")
			m.Add("Report0CumulativeLost", fmt.Sprint(data[i+2]))
			m.Add("Report0HighestSequence", fmt.Sprint(int(data[i+3])*50))
			m.Add("Report0IAJitter", fmt.Sprint(data[i+2]))
			m.Add("SentPackets", fmt.Sprint(int(data[i+3])*10))
		case "VarSet":
			m.Add("Variable", []string{"RTPAUDIOQOS", "QUEUESTATUS", "CALLTRAIL_ACCOUNT", "DIALSTATUS"}[int(data[i+2])%4])
			m.Add("Value", "ssrc=1;lp=3;rxcount=100;txcount=90;rtt=0.01")
		}
		m.Add("BridgeUniqueid", fmt.Sprintf("b%d", data[i+2]%3))
		m.Add("BridgeTechnology", []string{"simple_bridge", "softmix", "holding_bridge"}[int(data[i+3])%3])
		m.Add("BridgeType", []string{"basic", "base", "parking"}[int(data[i+3]>>2)%3])
		m.Add("ToBridgeUniqueid", fmt.Sprintf("b%d", data[i+1]%3))
		m.Add("FromBridgeUniqueid", fmt.Sprintf("b%d", data[i+2]%3))
		m.Add("Conference", "lab")
		out = append(out, m)
	}
	return out
}

// FuzzEngine feeds well-formed events in any order: the engine must not
// panic, must forget every call at Flush, and every record it writes must
// be self-consistent.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 1, 0, 1, 3, 0, 1, 2, 1, 1, 0, 9, 6, 0, 0, 1, 6, 1, 0, 1, 13, 0, 0, 1, 13, 1, 0, 1})
	f.Add([]byte("a blind transfer, a queue and a conference walk into a bridge"))
	f.Fuzz(func(t *testing.T, data []byte) {
		eng := callgraph.New(callgraph.Options{})
		var calls []*callgraph.Call
		for i, m := range events(data) {
			calls = append(calls, eng.Handle(m, time.Time{})...)
			if s := eng.Stats(); s.OpenLegs > len(channelNames) {
				t.Fatalf("%d legs open with only %d channel names", s.OpenLegs, len(channelNames))
			}
			if i%3 == 0 {
				// The live view looks in at any moment.
				for _, c := range eng.InProgress(time.Time{}) {
					if c.Complete || !c.End.IsZero() {
						t.Fatalf("call %s in progress says complete=%v end=%v", c.ID, c.Complete, c.End)
					}
				}
			}
		}
		calls = append(calls, eng.Flush(time.Time{})...)
		if s := eng.Stats(); s.OpenLegs != 0 || s.OpenCalls != 0 {
			t.Fatalf("after Flush: %+v", s)
		}
		for _, c := range calls {
			checkRecord(t, c)
		}
	})
}

func checkRecord(t *testing.T, c *callgraph.Call) {
	t.Helper()
	ids := map[string]bool{}
	for _, l := range c.Legs {
		if ids[l.ID] {
			t.Fatalf("call %s lists leg %s twice", c.ID, l.ID)
		}
		ids[l.ID] = true
		if l.Ring < 0 || l.Billsec < 0 || l.Duration < 0 || l.Talk < 0 {
			t.Fatalf("leg %s: negative time %+v", l.ID, l)
		}
		if l.Talk > l.Billsec+0.001 {
			t.Fatalf("leg %s: talk %.3f > billsec %.3f", l.ID, l.Talk, l.Billsec)
		}
		if l.Billsec > 0 && l.Disposition != "ANSWERED" {
			t.Fatalf("leg %s: billsec %.3f but %s", l.ID, l.Billsec, l.Disposition)
		}
	}
	for _, s := range c.Segments {
		if s.Seconds <= 0 || s.End.Before(s.Start.Time) {
			t.Fatalf("call %s: bad segment %+v", c.ID, s)
		}
	}
	for _, q := range c.Queues {
		if q.Wait < 0 || q.Outcome == "" {
			t.Fatalf("call %s: bad queue entry %+v", c.ID, q)
		}
	}
}

package reports

import (
	"testing"

	"github.com/calltrail/calltrail/callgraph"
)

// Queue attempts of the queue captures, by hand (ring in seconds):
//
//	S08  1004 NOANSWER 3      1005 ANSWER 1.003 (leg billsec 6.015, talk 6.013)
//	S09  1004 NOANSWER 3      1005 CANCEL 0.498 (the caller hung up)
//	S14  1004 NOANSWER 3      1005 ANSWER 1.003 (billsec 4.002, talk 4.001)
//	S14  1004 NOANSWER 3      1005 ANSWER 1.002 (billsec 4.003, talk 4.002)
//	S20  1017 CANCEL 2.603    1016 ANSWER 2.602 (billsec 6.324, talk 6.321)  ring-all
//	P04  1021 NOANSWER 3      1022 ANSWER 2.201 (billsec 5.337, talk 5.334)
//
// so 1005: rung 4, answered 3, other 1, ring 1.003+0.498+1.003+1.002 =
// 3.506, avg answer 3.008/3 = 1.003, talk 14.016, handled 14.020, AHT
// 14.020/3 = 4.673; 1004: rung 4, no answer 4, ring 12.
func TestAgents(t *testing.T) {
	r := Agents(load(t, "S08", "S09", "S20", "P04", "S14"))
	want := []AgentStats{
		{Agent: "1004", Rung: 4, NoAnswer: 4, Ring: 12},
		{Agent: "1005", Rung: 4, Answered: 3, Other: 1, Ring: 3.506, AvgAnswer: 1.003, Talk: 14.016, Handled: 14.02, AHT: 4.673},
		{Agent: "1016", Rung: 1, Answered: 1, Ring: 2.602, AvgAnswer: 2.602, Talk: 6.321, Handled: 6.324, AHT: 6.324},
		{Agent: "1017", Rung: 1, Other: 1, Ring: 2.603},
		{Agent: "1021", Rung: 1, NoAnswer: 1, Ring: 3},
		{Agent: "1022", Rung: 1, Answered: 1, Ring: 2.201, AvgAnswer: 2.201, Talk: 5.334, Handled: 5.337, AHT: 5.337},
	}
	if len(r.Agents) != len(want) {
		t.Fatalf("agents = %d, want %d", len(r.Agents), len(want))
	}
	for i, w := range want {
		checkAgent(t, r.Agents[i], w)
	}
	if q := r.Agents[2].Queues; len(q) != 1 || q[0] != "ringall" {
		t.Errorf("1016 queues = %v, want [ringall]", q)
	}
}

func checkAgent(t *testing.T, got, want AgentStats) {
	t.Helper()
	if got.Agent != want.Agent {
		t.Errorf("agent %q, want %q", got.Agent, want.Agent)
		return
	}
	if got.Rung != want.Rung || got.Answered != want.Answered || got.NoAnswer != want.NoAnswer || got.Other != want.Other ||
		got.BlindTransfers != want.BlindTransfers || got.AttendedTransfers != want.AttendedTransfers {
		t.Errorf("%s: rung/answered/no answer/other/blind/attended = %d/%d/%d/%d/%d/%d, want %d/%d/%d/%d/%d/%d", want.Agent,
			got.Rung, got.Answered, got.NoAnswer, got.Other, got.BlindTransfers, got.AttendedTransfers,
			want.Rung, want.Answered, want.NoAnswer, want.Other, want.BlindTransfers, want.AttendedTransfers)
	}
	for _, f := range []struct {
		name      string
		got, want callgraph.Seconds
	}{
		{"ring", got.Ring, want.Ring}, {"avg answer", got.AvgAnswer, want.AvgAnswer},
		{"talk", got.Talk, want.Talk}, {"handled", got.Handled, want.Handled}, {"AHT", got.AHT, want.AHT},
	} {
		if !near(float64(f.got), float64(f.want)) {
			t.Errorf("%s: %s = %v, want %v", want.Agent, f.name, f.got, f.want)
		}
	}
}

// No capture has an agent transferring a caller: S08 with its agent
// (1005, leg 1795333616.22) blind-transferring the caller, and the caller
// attempting an attended transfer, which is not the agent's.
func TestAgentTransfers(t *testing.T) {
	c := load(t, "S08")[0]
	c.Connections = append(c.Connections,
		callgraph.Connection{Kind: callgraph.KindBlindTransfer, By: "1795333616.22", From: "1795333612.20", To: "2000@lab"},
		callgraph.Connection{Kind: callgraph.KindAttendedTransfer, By: "1795333612.20", From: "1795333616.22", To: "x"},
	)
	r := Agents([]*callgraph.Call{c})
	checkAgent(t, r.Agents[1], AgentStats{Agent: "1005", Rung: 1, Answered: 1, BlindTransfers: 1,
		Ring: 1.003, AvgAnswer: 1.003, Talk: 6.013, Handled: 6.015, AHT: 6.015})
}

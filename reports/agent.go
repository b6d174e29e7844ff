package reports

import (
	"slices"

	"github.com/calltrail/calltrail/callgraph"
)

// AgentReport holds the figures of every queue agent: a party some queue
// rang (a queue_attempt connection reached one of its legs).
type AgentReport struct {
	Agents []AgentStats `json:"agents"`
}

// AgentStats are one agent's figures.
type AgentStats struct {
	Agent  string   `json:"agent"`
	Queues []string `json:"queues"`
	// Rung counts the queue attempts that rang the agent; Answered those
	// it answered; NoAnswer those that rang out unanswered (ring no
	// answer); Other those cut short because the caller left or another
	// agent answered first.
	Rung     int `json:"rung"`
	Answered int `json:"answered"`
	NoAnswer int `json:"no_answer"`
	Other    int `json:"other"`
	// Ring is the time the agent's phone rang over all attempts;
	// AvgAnswer the average ring of the answered ones.
	Ring      callgraph.Seconds `json:"ring"`
	AvgAnswer callgraph.Seconds `json:"avg_answer"`
	// Talk sums the talk of the agent's answered legs; Handled their
	// billable time (answer to release: talk and hold); AHT is
	// Handled / Answered.
	Talk    callgraph.Seconds `json:"talk"`
	Handled callgraph.Seconds `json:"handled"`
	AHT     callgraph.Seconds `json:"aht"`
	// Transfers the agent made from the legs it answered queue calls on.
	BlindTransfers    int `json:"blind_transfers"`
	AttendedTransfers int `json:"attended_transfers"`

	answerRing callgraph.Seconds
}

// Agents computes the agent report.
func Agents(calls []*callgraph.Call) *AgentReport {
	byParty := map[string]*AgentStats{}
	for _, c := range calls {
		legs := legIndex(c)
		answered := map[string]*AgentStats{} // agent leg id → its agent
		for _, x := range c.Connections {
			if x.Kind != callgraph.KindQueueAttempt {
				continue
			}
			l := legs[x.To]
			if l == nil {
				continue
			}
			a := byParty[l.Party]
			if a == nil {
				a = &AgentStats{Agent: l.Party}
				byParty[l.Party] = a
			}
			if x.Target != "" && !slices.Contains(a.Queues, x.Target) {
				a.Queues = append(a.Queues, x.Target)
			}
			a.Rung++
			var ring callgraph.Seconds
			if x.Ring != nil {
				ring = *x.Ring
			}
			a.Ring += ring
			switch {
			case x.Answered != nil && *x.Answered:
				a.Answered++
				a.answerRing += ring
				if answered[l.ID] == nil {
					answered[l.ID] = a
					a.Talk += l.Talk
					a.Handled += l.Billsec
				}
			case x.Status == "NOANSWER":
				a.NoAnswer++
			default:
				a.Other++
			}
		}
		for _, x := range c.Connections {
			a := answered[x.By]
			if a == nil {
				continue
			}
			switch x.Kind {
			case callgraph.KindBlindTransfer:
				a.BlindTransfers++
			case callgraph.KindAttendedTransfer:
				a.AttendedTransfers++
			}
		}
	}
	r := &AgentReport{}
	for _, p := range sortedKeys(byParty) {
		a := byParty[p]
		slices.Sort(a.Queues)
		a.Ring = callgraph.Seconds(roundMs(float64(a.Ring)))
		a.Talk = callgraph.Seconds(roundMs(float64(a.Talk)))
		a.Handled = callgraph.Seconds(roundMs(float64(a.Handled)))
		a.AvgAnswer = avg(a.answerRing, a.Answered)
		a.AHT = avg(a.Handled, a.Answered)
		r.Agents = append(r.Agents, *a)
	}
	return r
}

// Tables implements Report.
func (r *AgentReport) Tables() []Table {
	t := Table{
		Title: "Agents",
		Columns: []string{"agent", "queues", "rung", "answered", "no answer", "other",
			"ring", "avg answer", "talk", "handled", "AHT", "blind xfer", "attended xfer"},
		Notes: []string{"AHT = handled (answer to release: talk and hold) / answered; no after-call work is in the record"},
	}
	for _, a := range r.Agents {
		t.Rows = append(t.Rows, []string{a.Agent, joinComma(a.Queues), fmtInt(a.Rung), fmtInt(a.Answered),
			fmtInt(a.NoAnswer), fmtInt(a.Other), fmtSec(a.Ring), fmtSec(a.AvgAnswer), fmtSec(a.Talk),
			fmtSec(a.Handled), fmtSec(a.AHT), fmtInt(a.BlindTransfers), fmtInt(a.AttendedTransfers)})
	}
	return []Table{t}
}

package reports

import (
	"slices"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// QueueReport holds the service figures of every queue, over the whole
// period and per interval.
type QueueReport struct {
	// Target is the service-level target T in seconds.
	Target    callgraph.Seconds `json:"target"`
	Queues    []QueueStats      `json:"queues"`
	Intervals []QueueStats      `json:"intervals,omitempty"`
}

// QueueStats are one queue's figures over a period. Every caller's stay
// in the queue (callgraph.QueueEntry) is one offered call.
type QueueStats struct {
	Queue    string `json:"queue"`
	Interval string `json:"interval,omitempty"`

	Offered  int `json:"offered"`
	Answered int `json:"answered"`
	// AnsweredInTarget counts answered callers who waited at most T.
	AnsweredInTarget int `json:"answered_in_target"`
	Abandoned        int `json:"abandoned"`
	// AbandonedInTarget counts callers who hung up within T (short
	// abandons), AbandonedAfterTarget those who waited longer.
	AbandonedInTarget    int `json:"abandoned_in_target"`
	AbandonedAfterTarget int `json:"abandoned_after_target"`
	Timeout              int `json:"timeout"`
	ExitEmpty            int `json:"exit_empty"`
	Transferred          int `json:"transferred"`

	// ServiceLevel is AnsweredInTarget / Answered, in percent.
	ServiceLevel *float64 `json:"service_level"`
	// ServiceLevelAbandon is AnsweredInTarget / (Answered +
	// AbandonedAfterTarget), in percent.
	ServiceLevelAbandon *float64 `json:"service_level_abandon"`

	AvgWait callgraph.Seconds `json:"avg_wait"`
	MaxWait callgraph.Seconds `json:"max_wait"`
	// ASA is the average wait of the answered callers.
	ASA            callgraph.Seconds `json:"asa"`
	AvgAbandonWait callgraph.Seconds `json:"avg_abandon_wait"`
	MaxAbandonWait callgraph.Seconds `json:"max_abandon_wait"`
	// Talk is the callers' talk with the agents who answered them;
	// AvgTalk is Talk / Answered.
	Talk    callgraph.Seconds `json:"talk"`
	AvgTalk callgraph.Seconds `json:"avg_talk"`

	waitSum, answeredWait, abandonWait callgraph.Seconds
	start                              time.Time
}

// Queues computes the queue report.
func Queues(calls []*callgraph.Call, o Options) *QueueReport {
	target := callgraph.Dur(o.ServiceLevel)
	totals := map[string]*QueueStats{}
	type key struct {
		start time.Time
		queue string
	}
	per := map[key]*QueueStats{}
	for _, c := range calls {
		for _, e := range c.Queues {
			t := totals[e.Queue]
			if t == nil {
				t = &QueueStats{Queue: e.Queue}
				totals[e.Queue] = t
			}
			talk := callgraph.Seconds(0)
			if e.Agent != "" {
				talk = talkBetween(c, e.Caller, e.Agent)
			}
			t.add(e, talk, target)
			if o.Interval != NoInterval {
				start, label := o.bucket(e.Joined.Time)
				k := key{start, e.Queue}
				s := per[k]
				if s == nil {
					s = &QueueStats{Queue: e.Queue, Interval: label, start: start}
					per[k] = s
				}
				s.add(e, talk, target)
			}
		}
	}
	r := &QueueReport{Target: target}
	for _, name := range sortedKeys(totals) {
		r.Queues = append(r.Queues, totals[name].finish())
	}
	for _, s := range per {
		r.Intervals = append(r.Intervals, s.finish())
	}
	slices.SortFunc(r.Intervals, func(a, b QueueStats) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return compareStrings(a.Queue, b.Queue)
	})
	return r
}

func (s *QueueStats) add(e callgraph.QueueEntry, talk, target callgraph.Seconds) {
	s.Offered++
	s.waitSum += e.Wait
	s.MaxWait = max(s.MaxWait, e.Wait)
	switch e.Outcome {
	case callgraph.OutcomeAnswered:
		s.Answered++
		s.answeredWait += e.Wait
		if e.Wait <= target {
			s.AnsweredInTarget++
		}
		s.Talk += talk
	case callgraph.OutcomeAbandoned:
		s.Abandoned++
		s.abandonWait += e.Wait
		s.MaxAbandonWait = max(s.MaxAbandonWait, e.Wait)
		if e.Wait <= target {
			s.AbandonedInTarget++
		} else {
			s.AbandonedAfterTarget++
		}
	case callgraph.OutcomeTimeout:
		s.Timeout++
	case callgraph.OutcomeExitEmpty:
		s.ExitEmpty++
	case callgraph.OutcomeTransferred:
		s.Transferred++
	}
}

func (s *QueueStats) finish() QueueStats {
	s.ServiceLevel = pct(s.AnsweredInTarget, s.Answered)
	s.ServiceLevelAbandon = pct(s.AnsweredInTarget, s.Answered+s.AbandonedAfterTarget)
	s.AvgWait = avg(s.waitSum, s.Offered)
	s.ASA = avg(s.answeredWait, s.Answered)
	s.AvgAbandonWait = avg(s.abandonWait, s.Abandoned)
	s.Talk = callgraph.Seconds(roundMs(float64(s.Talk)))
	s.AvgTalk = avg(s.Talk, s.Answered)
	return *s
}

// Tables implements Report.
func (r *QueueReport) Tables() []Table {
	cols := []string{"queue", "offered", "answered", "in T", "abandoned", "aband. ≤T", "aband. >T",
		"timeout", "exit empty", "SL ans.", "SL ans.+ab.", "avg wait", "max wait", "ASA",
		"avg aband.", "max aband.", "avg talk"}
	row := func(s QueueStats, first string) []string {
		return []string{first, fmtInt(s.Offered), fmtInt(s.Answered), fmtInt(s.AnsweredInTarget),
			fmtInt(s.Abandoned), fmtInt(s.AbandonedInTarget), fmtInt(s.AbandonedAfterTarget),
			fmtInt(s.Timeout), fmtInt(s.ExitEmpty), fmtPct(s.ServiceLevel), fmtPct(s.ServiceLevelAbandon),
			fmtSec(s.AvgWait), fmtSec(s.MaxWait), fmtSec(s.ASA), fmtSec(s.AvgAbandonWait),
			fmtSec(s.MaxAbandonWait), fmtSec(s.AvgTalk)}
	}
	notes := []string{
		"T = " + fmtSec(r.Target) + " s; SL ans. = answered in T / answered; SL ans.+ab. = answered in T / (answered + abandoned after T)",
	}
	t := Table{Title: "Queues", Columns: cols, Notes: notes}
	for _, s := range r.Queues {
		t.Rows = append(t.Rows, row(s, s.Queue))
	}
	out := []Table{t}
	if len(r.Intervals) > 0 {
		it := Table{Title: "Queues per interval", Columns: append([]string{"interval"}, cols...)}
		for _, s := range r.Intervals {
			it.Rows = append(it.Rows, append([]string{s.Interval}, row(s, s.Queue)...))
		}
		out = append(out, it)
	}
	return out
}

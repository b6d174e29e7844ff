package reports

import (
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// The queue captures, by hand from their records (wait = joined → left):
//
//	S08  support  07:46:52  answered  wait  5.008  agent 1005 talk 6.013
//	S09  support  07:47:11  abandoned wait  4.501
//	S14  support  07:50:14  answered  wait  5.007  agent 1005 talk 4.001 (caller 1022)
//	S14  support  07:50:14  answered  wait 10.008  agent 1005 talk 4.002 (caller 1023)
//	S14  support  07:50:14  abandoned wait  6.501                       (caller 1024)
//	P04  support  08:34:51  answered  wait  6.206  agent 1022 talk 5.334
//	S20  ringall  08:31:12  answered  wait  2.605  agent 1016 talk 6.321
//
// With T = 6 s, queue support over the whole period:
//
//	offered 6, answered 4, abandoned 2
//	answered within T: S08 5.008, S14 5.007 → 2 (P04 6.206 and 10.008 are late)
//	abandoned within T: S09 4.501 → 1; after T: S14 6.501 → 1
//	SL (answered)            = 2/4     = 50 %
//	SL (answered + aband.>T) = 2/(4+1) = 40 %
//	avg wait = (5.008+4.501+5.007+10.008+6.501+6.206)/6 = 37.231/6 = 6.205
//	max wait = 10.008
//	ASA      = (5.008+5.007+10.008+6.206)/4 = 26.229/4 = 6.557
//	avg/max abandon wait = (4.501+6.501)/2 = 5.501 / 6.501
//	talk = 6.013+4.001+4.002+5.334 = 19.350, avg talk = 4.8375 → 4.838 (or 4.837)
//
// Per hour, 07:00 holds S08, S09 and the three S14 callers:
//
//	offered 5, answered 3 (in T: 2), abandoned 2 (1 after T)
//	SL 2/3 = 66.67 %, SL 2/(3+1) = 50 %, ASA (5.008+5.007+10.008)/3 = 6.674
//
// and 08:00 holds P04 (support: 1 answered late, SL 0 %) and S20 (ringall).
func TestQueues(t *testing.T) {
	calls := load(t, "S08", "S09", "S20", "P04", "S14")
	o := DefaultOptions()
	o.ServiceLevel = 6 * time.Second
	o.Interval = Hour
	r := Queues(calls, o)

	want := []QueueStats{
		{Queue: "ringall", Offered: 1, Answered: 1, AnsweredInTarget: 1,
			ServiceLevel: ptr(100.0), ServiceLevelAbandon: ptr(100.0),
			AvgWait: 2.605, MaxWait: 2.605, ASA: 2.605, Talk: 6.321, AvgTalk: 6.321},
		{Queue: "support", Offered: 6, Answered: 4, AnsweredInTarget: 2, Abandoned: 2,
			AbandonedInTarget: 1, AbandonedAfterTarget: 1,
			ServiceLevel: ptr(50.0), ServiceLevelAbandon: ptr(40.0),
			AvgWait: 6.205, MaxWait: 10.008, ASA: 6.557, AvgAbandonWait: 5.501, MaxAbandonWait: 6.501,
			Talk: 19.35, AvgTalk: 4.838},
	}
	if len(r.Queues) != len(want) {
		t.Fatalf("queues = %d, want %d", len(r.Queues), len(want))
	}
	for i, w := range want {
		checkQueue(t, "total", r.Queues[i], w)
	}

	wantIntervals := []QueueStats{
		{Queue: "support", Interval: "2026-11-22 07:00", Offered: 5, Answered: 3, AnsweredInTarget: 2,
			Abandoned: 2, AbandonedInTarget: 1, AbandonedAfterTarget: 1,
			ServiceLevel: ptr(66.67), ServiceLevelAbandon: ptr(50.0),
			AvgWait: 6.205, MaxWait: 10.008, ASA: 6.674, AvgAbandonWait: 5.501, MaxAbandonWait: 6.501,
			Talk: 14.016, AvgTalk: 4.672},
		{Queue: "ringall", Interval: "2026-11-22 08:00", Offered: 1, Answered: 1, AnsweredInTarget: 1,
			ServiceLevel: ptr(100.0), ServiceLevelAbandon: ptr(100.0),
			AvgWait: 2.605, MaxWait: 2.605, ASA: 2.605, Talk: 6.321, AvgTalk: 6.321},
		{Queue: "support", Interval: "2026-11-22 08:00", Offered: 1, Answered: 1,
			ServiceLevel: ptr(0.0), ServiceLevelAbandon: ptr(0.0),
			AvgWait: 6.206, MaxWait: 6.206, ASA: 6.206, Talk: 5.334, AvgTalk: 5.334},
	}
	if len(r.Intervals) != len(wantIntervals) {
		t.Fatalf("intervals = %d, want %d", len(r.Intervals), len(wantIntervals))
	}
	for i, w := range wantIntervals {
		checkQueue(t, w.Interval, r.Intervals[i], w)
	}
}

func checkQueue(t *testing.T, where string, got, want QueueStats) {
	t.Helper()
	if got.Queue != want.Queue || got.Interval != want.Interval {
		t.Errorf("%s: queue %q %q, want %q %q", where, got.Queue, got.Interval, want.Queue, want.Interval)
		return
	}
	ints := []struct {
		name      string
		got, want int
	}{
		{"offered", got.Offered, want.Offered},
		{"answered", got.Answered, want.Answered},
		{"answered in T", got.AnsweredInTarget, want.AnsweredInTarget},
		{"abandoned", got.Abandoned, want.Abandoned},
		{"abandoned in T", got.AbandonedInTarget, want.AbandonedInTarget},
		{"abandoned after T", got.AbandonedAfterTarget, want.AbandonedAfterTarget},
		{"timeout", got.Timeout, want.Timeout},
		{"exit empty", got.ExitEmpty, want.ExitEmpty},
		{"transferred", got.Transferred, want.Transferred},
	}
	for _, f := range ints {
		if f.got != f.want {
			t.Errorf("%s %s: %s = %d, want %d", where, want.Queue, f.name, f.got, f.want)
		}
	}
	secs := []struct {
		name      string
		got, want callgraph.Seconds
	}{
		{"avg wait", got.AvgWait, want.AvgWait},
		{"max wait", got.MaxWait, want.MaxWait},
		{"ASA", got.ASA, want.ASA},
		{"avg abandon wait", got.AvgAbandonWait, want.AvgAbandonWait},
		{"max abandon wait", got.MaxAbandonWait, want.MaxAbandonWait},
		{"talk", got.Talk, want.Talk},
	}
	for _, f := range secs {
		if !near(float64(f.got), float64(f.want)) {
			t.Errorf("%s %s: %s = %v, want %v", where, want.Queue, f.name, f.got, f.want)
		}
	}
	// 19.350/4 = 4.8375 sits on a rounding edge: allow one millisecond.
	if d := float64(got.AvgTalk - want.AvgTalk); d > 0.0015 || d < -0.0015 {
		t.Errorf("%s %s: avg talk = %v, want %v", where, want.Queue, got.AvgTalk, want.AvgTalk)
	}
	checkPct(t, where+" "+want.Queue+" SL", got.ServiceLevel, want.ServiceLevel)
	checkPct(t, where+" "+want.Queue+" SL with abandons", got.ServiceLevelAbandon, want.ServiceLevelAbandon)
}

func checkPct(t *testing.T, name string, got, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", name, fmtPct(got), fmtPct(want))
	case !near(*got, *want):
		t.Errorf("%s = %v, want %v", name, *got, *want)
	}
}

// Timeouts and exits on an empty queue appear in no capture: a queue with
// one of each, plus an answered caller and one who hung up at once.
func TestQueueOutcomes(t *testing.T) {
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	entry := func(outcome string, wait float64) callgraph.QueueEntry {
		return callgraph.QueueEntry{Queue: "sales", Caller: "c", Joined: callgraph.Time{Time: at},
			Wait: callgraph.Seconds(wait), Outcome: outcome}
	}
	c := &callgraph.Call{ID: "x", Queues: []callgraph.QueueEntry{
		entry(callgraph.OutcomeTimeout, 60),
		entry(callgraph.OutcomeExitEmpty, 0.5),
		entry(callgraph.OutcomeAnswered, 20), // exactly T: in time
		entry(callgraph.OutcomeAbandoned, 2),
		entry(callgraph.OutcomeTransferred, 8),
	}}
	r := Queues([]*callgraph.Call{c}, DefaultOptions())
	// T = 20 s. Answered in T 1 of 1: SL 100 %; no abandon after T, so
	// the second definition is 1/(1+0) = 100 % too; avg wait
	// (60+0.5+20+2+8)/5 = 18.1; ASA 20.
	checkQueue(t, "sales", r.Queues[0], QueueStats{Queue: "sales", Offered: 5, Answered: 1, AnsweredInTarget: 1,
		Abandoned: 1, AbandonedInTarget: 1, Timeout: 1, ExitEmpty: 1, Transferred: 1,
		ServiceLevel: ptr(100.0), ServiceLevelAbandon: ptr(100.0),
		AvgWait: 18.1, MaxWait: 60, ASA: 20, AvgAbandonWait: 2, MaxAbandonWait: 2})
	if r.Intervals != nil {
		t.Errorf("intervals without Options.Interval: %v", r.Intervals)
	}
}

// A queue nobody answered has no service level (no answered calls): the
// figure is absent, not 0 %.
func TestQueueNoAnswers(t *testing.T) {
	r := Queues(load(t, "S09"), DefaultOptions())
	if r.Queues[0].ServiceLevel != nil {
		t.Errorf("SL = %v, want none", *r.Queues[0].ServiceLevel)
	}
	// S09's caller gave up after 4.501 s, within T = 20 s: the second
	// definition's denominator is 0 + 0.
	if r.Queues[0].ServiceLevelAbandon != nil {
		t.Errorf("SL with abandons = %v, want none", *r.Queues[0].ServiceLevelAbandon)
	}
}

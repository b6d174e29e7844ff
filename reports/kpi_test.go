package reports

import (
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// S14 is 20 overlapping calls of mixed kinds. By hand, from the caller
// legs (the only trunk call, +15550001111 on SIP/trunk, is inbound and its
// trunk leg is its caller leg):
//
//	answered 15: six basic calls (billsec 5.002, 3.004, 7.002, 4.002,
//	  3.003, 6.002), two conference callers (6.002, 9.002), three queue
//	  callers (9.510, 14.513, and 7.002 for the one who abandoned: the
//	  PBX answered it), three transfers (9.020, 6.013, 9.014), the trunk
//	  call (5.004)
//	busy 2 (1020, 1021 → 1040: cause 17)
//	no answer 3 (1017, 1018, 1019: rang out, cause 16)
//
//	ASR = 15/20 = 75 %; NER = (15+2+3)/20 = 100 %
//	billsec = 103.095; ACD = 103.095/15 = 6.873
//	PDD: the 15 calls that dialled a phone recorded one, 0 to 2 ms
//	(phones on 127.0.0.1 ring at once): 11 ms / 15 → 0.001
//	peak: the last call starts at 07:50:15.529 (the trunk call); by then
//	only the two busy calls (ended 07:50:13.934 and 07:50:14.133) are
//	over, and the first to end after it ends at 07:50:16.938: 18 at once.
func TestKPIMixed(t *testing.T) {
	r := KPI(load(t, "S14"), DefaultOptions())
	checkKPI(t, r.Total, KPIStats{Key: "total", Attempts: 20, Answered: 15, Busy: 2, NoAnswer: 3,
		ASR: ptr(75.0), NER: ptr(100.0), Billsec: 103.095, ACD: 6.873, Peak: 18,
		PDD: ptr(callgraph.Seconds(0.001)), PDDCount: 15,
		PeakAt: ptr(time.Date(2026, 11, 22, 7, 50, 15, 529e6, time.UTC))})
	if len(r.ByTrunk) != 2 || r.ByTrunk[0].Key != "(internal)" || r.ByTrunk[1].Key != "SIP/trunk" {
		t.Fatalf("trunks = %v", keys(r.ByTrunk))
	}
	// SIP/trunk: the one inbound call, billsec 5.004.
	checkKPI(t, r.ByTrunk[1], KPIStats{Key: "SIP/trunk", Attempts: 1, Answered: 1, ASR: ptr(100.0), NER: ptr(100.0),
		Billsec: 5.004, ACD: 5.004, PDD: ptr(callgraph.Seconds(0.002)), PDDCount: 1, Peak: 1,
		PeakAt: ptr(time.Date(2026, 11, 22, 7, 50, 15, 529e6, time.UTC))})
	// Prefix 203: 1017..1019 dialled 2037..2039 (Dial with a timeout):
	// all three rang out, 3 at once from 07:50:13.329.
	for _, s := range r.ByPrefix {
		if s.Key == "203" {
			checkKPI(t, s, KPIStats{Key: "203", Attempts: 3, NoAnswer: 3, ASR: ptr(0.0), NER: ptr(100.0),
				PDD: ptr(callgraph.Seconds(0)), PDDCount: 3, Peak: 3,
				PeakAt: ptr(time.Date(2026, 11, 22, 7, 50, 13, 329e6, time.UTC))})
		}
	}
}

// S21 and P06 are the failure captures, four calls each from one phone:
// 486 (user busy, cause 17), 603 (rejected, cause 21 on the caller), 404
// (cause 1 on the caller: the network did not deliver it), and a CANCEL
// after ringing (the caller gave up: no answer). ASR 0/8; NER counts
// busy, rejected and no answer: 6/8 = 75 %. The two 404s never rang, so
// only six attempts have a PDD.
func TestKPIFailures(t *testing.T) {
	r := KPI(load(t, "S21", "P06"), DefaultOptions())
	checkKPI(t, r.Total, KPIStats{Key: "total", Attempts: 8, Busy: 2, Rejected: 2, NoAnswer: 2, Failed: 2,
		ASR: ptr(0.0), NER: ptr(75.0), PDDCount: 6, PDD: ptr(callgraph.Seconds(0.001)), Peak: 1})
}

// S11 is inbound (trunk caller +15551234567 → DID 5550100 → 1002, blind
// transfer to 1003; trunk leg billsec 18.028); S23 outbound (1026 dials
// 95557788, the trunk leg 5557788 answers and is later transferred to
// 1029; trunk leg billsec 16.720). The attempt leg is the trunk leg both
// times: SIP/trunk has 2 attempts, 2 answered, billsec 34.748, ACD 17.374.
// S13's legs carry account acme-cdr (set through FastAGI).
func TestKPITrunksAndAccounts(t *testing.T) {
	calls := load(t, "S11", "S23", "S13")
	o := DefaultOptions()
	atts := o.Attempts(calls)
	wantDir := []struct{ trunk, dir, dest, party string }{
		{"SIP/trunk", "inbound", "5550100", "+15551234567"},
		{"SIP/trunk", "outbound", "95557788", "5557788"},
		{"", "internal", "7000", "1001"},
	}
	for i, w := range wantDir {
		a := atts[i]
		if a.Trunk != w.trunk || a.Direction != w.dir || a.Destination != w.dest || a.Leg.Party != w.party {
			t.Errorf("attempt %d = %s %s %s %s, want %+v", i, a.Trunk, a.Direction, a.Destination, a.Leg.Party, w)
		}
	}
	r := KPI(calls, o)
	checkKPI(t, r.ByTrunk[1], KPIStats{Key: "SIP/trunk", Attempts: 2, Answered: 2, ASR: ptr(100.0), NER: ptr(100.0),
		Billsec: 34.748, ACD: 17.374, PDD: ptr(callgraph.Seconds(0.001)), PDDCount: 2, Peak: 1})
	if got := keys(r.ByAccount); len(got) != 2 || got[0] != "(none)" || got[1] != "acme-cdr" {
		t.Errorf("accounts = %v", got)
	}
	// Longest matching prefix; numbers matching none go to "other".
	o.Prefixes = []string{"9", "95", "555"}
	r = KPI(calls, o)
	if got := keys(r.ByPrefix); len(got) != 3 || got[0] != "555" || got[1] != "95" || got[2] != "other" {
		t.Errorf("prefixes = %v, want [555 95 other]", got)
	}
}

// A call that runs across the hour counts where it started, but it is in
// progress during the next hour too, so it adds to that hour's peak.
// PDD averages over the attempts that have one: (1.5+2.5)/2 = 2.
func TestKPIIntervals(t *testing.T) {
	at := func(h, m, s int) callgraph.Time {
		return callgraph.Time{Time: time.Date(2026, 11, 22, h, m, s, 0, time.UTC)}
	}
	call := func(id string, start, end callgraph.Time, pdd float64) *callgraph.Call {
		p := callgraph.Seconds(pdd)
		return &callgraph.Call{ID: id, Start: start, End: end,
			Legs: []*callgraph.Leg{
				{ID: id + ".1", Channel: "SIP/100-0001", Party: "100", Role: "caller", Dialed: "200",
					Created: start, Answered: start, Ended: end, Billsec: callgraph.Dur(end.Sub(start.Time))},
				{ID: id + ".2", Channel: "SIP/200-0002", Party: "200", Role: "callee"},
			},
			Connections: []callgraph.Connection{{Kind: callgraph.KindDial, From: id + ".1", To: id + ".2", At: start, PDD: &p}},
		}
	}
	calls := []*callgraph.Call{
		call("a", at(7, 59, 0), at(8, 1, 0), 1.5),
		call("b", at(8, 0, 30), at(8, 2, 0), 2.5),
	}
	o := DefaultOptions()
	o.Interval = Hour
	r := KPI(calls, o)
	if len(r.ByInterval) != 2 {
		t.Fatalf("intervals = %v", keys(r.ByInterval))
	}
	checkKPI(t, r.ByInterval[0], KPIStats{Key: "2026-11-22 07:00", Attempts: 1, Answered: 1, ASR: ptr(100.0), NER: ptr(100.0),
		Billsec: 120, ACD: 120, PDD: ptr(callgraph.Seconds(1.5)), PDDCount: 1, Peak: 1, PeakAt: ptr(at(7, 59, 0).Time)})
	checkKPI(t, r.ByInterval[1], KPIStats{Key: "2026-11-22 08:00", Attempts: 1, Answered: 1, ASR: ptr(100.0), NER: ptr(100.0),
		Billsec: 90, ACD: 90, PDD: ptr(callgraph.Seconds(2.5)), PDDCount: 1, Peak: 2, PeakAt: ptr(at(8, 0, 30).Time)})
	checkKPI(t, r.Total, KPIStats{Key: "total", Attempts: 2, Answered: 2, ASR: ptr(100.0), NER: ptr(100.0),
		Billsec: 210, ACD: 105, PDD: ptr(callgraph.Seconds(2)), PDDCount: 2, Peak: 2, PeakAt: ptr(at(8, 0, 30).Time)})

	// Days in another time zone: 07:59 UTC is 10:59 in Moscow.
	o.Interval = Day
	o.Location = time.FixedZone("MSK", 3*3600)
	if got := keys(KPI(calls, o).ByInterval); len(got) != 1 || got[0] != "2026-11-22" {
		t.Errorf("days = %v", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		disposition string
		cause       int
		answered    bool
		want        string
	}{
		{"ANSWERED", 16, true, OutcomeAnswered},
		{"BUSY", 17, false, OutcomeBusy},
		{"BUSY", 21, false, OutcomeRejected}, // chan_sip: 603 gives DialStatus BUSY
		{"FAILED", 21, false, OutcomeRejected},
		{"NO ANSWER", 16, false, OutcomeNoAnswer},
		{"NO ANSWER", 19, false, OutcomeNoAnswer},
		{"NO ANSWER", 1, false, OutcomeFailed},  // 404 on a callee leg
		{"CANCEL", 127, false, OutcomeNoAnswer}, // PJSIP caller CANCEL: 487
		{"FAILED", 1, false, OutcomeFailed},
		{"CONGESTION", 34, false, OutcomeFailed},
		{"FAILED", 38, false, OutcomeFailed},
	}
	for _, tt := range tests {
		l := &callgraph.Leg{Disposition: tt.disposition, Cause: tt.cause}
		if tt.answered {
			l.Answered = callgraph.Time{Time: time.Unix(1, 0)}
		}
		if got := classify(l); got != tt.want {
			t.Errorf("classify(%s, %d) = %s, want %s", tt.disposition, tt.cause, got, tt.want)
		}
	}
}

func keys(s []KPIStats) []string {
	var out []string
	for _, k := range s {
		out = append(out, k.Key)
	}
	return out
}

func checkKPI(t *testing.T, got, want KPIStats) {
	t.Helper()
	if got.Key != want.Key || got.Attempts != want.Attempts || got.Answered != want.Answered || got.Busy != want.Busy ||
		got.NoAnswer != want.NoAnswer || got.Rejected != want.Rejected || got.Failed != want.Failed ||
		got.PDDCount != want.PDDCount || got.Peak != want.Peak {
		t.Errorf("%s: attempts/answered/busy/no answer/rejected/failed/pdd n/peak = %d/%d/%d/%d/%d/%d/%d/%d, want %s %d/%d/%d/%d/%d/%d/%d/%d",
			got.Key, got.Attempts, got.Answered, got.Busy, got.NoAnswer, got.Rejected, got.Failed, got.PDDCount, got.Peak,
			want.Key, want.Attempts, want.Answered, want.Busy, want.NoAnswer, want.Rejected, want.Failed, want.PDDCount, want.Peak)
	}
	checkPct(t, want.Key+" ASR", got.ASR, want.ASR)
	checkPct(t, want.Key+" NER", got.NER, want.NER)
	if !near(float64(got.Billsec), float64(want.Billsec)) || !near(float64(got.ACD), float64(want.ACD)) {
		t.Errorf("%s: billsec/ACD = %v/%v, want %v/%v", want.Key, got.Billsec, got.ACD, want.Billsec, want.ACD)
	}
	if (got.PDD == nil) != (want.PDD == nil) || got.PDD != nil && !near(float64(*got.PDD), float64(*want.PDD)) {
		t.Errorf("%s: PDD = %v, want %v", want.Key, fmtSecPtr(got.PDD), fmtSecPtr(want.PDD))
	}
	if want.PeakAt != nil && (got.PeakAt == nil || !got.PeakAt.Equal(*want.PeakAt)) {
		t.Errorf("%s: peak at %v, want %v", want.Key, got.PeakAt, want.PeakAt)
	}
}

package reports

import (
	"slices"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/reports/causes"
)

// KPIReport holds the telecom KPI over all calls and broken down by
// trunk, destination prefix, account and interval.
type KPIReport struct {
	Total      KPIStats   `json:"total"`
	ByTrunk    []KPIStats `json:"by_trunk"`
	ByPrefix   []KPIStats `json:"by_prefix"`
	ByAccount  []KPIStats `json:"by_account"`
	ByInterval []KPIStats `json:"by_interval,omitempty"`
}

// KPIStats are the KPI of a set of call attempts. Every call is one
// attempt (a seizure); its attempt leg is the leg that crossed a trunk
// (the first trunk leg: inbound when it is the caller, outbound
// otherwise), or the caller's leg for an internal call.
type KPIStats struct {
	Key      string `json:"key"`
	Attempts int    `json:"attempts"`
	// Outcomes of the attempt leg: answered; user busy (cause 17); ring
	// no answer (rang out, or the caller gave up: cause 16, 18, 19, 26,
	// 31 or 0 unanswered, or a CANCEL); rejected by the terminal (cause
	// 21); failed (anything else: the network did not deliver the call).
	Answered int `json:"answered"`
	Busy     int `json:"busy"`
	NoAnswer int `json:"no_answer"`
	Rejected int `json:"rejected"`
	Failed   int `json:"failed"`
	// ASR = Answered / Attempts; NER = (Answered + Busy + NoAnswer +
	// Rejected) / Attempts; both in percent.
	ASR *float64 `json:"asr"`
	NER *float64 `json:"ner"`
	// Billsec sums the attempt legs' billable seconds; ACD (ALOC) is
	// Billsec / Answered.
	Billsec callgraph.Seconds `json:"billsec"`
	ACD     callgraph.Seconds `json:"acd"`
	// PDD is the average post-dial delay (dial to the first 18x) of the
	// attempts whose first dial recorded one; PDDCount how many did.
	PDD      *callgraph.Seconds `json:"pdd"`
	PDDCount int                `json:"pdd_count"`
	// Peak is the largest number of the set's calls in progress at once,
	// first reached at PeakAt.
	Peak   int        `json:"peak"`
	PeakAt *time.Time `json:"peak_at"`

	pddSum callgraph.Seconds
	spans  []span
	start  time.Time
}

// Attempt is what the KPI see of one call.
type Attempt struct {
	Call *callgraph.Call
	// Leg is the attempt leg (see KPIStats).
	Leg *callgraph.Leg
	// Trunk is Leg's trunk, "" for an internal call; Direction is
	// "inbound", "outbound" or "internal".
	Trunk     string
	Direction string
	// Destination is the number the call's first caller dialled.
	Destination string
	// Account is the attempt leg's account, else the first one a leg of
	// the call has.
	Account string
	// Outcome is answered, busy, no_answer, rejected or failed.
	Outcome string
	// PDD is the post-dial delay of the first dial from or to the
	// attempt leg, when recorded.
	PDD *callgraph.Seconds
}

// Outcomes of an attempt.
const (
	OutcomeAnswered = "answered"
	OutcomeBusy     = "busy"
	OutcomeNoAnswer = "no_answer"
	OutcomeRejected = "rejected"
	OutcomeFailed   = "failed"
)

// Attempts describes each call as a KPI attempt.
func (o Options) Attempts(calls []*callgraph.Call) []Attempt {
	out := make([]Attempt, 0, len(calls))
	for _, c := range calls {
		a := Attempt{Call: c, Direction: "internal"}
		first := origin(c)
		if first == nil {
			continue
		}
		a.Leg = first
		a.Destination = first.Dialed
		for _, l := range c.Legs {
			if t := o.Trunk(l); t != "" {
				a.Leg, a.Trunk = l, t
				a.Direction = "outbound"
				if l.Role == callgraph.RoleCaller {
					a.Direction = "inbound"
				}
				break
			}
		}
		a.Account = a.Leg.Account
		for _, l := range c.Legs {
			if a.Account == "" {
				a.Account = l.Account
			}
		}
		a.Outcome = classify(a.Leg)
		var at time.Time
		for _, x := range c.Connections {
			if x.Kind == callgraph.KindDial && (x.From == a.Leg.ID || x.To == a.Leg.ID) && x.PDD != nil &&
				(at.IsZero() || x.At.Before(at)) {
				a.PDD, at = x.PDD, x.At.Time
			}
		}
		out = append(out, a)
	}
	return out
}

// classify gives a leg's outcome for ASR and NER (ITU-T E.411, E.425).
func classify(l *callgraph.Leg) string {
	if !l.Answered.IsZero() {
		return OutcomeAnswered
	}
	switch l.Cause {
	case causes.UserBusy:
		return OutcomeBusy
	case causes.CallRejected:
		return OutcomeRejected
	}
	switch l.Disposition {
	case "BUSY":
		return OutcomeBusy
	case "CANCEL":
		return OutcomeNoAnswer
	case "NO ANSWER":
		switch l.Cause {
		case 0, causes.NormalClearing, causes.NoUserResponse, causes.NoAnswer,
			causes.AnsweredElsewhere, causes.NormalUnspecified:
			return OutcomeNoAnswer
		}
	}
	return OutcomeFailed
}

// KPI computes the KPI report.
func KPI(calls []*callgraph.Call, o Options) *KPIReport {
	r := &KPIReport{Total: KPIStats{Key: "total"}}
	trunks := map[string]*KPIStats{}
	prefixes := map[string]*KPIStats{}
	accounts := map[string]*KPIStats{}
	intervals := map[time.Time]*KPIStats{}
	get := func(m map[string]*KPIStats, k string) *KPIStats {
		s := m[k]
		if s == nil {
			s = &KPIStats{Key: k}
			m[k] = s
		}
		return s
	}
	for _, a := range o.Attempts(calls) {
		sp := callSpan(a.Call)
		r.Total.add(a, sp)
		trunk := a.Trunk
		if trunk == "" {
			trunk = "(internal)"
		}
		get(trunks, trunk).add(a, sp)
		get(prefixes, o.Prefix(a.Destination)).add(a, sp)
		get(accounts, orNone(a.Account)).add(a, sp)
		if o.Interval != NoInterval {
			start, label := o.bucket(a.Call.Start.Time)
			s := intervals[start]
			if s == nil {
				s = &KPIStats{Key: label, start: start}
				intervals[start] = s
			}
			s.count(a)
			// The peak of an interval counts every call in progress
			// during it, the ones that started before it included.
			for b := start; b.Before(sp.to); b = o.next(b) {
				bs := intervals[b]
				if bs == nil {
					_, l := o.bucket(b)
					bs = &KPIStats{Key: l, start: b}
					intervals[b] = bs
				}
				bs.spans = append(bs.spans, span{maxTime(sp.from, b), minTime(sp.to, o.next(b))})
			}
		}
	}
	r.Total.finish()
	r.ByTrunk = finishAll(trunks)
	r.ByPrefix = finishAll(prefixes)
	r.ByAccount = finishAll(accounts)
	for _, s := range intervals {
		s.finish()
		r.ByInterval = append(r.ByInterval, *s)
	}
	slices.SortFunc(r.ByInterval, func(a, b KPIStats) int { return a.start.Compare(b.start) })
	return r
}

func (o Options) next(t time.Time) time.Time {
	if o.Interval == Day {
		return t.AddDate(0, 0, 1)
	}
	return t.Add(time.Hour)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func finishAll(m map[string]*KPIStats) []KPIStats {
	var out []KPIStats
	for _, k := range sortedKeys(m) {
		m[k].finish()
		out = append(out, *m[k])
	}
	return out
}

func (s *KPIStats) add(a Attempt, sp span) {
	s.count(a)
	s.spans = append(s.spans, sp)
}

func (s *KPIStats) count(a Attempt) {
	s.Attempts++
	switch a.Outcome {
	case OutcomeAnswered:
		s.Answered++
		s.Billsec += a.Leg.Billsec
	case OutcomeBusy:
		s.Busy++
	case OutcomeNoAnswer:
		s.NoAnswer++
	case OutcomeRejected:
		s.Rejected++
	default:
		s.Failed++
	}
	if a.PDD != nil {
		s.PDDCount++
		s.pddSum += *a.PDD
	}
}

func (s *KPIStats) finish() {
	s.ASR = pct(s.Answered, s.Attempts)
	s.NER = pct(s.Answered+s.Busy+s.NoAnswer+s.Rejected, s.Attempts)
	s.Billsec = callgraph.Seconds(roundMs(float64(s.Billsec)))
	s.ACD = avg(s.Billsec, s.Answered)
	if s.PDDCount > 0 {
		p := avg(s.pddSum, s.PDDCount)
		s.PDD = &p
	}
	n, at := peak(s.spans)
	s.Peak = n
	if n > 0 {
		at = at.UTC()
		s.PeakAt = &at
	}
}

// Tables implements Report.
func (r *KPIReport) Tables() []Table {
	cols := []string{"attempts", "answered", "busy", "no answer", "rejected", "failed",
		"ASR", "NER", "ACD (ALOC)", "billsec", "PDD", "peak", "peak at"}
	row := func(s KPIStats) []string {
		peakAt := "–"
		if s.PeakAt != nil {
			peakAt = s.PeakAt.Format("2006-01-02 15:04:05")
		}
		return []string{s.Key, fmtInt(s.Attempts), fmtInt(s.Answered), fmtInt(s.Busy), fmtInt(s.NoAnswer),
			fmtInt(s.Rejected), fmtInt(s.Failed), fmtPct(s.ASR), fmtPct(s.NER), fmtSec(s.ACD),
			fmtSec(s.Billsec), fmtSecPtr(s.PDD), fmtInt(s.Peak), peakAt}
	}
	table := func(title, key string, rows []KPIStats) Table {
		t := Table{Title: title, Columns: append([]string{key}, cols...)}
		for _, s := range rows {
			t.Rows = append(t.Rows, row(s))
		}
		return t
	}
	total := table("KPI", "", []KPIStats{r.Total})
	total.Notes = []string{
		"ASR = answered / attempts; NER = (answered + busy + no answer + rejected) / attempts",
		"ACD = billsec of answered attempts / answered; PDD = dial to first 18x; peak = most calls in progress at once (UTC)",
	}
	out := []Table{total,
		table("KPI per trunk", "trunk", r.ByTrunk),
		table("KPI per destination prefix", "prefix", r.ByPrefix),
		table("KPI per account", "account", r.ByAccount)}
	if len(r.ByInterval) > 0 {
		out = append(out, table("KPI per interval", "interval", r.ByInterval))
	}
	return out
}

package reports

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/reports/causes"
)

// CauseReport counts how the legs ended: by Q.850 cause, by SIP status
// where one is known, and per trunk and destination, with both mapping
// views and an explanation of every code.
type CauseReport struct {
	Language string `json:"language"`
	Legs     int    `json:"legs"`
	// Causes is ordered by count, largest first.
	Causes []CauseStats `json:"causes"`
	SIP    []SIPStats   `json:"sip"`
	Routes []RouteCause `json:"routes"`
}

// CauseStats are the legs that ended with one Q.850 cause.
type CauseStats struct {
	Cause int      `json:"cause"`
	Name  string   `json:"name"`
	Text  string   `json:"text"`
	Legs  int      `json:"legs"`
	Share *float64 `json:"share"`
	// Who released the legs: the caller, the callee, or Asterisk itself.
	ByCaller int `json:"by_caller"`
	ByCallee int `json:"by_callee"`
	BySystem int `json:"by_system"`
	// SIPSeen lists the SIP statuses recorded with this cause.
	SIPSeen []int `json:"sip_seen"`
	// AsteriskSIP and RFC3398SIP are the SIP responses each view maps the
	// cause to (nil: none; Asterisk then answers an INVITE with 603).
	AsteriskSIP *int               `json:"asterisk_sip"`
	RFC3398SIP  *int               `json:"rfc3398_sip"`
	Explanation causes.Explanation `json:"explanation"`
}

// SIPStats are the legs that ended with one SIP status.
type SIPStats struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	Legs   int    `json:"legs"`
	// CausesSeen lists the Q.850 causes recorded with this status.
	CausesSeen []int `json:"causes_seen"`
	// AsteriskCause and RFC3398Cause are the causes each view maps the
	// status to (RFC3398Cause nil: the RFC has no mapping).
	AsteriskCause int                `json:"asterisk_cause"`
	RFC3398Cause  *int               `json:"rfc3398_cause"`
	Explanation   causes.Explanation `json:"explanation"`
}

// RouteCause counts the legs on one trunk to one destination prefix that
// ended with one cause and SIP status.
type RouteCause struct {
	Trunk       string `json:"trunk"`
	Destination string `json:"destination"`
	Cause       int    `json:"cause"`
	SIP         *int   `json:"sip"`
	Legs        int    `json:"legs"`
}

// Causes computes the hangup-cause report over every leg of the calls.
// A leg's trunk is its endpoint when that is a trunk ("(internal)"
// otherwise); its destination is the prefix of the number its call's
// first caller dialled.
func Causes(calls []*callgraph.Call, o Options) *CauseReport {
	r := &CauseReport{Language: o.Language}
	byCause := map[int]*CauseStats{}
	bySIP := map[int]*SIPStats{}
	type rk struct {
		trunk, dest string
		cause, sip  int
	}
	routes := map[rk]int{}
	for _, c := range calls {
		dest := ""
		if l := origin(c); l != nil {
			dest = l.Dialed
		}
		for _, l := range c.Legs {
			r.Legs++
			s := byCause[l.Cause]
			if s == nil {
				s = &CauseStats{Cause: l.Cause, Name: causes.Name(l.Cause), Text: causes.Text(l.Cause)}
				if v, ok := causes.AsteriskCauseToSIP(l.Cause); ok {
					s.AsteriskSIP = &v
				}
				if v, ok := causes.RFC3398CauseToSIP(l.Cause); ok {
					s.RFC3398SIP = &v
				}
				s.Explanation, _ = causes.Explain(o.Language, causes.Q850, l.Cause)
				byCause[l.Cause] = s
			}
			s.Legs++
			switch l.ReleasedBy {
			case "caller":
				s.ByCaller++
			case "callee":
				s.ByCallee++
			default:
				s.BySystem++
			}
			sip := 0
			if l.SIPCode != nil {
				sip = *l.SIPCode
				if !slices.Contains(s.SIPSeen, sip) {
					s.SIPSeen = append(s.SIPSeen, sip)
				}
				t := bySIP[sip]
				if t == nil {
					t = &SIPStats{Code: sip, Reason: causes.SIPReason(sip), AsteriskCause: causes.AsteriskSIPToCause(sip)}
					if v, ok := causes.RFC3398SIPToCause(sip); ok {
						t.RFC3398Cause = &v
					}
					t.Explanation, _ = causes.Explain(o.Language, causes.SIP, sip)
					bySIP[sip] = t
				}
				t.Legs++
				if !slices.Contains(t.CausesSeen, l.Cause) {
					t.CausesSeen = append(t.CausesSeen, l.Cause)
				}
			}
			trunk := o.Trunk(l)
			if trunk == "" {
				trunk = "(internal)"
			}
			routes[rk{trunk, o.Prefix(dest), l.Cause, sip}]++
		}
	}
	for _, s := range byCause {
		slices.Sort(s.SIPSeen)
		s.Share = pct(s.Legs, r.Legs)
		r.Causes = append(r.Causes, *s)
	}
	slices.SortFunc(r.Causes, func(a, b CauseStats) int {
		if a.Legs != b.Legs {
			return b.Legs - a.Legs
		}
		return a.Cause - b.Cause
	})
	for _, t := range bySIP {
		slices.Sort(t.CausesSeen)
		r.SIP = append(r.SIP, *t)
	}
	slices.SortFunc(r.SIP, func(a, b SIPStats) int {
		if a.Legs != b.Legs {
			return b.Legs - a.Legs
		}
		return a.Code - b.Code
	})
	for k, n := range routes {
		rc := RouteCause{Trunk: k.trunk, Destination: k.dest, Cause: k.cause, Legs: n}
		if k.sip != 0 {
			sip := k.sip
			rc.SIP = &sip
		}
		r.Routes = append(r.Routes, rc)
	}
	slices.SortFunc(r.Routes, func(a, b RouteCause) int {
		if c := compareStrings(a.Trunk, b.Trunk); c != 0 {
			return c
		}
		if c := compareStrings(a.Destination, b.Destination); c != 0 {
			return c
		}
		if a.Cause != b.Cause {
			return a.Cause - b.Cause
		}
		return intOr0(a.SIP) - intOr0(b.SIP)
	})
	return r
}

func intOr0(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func fmtIntPtr(p *int) string {
	if p == nil {
		return "–"
	}
	return strconv.Itoa(*p)
}

func fmtInts(v []int) string {
	s := ""
	for i, n := range v {
		if i > 0 {
			s += ", "
		}
		s += strconv.Itoa(n)
	}
	return s
}

// Tables implements Report.
func (r *CauseReport) Tables() []Table {
	ct := Table{
		Title: fmt.Sprintf("Hangup causes (%d legs)", r.Legs),
		Columns: []string{"cause", "text", "legs", "share", "by caller", "by callee", "by system",
			"SIP seen", "→SIP Asterisk", "→SIP RFC 3398", "meaning", "check"},
		Notes: []string{"→SIP: the response each view sends for the cause; – for Asterisk: none (an unanswered INVITE gets 603); – for RFC 3398: ends with BYE"},
	}
	for _, s := range r.Causes {
		ct.Rows = append(ct.Rows, []string{fmtInt(s.Cause), s.Text, fmtInt(s.Legs), fmtPct(s.Share),
			fmtInt(s.ByCaller), fmtInt(s.ByCallee), fmtInt(s.BySystem), fmtInts(s.SIPSeen),
			fmtIntPtr(s.AsteriskSIP), fmtIntPtr(s.RFC3398SIP), s.Explanation.Meaning, s.Explanation.Check})
	}
	st := Table{
		Title:   "SIP statuses",
		Columns: []string{"SIP", "reason", "legs", "causes seen", "→cause Asterisk", "→cause RFC 3398", "meaning", "check"},
		Notes:   []string{"→cause: the Q.850 cause each view maps the response to; – : RFC 3398 has none"},
	}
	for _, s := range r.SIP {
		st.Rows = append(st.Rows, []string{fmtInt(s.Code), s.Reason, fmtInt(s.Legs), fmtInts(s.CausesSeen),
			fmtInt(s.AsteriskCause), fmtIntPtr(s.RFC3398Cause), s.Explanation.Meaning, s.Explanation.Check})
	}
	rt := Table{Title: "Hangup causes per trunk and destination", Columns: []string{"trunk", "destination", "cause", "text", "SIP", "legs"}}
	for _, s := range r.Routes {
		rt.Rows = append(rt.Rows, []string{s.Trunk, s.Destination, fmtInt(s.Cause), causes.Text(s.Cause), fmtIntPtr(s.SIP), fmtInt(s.Legs)})
	}
	return []Table{ct, st, rt}
}

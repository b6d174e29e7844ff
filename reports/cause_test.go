package reports

import (
	"strings"
	"testing"
)

// S21 (chan_sip) and P06 (PJSIP) are the same four failures from one phone:
// callee 486, callee 603, callee 404, caller CANCEL after ringing. By hand,
// from the 16 legs:
//
//	cause 17: 4 legs (both legs of both 486 calls); SIP 486 on the two
//	  PJSIP legs; released by the callee once (P06's callee), else system
//	cause 21: 4 legs; SIP 403 (P06 caller: Asterisk answers a 603 with
//	  403) and 603 (P06 callee)
//	cause 1: 4 legs; SIP 404 twice
//	cause 16: S21's CANCEL (chan_sip), both legs, released by the caller
//	cause 127: P06's CANCEL, 2 legs: SIP 487 (caller) and 500 (callee)
//
// The SIP view: 500 is cause 38 for Asterisk and 41 for RFC 3398; 487 is
// 127 for Asterisk and has no RFC 3398 mapping.
func TestCauses(t *testing.T) {
	o := DefaultOptions()
	r := Causes(load(t, "S21", "P06"), o)
	if r.Legs != 16 {
		t.Errorf("legs = %d, want 16", r.Legs)
	}
	want := []struct {
		cause, legs, caller, callee, system int
		sip                                 string
		asterisk, rfc                       string
	}{
		{1, 4, 0, 2, 2, "404", "404", "404"},
		{17, 4, 0, 1, 3, "486", "486", "486"},
		{21, 4, 0, 1, 3, "403, 603", "403", "403"},
		{16, 2, 2, 0, 0, "", "–", "–"},
		{127, 2, 2, 0, 0, "487, 500", "500", "500"},
	}
	if len(r.Causes) != len(want) {
		t.Fatalf("causes = %d, want %d", len(r.Causes), len(want))
	}
	for i, w := range want {
		c := r.Causes[i]
		if c.Cause != w.cause || c.Legs != w.legs || c.ByCaller != w.caller || c.ByCallee != w.callee || c.BySystem != w.system ||
			fmtInts(c.SIPSeen) != w.sip || fmtIntPtr(c.AsteriskSIP) != w.asterisk || fmtIntPtr(c.RFC3398SIP) != w.rfc {
			t.Errorf("cause row %d = %d legs %d caller/callee/system %d/%d/%d sip %q →%s/%s, want %+v", i,
				c.Cause, c.Legs, c.ByCaller, c.ByCallee, c.BySystem, fmtInts(c.SIPSeen), fmtIntPtr(c.AsteriskSIP), fmtIntPtr(c.RFC3398SIP), w)
		}
		if c.Explanation.Meaning == "" || c.Explanation.Check == "" {
			t.Errorf("cause %d has no explanation", c.Cause)
		}
	}
	sip := map[int]SIPStats{}
	for _, s := range r.SIP {
		sip[s.Code] = s
	}
	for _, w := range []struct {
		code, legs, asterisk int
		rfc                  string
	}{
		{404, 2, 1, "1"}, {486, 2, 17, "17"}, {403, 1, 21, "21"}, {603, 1, 21, "21"},
		{487, 1, 127, "–"}, {500, 1, 38, "41"},
	} {
		s, ok := sip[w.code]
		if !ok || s.Legs != w.legs || s.AsteriskCause != w.asterisk || fmtIntPtr(s.RFC3398Cause) != w.rfc {
			t.Errorf("SIP %d = %+v, want legs %d →%d/%s", w.code, s, w.legs, w.asterisk, w.rfc)
		}
	}
	if len(r.SIP) != 6 {
		t.Errorf("SIP statuses = %d, want 6", len(r.SIP))
	}
	// Every leg is internal and dialled 102x: 3-digit prefix 102.
	n := 0
	for _, rc := range r.Routes {
		if rc.Trunk != "(internal)" || rc.Destination != "102" {
			t.Errorf("route %+v", rc)
		}
		n += rc.Legs
	}
	if n != 16 {
		t.Errorf("routes count %d legs, want 16", n)
	}

	// In Russian the explanations change, the figures do not.
	o.Language = "ru"
	ru := Causes(load(t, "S21", "P06"), o)
	if !strings.Contains(ru.Causes[1].Explanation.Meaning, "занят") {
		t.Errorf("ru 17 = %q", ru.Causes[1].Explanation.Meaning)
	}
}

// A trunk leg is reported under its trunk: in S23 the trunk leg (party
// 5557788 on SIP/trunk) ended normally, to prefix 955 (1026 dialled
// 95557788).
func TestCausesPerTrunk(t *testing.T) {
	r := Causes(load(t, "S23"), DefaultOptions())
	var found bool
	for _, rc := range r.Routes {
		if rc.Trunk == "SIP/trunk" {
			found = true
			if rc.Destination != "955" || rc.Cause != 16 || rc.Legs != 1 {
				t.Errorf("trunk route = %+v", rc)
			}
		}
	}
	if !found {
		t.Error("no SIP/trunk row")
	}
}

package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/shopspring/decimal"
)

// t0 is when the constructed calls start.
var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// at is t0 plus s seconds; a negative s is no time at all.
func at(s float64) callgraph.Time {
	if s < 0 {
		return callgraph.Time{}
	}
	return callgraph.Time{Time: t0.Add(time.Duration(s * float64(time.Second)))}
}

// leg builds a leg created, answered (-1: never) and ended at seconds
// after t0, with its billsec as the engine computes it.
func leg(id, channel, party, role string, created, answered, ended float64) *callgraph.Leg {
	l := &callgraph.Leg{ID: id, Channel: channel, Party: party, Role: role,
		Created: at(created), Answered: at(answered), Ended: at(ended)}
	if answered >= 0 {
		l.Billsec = callgraph.Dur(l.Ended.Sub(l.Answered.Time))
	}
	return l
}

func seg(a, b string, start, end float64) callgraph.Segment {
	return callgraph.Segment{A: a, B: b, Start: at(start), End: at(end), Seconds: callgraph.Seconds(end - start)}
}

func conn(kind, by, from, to string, t float64) callgraph.Connection {
	return callgraph.Connection{Kind: kind, By: by, From: from, To: to, At: at(t)}
}

// inboundTransfer is billing.md's worked example: A calls in from the
// PSTN to B; B answers after 10 s; A and B talk 2:00; B blind-transfers A
// to C; C rings 10 s and answers; A and C talk 2:00; A hangs up. A's trunk
// leg is billed 4:10.
func inboundTransfer() *callgraph.Call {
	a := leg("a", "SIP/trunk-00000001", "+15551234567", callgraph.RoleCaller, 0, 10, 260)
	a.Dialed = "5550100"
	b := leg("b", "SIP/1002-00000002", "1002", callgraph.RoleCallee, 0, 10, 130)
	c := leg("c", "SIP/1003-00000003", "1003", callgraph.RoleTransferTarget, 130, 140, 260)
	return &callgraph.Call{
		ID: "a", Start: at(0), End: at(260),
		Legs: []*callgraph.Leg{a, b, c},
		Connections: []callgraph.Connection{
			conn(callgraph.KindDial, "", "a", "b", 0),
			conn(callgraph.KindBlindTransfer, "b", "a", "c", 130),
			conn(callgraph.KindDial, "", "a", "c", 130),
		},
		Segments: []callgraph.Segment{seg("a", "b", 10, 130), seg("a", "c", 140, 260)},
	}
}

// outboundTransfer is the worked example turned around: B (account
// "sales") dials out to 555-1234 through the trunk; the far end answers
// after 10 s; they talk 2:00; B blind-transfers the trunk to C; C rings
// 10 s and answers; the trunk and C talk 2:00; the far end hangs up. The
// trunk leg is billed 4:10; B talked 2:00 and transferred, C talked 2:00.
func outboundTransfer() *callgraph.Call {
	b := leg("b", "SIP/1002-00000002", "1002", callgraph.RoleCaller, 0, 10, 130)
	b.Dialed, b.Account = "5551234", "sales"
	tr := leg("t", "SIP/trunk-00000003", "5551234", callgraph.RoleCallee, 0, 10, 260)
	c := leg("c", "SIP/1003-00000004", "1003", callgraph.RoleTransferTarget, 130, 140, 260)
	return &callgraph.Call{
		ID: "b", Start: at(0), End: at(260),
		Legs: []*callgraph.Leg{b, tr, c},
		Connections: []callgraph.Connection{
			conn(callgraph.KindDial, "", "b", "t", 0),
			conn(callgraph.KindBlindTransfer, "b", "t", "c", 130),
			conn(callgraph.KindDial, "", "t", "c", 130),
		},
		Segments: []callgraph.Segment{seg("b", "t", 10, 130), seg("t", "c", 140, 260)},
	}
}

func testRates(t *testing.T) *Rates {
	t.Helper()
	rs, err := LoadRates("testdata/rates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func testRater(t *testing.T, attribution, defaultAccount string) *Rater {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Trunks = []string{"SIP/trunk"}
	cfg.Attribution = attribution
	cfg.DefaultAccount = defaultAccount
	r, err := NewRater(testRates(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkRecords compares records field by field, billsec to the ms.
func checkRecords(t *testing.T, got, want []callgraph.Billing) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Billsec.Duration() != w.Billsec.Duration() {
			t.Errorf("record %d: billsec %v, want %v", i, g.Billsec.Duration(), w.Billsec.Duration())
		}
		g.Billsec, w.Billsec = 0, 0
		if g != w {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

const newYorkLocal = "+1212555 New York local: 0.036/min, connect 0.01"

func TestWorkedExampleInbound(t *testing.T) {
	// A's trunk leg is inbound: one record whatever the policy, for the
	// whole 4:10, priced by the inbound row of the DID it dialled.
	// 250 s on 60/60 is 300 s, 5 steps; 300 s × 0.009/min = 0.045.
	want := []callgraph.Billing{{
		Leg: "a", Party: "+15551234567", Account: "house", Billsec: 250, BilledSeconds: 300,
		Destination: "+12125550100", Cost: "0.0450", Currency: "EUR", Plan: "retail",
		Row: "+1212555 New York DIDs: 0.009/min", Increment: "60/60", Units: 5,
	}}
	for _, policy := range []string{Originator, Segments} {
		t.Run(policy, func(t *testing.T) {
			checkRecords(t, testRater(t, policy, "house").Rate(inboundTransfer()), want)
		})
	}
}

func TestWorkedExampleOutbound(t *testing.T) {
	// The trunk leg lasts 250 s on the New York local row: 12/6 at
	// 0.036/min with a 0.01 connect fee.
	t.Run(Originator, func(t *testing.T) {
		// B dialled the trunk and pays all of it, by B's account (the trunk
		// leg has none of its own): 12 s + 40 × 6 s = 252 s in 41 steps;
		// 252 × 0.036 / 60 = 0.1512, + 0.01 = 0.1612.
		want := []callgraph.Billing{{
			Leg: "t", Party: "1002", Account: "sales", Billsec: 250, BilledSeconds: 252,
			Destination: "+12125551234", Cost: "0.1612", Currency: "EUR", Plan: "retail",
			Row: newYorkLocal, Increment: "12/6", Units: 41,
		}}
		checkRecords(t, testRater(t, Originator, "house").Rate(outboundTransfer()), want)
	})
	t.Run(Segments, func(t *testing.T) {
		// B pays its 2:00 of talk and the 10 s C rang (B transferred):
		// 130 s, priced as the leg's first 130 s: 12 s + 20 × 6 s = 132 s
		// in 21 steps, 132 × 0.036 / 60 = 0.0792, + 0.01 = 0.0892.
		// C pays the rest of the leg, 2:00, as the leg's time from 130 s to
		// 250 s: 252 − 132 = 120 s in 20 steps, 0.1612 − 0.0892 = 0.0720;
		// C has no account, so the default's.
		want := []callgraph.Billing{
			{Leg: "t", Party: "1002", Account: "sales", Billsec: 130, BilledSeconds: 132,
				Destination: "+12125551234", Cost: "0.0892", Currency: "EUR", Plan: "retail",
				Row: newYorkLocal, Increment: "12/6", Units: 21},
			{Leg: "t", Party: "1003", Account: "house", Billsec: 120, BilledSeconds: 120,
				Destination: "+12125551234", Cost: "0.0720", Currency: "EUR", Plan: "retail",
				Row: newYorkLocal, Increment: "12/6", Units: 20},
		}
		checkRecords(t, testRater(t, Segments, "house").Rate(outboundTransfer()), want)
	})
	t.Run("segments across plans", func(t *testing.T) {
		// C's account is on the wholesale plan (+1 at 0.01/min, 1/1, USD,
		// half-even to 2): C pays its slice of the leg on its own plan's
		// clock: 250 s cost 0.041666… → 0.04, 130 s 0.021666… → 0.02, so
		// 0.02 for 120 s.
		c := outboundTransfer()
		c.Legs[2].Account = "acme"
		got := testRater(t, Segments, "house").Rate(c)
		want := callgraph.Billing{Leg: "t", Party: "1003", Account: "acme", Billsec: 120, BilledSeconds: 120,
			Destination: "+12125551234", Cost: "0.02", Currency: "USD", Plan: "wholesale",
			Row: "+1 North America: 0.01/min", Increment: "1/1", Units: 120}
		checkRecords(t, got[1:], []callgraph.Billing{want})
	})
	t.Run("the trunk leg's own account", func(t *testing.T) {
		// An account the dialplan set on the trunk leg itself pays the
		// originator's part, under either policy.
		for _, policy := range []string{Originator, Segments} {
			c := outboundTransfer()
			c.Legs[1].Account = "project-x"
			got := testRater(t, policy, "house").Rate(c)
			if got[0].Account != "project-x" || got[0].Party != "1002" {
				t.Errorf("%s: first record paid by %s/%s, want 1002/project-x", policy, got[0].Party, got[0].Account)
			}
			if policy == Segments && got[1].Account != "house" {
				t.Errorf("%s: C's record paid by %s, want C's own (the default)", policy, got[1].Account)
			}
		}
	})
}

func TestSegmentsPolicy(t *testing.T) {
	r := testRater(t, Segments, "")
	parties := func(recs []callgraph.Billing) string {
		var b strings.Builder
		for _, rec := range recs {
			b.WriteString(rec.Party + "=" + rec.Billsec.Duration().String() + " ")
		}
		return strings.TrimSpace(b.String())
	}

	t.Run("hold with the same party", func(t *testing.T) {
		// B puts the far end on hold for 30 s mid-call: one record.
		c := outboundTransfer()
		c.Legs = c.Legs[:2]
		c.Legs[1].Ended = at(130)
		c.Legs[1].Billsec = 120
		c.Connections = c.Connections[:1]
		c.Segments = []callgraph.Segment{seg("b", "t", 10, 50), seg("b", "t", 80, 130)}
		if got, want := parties(r.Rate(c)), "1002=2m0s"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("transferred back", func(t *testing.T) {
		// B → C → B again: B's two stretches make one record. B: 60 s of
		// talk, 10 s before C, 50 s at the end; C: 120 s of talk and the
		// 10 s before B took the call back.
		c := outboundTransfer()
		c.Segments = []callgraph.Segment{seg("b", "t", 10, 70), seg("t", "c", 80, 200), seg("b", "t", 210, 260)}
		if got, want := parties(r.Rate(c)), "1002=2m0s 1003=2m10s"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("overlapping segments", func(t *testing.T) {
		// A three-way bridge: C joins while B is still there. The party
		// already talking keeps paying; C pays from when B left (150 s,
		// 140 s into the leg) to the end.
		c := outboundTransfer()
		c.Segments = []callgraph.Segment{seg("b", "t", 10, 150), seg("t", "c", 100, 200)}
		if got, want := parties(r.Rate(c)), "1002=2m20s 1003=1m50s"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		// C comes and goes while B stays: B pays it all.
		c.Segments = []callgraph.Segment{seg("b", "t", 10, 200), seg("t", "c", 100, 150)}
		if got, want := parties(r.Rate(c)), "1002=4m10s"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("transferred to another trunk", func(t *testing.T) {
		// B passes the far end to a second trunk leg (a forward to a mobile):
		// a trunk pays nothing, B pays both legs.
		c := outboundTransfer()
		c.Legs[2] = leg("t2", "SIP/trunk-00000005", "5559876", callgraph.RoleTransferTarget, 130, 140, 260)
		c.Connections = []callgraph.Connection{
			conn(callgraph.KindDial, "", "b", "t", 0),
			conn(callgraph.KindBlindTransfer, "b", "t", "t2", 130),
			conn(callgraph.KindDial, "", "t", "t2", 130),
		}
		c.Segments = []callgraph.Segment{seg("b", "t", 10, 130), seg("t", "t2", 140, 260)}
		recs := r.Rate(c)
		if got, want := parties(recs), "1002=4m10s 1002=2m0s"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		if recs[1].Leg != "t2" || recs[1].Account != "sales" {
			t.Errorf("second trunk leg's record: %+v; want t2 paid by sales, who transferred to it", recs[1])
		}
	})
	t.Run("no segments", func(t *testing.T) {
		// Early media or an IVR nobody talked in: the originator pays.
		c := outboundTransfer()
		c.Segments = nil
		if got, want := parties(r.Rate(c)), "1002=4m10s"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("originated call", func(t *testing.T) {
		// A trunk leg no internal party dialled is its own payer.
		c := &callgraph.Call{Legs: []*callgraph.Leg{leg("t", "SIP/trunk-00000001", "5551234", callgraph.RoleCallee, 0, 5, 65)}}
		recs := r.Rate(c)
		if got, want := parties(recs), "5551234=1m0s"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func TestRateEdges(t *testing.T) {
	r := testRater(t, Originator, "")
	t.Run("unanswered", func(t *testing.T) {
		// No answer: a record of 0 s that costs nothing, no connect fee.
		c := outboundTransfer()
		c.Legs = c.Legs[:2]
		c.Legs[1] = leg("t", "SIP/trunk-00000003", "5551234", callgraph.RoleCallee, 0, -1, 20)
		c.Segments = nil
		checkRecords(t, r.Rate(c), []callgraph.Billing{{
			Leg: "t", Party: "1002", Account: "sales", Destination: "+12125551234", Cost: "0.0000",
			Currency: "EUR", Plan: "retail", Row: newYorkLocal, Increment: "12/6",
		}})
	})
	t.Run("no row", func(t *testing.T) {
		// A destination the plan does not price: an error, no cost.
		c := outboundTransfer()
		c.Legs[1].Party = "011999123"
		got := r.Rate(c)
		want := []callgraph.Billing{{
			Leg: "t", Party: "1002", Account: "sales", Billsec: 250, Destination: "+999123",
			Currency: "EUR", Plan: "retail",
			Error: `plan "retail" has no outbound row for "+999123" (dialled "011999123")`,
		}}
		checkRecords(t, got, want)
	})
	t.Run("no plan", func(t *testing.T) {
		rs, err := ParseRates([]byte(valid+"accounts: {acme: p}\n"), "strict.yaml")
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Trunks = []string{"SIP/trunk"}
		strict, err := NewRater(rs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := strict.Rate(outboundTransfer())
		if len(got) != 1 || got[0].Cost != "" || got[0].Plan != "" ||
			got[0].Error != `account "sales" has no plan and strict.yaml sets no default_plan` {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("the leg's own increments from exact ms", func(t *testing.T) {
		// 60.001 s on the North America row (60/60) is two minutes: the
		// millisecond past the minute counts, as Asterisk's truncated
		// billsec of 60 would not.
		c := outboundTransfer()
		c.Legs[1].Party = "13125550000"
		c.Legs[1].Billsec = 60.001
		got := r.Rate(c)
		if got[0].BilledSeconds != 120 || got[0].Cost != "0.1000" || got[0].Units != 2 {
			t.Errorf("got %+v, want 120 s, 2 units, 0.1000", got[0])
		}
	})
	t.Run("the call is not modified", func(t *testing.T) {
		c := outboundTransfer()
		r.Rate(c)
		if c.Billing != nil {
			t.Errorf("Rate set the call's billing: %+v", c.Billing)
		}
	})
}

func TestLegsAll(t *testing.T) {
	rs, err := ParseRates([]byte(`currency: EUR
rounding: {mode: half-up, decimals: 2}
default_plan: internal
plans:
  internal:
    outbound:
      - {prefix: "10", name: extensions, price: 0.01, increment: 1/1}
    inbound:
      - {prefix: "", name: free, price: 0, increment: 1/1}
`), "all.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Legs = BillAll
	cfg.Trunks = []string{"SIP/trunk-*"}
	r, err := NewRater(rs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := inboundTransfer()
	c.Legs[1].Account = "support"
	got := r.Rate(c)
	// Every leg, each paid by itself: the trunk caller inbound by the DID
	// it dialled; B and C outbound, to themselves (120 s at 0.01/min).
	want := []callgraph.Billing{
		{Leg: "a", Party: "+15551234567", Billsec: 250, BilledSeconds: 250, Destination: "5550100",
			Cost: "0.00", Currency: "EUR", Plan: "internal", Row: "* free: 0/min", Increment: "1/1", Units: 250},
		{Leg: "b", Party: "1002", Account: "support", Billsec: 120, BilledSeconds: 120, Destination: "1002",
			Cost: "0.02", Currency: "EUR", Plan: "internal", Row: "10 extensions: 0.01/min", Increment: "1/1", Units: 120},
		{Leg: "c", Party: "1003", Billsec: 120, BilledSeconds: 120, Destination: "1003",
			Cost: "0.02", Currency: "EUR", Plan: "internal", Row: "10 extensions: 0.01/min", Increment: "1/1", Units: 120},
	}
	checkRecords(t, got, want)
}

func TestIsTrunk(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Trunks = []string{"SIP/trunk-*", "PJSIP/provider", "re:^IAX2/(carrier|backup)-"}
	r, err := NewRater(&Rates{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		channel string
		want    bool
	}{
		{"SIP/trunk-0000001d", true},
		{"SIP/trunk2-0000001d", false},
		{"PJSIP/provider-0000001a", true}, // the device matches
		{"PJSIP/provider", true},
		{"PJSIP/provider-b-0000001a", false},
		{"IAX2/carrier-1234", true},
		{"IAX2/carrier2-1234", false},
		{"SIP/1001-00000000", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := r.IsTrunk(&callgraph.Leg{Channel: tt.channel}); got != tt.want {
			t.Errorf("IsTrunk(%q) = %v, want %v", tt.channel, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"default with trunks", func(c *Config) { c.Trunks = []string{"SIP/trunk-*"} }, ""},
		{"all legs, no trunks", func(c *Config) { c.Legs = BillAll }, ""},
		{"default without trunks", func(c *Config) {}, "billing: legs is trunks but no trunk patterns are set"},
		{"legs", func(c *Config) { c.Legs = "some"; c.Trunks = []string{"x"} }, `billing: legs "some": want trunks or all`},
		{"attribution", func(c *Config) { c.Legs = BillAll; c.Attribution = "caller" }, `billing: attribution "caller": want originator or segments`},
		{"bad glob", func(c *Config) { c.Trunks = []string{"SIP/[trunk"} }, `billing: trunk pattern "SIP/[trunk": syntax error in pattern`},
		{"bad regexp", func(c *Config) { c.Trunks = []string{"re:SIP/(trunk"} }, `billing: trunk pattern "re:SIP/(trunk": error parsing regexp`},
		{"empty pattern", func(c *Config) { c.Trunks = []string{""} }, "billing: empty trunk pattern"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg)
		err := cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want %s…", tt.name, err, tt.want)
		}
		if _, nerr := NewRater(&Rates{}, cfg); (nerr == nil) != (err == nil) {
			t.Errorf("%s: NewRater says %v, Validate %v", tt.name, nerr, err)
		}
	}
}

func TestQuote(t *testing.T) {
	r := testRater(t, Originator, "")
	q, err := r.Quote("", "011 44 20 7946 0000")
	if err != nil {
		t.Fatal(err)
	}
	if q.Destination != "+442079460000" || q.Plan.Name != "retail" || q.Row.Prefix != "+44" {
		t.Errorf("quote %+v", q)
	}
	// 90 s on the UK row: the first minute 0.30, 30 s at 0.12/min 0.06,
	// the connect fee 0.05: 0.41; above the 0.25 minimum.
	if c := q.Charge(90 * time.Second); !c.Cost.Equal(dec("0.41")) || c.BilledSeconds != 90 || c.Units != 31 {
		t.Errorf("90 s to the UK: %+v, want 0.41, 90 s, 31 units", c)
	}
	// 1 s: 0.30 + 0.05 = 0.35 (the minimum is lower).
	if c := q.Charge(time.Second); !c.Cost.Equal(dec("0.35")) {
		t.Errorf("1 s to the UK: %s, want 0.35", c.Cost)
	}

	q, err = r.Quote("acme", "12125551234")
	if err != nil || q.Plan.Name != "wholesale" || q.Account != "acme" {
		t.Errorf("acme's quote: %+v, %v; want the wholesale plan", q, err)
	}
	if _, err := r.Quote("", "011999"); err == nil || err.Error() != `billing: plan "retail" has no outbound row for "+999"` {
		t.Errorf("a destination without a row: %v", err)
	}
}

func TestRaterMaxSeconds(t *testing.T) {
	r := testRater(t, Originator, "")
	tests := []struct {
		account, dest, balance string
		want                   int64
	}{
		// UK: 0.05 connect + 0.30 first minute leaves 0.65 at 0.12/min
		// (0.002 a second): 325 s more, 385 s.
		{"", "0114420", "1.00", 385},
		// The connect fee and the first minute (0.35) are out of reach.
		{"", "0114420", "0.34", 0},
		// New York local, 12/6 at 0.036/min + 0.01: 150 s (12 + 23 × 6)
		// cost 150 × 0.036 / 60 + 0.01 = 0.10 exactly; 151 s pay a further
		// 6 s step, 0.1036.
		{"", "5551234", "0.10", 150},
		// wholesale, per second at 0.01/min rounded half-even to 0.01: 0.01
		// covers up to 89 s (0.01483… → 0.01); 90 s is 0.015 → 0.02.
		{"acme", "12125551234", "0.01", 89},
	}
	for _, tt := range tests {
		got, err := r.MaxSeconds(dec(tt.balance), tt.account, tt.dest)
		if err != nil || got != tt.want {
			t.Errorf("MaxSeconds(%s, %q, %q) = %d, %v; want %d", tt.balance, tt.account, tt.dest, got, err, tt.want)
		}
	}
	if _, err := r.MaxSeconds(decimal.NewFromInt(10), "", "011999"); err == nil {
		t.Error("MaxSeconds to a destination without a row: no error")
	}
}

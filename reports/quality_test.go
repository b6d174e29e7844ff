package reports

import (
	"testing"

	"github.com/calltrail/calltrail/callgraph"
)

// The quality captures and the verdicts the default thresholds give, by
// hand from their records (worst direction; MOS is calltrail's E-model):
//
//	Q01 clean                       loss 0          MOS 4.40  good
//	Q02 1 % random loss from A      loss 1.40 %     MOS 4.29  poor (loss ≥ 1 %)
//	Q03 5 % loss + 0–40 ms jitter   loss 5.90 %     MOS 3.79  bad (loss ≥ 5 %)
//	Q04 bursty ~10 % + 80 ms delay  loss 6.91 %     MOS 3.71  bad (loss); RTT 80.6 ms is fine
//	Q05 3 % loss both ways          loss 3.10 %     MOS 4.10  poor
//	Q06 20 % loss + 0–100 ms jitter loss 20.16 %    MOS 2.51  bad (MOS < 3.1, loss, jitter 30.8/38.5 ms ≥ 30 poor)
func TestQuality(t *testing.T) {
	r := Quality(load(t, "Q01", "Q02", "Q03", "Q04", "Q05", "Q06"), DefaultOptions())
	want := []string{Good, Poor, Bad, Bad, Poor, Bad}
	if len(r.Calls) != len(want) {
		t.Fatalf("calls = %d, want %d", len(r.Calls), len(want))
	}
	for i, w := range want {
		if r.Calls[i].Verdict != w {
			t.Errorf("Q0%d verdict = %s, want %s", i+1, r.Calls[i].Verdict, w)
		}
	}
	if r.Good != 1 || r.Poor != 2 || r.Bad != 3 {
		t.Errorf("good/poor/bad = %d/%d/%d, want 1/2/3", r.Good, r.Poor, r.Bad)
	}
	// Q06, A-leg (1031), the audio it sent: 796 packets received, 201
	// lost, max jitter 30.8 ms, MOS 2.53 beside Asterisk's MES 20.
	q6 := r.Calls[5]
	a := q6.Legs[0]
	if a.Label != "A-leg" || a.Party != "1031" || q6.Legs[1].Label != "B-leg" {
		t.Fatalf("Q06 legs = %s %s, %s", a.Label, a.Party, q6.Legs[1].Label)
	}
	d := a.Directions[0]
	if d.Direction != "from_party" || d.Packets != 796 || d.Lost != 201 || d.LossPct != 20.16 || d.JitterMs != 30.8 ||
		d.MOS != 2.53 || d.MES == nil || *d.MES != 20 || d.Verdict != Bad {
		t.Errorf("Q06 A from party = %+v", d)
	}
	if len(d.Reasons) != 3 {
		t.Errorf("Q06 reasons = %v, want MOS, loss and jitter", d.Reasons)
	}
	// The callgraph's S-captures carry no RTCPReceived: no quality.
	if got := Quality(load(t, "S08"), DefaultOptions()); len(got.Calls) != 0 {
		t.Errorf("S08 has %d quality calls", len(got.Calls))
	}
}

// Built records for what the captures lack: a leg with only the far
// phone's reports (RTCPReceived, no MES), a satellite-like round trip, and
// each threshold's edge.
func TestQualityThresholds(t *testing.T) {
	rtt := func(v float64) *float64 { return &v }
	tests := []struct {
		name    string
		d       callgraph.Direction
		rtt     *float64
		verdict string
	}{
		{"clean", callgraph.Direction{Packets: 1000, MOS: 4.4}, rtt(20), Good},
		{"loss just under 1 %", callgraph.Direction{Packets: 1000, LossPct: 0.99, MOS: 4.3}, nil, Good},
		{"loss 1 %", callgraph.Direction{Packets: 1000, LossPct: 1, MOS: 4.3}, nil, Poor},
		{"jitter 30 ms", callgraph.Direction{Packets: 1000, JitterMs: 30, MOS: 4.2}, nil, Poor},
		{"jitter 50 ms", callgraph.Direction{Packets: 1000, JitterMs: 50, MOS: 4.0}, nil, Bad},
		{"MOS 3.59", callgraph.Direction{Packets: 1000, MOS: 3.59}, nil, Poor},
		{"MOS 3.09", callgraph.Direction{Packets: 1000, MOS: 3.09}, nil, Bad},
		{"RTT 320 ms", callgraph.Direction{Packets: 1000, MOS: 4.1}, rtt(320), Poor},
		{"RTT 650 ms", callgraph.Direction{Packets: 1000, MOS: 3.9}, rtt(650), Bad},
	}
	for _, tt := range tests {
		d := tt.d
		c := &callgraph.Call{ID: tt.name, Legs: []*callgraph.Leg{
			{ID: "a", Party: "100", Role: "caller", Quality: &callgraph.Quality{RTTms: tt.rtt, ToParty: &d}},
		}}
		r := Quality([]*callgraph.Call{c}, DefaultOptions())
		if len(r.Calls) != 1 || r.Calls[0].Verdict != tt.verdict {
			t.Errorf("%s: verdict %v, want %s", tt.name, r.Calls, tt.verdict)
			continue
		}
		dc := r.Calls[0].Legs[0].Directions
		if len(dc) != 1 || dc[0].Direction != "to_party" || dc[0].MES != nil {
			t.Errorf("%s: directions = %+v", tt.name, dc)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Options){
		func(o *Options) { o.Interval = "week" },
		func(o *Options) { o.ServiceLevel = 0 },
		func(o *Options) { o.PrefixDigits = 0 },
		func(o *Options) { o.Quality.BadMOS = 4 },
		func(o *Options) { o.Quality.BadLossPct = 0.5 },
		func(o *Options) { o.Quality = Thresholds{} },
	}
	for i, f := range bad {
		o := DefaultOptions()
		f(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

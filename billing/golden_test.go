package billing

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/calltrail/calltrail/callgraph"
)

// readCall decodes a record calltrail wrote for a real capture (copied
// from callgraph/testdata/golden).
func readCall(t *testing.T, name string) *callgraph.Call {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var c callgraph.Call
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &c
}

// TestGoldenS11 rates a captured inbound call: +15551234567 calls the DID
// 555-0100 through SIP/trunk, 1002 answers and blind-transfers it to 1003.
// Only the trunk leg is billed, inbound, by the DID it dialled: 5550100 is
// a local number, +12125550100, on the New York DIDs row (0.009/min, 60/60).
// Its billsec, 18.028 s, is one minute: 0.0090. Neither policy splits an
// inbound leg.
func TestGoldenS11(t *testing.T) {
	want := []callgraph.Billing{{
		Leg: "1795333665.31", Party: "+15551234567", Billsec: 18.028, BilledSeconds: 60,
		Destination: "+12125550100", Cost: "0.0090", Currency: "EUR", Plan: "retail",
		Row: "+1212555 New York DIDs: 0.009/min", Increment: "60/60", Units: 1,
	}}
	for _, policy := range []string{Originator, Segments} {
		t.Run(policy, func(t *testing.T) {
			checkRecords(t, testRater(t, policy, "").Rate(readCall(t, "testdata/S11.jsonl")), want)
		})
	}
}

// TestGoldenS23 rates a captured outbound call: 1026 dials 95557788, the
// dialplan sends 5557788 out through SIP/trunk (answered at 24.753), 1026
// holds it and consults 1029, then completes an attended transfer at
// 35.767; the far end talks to 1029 until 41.473. The trunk leg's billsec
// is 16.720 s; 5557788 is +12125557788, on the New York local row: 12/6 at
// 0.036/min, 0.01 connect fee, money rounded up to 4 decimals.
func TestGoldenS23(t *testing.T) {
	c := readCall(t, "testdata/S23.jsonl")
	t.Run(Originator, func(t *testing.T) {
		// 1026 dialled the trunk and pays it all: 16.720 s is 12 s + one
		// 6 s step = 18 s in 2 steps; 18 × 0.036 / 60 = 0.0108, + 0.01.
		want := []callgraph.Billing{{
			Leg: "1795336341.37", Party: "1026", Billsec: 16.72, BilledSeconds: 18,
			Destination: "+12125557788", Cost: "0.0208", Currency: "EUR", Plan: "retail",
			Row: newYorkLocal, Increment: "12/6", Units: 2,
		}}
		checkRecords(t, testRater(t, Originator, "").Rate(c), want)
	})
	t.Run(Segments, func(t *testing.T) {
		// The trunk talked to 1026 from 24.754 to 29.760 and to 1029 from
		// 35.767 to 41.472. 1026 pays from the answer to the transfer,
		// its talk and the 6.007 s the far end held while 1026 consulted
		// 1029: 11.014 s, the leg's first 12 s step, 0.0072 + 0.01 =
		// 0.0172. 1029 pays the rest, 5.706 s: the leg's next 6 s step,
		// 0.0208 − 0.0172 = 0.0036. 11.014 + 5.706 = 16.720.
		want := []callgraph.Billing{
			{Leg: "1795336341.37", Party: "1026", Billsec: 11.014, BilledSeconds: 12,
				Destination: "+12125557788", Cost: "0.0172", Currency: "EUR", Plan: "retail",
				Row: newYorkLocal, Increment: "12/6", Units: 1},
			{Leg: "1795336341.37", Party: "1029", Billsec: 5.706, BilledSeconds: 6,
				Destination: "+12125557788", Cost: "0.0036", Currency: "EUR", Plan: "retail",
				Row: newYorkLocal, Increment: "12/6", Units: 1},
		}
		checkRecords(t, testRater(t, Segments, "").Rate(c), want)
	})
}

package billing_test

import (
	"fmt"
	"log"
	"time"

	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/shopspring/decimal"
)

const rates = `
currency: EUR
rounding: {mode: up, decimals: 4}
numbering:
  rewrite: {"00": "+", "0": "+33"}
default_plan: retail
plans:
  retail:
    outbound:
      - {prefix: "+33", name: France, price: 0.02, increment: 60/1, connect_fee: 0.05}
      - {prefix: "+336", name: France mobile, price: 0.12, increment: 30/6}
`

// Rating a completed call: 1001 dials 06 12 34 56 78 out through a trunk;
// the trunk leg is answered after 4 s and lasts 95.2 s.
func Example() {
	rs, err := billing.ParseRates([]byte(rates), "rates.yaml")
	if err != nil {
		log.Fatal(err)
	}
	cfg := billing.DefaultConfig()
	cfg.Trunks = []string{"PJSIP/provider"}
	r, err := billing.NewRater(rs, cfg)
	if err != nil {
		log.Fatal(err)
	}

	start := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	call := &callgraph.Call{
		Legs: []*callgraph.Leg{
			{ID: "1.1", Channel: "PJSIP/1001-00000001", Party: "1001", Role: callgraph.RoleCaller,
				Dialed: "0612345678", Account: "acme", Billsec: 95.2},
			{ID: "1.2", Channel: "PJSIP/provider-00000002", Party: "0612345678", Role: callgraph.RoleCallee,
				Answered: callgraph.Time{Time: start.Add(4 * time.Second)}, Billsec: 95.2},
		},
		Connections: []callgraph.Connection{{Kind: callgraph.KindDial, From: "1.1", To: "1.2"}},
	}
	call.Billing = r.Rate(call)
	for _, b := range call.Billing {
		fmt.Printf("leg %s: %s pays %s %s for %v s (billed %d s in %d steps of %s) to %s\n",
			b.Leg, b.Account, b.Cost, b.Currency, b.Billsec, b.BilledSeconds, b.Units, b.Increment, b.Destination)
		fmt.Printf("  plan %s, row %s\n", b.Plan, b.Row)
	}

	// How long may acme call the same number on 0.50 of credit?
	secs, err := r.MaxSeconds(decimal.RequireFromString("0.50"), "acme", "06 12 34 56 78")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("0.50 buys %d s\n", secs)

	// Output:
	// leg 1.2: acme pays 0.1920 EUR for 95.2 s (billed 96 s in 12 steps of 30/6) to +33612345678
	//   plan retail, row +336 France mobile: 0.12/min
	// 0.50 buys 246 s
}

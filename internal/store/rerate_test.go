package store

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/callgraph"
)

// goldenCalls reads the records the engine made of captures.
func goldenCalls(t *testing.T, scenarios ...string) []*callgraph.Call {
	t.Helper()
	var out []*callgraph.Call
	for _, sc := range scenarios {
		f, err := os.Open(filepath.Join("..", "..", "callgraph", "testdata", "golden", sc+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewScanner(f)
		r.Buffer(nil, 1<<20)
		for r.Scan() {
			c := new(callgraph.Call)
			if err := json.Unmarshal(r.Bytes(), c); err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		f.Close()
	}
	return out
}

// rater prices with a plan of the given outbound price per minute,
// 1/1, and inbound calls at 0.012/min, 60/60.
func rater(t *testing.T, outbound string) *billing.Rater {
	t.Helper()
	rates, err := billing.ParseRates([]byte(`
currency: EUR
rounding: {mode: up, decimals: 4}
numbering:
  rewrite: {"011": "+", "1": "+1", "": "+1212"}
default_plan: retail
plans:
  retail:
    outbound:
      - {prefix: "+1", name: North America, price: `+outbound+`, increment: 1/1}
    inbound:
      - {prefix: "", name: Inbound, price: 0.012, increment: 60/60}
`), "rates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := billing.DefaultConfig()
	cfg.Trunks = []string{"SIP/trunk"}
	cfg.DefaultAccount = "house"
	r, err := billing.NewRater(rates, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRerate(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// S23: 1026 dials out through the trunk (16.720 s); S11: a call
		// comes in through it (18.028 s). 1026's outbound call is
		// prepaid by acme.
		calls := goldenCalls(t, "S11", "S23")
		for _, c := range calls {
			for _, l := range c.Legs {
				if l.Party == "1026" {
					l.Account = "acme"
				}
			}
		}
		cheap, dear := rater(t, "0.06"), rater(t, "0.12")
		for _, c := range calls {
			c.Billing = cheap.Rate(c)
		}
		if err := s.SaveCalls(ctx, calls); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAccount(ctx, NewAccount{Name: "acme", Currency: "EUR", Balance: dec("1"), DebitFrom: t0.Add(-24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		// The account came after the calls were stored: a run that
		// changes nothing stores nothing again, and debits nothing.
		run, err := s.Rerate(ctx, Filter{}, RerateOptions{Rates: "cheap.yaml"}, cheap.Rate)
		if err != nil {
			t.Fatal(err)
		}
		if run.Calls != 2 || run.Changed != 0 {
			t.Errorf("same rates: %d calls, %d changed; want 2, 0", run.Calls, run.Changed)
		}
		wantBalance(t, s, "acme", "1") // unchanged calls are not saved again

		// A dry run writes nothing.
		dry, err := s.Rerate(ctx, Filter{}, RerateOptions{Rates: "dear.yaml", DryRun: true}, dear.Rate)
		if err != nil {
			t.Fatal(err)
		}
		if dry.ID != 0 || dry.Changed != 1 {
			t.Errorf("dry run %+v", dry)
		}
		got, err := s.Call(ctx, "lab", "1795336341.36")
		if err != nil {
			t.Fatal(err)
		}
		if got.Billing[0].Cost != "0.0170" {
			t.Errorf("after a dry run the cost is %s, want 0.0170 still", got.Billing[0].Cost)
		}

		run, err = s.Rerate(ctx, Filter{}, RerateOptions{Rates: "dear.yaml"}, dear.Rate)
		if err != nil {
			t.Fatal(err)
		}
		if run.ID == 0 || run.Calls != 2 || run.Changed != 1 || run.Rates != "dear.yaml" {
			t.Errorf("run %+v", run)
		}
		want := []RerateTotal{
			{Account: "acme", Currency: "EUR", Old: dec("0.0170"), New: dec("0.0340")},
			{Account: "house", Currency: "EUR", Old: dec("0.0120"), New: dec("0.0120")},
		}
		if len(run.Totals) != len(want) {
			t.Fatalf("totals %+v, want %+v", run.Totals, want)
		}
		for i, w := range want {
			g := run.Totals[i]
			if g.Account != w.Account || g.Currency != w.Currency || !g.Old.Equal(w.Old) || !g.New.Equal(w.New) {
				t.Errorf("total %d = %+v, want %+v", i, g, w)
			}
		}
		if d := run.Totals[0].Delta(); !d.Equal(dec("0.017")) {
			t.Errorf("acme's delta %s", d)
		}

		// The call has its new price (17 s at 0.12/min); the old one is
		// in the history; the prepaid account paid the new price, once.
		got, err = s.Call(ctx, "lab", "1795336341.36")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Billing, dear.Rate(got)) || got.Billing[0].Cost != "0.0340" {
			t.Errorf("stored billing %+v", got.Billing)
		}
		hist, err := s.BillingHistory(ctx, "lab", "1795336341.36")
		if err != nil {
			t.Fatal(err)
		}
		old := cheap.Rate(got)
		if len(hist) != 1 || !slices.Equal(hist[run.ID], old) {
			t.Errorf("history %+v, want run %d: %+v", hist, run.ID, old)
		}
		wantBalance(t, s, "acme", "0.966")

		// Back to the cheap plan: the debit moves back, the history
		// grows by a run.
		if _, err := s.Rerate(ctx, Filter{Account: "acme"}, RerateOptions{Rates: "cheap.yaml"}, cheap.Rate); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, s, "acme", "0.983")
		runs, err := s.RerateRuns(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 3 || runs[1].Rates != "dear.yaml" || runs[2].Selection != "account=acme" || runs[2].Changed != 1 ||
			len(runs[1].Totals) != 2 || !runs[1].Totals[0].New.Equal(dec("0.034")) {
			t.Errorf("runs %+v", runs)
		}
		if n := count(t, s, "billingHistoryRow", ""); n != 2 {
			t.Errorf("%d history rows, want 2", n)
		}
		if n := count(t, s, "callRow", ""); n != 2 {
			t.Errorf("%d calls after re-rating, want 2", n)
		}
	})
}

// A run is all or nothing: when storing one call fails, no call keeps
// its new price and no run is recorded.
func TestRerateRollsBack(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		createAccount(t, s, "acme", "EUR", "100")
		var calls []*callgraph.Call
		for i := range 450 { // more than a page and a flush
			calls = append(calls, trunkCall("pbx1", "700."+strconv.Itoa(i), at(float64(i)), rec("acme", "0.01", "EUR")))
		}
		if err := s.SaveCalls(ctx, calls); err != nil {
			t.Fatal(err)
		}
		n := 0
		_, err := s.Rerate(ctx, Filter{}, RerateOptions{}, func(c *callgraph.Call) []callgraph.Billing {
			n++
			b := rec("acme", "0.02", "EUR")
			b.Leg = c.Legs[1].ID
			if n == 420 {
				b.Cost = "1000000000000000000000" // a debit too large for the ledger
			}
			return []callgraph.Billing{b}
		})
		if err == nil || !strings.Contains(err.Error(), "debit of acme") {
			t.Fatalf("a run whose last save fails: %v", err)
		}
		got, err := s.Calls(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got {
			if c.Billing[0].Cost != "0.01" {
				t.Fatalf("call %s kept the new price %s of a failed run", c.ID, c.Billing[0].Cost)
			}
		}
		if runs, err := s.RerateRuns(ctx); err != nil || len(runs) != 0 {
			t.Errorf("runs after a failed run: %+v, %v", runs, err)
		}
		wantBalance(t, s, "acme", "95.5") // 100 − 450 × 0.01
	})
}

package billing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseRates checks that no rate file makes the parser panic, that
// every mistake is a positioned *ParseError, and that whatever it accepts
// keeps the promises rating relies on. Seeds: the shipped example, the
// test plan and testdata/fuzz/FuzzParseRates.
func FuzzParseRates(f *testing.F) {
	for _, name := range []string{filepath.Join("..", "configs", "rates.yaml"), filepath.Join("testdata", "rates.yaml")} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(valid))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRates(data, "fuzz.yaml")
		if err != nil {
			if rs != nil {
				t.Fatal("rates returned with an error")
			}
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var pe *ParseError
				if !errors.As(e, &pe) || !strings.HasPrefix(e.Error(), "billing: fuzz.yaml") {
					t.Fatalf("%T %q: not a ParseError naming the file", e, e)
				}
			}
			return
		}
		checkRates(t, rs)
	})
}

// checkRates checks what ParseRates promises of the rates it returns.
func checkRates(t *testing.T, rs *Rates) {
	t.Helper()
	if rs.DefaultPlan != "" && rs.Plans[rs.DefaultPlan] == nil {
		t.Fatalf("default plan %q does not exist", rs.DefaultPlan)
	}
	for a, p := range rs.Accounts {
		if rs.Plans[p] == nil {
			t.Fatalf("account %q: plan %q does not exist", a, p)
		}
	}
	for _, rw := range rs.Rewrites {
		if !digits(rw.From) || !number(rw.To) {
			t.Fatalf("rewrite %+v", rw)
		}
		rs.Normalize(rw.From + "12")
	}
	for name, p := range rs.Plans {
		if p.Name != name || p.Currency == "" || roundingNames[p.Rounding.Mode] == "" || p.Rounding.Decimals < 0 || p.Rounding.Decimals > maxDecimals {
			t.Fatalf("plan %q: %+v", name, p)
		}
		if len(p.Outbound)+len(p.Inbound) == 0 {
			t.Fatalf("plan %q has no rows", name)
		}
		for _, r := range append(append([]*Row{}, p.Outbound...), p.Inbound...) {
			checkRow(t, p, r)
		}
	}
}

func checkRow(t *testing.T, p *Plan, r *Row) {
	t.Helper()
	if !number(r.Prefix) || len(r.Groups) == 0 || r.Groups[0].From != 0 || r.ConnectFee.IsNegative() || r.Minimum.IsNegative() || r.Increment == "" {
		t.Fatalf("plan %q row %+v", p.Name, r)
	}
	for i, g := range r.Groups {
		if g.Step < 1 || g.Price.IsNegative() {
			t.Fatalf("plan %q row %q group %+v", p.Name, r.Prefix, g)
		}
		if i > 0 {
			prev := r.Groups[i-1]
			if g.From <= prev.From || (g.From-prev.From)%prev.Step != 0 {
				t.Fatalf("plan %q row %q groups %+v", p.Name, r.Prefix, r.Groups)
			}
		}
	}
	_ = r.String()
	// Longer legs never cost less, and two slices add up to the leg.
	var last Charge
	for _, d := range []time.Duration{0, time.Millisecond, 59 * time.Second, 61 * time.Second, time.Hour} {
		c := r.charge(p.Rounding, d)
		if c.Cost.LessThan(last.Cost) || c.BilledSeconds < last.BilledSeconds || c.BilledSeconds < int64(d/time.Second) {
			t.Fatalf("plan %q row %q: %v costs %+v, less than a shorter leg's %+v", p.Name, r.Prefix, d, c, last)
		}
		a, b := r.slice(p.Rounding, 0, d/3), r.slice(p.Rounding, d/3, d)
		if !a.Cost.Add(b.Cost).Equal(c.Cost) || a.BilledSeconds+b.BilledSeconds != c.BilledSeconds {
			t.Fatalf("plan %q row %q: slices of %v do not add up", p.Name, r.Prefix, d)
		}
		last = c
	}
}

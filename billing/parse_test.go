package billing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRates(t *testing.T) {
	rs, err := LoadRates("testdata/rates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rs.DefaultPlan != "retail" || rs.Accounts["acme"] != "wholesale" || len(rs.Plans) != 2 {
		t.Errorf("default plan %q, accounts %v, %d plans", rs.DefaultPlan, rs.Accounts, len(rs.Plans))
	}
	retail := rs.Plans["retail"]
	if retail.Currency != "EUR" || retail.Rounding != (Rounding{RoundUp, 4}) {
		t.Errorf("retail: %s, %+v; want EUR rounded up to 4 decimals (the file's)", retail.Currency, retail.Rounding)
	}
	wholesale := rs.Plans["wholesale"]
	if wholesale.Currency != "USD" || wholesale.Rounding != (Rounding{RoundHalfEven, 2}) {
		t.Errorf("wholesale: %s, %+v; want its own USD, half-even to 2", wholesale.Currency, wholesale.Rounding)
	}
	if len(retail.Outbound) != 3 || len(retail.Inbound) != 2 {
		t.Fatalf("retail has %d outbound and %d inbound rows, want 3 and 2", len(retail.Outbound), len(retail.Inbound))
	}
	local := retail.Outbound[0]
	if local.Prefix != "+1212555" || local.Name != "New York local" || local.Increment != "12/6" ||
		!local.ConnectFee.Equal(dec("0.01")) || !local.Minimum.IsZero() || len(local.Groups) != 2 ||
		local.Groups[1] != (Group{From: 12, Step: 6, Price: local.Groups[1].Price}) || !local.Groups[1].Price.Equal(dec("0.036")) {
		t.Errorf("New York local: %+v", local)
	}
	uk := retail.Outbound[2]
	if uk.Increment != "60/1" || !uk.Groups[0].Price.Equal(dec("0.30")) || !uk.Groups[1].Price.Equal(dec("0.12")) || !uk.Minimum.Equal(dec("0.25")) {
		t.Errorf("United Kingdom: %+v", uk)
	}
	if got, want := uk.String(), "+44 United Kingdom: 0.30/min from 0 s, 0.12/min from 60 s, connect 0.05, minimum 0.25"; got != want {
		t.Errorf("row description:\n got %s\nwant %s", got, want)
	}
	if got, want := retail.Inbound[1].String(), "* Other inbound calls are free: 0/min"; got != want {
		t.Errorf("row description:\n got %s\nwant %s", got, want)
	}
}

// TestShippedExample keeps the commented example of configs/ loadable.
func TestShippedExample(t *testing.T) {
	rs, err := LoadRates(filepath.Join("..", "configs", "rates.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Plans) == 0 || rs.Plans[rs.DefaultPlan] == nil {
		t.Errorf("the example has %d plans and default plan %q", len(rs.Plans), rs.DefaultPlan)
	}
}

func TestLoadRatesMissingFile(t *testing.T) {
	_, err := LoadRates(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "billing: ") {
		t.Errorf("got %v, want a billing error wrapping ErrNotExist", err)
	}
}

func TestNormalize(t *testing.T) {
	rs := &Rates{Rewrites: []Rewrite{{"00", "+"}, {"0", "+33"}}}
	tests := []struct{ in, want string }{
		{"0033 1 42 68 53 00", "+33142685300"},
		{"01 42 68 53 00", "+33142685300"},
		{"+44 (20) 7946-0000", "+442079460000"},
		{"+0033", "+0033"}, // already international: no rewrite
		{"1029", "1029"},
		{"s", ""},
		{"", ""},
		{"*98", "98"},
		{"1+2", "12"}, // only a leading + stays
		{"tel:+331", "331"},
	}
	for _, tt := range tests {
		if got := rs.Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// The longest rewrite wins whatever the order they are listed in.
	rs.Rewrites = []Rewrite{{"0", "+33"}, {"00", "+"}}
	if got := rs.Normalize("0044"); got != "+44" {
		t.Errorf(`Normalize("0044") with rewrites listed shortest first = %q, want "+44"`, got)
	}
}

func TestMatchLongestPrefix(t *testing.T) {
	p := &Plan{Name: "p", Outbound: []*Row{
		{Prefix: "+33", Name: "France"},
		{Prefix: "+336", Name: "France mobile"},
		{Prefix: "+3361", Name: "France mobile, one operator"},
		{Prefix: "+1", Name: "North America"},
	}, Inbound: []*Row{{Prefix: "", Name: "any"}}}
	tests := []struct {
		dir  Direction
		dest string
		want string // row name, "" for no match
	}{
		{Outbound, "+33142685300", "France"},
		{Outbound, "+33698765432", "France mobile"},
		{Outbound, "+33612", "France mobile, one operator"},
		{Outbound, "+336", "France mobile"}, // a prefix may be the whole number
		{Outbound, "+3", ""},
		{Outbound, "+44207946", ""},
		{Outbound, "33612345678", ""}, // without its + it is another number
		{Outbound, "", ""},
		{Inbound, "+33612345678", "any"}, // directions keep their own rows
		{Inbound, "", "any"},
	}
	for _, tt := range tests {
		r, err := p.Match(tt.dir, tt.dest)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("Match(%s, %q) = %q, want no row", tt.dir, tt.dest, r.Name)
		case tt.want == "" && !strings.Contains(err.Error(), `no `+string(tt.dir)+` row for "`+tt.dest+`"`):
			t.Errorf("Match(%s, %q): error %q does not say what has no row", tt.dir, tt.dest, err)
		case tt.want != "" && err != nil:
			t.Errorf("Match(%s, %q): %v, want %q", tt.dir, tt.dest, err, tt.want)
		case tt.want != "" && r.Name != tt.want:
			t.Errorf("Match(%s, %q) = %q, want %q", tt.dir, tt.dest, r.Name, tt.want)
		}
	}
}

// valid is a small correct file the error cases below break one way each.
const valid = `currency: EUR
rounding: {mode: up, decimals: 4}
plans:
  p:
    outbound:
      - prefix: "+33"
        price: 0.02
        increment: 60/1
`

func TestParseRatesValid(t *testing.T) {
	if _, err := ParseRates([]byte(valid), "test.yaml"); err != nil {
		t.Fatal(err)
	}
}

func TestParseRatesErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // the whole first error
	}{
		{"empty", "", "billing: test.yaml: empty rate file"},
		{"only comments", "# nothing\n", "billing: test.yaml: empty rate file"},
		{"syntax", "currency: EUR\nplans: [\n", "billing: test.yaml:2: did not find expected node content"},
		{"a list", "- a\n", "billing: test.yaml:1:1: want the file of key: value pairs, not a list"},
		{"two documents", valid + "---\ncurrency: USD\n", "billing: test.yaml:9:1: a rate file holds one YAML document"},
		{"unknown key", strings.Replace(valid, "currency:", "curency:", 1),
			"billing: test.yaml:1:1: curency: unknown key (want one of accounts, currency, default_plan, numbering, plans, rounding)"},
		{"repeated key", valid + "currency: USD\n", "billing: test.yaml:9:1: currency: repeated (first at line 1)"},
		{"no plans", "currency: EUR\nrounding: {mode: up, decimals: 4}\n", "billing: test.yaml:1:1: plans: missing: a rate file needs at least one plan"},
		{"empty plans", "currency: EUR\nrounding: {mode: up, decimals: 4}\nplans: {}\n", "billing: test.yaml:3:8: plans: no plan defined"},
		{"no currency", strings.Replace(valid, "currency: EUR\n", "", 1), "billing: test.yaml:4:5: plans.p.currency: missing: set currency here or at the top of the file"},
		{"empty currency", strings.Replace(valid, "currency: EUR", `currency: ""`, 1), "billing: test.yaml:1:11: currency: empty currency"},
		{"no rounding", strings.Replace(valid, "rounding: {mode: up, decimals: 4}\n", "", 1), "billing: test.yaml:4:5: plans.p.rounding: missing: set rounding here or at the top of the file"},
		{"rounding mode", strings.Replace(valid, "mode: up", "mode: ceiling", 1), `billing: test.yaml:2:18: rounding.mode: unknown mode "ceiling" (want up, half-up, down or half-even)`},
		{"rounding decimals", strings.Replace(valid, "decimals: 4", "decimals: 40", 1), "billing: test.yaml:2:32: rounding.decimals: 40 decimals: want 0 to 12"},
		{"rounding without decimals", strings.Replace(valid, ", decimals: 4", "", 1), "billing: test.yaml:2:11: rounding.decimals: missing"},
		{"plan without rows", "currency: EUR\nrounding: {mode: up, decimals: 4}\nplans:\n  p: {currency: USD}\n", "billing: test.yaml:4:6: plans.p: a plan needs outbound or inbound rows"},
		{"plan with empty rows", "currency: EUR\nrounding: {mode: up, decimals: 4}\nplans:\n  p: {outbound: [], inbound: []}\n", "billing: test.yaml:4:6: plans.p: a plan needs outbound or inbound rows"},
		{"rows not a list", strings.Replace(valid, "    outbound:\n", "    outbound: 3\n    x:\n", 1), "billing: test.yaml:5:15: plans.p.outbound: want a list of rows"},
		{"price not a number", strings.Replace(valid, "price: 0.02", "price: cheap", 1), `billing: test.yaml:7:16: plans.p.outbound[0].price: "cheap" is not a decimal amount`},
		{"price infinite", strings.Replace(valid, "price: 0.02", "price: .inf", 1), `billing: test.yaml:7:16: plans.p.outbound[0].price: ".inf" is not a decimal amount`},
		{"negative price", strings.Replace(valid, "price: 0.02", "price: -0.02", 1), "billing: test.yaml:7:16: plans.p.outbound[0].price: -0.02: amounts are not negative"},
		{"price a list", strings.Replace(valid, "price: 0.02", "price: [1]", 1), "billing: test.yaml:7:16: plans.p.outbound[0].price: want a single value, not a list"},
		{"increment zero", strings.Replace(valid, "60/1", "60/0", 1), `billing: test.yaml:8:20: plans.p.outbound[0].increment: increment "60/0": want initial/subsequent whole seconds from 1 to 86400, like 60/1`},
		{"increment words", strings.Replace(valid, "60/1", "per minute", 1), `billing: test.yaml:8:20: plans.p.outbound[0].increment: increment "per minute": want initial/subsequent whole seconds from 1 to 86400, like 60/1`},
		{"no increment", strings.Replace(valid, "        increment: 60/1\n", "", 1), "billing: test.yaml:6:9: plans.p.outbound[0].increment: missing (or write groups)"},
		{"no prefix", strings.Replace(valid, `prefix: "+33"`, "name: France", 1), `billing: test.yaml:6:9: plans.p.outbound[0].prefix: missing (write prefix: "" for a row that matches every number)`},
		{"prefix not a number", strings.Replace(valid, `"+33"`, `"+33 1"`, 1), `billing: test.yaml:6:17: plans.p.outbound[0].prefix: "+33 1" must be digits, optionally after a leading + (the form numbers take once normalised)`},
		{"repeated prefix", valid + "      - {prefix: \"+33\", price: 1, increment: 1}\n", `billing: test.yaml:9:9: plans.p.outbound[1].prefix: prefix "+33" is already priced by plans.p.outbound[0]`},
		{"unknown row key", strings.Replace(valid, "price:", "prise:", 1), "billing: test.yaml:7:9: plans.p.outbound[0].prise: unknown key (want one of connect_fee, groups, increment, minimum, name, prefix, price)"},
		{"price and groups", valid + "        groups: [{from: 0, increment: 1, price: 1}]\n", "billing: test.yaml:6:9: plans.p.outbound[0]: a row has either price and increment or groups, not both"},
		{"groups empty", strings.Replace(valid, "        price: 0.02\n        increment: 60/1\n", "        groups: []\n", 1), "billing: test.yaml:7:17: plans.p.outbound[0].groups: want a non-empty list of groups"},
		{"groups from not 0", strings.Replace(valid, "        price: 0.02\n        increment: 60/1\n", "        groups:\n          - {from: 1, increment: 1, price: 1}\n", 1),
			"billing: test.yaml:8:13: plans.p.outbound[0].groups[0].from: the first group starts at 0, not 1"},
		{"groups out of order", strings.Replace(valid, "        price: 0.02\n        increment: 60/1\n", "        groups:\n          - {from: 0, increment: 1, price: 1}\n          - {from: 0, increment: 1, price: 1}\n", 1),
			"billing: test.yaml:9:13: plans.p.outbound[0].groups[1].from: 0 s: groups start in increasing order"},
		{"group ends between steps", strings.Replace(valid, "        price: 0.02\n        increment: 60/1\n", "        groups:\n          - {from: 0, increment: 60, price: 1}\n          - {from: 90, increment: 1, price: 1}\n", 1),
			"billing: test.yaml:9:13: plans.p.outbound[0].groups[1].from: 90 s: the group before (from 0 s, increment 60 s) must end on a whole increment"},
		{"group without price", strings.Replace(valid, "        price: 0.02\n        increment: 60/1\n", "        groups:\n          - {from: 0, increment: 60}\n", 1),
			"billing: test.yaml:8:13: plans.p.outbound[0].groups[0].price: missing"},
		{"group step zero", strings.Replace(valid, "        price: 0.02\n        increment: 60/1\n", "        groups:\n          - {from: 0, increment: 0, price: 1}\n", 1),
			"billing: test.yaml:8:34: plans.p.outbound[0].groups[0].increment: 0 s: want 1 to 86400"},
		{"unknown default plan", valid + "default_plan: gold\n", `billing: test.yaml:9:15: default_plan: no plan "gold"`},
		{"account of an unknown plan", valid + "accounts:\n  acme: gold\n", `billing: test.yaml:10:9: accounts.acme: no plan "gold"`},
		{"rewrite from +", valid + "numbering:\n  rewrite:\n    \"+0\": \"+\"\n", `billing: test.yaml:11:5: numbering.rewrite.+0: rewrites apply to numbers without a leading +: "+0" must be digits`},
		{"rewrite to letters", valid + "numbering:\n  rewrite:\n    \"00\": \"x\"\n", `billing: test.yaml:11:11: numbering.rewrite.00: "x" must be digits, optionally after a leading +`},
		{"merge key", "base: &b {currency: EUR}\n<<: *b\n", `billing: test.yaml:1:1: base: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseRates([]byte(tt.yaml), "test.yaml")
			if err == nil {
				t.Fatalf("no error; rates %+v", rs)
			}
			if rs != nil {
				t.Errorf("rates returned with an error")
			}
			first := err.Error()
			if i := strings.IndexByte(first, '\n'); i >= 0 {
				first = first[:i]
			}
			if !strings.HasPrefix(first, tt.want) {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("%T is not a *ParseError", err)
			}
		})
	}
}

// TestParseRatesAllErrors checks that one load reports every mistake, not
// the first only, with each one's key and position.
func TestParseRatesAllErrors(t *testing.T) {
	src := strings.Replace(strings.Replace(valid, "price: 0.02", "price: x", 1), "60/1", "60/", 1) +
		"      - {prefix: \"+44\", price: 1, increment: 1, connect_fee: -1}\n"
	_, err := ParseRates([]byte(src), "test.yaml")
	var errs []*ParseError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var pe *ParseError
		if errors.As(e, &pe) {
			errs = append(errs, pe)
		}
	}
	want := []ParseError{
		{Line: 7, Column: 16, Key: "plans.p.outbound[0].price"},
		{Line: 8, Column: 20, Key: "plans.p.outbound[0].increment"},
		{Line: 9, Column: 62, Key: "plans.p.outbound[1].connect_fee"},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if errs[i].File != "test.yaml" || errs[i].Line != w.Line || errs[i].Column != w.Column || errs[i].Key != w.Key {
			t.Errorf("error %d: %s:%d:%d %s; want %d:%d %s", i, errs[i].File, errs[i].Line, errs[i].Column, errs[i].Key, w.Line, w.Column, w.Key)
		}
	}
}

// TestParseRatesManyErrors checks that a hopeless file does not produce
// an unbounded report.
func TestParseRatesManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(valid)
	for range 100 {
		b.WriteString("      - {prefix: x, price: y, increment: z}\n")
	}
	_, err := ParseRates([]byte(b.String()), "test.yaml")
	n := len(err.(interface{ Unwrap() []error }).Unwrap())
	if n != maxErrors+1 || !strings.HasSuffix(err.Error(), "too many errors") {
		t.Errorf("%d errors, the last %q; want %d and a last saying there were too many", n, err.Error()[strings.LastIndexByte(err.Error(), '\n')+1:], maxErrors+1)
	}
}

// TestParseRatesAliases checks that YAML anchors can share rows.
func TestParseRatesAliases(t *testing.T) {
	src := valid + `      - &mobile {prefix: "+336", price: 0.10, increment: 1/1}
  q:
    outbound:
      - *mobile
`
	rs, err := ParseRates([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	q := rs.Plans["q"]
	if len(q.Outbound) != 1 || q.Outbound[0].Prefix != "+336" || !q.Outbound[0].Groups[0].Price.Equal(dec("0.10")) {
		t.Errorf("plan q: %+v", q.Outbound)
	}
}

package billing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"
)

// A ParseError is one mistake in a rate file, with where it is.
type ParseError struct {
	File   string
	Line   int // 0 when the mistake has no position
	Column int
	// Key is the path of the offending key ("plans.retail.outbound[2].price").
	Key string
	Msg string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("billing: ")
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors bounds how many mistakes one load reports.
const maxErrors = 20

// LoadRates reads and checks a rate file. See docs/billing.md for its
// format.
func LoadRates(path string) (*Rates, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("billing: %w", err)
	}
	return ParseRates(data, path)
}

// ParseRates reads and checks a rate file's content; name is the file's
// name in errors. Every mistake found is returned, each a *ParseError,
// joined by errors.Join.
func ParseRates(data []byte, name string) (*Rates, error) {
	d := &decoder{file: name}
	rs := d.document(data)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return rs, nil
}

// decoder walks a rate file's node tree, collecting mistakes.
type decoder struct {
	file string
	errs []error
}

func (d *decoder) failf(n *yaml.Node, key, format string, args ...any) {
	if len(d.errs) == maxErrors {
		d.errs = append(d.errs, &ParseError{File: d.file, Msg: "too many errors"})
	}
	if len(d.errs) > maxErrors {
		return
	}
	e := &ParseError{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) document(data []byte) *Rates {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			d.failf(nil, "", "empty rate file")
			return nil
		}
		e := &ParseError{File: d.file, Msg: err.Error()}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[2]
		}
		d.errs = append(d.errs, e)
		return nil
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		d.failf(&more, "", "a rate file holds one YAML document")
		return nil
	}
	root := deref(&doc)
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			d.failf(nil, "", "empty rate file")
			return nil
		}
		root = deref(root.Content[0])
	}

	rs := &Rates{File: d.file, Plans: map[string]*Plan{}, Accounts: map[string]string{}}
	var def planDefaults
	var plansNode, accountsNode, defaultNode *yaml.Node
	seen := d.mapping(root, "", map[string]func(string, *yaml.Node){
		"currency": func(k string, v *yaml.Node) { def.currency, def.currencySet = d.currency(v, k), true },
		"rounding": func(k string, v *yaml.Node) { def.rounding, def.roundingSet = d.rounding(v, k), true },
		"numbering": func(k string, v *yaml.Node) {
			d.mapping(v, k, map[string]func(string, *yaml.Node){
				"rewrite": func(k string, v *yaml.Node) { rs.Rewrites = d.rewrites(v, k) },
			})
		},
		"plans":        func(k string, v *yaml.Node) { plansNode = v },
		"default_plan": func(k string, v *yaml.Node) { defaultNode = v; rs.DefaultPlan = d.str(v, k) },
		"accounts":     func(k string, v *yaml.Node) { accountsNode = v },
	})
	if seen == nil {
		return nil
	}
	if plansNode == nil {
		d.failf(root, "plans", "missing: a rate file needs at least one plan")
		return rs
	}
	d.entries(plansNode, "plans", func(k, name string, v *yaml.Node) {
		if p := d.plan(v, k, name, def); p != nil {
			rs.Plans[name] = p
		}
	})
	if kindOf(plansNode) == yaml.MappingNode && len(deref(plansNode).Content) == 0 {
		d.failf(plansNode, "plans", "no plan defined")
	}
	if defaultNode != nil && rs.DefaultPlan != "" && rs.Plans[rs.DefaultPlan] == nil && !d.planNamed(plansNode, rs.DefaultPlan) {
		d.failf(defaultNode, "default_plan", "no plan %q", rs.DefaultPlan)
	}
	if accountsNode != nil {
		d.entries(accountsNode, "accounts", func(k, account string, v *yaml.Node) {
			plan := d.str(v, k)
			if rs.Plans[plan] == nil && !d.planNamed(plansNode, plan) {
				d.failf(v, k, "no plan %q", plan)
				return
			}
			rs.Accounts[account] = plan
		})
	}
	return rs
}

// planNamed reports whether the plans mapping has a key name, so that a
// plan with mistakes of its own is not reported again as missing.
func (d *decoder) planNamed(plans *yaml.Node, name string) bool {
	if kindOf(plans) != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(plans.Content); i += 2 {
		if deref(plans.Content[i]).Value == name {
			return true
		}
	}
	return false
}

// planDefaults are the file-wide currency and rounding a plan inherits;
// the set flags say the file wrote them (maybe wrongly, already reported).
type planDefaults struct {
	currency                 string
	rounding                 *Rounding
	currencySet, roundingSet bool
}

func (d *decoder) plan(n *yaml.Node, path, name string, def planDefaults) *Plan {
	p := &Plan{Name: name, Currency: def.currency}
	rounding := def.rounding
	errsBefore := len(d.errs)
	var currencyNode *yaml.Node
	seen := d.mapping(n, path, map[string]func(string, *yaml.Node){
		"currency": func(k string, v *yaml.Node) { currencyNode = v; p.Currency = d.currency(v, k) },
		"rounding": func(k string, v *yaml.Node) { rounding = d.rounding(v, k) },
		"outbound": func(k string, v *yaml.Node) { p.Outbound = d.rows(v, k) },
		"inbound":  func(k string, v *yaml.Node) { p.Inbound = d.rows(v, k) },
	})
	if seen == nil {
		return nil
	}
	ok := true
	if p.Currency == "" && currencyNode == nil && !def.currencySet {
		d.failf(n, path+".currency", "missing: set currency here or at the top of the file")
		ok = false
	}
	if rounding == nil && !seen["rounding"] && !def.roundingSet {
		d.failf(n, path+".rounding", "missing: set rounding here or at the top of the file")
		ok = false
	}
	if len(p.Outbound)+len(p.Inbound) == 0 && len(d.errs) == errsBefore {
		d.failf(n, path, "a plan needs outbound or inbound rows")
		ok = false
	}
	if !ok || rounding == nil || p.Currency == "" {
		return nil
	}
	p.Rounding = *rounding
	return p
}

func (d *decoder) currency(n *yaml.Node, path string) string {
	s := d.str(n, path)
	if s == "" && kindOf(n) == yaml.ScalarNode {
		d.failf(n, path, "empty currency")
	}
	return s
}

// maxDecimals bounds a plan's money decimals.
const maxDecimals = 12

func (d *decoder) rounding(n *yaml.Node, path string) *Rounding {
	var r Rounding
	ok := true
	seen := d.mapping(n, path, map[string]func(string, *yaml.Node){
		"mode": func(k string, v *yaml.Node) {
			m, err := ParseRoundingMode(d.str(v, k))
			if err != nil {
				d.failf(v, k, "unknown mode %q (want up, half-up, down or half-even)", v.Value)
				ok = false
			}
			r.Mode = m
		},
		"decimals": func(k string, v *yaml.Node) {
			i, good := d.int(v, k)
			if good && (i < 0 || i > maxDecimals) {
				d.failf(v, k, "%d decimals: want 0 to %d", i, maxDecimals)
				good = false
			}
			ok = ok && good
			r.Decimals = int32(i)
		},
	})
	if seen == nil {
		return nil
	}
	for _, k := range []string{"mode", "decimals"} {
		if !seen[k] {
			d.failf(n, path+"."+k, "missing")
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return &r
}

func (d *decoder) rewrites(n *yaml.Node, path string) []Rewrite {
	var rws []Rewrite
	d.entries(n, path, func(k, from string, v *yaml.Node) {
		to := d.str(v, k)
		if !digits(from) {
			d.failf(keyNode(n, v), k, "rewrites apply to numbers without a leading +: %q must be digits", from)
			return
		}
		if !number(to) {
			d.failf(v, k, "%q must be digits, optionally after a leading +", to)
			return
		}
		rws = append(rws, Rewrite{From: from, To: to})
	})
	return rws
}

func (d *decoder) rows(n *yaml.Node, path string) []*Row {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		d.failf(n, path, "want a list of rows")
		return nil
	}
	var rows []*Row
	byPrefix := map[string]int{}
	for i, rn := range n.Content {
		k := fmt.Sprintf("%s[%d]", path, i)
		r := d.row(rn, k)
		if r == nil {
			continue
		}
		if j, dup := byPrefix[r.Prefix]; dup {
			d.failf(deref(rn), k+".prefix", "prefix %q is already priced by %s[%d]", r.Prefix, path, j)
			continue
		}
		byPrefix[r.Prefix] = i
		rows = append(rows, r)
	}
	return rows
}

func (d *decoder) row(n *yaml.Node, path string) *Row {
	r := &Row{}
	ok := true
	var price decimal.Decimal
	var initial, subsequent int64
	seen := d.mapping(n, path, map[string]func(string, *yaml.Node){
		"prefix": func(k string, v *yaml.Node) {
			r.Prefix = d.str(v, k)
			if !number(r.Prefix) {
				d.failf(v, k, "%q must be digits, optionally after a leading + (the form numbers take once normalised)", r.Prefix)
				ok = false
			}
		},
		"name":        func(k string, v *yaml.Node) { r.Name = d.str(v, k) },
		"price":       func(k string, v *yaml.Node) { price, ok = d.money(v, k, ok) },
		"connect_fee": func(k string, v *yaml.Node) { r.ConnectFee, ok = d.money(v, k, ok) },
		"minimum":     func(k string, v *yaml.Node) { r.Minimum, ok = d.money(v, k, ok) },
		"increment": func(k string, v *yaml.Node) {
			var err error
			initial, subsequent, err = parseIncrement(d.str(v, k))
			if err != nil {
				d.failf(v, k, "%v", err)
				ok = false
			}
		},
		"groups": func(k string, v *yaml.Node) {
			r.Groups = d.groups(v, k)
			ok = ok && r.Groups != nil
		},
	})
	if seen == nil {
		return nil
	}
	if !seen["prefix"] {
		d.failf(n, path+".prefix", `missing (write prefix: "" for a row that matches every number)`)
		ok = false
	}
	switch {
	case seen["groups"] && (seen["price"] || seen["increment"]):
		d.failf(n, path, "a row has either price and increment or groups, not both")
		ok = false
	case seen["groups"]:
	case !seen["price"] || !seen["increment"]:
		for _, k := range []string{"price", "increment"} {
			if !seen[k] {
				d.failf(n, path+"."+k, "missing (or write groups)")
			}
		}
		ok = false
	default:
		r.Groups = []Group{{From: 0, Step: initial, Price: price}, {From: initial, Step: subsequent, Price: price}}
	}
	if !ok {
		return nil
	}
	r.Increment = increment(r.Groups)
	return r
}

// parseIncrement reads "initial/subsequent" seconds; "n" is "n/n".
func parseIncrement(s string) (initial, subsequent int64, err error) {
	a, b, slash := strings.Cut(s, "/")
	if !slash {
		b = a
	}
	initial, err1 := strconv.ParseInt(a, 10, 64)
	subsequent, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || initial < 1 || subsequent < 1 || initial > maxStep || subsequent > maxStep {
		return 0, 0, fmt.Errorf("increment %q: want initial/subsequent whole seconds from 1 to %d, like 60/1", s, maxStep)
	}
	return initial, subsequent, nil
}

// maxStep and maxFrom bound a group's step and start, in seconds (a day,
// a year), far beyond any tariff and far from overflowing a Duration.
const (
	maxStep = 86400
	maxFrom = 366 * 86400
)

func (d *decoder) groups(n *yaml.Node, path string) []Group {
	n = deref(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.failf(n, path, "want a non-empty list of groups")
		return nil
	}
	var gs []Group
	ok := true
	for i, gn := range n.Content {
		k := fmt.Sprintf("%s[%d]", path, i)
		var g Group
		good := true
		seen := d.mapping(gn, k, map[string]func(string, *yaml.Node){
			"from": func(k string, v *yaml.Node) {
				var fine bool
				g.From, fine = d.int(v, k)
				if fine && (g.From < 0 || g.From > maxFrom) {
					d.failf(v, k, "%d s: want 0 to %d", g.From, maxFrom)
					fine = false
				}
				good = good && fine
			},
			"increment": func(k string, v *yaml.Node) {
				var fine bool
				g.Step, fine = d.int(v, k)
				if fine && (g.Step < 1 || g.Step > maxStep) {
					d.failf(v, k, "%d s: want 1 to %d", g.Step, maxStep)
					fine = false
				}
				good = good && fine
			},
			"price": func(k string, v *yaml.Node) { g.Price, good = d.money(v, k, good) },
		})
		if seen == nil {
			ok = false
			continue
		}
		for _, key := range []string{"from", "increment", "price"} {
			if !seen[key] {
				d.failf(gn, k+"."+key, "missing")
				good = false
			}
		}
		if !good {
			ok = false
			continue
		}
		switch {
		case i == 0 && g.From != 0:
			d.failf(gn, k+".from", "the first group starts at 0, not %d", g.From)
			ok = false
		case len(gs) > 0 && g.From <= gs[len(gs)-1].From:
			d.failf(gn, k+".from", "%d s: groups start in increasing order", g.From)
			ok = false
		case len(gs) > 0 && (g.From-gs[len(gs)-1].From)%gs[len(gs)-1].Step != 0:
			prev := gs[len(gs)-1]
			d.failf(gn, k+".from", "%d s: the group before (from %d s, increment %d s) must end on a whole increment", g.From, prev.From, prev.Step)
			ok = false
		}
		gs = append(gs, g)
	}
	if !ok {
		return nil
	}
	return gs
}

// money reads a non-negative decimal amount; ok is the caller's running
// verdict, returned false on a mistake.
func (d *decoder) money(n *yaml.Node, path string, ok bool) (decimal.Decimal, bool) {
	s := d.str(n, path)
	v, err := decimal.NewFromString(s)
	if err != nil || kindOf(n) != yaml.ScalarNode {
		if kindOf(n) == yaml.ScalarNode {
			d.failf(n, path, "%q is not a decimal amount", s)
		}
		return decimal.Zero, false
	}
	if v.IsNegative() {
		d.failf(n, path, "%s: amounts are not negative", s)
		return decimal.Zero, false
	}
	if v.Exponent() < -maxDecimals*2 || v.Exponent() > 18 {
		d.failf(n, path, "%s: out of range", s)
		return decimal.Zero, false
	}
	return v, ok
}

func (d *decoder) int(n *yaml.Node, path string) (int64, bool) {
	s := d.str(n, path)
	if kindOf(n) != yaml.ScalarNode {
		return 0, false
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.failf(n, path, "%q is not a whole number", s)
		return 0, false
	}
	return i, true
}

// str returns a scalar's text as written; a null is "".
func (d *decoder) str(n *yaml.Node, path string) string {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		d.failf(n, path, "want a single value, not a %s", kindName(n.Kind))
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// mapping calls fields[key] for every key of a mapping node, in order,
// and returns the keys seen (nil if n is not a mapping). Unknown and
// repeated keys are mistakes.
func (d *decoder) mapping(n *yaml.Node, path string, fields map[string]func(string, *yaml.Node)) map[string]bool {
	seen := map[string]bool{}
	ok := d.entries(n, path, func(k, key string, v *yaml.Node) {
		f, known := fields[key]
		if !known {
			kn := keyNode(n, v)
			names := make([]string, 0, len(fields))
			for name := range fields {
				names = append(names, name)
			}
			slices.Sort(names)
			d.failf(kn, k, "unknown key (want one of %s)", strings.Join(names, ", "))
			return
		}
		seen[key] = true
		f(k, v)
	})
	if !ok {
		return nil
	}
	return seen
}

// entries calls f for every key of a mapping node with the key's path,
// the key and the value; it reports whether n was a mapping.
func (d *decoder) entries(n *yaml.Node, path string, f func(k, key string, v *yaml.Node)) bool {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		what := "a value"
		if path == "" {
			what = "the file"
		}
		d.failf(n, path, "want %s of key: value pairs, not a %s", what, kindName(n.Kind))
		return false
	}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := deref(n.Content[i]), n.Content[i+1]
		k := kn.Value
		if path != "" {
			k = path + "." + kn.Value
		}
		if kn.Kind != yaml.ScalarNode {
			d.failf(kn, path, "keys are single values")
			continue
		}
		if kn.Value == "<<" && kn.Tag == "!!merge" {
			d.failf(kn, k, "merge keys are not supported; repeat the keys")
			continue
		}
		if line, dup := first[kn.Value]; dup {
			d.failf(kn, k, "repeated (first at line %d)", line)
			continue
		}
		first[kn.Value] = kn.Line
		f(k, kn.Value, v)
	}
	return true
}

// keyNode returns the key of value v in mapping n, for positions.
func keyNode(n, v *yaml.Node) *yaml.Node {
	n = deref(n)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i+1] == v {
			return n.Content[i]
		}
	}
	return v
}

// maxAliasDepth bounds alias chains.
const maxAliasDepth = 64

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

func kindOf(n *yaml.Node) yaml.Kind {
	if n == nil {
		return 0
	}
	return deref(n).Kind
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "nothing"
}

// number reports whether s is digits, optionally after a leading "+":
// the form Normalize leaves numbers in. "" is a number (it prefixes all).
func number(s string) bool {
	return digits(strings.TrimPrefix(s, "+"))
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

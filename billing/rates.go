package billing

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Rates is a loaded rate file: the plans, which account uses which plan,
// and how dialled numbers are normalised before they are matched.
// It is read-only once loaded and safe for concurrent use.
type Rates struct {
	// File names the source in errors and records ("rates.yaml").
	File string
	// Rewrites turn national and international dialling prefixes into
	// the form the plans' prefixes are written in ("00" → "+").
	Rewrites []Rewrite
	// Plans by name.
	Plans map[string]*Plan
	// DefaultPlan is the plan of accounts that Accounts does not name;
	// empty when there is none (such accounts then get an error).
	DefaultPlan string
	// Accounts maps an account to the name of its plan.
	Accounts map[string]string
}

// A Rewrite replaces a leading From of a normalised number by To.
type Rewrite struct {
	From, To string
}

// A Plan is a price list: destination rows for calls going out through a
// trunk and for calls coming in, one currency, one way to round money.
type Plan struct {
	Name     string
	Currency string
	Rounding Rounding
	// Outbound rows are matched against the number a leg reached;
	// Inbound rows against the number (DID) an incoming call dialled.
	Outbound []*Row
	Inbound  []*Row
}

// Direction says which rows of a plan rate a leg.
type Direction string

// Directions.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// A Row prices the destinations that start with Prefix.
type Row struct {
	// Prefix is matched against the normalised destination; the longest
	// matching prefix wins. An empty prefix matches every destination.
	Prefix string
	Name   string
	// Groups price the call's time, in order; the first starts at 0 s.
	// A row written as price + increment "a/b" has two groups: from 0 s
	// in steps of a, and from a s in steps of b, both at the price.
	Groups []Group
	// ConnectFee is charged once on every answered leg.
	ConnectFee decimal.Decimal
	// Minimum is the least an answered leg costs, connect fee included.
	Minimum decimal.Decimal
	// Increment is the billing increment as the records show it: "60/1",
	// or for other groups each group's step joined by "/", followed by
	// "@start" where a group does not start one step after the last.
	Increment string
}

// A Group prices the part of a call from From seconds on (up to the next
// group's From) in steps of Step seconds, each step charged in full at
// Price per minute (CGRateS's GroupIntervalStart and RateIncrement).
type Group struct {
	From  int64
	Step  int64
	Price decimal.Decimal
}

// String describes the row with everything that prices it, so that a
// billing record keeps what produced it even after the rate file changes:
// `+336 France mobile: 0.12/min, connect 0.05, minimum 0.10`.
func (r *Row) String() string {
	var b strings.Builder
	if r.Prefix == "" {
		b.WriteString("*")
	} else {
		b.WriteString(r.Prefix)
	}
	if r.Name != "" {
		b.WriteString(" ")
		b.WriteString(r.Name)
	}
	b.WriteString(": ")
	samePrice := true
	for _, g := range r.Groups[1:] {
		samePrice = samePrice && g.Price.Equal(r.Groups[0].Price)
	}
	if samePrice {
		b.WriteString(written(r.Groups[0].Price) + "/min")
	} else {
		for i, g := range r.Groups {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s/min from %d s", written(g.Price), g.From)
		}
	}
	if !r.ConnectFee.IsZero() {
		b.WriteString(", connect " + written(r.ConnectFee))
	}
	if !r.Minimum.IsZero() {
		b.WriteString(", minimum " + written(r.Minimum))
	}
	return b.String()
}

// written formats an amount with the decimals it was written with
// ("0.30", not "0.3").
func written(d decimal.Decimal) string {
	if d.Exponent() < 0 {
		return d.StringFixed(-d.Exponent())
	}
	return d.String()
}

// increment writes the groups' steps the way records show them.
func increment(groups []Group) string {
	var b strings.Builder
	for i, g := range groups {
		if i > 0 {
			b.WriteString("/")
		}
		b.WriteString(strconv.FormatInt(g.Step, 10))
		if i > 0 && g.From != groups[i-1].From+groups[i-1].Step {
			b.WriteString("@" + strconv.FormatInt(g.From, 10))
		}
	}
	return b.String()
}

// Normalize reduces a dialled number to the form plans are written in:
// every character but digits is dropped, except a leading "+"; then,
// unless the number starts with "+", the longest rewrite whose From
// begins it replaces that beginning. "00 44 20-7946" becomes "+44207946"
// with the rewrite "00" → "+"; "s" becomes "".
func (rs *Rates) Normalize(number string) string {
	var b strings.Builder
	for i, c := range number {
		if c >= '0' && c <= '9' || c == '+' && i == 0 {
			b.WriteRune(c)
		}
	}
	n := b.String()
	if strings.HasPrefix(n, "+") {
		return n
	}
	best := -1
	for i, rw := range rs.Rewrites {
		if strings.HasPrefix(n, rw.From) && (best < 0 || len(rw.From) > len(rs.Rewrites[best].From)) {
			best = i
		}
	}
	if best >= 0 {
		n = rs.Rewrites[best].To + n[len(rs.Rewrites[best].From):]
	}
	return n
}

// PlanFor returns the plan of an account: the one Accounts names, else
// the default plan.
func (rs *Rates) PlanFor(account string) (*Plan, error) {
	name, ok := rs.Accounts[account]
	if !ok {
		if rs.DefaultPlan == "" {
			return nil, fmt.Errorf("billing: account %q has no plan and %s sets no default_plan", account, rs.File)
		}
		name = rs.DefaultPlan
	}
	p, ok := rs.Plans[name]
	if !ok {
		// LoadRates checks every name; only a hand-built Rates gets here.
		return nil, fmt.Errorf("billing: account %q: no plan %q", account, name)
	}
	return p, nil
}

// Match returns the row with the longest prefix of the normalised
// destination among the plan's rows for the direction.
func (p *Plan) Match(dir Direction, destination string) (*Row, error) {
	rows := p.Outbound
	if dir == Inbound {
		rows = p.Inbound
	}
	var best *Row
	for _, r := range rows {
		if strings.HasPrefix(destination, r.Prefix) && (best == nil || len(r.Prefix) > len(best.Prefix)) {
			best = r
		}
	}
	if best == nil {
		return nil, fmt.Errorf("billing: plan %q has no %s row for %q", p.Name, dir, destination)
	}
	return best, nil
}

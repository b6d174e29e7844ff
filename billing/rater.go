package billing

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/shopspring/decimal"
)

// Which legs are billed (Config.Legs).
const (
	// BillTrunks bills the legs whose channel matches Config.Trunks.
	BillTrunks = "trunks"
	// BillAll bills every leg.
	BillAll = "all"
)

// Who pays an outbound trunk leg passed between internal parties
// (Config.Attribution).
const (
	// Originator: whoever first dialled the trunk pays the whole leg.
	Originator = "originator"
	// Segments: each internal party pays for its talk with the trunk;
	// the time between (transfer ringing, hold) goes to the party of the
	// segment before, the one that transferred.
	Segments = "segments"
)

// Config says which legs are billed and who pays them. Its yaml tags let
// a daemon's configuration file hold it.
type Config struct {
	// Legs is which legs get a billing record: BillTrunks (the default)
	// or BillAll.
	Legs string `yaml:"legs"`
	// Trunks are patterns for the channels of trunk legs: globs matched
	// with path.Match against the channel ("SIP/trunk-0000001d") and its
	// device (the channel without its "-<hex>" suffix: "SIP/trunk"), or
	// regular expressions written "re:" + expression, matched against
	// the same two anywhere unless anchored.
	Trunks []string `yaml:"trunks"`
	// Attribution is Originator (the default) or Segments.
	Attribution string `yaml:"attribution"`
	// DefaultAccount pays when neither the dialplan nor AccountCode
	// named an account.
	DefaultAccount string `yaml:"default_account"`
}

// DefaultConfig bills trunk legs to whoever dialled them. Its Trunks are
// empty: set them.
func DefaultConfig() Config {
	return Config{Legs: BillTrunks, Attribution: Originator}
}

// Validate checks the settings and compiles the trunk patterns.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c Config) compile() ([]pattern, error) {
	var errs []error
	switch c.Legs {
	case BillTrunks:
		if len(c.Trunks) == 0 {
			errs = append(errs, errors.New("billing: legs is trunks but no trunk patterns are set"))
		}
	case BillAll:
	default:
		errs = append(errs, fmt.Errorf("billing: legs %q: want %s or %s", c.Legs, BillTrunks, BillAll))
	}
	switch c.Attribution {
	case Originator, Segments:
	default:
		errs = append(errs, fmt.Errorf("billing: attribution %q: want %s or %s", c.Attribution, Originator, Segments))
	}
	ps := make([]pattern, 0, len(c.Trunks))
	for _, t := range c.Trunks {
		p, err := compilePattern(t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ps = append(ps, p)
	}
	return ps, errors.Join(errs...)
}

// A pattern matches trunk channels: a glob, or a regular expression.
type pattern struct {
	glob string
	re   *regexp.Regexp
}

func compilePattern(s string) (pattern, error) {
	if expr, ok := strings.CutPrefix(s, "re:"); ok {
		re, err := regexp.Compile(expr)
		if err != nil {
			return pattern{}, fmt.Errorf("billing: trunk pattern %q: %w", s, err)
		}
		return pattern{re: re}, nil
	}
	if s == "" {
		return pattern{}, errors.New("billing: empty trunk pattern")
	}
	if _, err := path.Match(s, ""); err != nil {
		return pattern{}, fmt.Errorf("billing: trunk pattern %q: %w", s, err)
	}
	return pattern{glob: s}, nil
}

func (p pattern) match(s string) bool {
	if p.re != nil {
		return p.re.MatchString(s)
	}
	ok, _ := path.Match(p.glob, s)
	return ok
}

// device returns a channel's name without the "-<hex>" suffix Asterisk
// adds to each channel of a device: "PJSIP/provider-0000001a" gives
// "PJSIP/provider".
func device(channel string) string {
	i := strings.LastIndexByte(channel, '-')
	if i < 0 || i == len(channel)-1 {
		return channel
	}
	for _, c := range channel[i+1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return channel
		}
	}
	return channel[:i]
}

// A Rater rates completed calls with a rate file and a Config. It is
// read-only and safe for concurrent use; to reload rates, make another.
type Rater struct {
	rates  *Rates
	cfg    Config
	trunks []pattern
}

// NewRater checks cfg and returns a Rater.
func NewRater(rates *Rates, cfg Config) (*Rater, error) {
	if rates == nil {
		return nil, errors.New("billing: no rates")
	}
	ps, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return &Rater{rates: rates, cfg: cfg, trunks: ps}, nil
}

// IsTrunk reports whether a leg's channel matches a trunk pattern.
func (r *Rater) IsTrunk(l *callgraph.Leg) bool {
	dev := device(l.Channel)
	for _, p := range r.trunks {
		if p.match(l.Channel) || p.match(dev) {
			return true
		}
	}
	return false
}

// account returns the first account named, else the default.
func (r *Rater) account(candidates ...string) string {
	for _, a := range candidates {
		if a != "" {
			return a
		}
	}
	return r.cfg.DefaultAccount
}

// Rate returns the billing records of a completed call, one per billable
// leg, or, for an outbound trunk leg under the Segments policy, one per
// party that paid part of it. The call is not modified. A record that
// could not be priced (no plan for its account, no row for its
// destination) carries the reason in Error and no Cost.
func (r *Rater) Rate(c *callgraph.Call) []callgraph.Billing {
	byID := make(map[string]*callgraph.Leg, len(c.Legs))
	for _, l := range c.Legs {
		byID[l.ID] = l
	}
	out := []callgraph.Billing{}
	for _, l := range c.Legs {
		trunk := r.IsTrunk(l)
		if !trunk && r.cfg.Legs != BillAll {
			continue
		}
		out = append(out, r.rateLeg(c, l, trunk, byID)...)
	}
	return out
}

func (r *Rater) rateLeg(c *callgraph.Call, l *callgraph.Leg, trunk bool, byID map[string]*callgraph.Leg) []callgraph.Billing {
	// The caller's destination is what it dialled (for a trunk: the DID);
	// any other leg's is the party it reached.
	dir, dialled := Outbound, l.Party
	if l.Role == callgraph.RoleCaller {
		dialled = l.Dialed
		if trunk {
			dir = Inbound
		}
	}
	dest := r.rates.Normalize(dialled)
	billsec := l.Billsec.Duration()

	var shares []*share
	if trunk && dir == Outbound {
		shares = r.outboundShares(c, l, billsec, byID)
	} else {
		sh := &share{party: l.Party, account: r.account(l.Account)}
		sh.add(0, billsec)
		shares = []*share{sh}
	}

	recs := make([]callgraph.Billing, 0, len(shares))
	for _, sh := range shares {
		b := callgraph.Billing{
			Leg:         l.ID,
			Party:       sh.party,
			Account:     sh.account,
			Billsec:     callgraph.Dur(sh.total()),
			Destination: dest,
		}
		plan, err := r.rates.PlanFor(sh.account)
		if err != nil {
			b.Error = strings.TrimPrefix(err.Error(), "billing: ")
			recs = append(recs, b)
			continue
		}
		b.Plan, b.Currency = plan.Name, plan.Currency
		row, err := plan.Match(dir, dest)
		if err != nil {
			b.Error = strings.TrimPrefix(err.Error(), "billing: ")
			if dialled != dest {
				b.Error += fmt.Sprintf(" (dialled %q)", dialled)
			}
			recs = append(recs, b)
			continue
		}
		b.Row, b.Increment = row.String(), row.Increment
		cost := decimal.Zero
		for _, s := range sh.spans {
			ch := row.slice(plan.Rounding, s.from, s.to)
			b.BilledSeconds += ch.BilledSeconds
			b.Units += ch.Units
			cost = cost.Add(ch.Cost)
		}
		b.Cost = cost.StringFixed(plan.Rounding.Decimals)
		recs = append(recs, b)
	}
	return recs
}

// A share is the part of a leg one party pays: spans of the leg's
// billable time, measured from its answer.
type share struct {
	party, account string
	spans          []span
}

type span struct{ from, to time.Duration }

func (s *share) add(from, to time.Duration) {
	if to <= from {
		return
	}
	if n := len(s.spans); n > 0 && s.spans[n-1].to == from {
		s.spans[n-1].to = to
		return
	}
	s.spans = append(s.spans, span{from, to})
}

func (s *share) total() time.Duration {
	var t time.Duration
	for _, sp := range s.spans {
		t += sp.to - sp.from
	}
	return t
}

// originator returns the leg that brought an outbound trunk leg into the
// call: the transferrer of a transfer to it, else the leg that dialled it
// (or forwarded, queued or picked it up); nil when none did (an
// originated call).
func originator(c *callgraph.Call, l *callgraph.Leg, byID map[string]*callgraph.Leg) *callgraph.Leg {
	var from *callgraph.Leg
	for _, cn := range c.Connections {
		if cn.To != l.ID {
			continue
		}
		switch cn.Kind {
		case callgraph.KindBlindTransfer, callgraph.KindAttendedTransfer:
			if p := byID[cn.By]; p != nil && p != l {
				return p
			}
		default:
			if p := byID[cn.From]; p != nil && p != l && from == nil {
				from = p
			}
		}
	}
	return from
}

// outboundShares splits an outbound trunk leg between the parties that
// pay it under the attribution policy. The originator's share takes, in
// order, the trunk leg's own account (the dialplan's, or the AccountCode
// Asterisk copies to it from the caller), the originator's, the default;
// any other party's share its own account, else the default.
func (r *Rater) outboundShares(c *callgraph.Call, l *callgraph.Leg, billsec time.Duration, byID map[string]*callgraph.Leg) []*share {
	orig := originator(c, l, byID)
	first := &share{party: l.Party, account: r.account(l.Account)}
	if orig != nil {
		first = &share{party: orig.Party, account: r.account(l.Account, orig.Account)}
	}
	if r.cfg.Attribution != Segments || billsec <= 0 {
		first.add(0, billsec)
		return []*share{first}
	}

	// Walk the trunk leg's talk segments in order: each gives its time to
	// the internal party at the other end; time outside any segment goes
	// to the party before (the originator at the start). Segments with
	// another trunk or a conference pay nothing: the party before does.
	byParty := map[[2]string]*share{{first.party, first.account}: first}
	order := []*share{first}
	payer := first
	var cursor time.Duration
	at := func(t callgraph.Time) time.Duration {
		return min(max(t.Sub(l.Answered.Time), 0), billsec)
	}
	for _, s := range sortedSegments(c.Segments, l.ID) {
		other := s.B
		if other == l.ID {
			other = s.A
		}
		p := byID[other]
		if p == nil || r.IsTrunk(p) {
			continue
		}
		from, to := max(at(s.Start), cursor), at(s.End)
		if to <= from {
			continue
		}
		payer.add(cursor, from)
		key := [2]string{p.Party, r.account(p.Account)}
		if p == orig {
			key[1] = first.account
		}
		sh := byParty[key]
		if sh == nil {
			sh = &share{party: key[0], account: key[1]}
			byParty[key] = sh
			order = append(order, sh)
		}
		sh.add(from, to)
		payer, cursor = sh, to
	}
	payer.add(cursor, billsec)

	shares := order[:0]
	for _, sh := range order {
		if len(sh.spans) > 0 {
			shares = append(shares, sh)
		}
	}
	return shares
}

// sortedSegments returns the segments a leg is in, by start.
func sortedSegments(segs []callgraph.Segment, leg string) []callgraph.Segment {
	var out []callgraph.Segment
	for _, s := range segs {
		if s.A == leg || s.B == leg {
			out = append(out, s)
		}
	}
	// Stable: equal starts stay in the engine's order.
	slices.SortStableFunc(out, func(a, b callgraph.Segment) int { return a.Start.Compare(b.Start.Time) })
	return out
}

// A Quote is what an outbound destination costs an account: its plan and
// the row that matched.
type Quote struct {
	// Account is the account quoted, after the default was applied.
	Account string
	// Destination is the number as normalised and matched.
	Destination string
	Plan        *Plan
	Row         *Row
}

// Charge prices a call that lasts d.
func (q Quote) Charge(d time.Duration) Charge {
	return q.Row.charge(q.Plan.Rounding, d)
}

// MaxSeconds returns the longest call, in whole seconds, that costs no
// more than balance: a prepaid call may last that long. It honours the
// increments (a call one millisecond longer pays a whole further step),
// the connect fee and the minimum; 0 means not even the first step is
// affordable, NoLimit that the row is free from some point on and the
// balance covers the time before it.
func (q Quote) MaxSeconds(balance decimal.Decimal) int64 {
	return q.Row.maxSeconds(q.Plan.Rounding, balance)
}

// Quote finds what an outbound call from account to destination costs.
// An empty account is the configured default.
func (r *Rater) Quote(account, destination string) (Quote, error) {
	account = r.account(account)
	q := Quote{Account: account, Destination: r.rates.Normalize(destination)}
	plan, err := r.rates.PlanFor(account)
	if err != nil {
		return Quote{}, err
	}
	row, err := plan.Match(Outbound, q.Destination)
	if err != nil {
		return Quote{}, err
	}
	q.Plan, q.Row = plan, row
	return q, nil
}

// MaxSeconds is Quote followed by Quote.MaxSeconds: how long an outbound
// call from account to destination may last on balance.
func (r *Rater) MaxSeconds(balance decimal.Decimal, account, destination string) (int64, error) {
	q, err := r.Quote(account, destination)
	if err != nil {
		return 0, err
	}
	return q.MaxSeconds(balance), nil
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
)

// Prepaid calls: the FastAGI authorize handler.
//
//	same => n,AGI(agi://calltrail:4573/authorize?account=acme&dest=${EXTEN})
//	same => n,GotoIf($["${ALLOWED}" != "yes"]?refused)
//	same => n,Dial(PJSIP/${EXTEN}@carrier,,L(${CALLTRAIL_MAXSEC}000))
//
// It answers with three channel variables, always in this order:
// CALLTRAIL_MAXSEC (how many seconds the call may last once answered, 0
// when refused), CALLTRAIL_REASON (why it is refused, "" when not) and
// ALLOWED (yes or no). The money the longest allowed call would cost is
// reserved on the account, keyed by the channel's Uniqueid, until the
// call is stored: the transaction that stores it debits its real cost
// and releases the reservation (store.SaveCalls).

// Reasons authorize gives in CALLTRAIL_REASON.
const (
	ReasonNoAccount           = "no_account"           // no account named, or no prepaid account of that name
	ReasonNoRate              = "no_rate"              // the account's plan prices no such destination
	ReasonInsufficientBalance = "insufficient_balance" // not even the first second is affordable
	ReasonCurrencyMismatch    = "currency_mismatch"    // the plan's currency is not the account's
	ReasonError               = "error"                // calltrail could not decide (the database); see its log
)

// DefaultMaxCall is the longest call authorize allows, however large
// the balance or free the destination; the request's max= lowers or
// raises it.
const DefaultMaxCall = 4 * time.Hour

// maxMaxCall bounds the max= a request may give: 30 days.
const maxMaxCall = 30 * 24 * 3600

// ReservationMargin is how long past its longest allowed call a
// reservation stands when the call is never stored: it covers the
// ringing before the answer and the writer's delay.
const ReservationMargin = 10 * time.Minute

// An accountStore keeps prepaid accounts (store.Store).
type accountStore interface {
	Reserve(ctx context.Context, account, server, leg string, decide func(store.Funds) (*store.Hold, error)) (*store.Reservation, store.Funds, error)
}

// A quoter finds what an outbound call costs (billing.Rater).
type quoter interface {
	Quote(account, destination string) (billing.Quote, error)
}

// withAuthorize returns the FastAGI handlers with "authorize" added,
// when the store keeps accounts and the options do not serve that path
// already.
func (d *Daemon) withAuthorize(handlers map[string]agi.Handler) map[string]agi.Handler {
	accounts, ok := d.opts.Store.(accountStore)
	if !ok || handlers["authorize"] != nil {
		return handlers
	}
	out := maps.Clone(handlers)
	if out == nil {
		out = make(map[string]agi.Handler, 1)
	}
	q, _ := d.opts.Rater.(quoter)
	out["authorize"] = agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		return d.serveAuthorize(ctx, s, accounts, q)
	})
	return out
}

// A decision is authorize's answer.
type decision struct {
	maxsec int64
	reason string // "" when allowed
}

var errCurrency = errors.New("currency mismatch")

// serveAuthorize decides whether a prepaid call may go ahead and for how
// long:
//
//	AGI(agi://calltrail:4573/authorize?account=acme&dest=${EXTEN}&max=3600&cdr=1)
//
// account defaults to the channel's accountcode, dest to the extension,
// max (seconds) to DefaultMaxCall. An account the request names is also
// tagged on the leg, as the tag handler does, so that the call is billed
// to it; with cdr=1 CDR(accountcode) is set too. Refusals are answers,
// not errors; only a failure to decide (the database) returns an error,
// for the server's log, and the dialplan is told ALLOWED=no.
func (d *Daemon) serveAuthorize(ctx context.Context, s *agi.Session, accounts accountStore, q quoter) error {
	r := s.Request
	params := map[string]string{}
	for k, vs := range r.Query {
		if len(vs) > 0 {
			params[k] = vs[len(vs)-1]
		}
	}
	for _, a := range r.Args {
		if k, v, ok := strings.Cut(a, "="); ok && k != "" {
			params[k] = v
		}
	}
	uid := r.UniqueID()
	account, named := params["account"], params["account"] != ""
	if !named {
		account = r.AccountCode()
	}
	dest := params["dest"]
	if dest == "" {
		dest = r.Extension()
	}
	maxCall := int64(DefaultMaxCall / time.Second)
	if v, ok := params["max"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > maxMaxCall {
			return d.answerAuthorize(ctx, s, decision{reason: ReasonError},
				fmt.Errorf("authorize %s: max=%q: want a number of seconds from 1 to %d", uid, v, maxMaxCall))
		}
		maxCall = n
	}

	var server string
	p := d.pipelineFor(r.RemoteAddr)
	if p != nil {
		server = p.id
	}
	if named && uid != "" {
		msg := callgraph.TagMessage(uid, account, nil)
		targets := d.order
		if p != nil {
			targets = []*pipeline{p}
		}
		for _, t := range targets {
			if err := t.Tag(ctx, msg); err != nil {
				return err
			}
		}
		if params["cdr"] == "1" || params["cdr"] == "yes" {
			if err := s.SetVariable(ctx, "CDR(accountcode)", account); err != nil {
				return fmt.Errorf("authorize %s: %w", uid, err)
			}
		}
	}

	dec, err := authorize(ctx, accounts, q, server, uid, account, dest, maxCall)
	return d.answerAuthorize(ctx, s, dec, err)
}

// authorize works out the decision for a channel's call and reserves
// its money.
func authorize(ctx context.Context, accounts accountStore, q quoter, server, uid, account, dest string, maxCall int64) (decision, error) {
	switch {
	case uid == "":
		return decision{reason: ReasonError}, errors.New("authorize: no agi_uniqueid in the request")
	case account == "":
		return decision{reason: ReasonNoAccount}, nil
	case q == nil:
		return decision{reason: ReasonNoRate}, fmt.Errorf("authorize %s: no rate file is configured (billing.rates)", uid)
	}
	quote, err := q.Quote(account, dest)
	if err != nil {
		return decision{reason: ReasonNoRate}, nil
	}
	var dec decision
	_, _, err = accounts.Reserve(ctx, account, server, uid, func(f store.Funds) (*store.Hold, error) {
		if f.Account.Currency != quote.Plan.Currency {
			return nil, errCurrency
		}
		// The call is told to end a second before the last affordable
		// one: a call that lasts a moment longer than it is told pays a
		// further step. What is reserved covers that second.
		secs := min(quote.MaxSeconds(f.Available), maxCall+1) - 1
		if secs < 1 {
			dec.reason = ReasonInsufficientBalance
			return nil, nil
		}
		dec.maxsec = secs
		covered := time.Duration(secs+1) * time.Second
		return &store.Hold{
			Amount:      quote.Charge(covered).Cost,
			MaxSeconds:  secs,
			Destination: quote.Destination,
			TTL:         covered + ReservationMargin,
		}, nil
	})
	switch {
	case errors.Is(err, store.ErrNoAccount):
		return decision{reason: ReasonNoAccount}, nil
	case errors.Is(err, errCurrency):
		return decision{reason: ReasonCurrencyMismatch}, nil
	case err != nil:
		return decision{reason: ReasonError}, fmt.Errorf("authorize %s for %s: %w", uid, account, err)
	}
	return dec, nil
}

// answerAuthorize sets the channel variables of a decision, then returns
// failed, the error that led to it if any.
func (d *Daemon) answerAuthorize(ctx context.Context, s *agi.Session, dec decision, failed error) error {
	allowed := "no"
	if dec.reason == "" {
		allowed = "yes"
	}
	for _, v := range [][2]string{
		{"CALLTRAIL_MAXSEC", strconv.FormatInt(dec.maxsec, 10)},
		{"CALLTRAIL_REASON", dec.reason},
		{"ALLOWED", allowed},
	} {
		if err := s.SetVariable(ctx, v[0], v[1]); err != nil {
			return errors.Join(failed, fmt.Errorf("authorize %s: %w", s.Request.UniqueID(), err))
		}
	}
	return failed
}

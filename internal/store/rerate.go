package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/calltrail/calltrail/callgraph"
)

// Re-rating: stored calls priced anew with another rate plan.
//
// A run prices every call of a period again, in one transaction: the
// calls whose billing records change are saved again (SaveCalls' path,
// so prepaid debits move by the difference), and their previous records
// are kept in billing_history under the run, whose row in rerate_runs
// says when, with what and over which calls, and what each account's
// calls cost before and after.

// rerateRunRow is one re-rating (table rerate_runs).
type rerateRunRow struct {
	PK        uint64     `gorm:"column:pk;primaryKey;autoIncrement"`
	StartedAt time.Time  `gorm:"precision:6;not null"`
	Rates     string     // what priced the calls anew: the rate file
	FromAt    *time.Time `gorm:"precision:6"`
	ToAt      *time.Time `gorm:"precision:6"`
	Selection string     // the filter's other terms ("account=acme")
	Calls     int        `gorm:"not null"`
	Changed   int        `gorm:"not null"`
	Totals    string     // JSON: []RerateTotal
}

// billingHistoryRow is a billing record as it was before a re-rating
// replaced it (table billing_history).
type billingHistoryRow struct {
	PK            uint64 `gorm:"column:pk;primaryKey;autoIncrement"`
	RerateRunPK   uint64 `gorm:"not null;index"`
	Server        string `gorm:"size:128;not null;index:,composite:history_call,priority:1"`
	CallID        string `gorm:"size:128;not null;index:,composite:history_call,priority:2"`
	Seq           int    `gorm:"not null"`
	LegID         string `gorm:"size:128"`
	Party         string `gorm:"size:255"`
	Account       string `gorm:"size:255;index"`
	BillsecMS     int64  `gorm:"column:billsec_ms;not null"`
	BilledSeconds int64  `gorm:"not null"`
	Destination   string
	Cost          string
	Currency      string `gorm:"size:8"`
	Plan          string
	RateRow       string
	RateIncrement string
	Units         int64 `gorm:"not null"`
	RatingError   string
}

// A RerateTotal is what the calls of a run cost one account, in one
// currency, before and after.
type RerateTotal struct {
	Account  string          `json:"account"`
	Currency string          `json:"currency"`
	Old      decimal.Decimal `json:"old"`
	New      decimal.Decimal `json:"new"`
	// OldUnpriced and NewUnpriced count the records without a price
	// (their error says why), which the totals leave out.
	OldUnpriced int `json:"old_unpriced,omitempty"`
	NewUnpriced int `json:"new_unpriced,omitempty"`
}

// Delta is New − Old.
func (t RerateTotal) Delta() decimal.Decimal { return t.New.Sub(t.Old) }

// A RerateRun is one re-rating.
type RerateRun struct {
	ID    uint64 // 0 for a dry run
	At    time.Time
	Rates string
	// From and To bound the calls' start, as the filter did.
	From, To  time.Time
	Selection string
	// Calls counts the calls priced again; Changed those whose records
	// changed, and were saved again.
	Calls, Changed int
	// Totals are by account, then currency. Records without an account
	// are under "".
	Totals []RerateTotal
}

// RerateOptions describe a run.
type RerateOptions struct {
	// Rates says what priced the calls anew (the rate file's name); it
	// is kept with the run.
	Rates string
	// DryRun works everything out and writes nothing.
	DryRun bool
}

var errDryRun = errors.New("dry run")

// Rerate prices the calls f selects again with rate (billing.Rater's
// Rate), in one transaction: all of it or none of it. The calls whose
// billing records change are saved again, which moves the prepaid
// debits by the difference; their previous records go to the history.
// It returns the run, with what each account's calls cost before and
// after.
func (s *Store) Rerate(ctx context.Context, f Filter, opts RerateOptions, rate func(*callgraph.Call) []callgraph.Billing) (RerateRun, error) {
	run := RerateRun{At: now(), Rates: opts.Rates, From: f.From, To: f.To, Selection: selection(f)}
	type totalKey struct{ account, currency string }
	totals := map[totalKey]*RerateTotal{}
	var order []totalKey
	tally := func(recs []callgraph.Billing, add func(t *RerateTotal, cost decimal.Decimal, priced bool)) {
		for _, b := range recs {
			k := totalKey{b.Account, b.Currency}
			t := totals[k]
			if t == nil {
				t = &RerateTotal{Account: b.Account, Currency: b.Currency}
				totals[k] = t
				order = append(order, k)
			}
			cost, err := decimal.NewFromString(b.Cost)
			add(t, cost, b.Cost != "" && err == nil)
		}
	}

	err := s.inTx(ctx, func(t *txn) error {
		tx := t.gorm
		row := rerateRunRow{StartedAt: run.At, Rates: run.Rates, Selection: run.Selection}
		if !f.From.IsZero() {
			t := f.From.UTC()
			row.FromAt = &t
		}
		if !f.To.IsZero() {
			t := f.To.UTC()
			row.ToAt = &t
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		var (
			changed []*callgraph.Call
			history []billingHistoryRow
		)
		flush := func() error {
			if len(changed) == 0 {
				return nil
			}
			b, err := prepare(changed)
			if err != nil {
				return err
			}
			if err := s.save(ctx, t, b); err != nil {
				return err
			}
			if err := insert(tx, history); err != nil {
				return err
			}
			changed, history = changed[:0], history[:0]
			return nil
		}
		for c, err := range s.iterate(tx, f) {
			if err != nil {
				return err
			}
			run.Calls++
			recs := rate(c)
			tally(c.Billing, func(t *RerateTotal, cost decimal.Decimal, priced bool) {
				if priced {
					t.Old = t.Old.Add(cost)
				} else {
					t.OldUnpriced++
				}
			})
			tally(recs, func(t *RerateTotal, cost decimal.Decimal, priced bool) {
				if priced {
					t.New = t.New.Add(cost)
				} else {
					t.NewUnpriced++
				}
			})
			if slices.Equal(c.Billing, recs) {
				continue
			}
			run.Changed++
			for i, b := range c.Billing {
				history = append(history, billingHistoryRow{
					RerateRunPK: row.PK, Server: c.Server, CallID: c.ID, Seq: i,
					LegID: b.Leg, Party: b.Party, Account: b.Account, BillsecMS: ms(b.Billsec),
					BilledSeconds: b.BilledSeconds, Destination: b.Destination, Cost: b.Cost,
					Currency: b.Currency, Plan: b.Plan, RateRow: b.Row, RateIncrement: b.Increment,
					Units: b.Units, RatingError: b.Error,
				})
			}
			c.Billing = recs
			changed = append(changed, c)
			if len(changed) >= insertChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		run.Totals = make([]RerateTotal, 0, len(order))
		slices.SortFunc(order, func(a, b totalKey) int {
			return strings.Compare(a.account+"\x00"+a.currency, b.account+"\x00"+b.currency)
		})
		for _, k := range order {
			run.Totals = append(run.Totals, *totals[k])
		}
		js, err := json.Marshal(run.Totals)
		if err != nil {
			return err
		}
		err = tx.Model(&row).Select("calls", "changed", "totals").
			Updates(&rerateRunRow{Calls: run.Calls, Changed: run.Changed, Totals: string(js)}).Error
		if err != nil {
			return err
		}
		if opts.DryRun {
			return errDryRun
		}
		run.ID = row.PK
		return nil
	})
	if errors.Is(err, errDryRun) {
		return run, nil
	}
	if err != nil {
		return RerateRun{}, fmt.Errorf("store: rerate: %w", err)
	}
	return run, nil
}

// selection writes the terms of f other than its period.
func selection(f Filter) string {
	var parts []string
	for _, p := range [][2]string{
		{"server", f.Server}, {"account", f.Account}, {"party", f.Party},
		{"queue", f.Queue}, {"disposition", f.Disposition},
		{"cause", intString(f.Cause)}, {"sip", intString(f.SIPCode)}, {"text", f.Text},
	} {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+p[1])
		}
	}
	return strings.Join(parts, " ")
}

func intString(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

// RerateRuns returns the re-ratings done, oldest first.
func (s *Store) RerateRuns(ctx context.Context) ([]RerateRun, error) {
	var rows []rerateRunRow
	if err := s.db.WithContext(ctx).Order("pk").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: rerate runs: %w", err)
	}
	out := make([]RerateRun, len(rows))
	for i, r := range rows {
		run := RerateRun{
			ID: r.PK, At: r.StartedAt.UTC(), Rates: r.Rates, Selection: r.Selection,
			Calls: r.Calls, Changed: r.Changed,
			From: fromTimePtr(r.FromAt).Time, To: fromTimePtr(r.ToAt).Time,
		}
		if r.Totals != "" {
			if err := json.Unmarshal([]byte(r.Totals), &run.Totals); err != nil {
				return nil, fmt.Errorf("store: rerate run %d: totals: %w", r.PK, err)
			}
		}
		out[i] = run
	}
	return out, nil
}

// BillingHistory returns the billing records a call had before each
// re-rating that changed them, by run (oldest first) and position.
func (s *Store) BillingHistory(ctx context.Context, server, callID string) (map[uint64][]callgraph.Billing, error) {
	var rows []billingHistoryRow
	err := s.db.WithContext(ctx).Where("server = ? AND call_id = ?", server, callID).Order("rerate_run_pk, seq").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: billing history %s/%s: %w", server, callID, err)
	}
	out := map[uint64][]callgraph.Billing{}
	for _, r := range rows {
		out[r.RerateRunPK] = append(out[r.RerateRunPK], callgraph.Billing{
			Leg: r.LegID, Party: r.Party, Account: r.Account, Billsec: seconds(r.BillsecMS),
			BilledSeconds: r.BilledSeconds, Destination: r.Destination, Cost: r.Cost,
			Currency: r.Currency, Plan: r.Plan, Row: r.RateRow, Increment: r.RateIncrement,
			Units: r.Units, Error: r.RatingError,
		})
	}
	return out, nil
}

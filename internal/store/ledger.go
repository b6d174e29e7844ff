package store

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// settle brings the prepaid accounts in line with calls just written, in
// the transaction that wrote them: it releases the reservations of the
// calls' legs and writes each call's debit of each prepaid account its
// billing records name. replaced holds the calls that were stored
// before; their earlier debits are rewritten and the balances moved by
// the difference, so that saving a call again never debits it twice.
//
// A debit is the sum of the costs of the call's records for the account.
// A record priced in another currency than the account's, or not priced
// at all, is left out, and the entry's note says so. Calls that started
// before the account's DebitFrom are not debited. A call that costs
// nothing and needs no note has no entry.
func (s *Store) settle(tx *gorm.DB, rows []callRow, kids []children, replaced map[callKey]bool) error {
	names := map[string]bool{}
	for i := range kids {
		for _, b := range kids[i].billing {
			if b.Account != "" {
				names[b.Account] = true
			}
		}
	}

	// The debits written when the replaced calls were saved before.
	before := map[callKey][]ledgerEntryRow{}
	byServer := map[string][]string{}
	for k := range replaced {
		byServer[k.server] = append(byServer[k.server], k.id)
	}
	for server, ids := range byServer {
		for chunk := range slices.Chunk(ids, inChunk) {
			var found []ledgerEntryRow
			err := tx.Where("kind = ? AND server = ? AND call_id IN ?", EntryCall, server, chunk).Find(&found).Error
			if err != nil {
				return err
			}
			for _, e := range found {
				k := callKey{*e.Server, *e.CallID}
				before[k] = append(before[k], e)
				names[e.Account] = true
			}
		}
	}

	// The reservations of the calls' legs: made on this server, or by a
	// FastAGI request whose server was not known.
	legs := map[string][]string{}
	for i := range rows {
		for _, l := range kids[i].legs {
			legs[rows[i].Server] = append(legs[rows[i].Server], l.LegID)
		}
	}
	var held []reservationRow
	for server, ids := range legs {
		for chunk := range slices.Chunk(ids, inChunk) {
			var found []reservationRow
			err := tx.Select("pk", "account").Where("server IN ? AND leg_id IN ?", []string{server, ""}, chunk).Find(&found).Error
			if err != nil {
				return err
			}
			held = append(held, found...)
		}
	}
	for _, r := range held {
		names[r.Account] = true
	}
	if len(names) == 0 {
		return nil
	}

	accounts, err := lockAccounts(tx, names)
	if err != nil {
		return err
	}
	if err := deleteByPK[reservationRow](tx, pksOf(held)); err != nil {
		return err
	}
	if len(accounts) == 0 {
		return nil
	}

	t := now()
	delta := map[string]decimal.Decimal{}
	for i := range rows {
		k := callKey{rows[i].Server, rows[i].CallID}
		want := debits(&rows[i], kids[i].billing, accounts)
		for name, d := range want {
			if err := checkAmount(fmt.Sprintf("debit of %s for call %s/%s", name, k.server, k.id), d.amount); err != nil {
				return err
			}
		}
		for _, old := range before[k] {
			delta[old.Account] = delta[old.Account].Sub(old.Amount.Decimal)
			d, ok := want[old.Account]
			if !ok {
				if err := deleteByPK[ledgerEntryRow](tx, []uint64{old.PK}); err != nil {
					return err
				}
				continue
			}
			delete(want, old.Account)
			delta[old.Account] = delta[old.Account].Add(d.amount)
			if d.amount.Equal(old.Amount.Decimal) && d.note == old.Note && sameTime(rows[i].StartedAt, old.CallStart) {
				continue
			}
			err := tx.Model(&ledgerEntryRow{PK: old.PK}).Select("amount", "note", "call_start", "updated_at").
				Updates(&ledgerEntryRow{Amount: money{d.amount}, Note: d.note, CallStart: rows[i].StartedAt, UpdatedAt: t}).Error
			if err != nil {
				return err
			}
		}
		for _, name := range sortedKeys(want) {
			d := want[name]
			delta[name] = delta[name].Add(d.amount)
			server, id := rows[i].Server, rows[i].CallID
			err := tx.Create(&ledgerEntryRow{
				Account: name, Kind: EntryCall, Amount: money{d.amount}, Server: &server, CallID: &id,
				CallStart: rows[i].StartedAt, Note: d.note, CreatedAt: t, UpdatedAt: t,
			}).Error
			if err != nil {
				return err
			}
		}
	}
	for _, name := range sortedKeys(delta) {
		d := delta[name]
		a := accounts[name]
		if d.IsZero() || a == nil {
			continue
		}
		a.Balance = money{a.Balance.Add(d)}
		a.UpdatedAt = t
		if err := checkAmount("balance of "+name, a.Balance.Decimal); err != nil {
			return err
		}
		if err := tx.Model(a).Select("balance", "updated_at").Updates(a).Error; err != nil {
			return err
		}
	}
	return nil
}

// lockAccounts locks the rows of the named accounts that exist, in the
// order of their names, so that two transactions never wait on each
// other's locks in a circle.
func lockAccounts(tx *gorm.DB, names map[string]bool) (map[string]*accountRow, error) {
	list := sortedKeys(names)
	out := make(map[string]*accountRow, len(list))
	for chunk := range slices.Chunk(list, inChunk) {
		var found []accountRow
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("name IN ?", chunk).Order("name").Find(&found).Error
		if err != nil {
			return nil, err
		}
		for i := range found {
			out[found[i].Name] = &found[i]
		}
	}
	return out, nil
}

type debit struct {
	amount decimal.Decimal // negative: what the call costs the account
	note   string
}

// debits works out what a call costs each prepaid account its records
// name.
func debits(row *callRow, recs []billingRecordRow, accounts map[string]*accountRow) map[string]debit {
	type tally struct {
		cost       decimal.Decimal
		unpriced   int
		why        string                     // the first unpriced record's error
		foreign    map[string]decimal.Decimal // by currency
		currencies []string                   // foreign's keys, in the order met
	}
	tallies := map[string]*tally{}
	for _, b := range recs {
		a := accounts[b.Account]
		if a == nil || row.StartedAt == nil || row.StartedAt.Before(a.DebitFrom) {
			continue
		}
		t := tallies[b.Account]
		if t == nil {
			t = &tally{foreign: map[string]decimal.Decimal{}}
			tallies[b.Account] = t
		}
		cost, err := decimal.NewFromString(b.Cost)
		switch {
		case b.Cost == "" || err != nil:
			t.unpriced++
			if t.why == "" {
				t.why = b.RatingError
				if t.why == "" && err != nil {
					t.why = fmt.Sprintf("cost %q is not a decimal", b.Cost)
				}
			}
		case b.Currency != a.Currency:
			if _, seen := t.foreign[b.Currency]; !seen {
				t.currencies = append(t.currencies, b.Currency)
			}
			t.foreign[b.Currency] = t.foreign[b.Currency].Add(cost)
		default:
			t.cost = t.cost.Add(cost)
		}
	}
	out := make(map[string]debit, len(tallies))
	for name, t := range tallies {
		var notes []string
		if t.unpriced > 0 {
			n := fmt.Sprintf("%d record(s) not priced", t.unpriced)
			if t.why != "" {
				n += ": " + t.why
			}
			notes = append(notes, n)
		}
		for _, c := range t.currencies {
			notes = append(notes, fmt.Sprintf("%s %s not debited: the account is in %s", t.foreign[c].String(), c, accounts[name].Currency))
		}
		d := debit{amount: t.cost.Neg(), note: strings.Join(notes, "; ")}
		if d.amount.IsZero() && d.note == "" {
			continue
		}
		out[name] = d
	}
	return out
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

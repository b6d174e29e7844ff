package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Prepaid accounts.
//
// An account holds a balance in one currency. Every change of it is a
// row of the ledger: a top-up, or the debit of one call. A call is
// debited in the transaction that stores it (SaveCalls): the costs of
// its billing records for the account, as one ledger row keyed by the
// call's server, call id and the account. Saving the call again (a
// replay, a re-rate) rewrites that row and moves the balance by the
// difference only, so a call is never debited twice, and the balance is
// always the sum of the account's ledger.
//
// While a call is in progress, money can be set aside for it
// (Reserve): the FastAGI authorize handler reserves what the longest
// call it allows would cost, so that two calls of one account at the
// same moment cannot spend the same money. A reservation is keyed by the
// channel that asked (its Uniqueid) and released in the transaction that
// stores the call, together with the debit; one whose call never
// arrives lapses at its expiry.
//
// Every function that changes a balance first locks the account's row
// (SELECT … FOR UPDATE; SQLite's transactions take the database's write
// lock at BEGIN), and reads and writes nothing of the account before.

// Errors of the account functions.
var (
	ErrNoAccount     = errors.New("store: no such account")
	ErrAccountExists = errors.New("store: account already exists")
)

// Kinds of ledger entries.
const (
	EntryTopUp = "topup" // money paid in (or taken back: a negative top-up)
	EntryCall  = "call"  // a call's debit
)

type accountRow struct {
	PK       uint64 `gorm:"column:pk;primaryKey;autoIncrement"`
	Name     string `gorm:"size:255;not null;uniqueIndex"`
	Currency string `gorm:"size:8;not null"`
	Balance  money  `gorm:"not null"`
	// DebitFrom: calls that started before it are never debited.
	DebitFrom time.Time `gorm:"precision:6;not null"`
	CreatedAt time.Time `gorm:"precision:6;not null"`
	UpdatedAt time.Time `gorm:"precision:6;not null"`
}

// ledgerEntryRow is one change of a balance (table ledger_entries). A
// call's debit is keyed by server, call id and account; a top-up has
// neither server nor call id (NULL, which unique indexes let repeat).
type ledgerEntryRow struct {
	PK        uint64     `gorm:"column:pk;primaryKey;autoIncrement"`
	Account   string     `gorm:"size:255;not null;index;uniqueIndex:,composite:ledger_call,priority:3"`
	Kind      string     `gorm:"size:16;not null"`
	Amount    money      `gorm:"not null"`
	Server    *string    `gorm:"size:128;uniqueIndex:,composite:ledger_call,priority:1"`
	CallID    *string    `gorm:"size:128;uniqueIndex:,composite:ledger_call,priority:2"`
	CallStart *time.Time `gorm:"precision:6"`
	Note      string
	CreatedAt time.Time `gorm:"precision:6;not null;index"`
	UpdatedAt time.Time `gorm:"precision:6;not null"`
}

// reservationRow is money set aside for a call in progress, keyed by
// the channel that asked.
type reservationRow struct {
	PK          uint64 `gorm:"column:pk;primaryKey;autoIncrement"`
	Account     string `gorm:"size:255;not null;index"`
	Server      string `gorm:"size:128;not null;uniqueIndex:,composite:reservation_leg,priority:1"`
	LegID       string `gorm:"size:128;not null;uniqueIndex:,composite:reservation_leg,priority:2"`
	Destination string
	Amount      money     `gorm:"not null"`
	MaxSeconds  int64     `gorm:"not null"`
	CreatedAt   time.Time `gorm:"precision:6;not null"`
	ExpiresAt   time.Time `gorm:"precision:6;not null;index"`
}

// An Account is a prepaid account: money its calls are debited from.
type Account struct {
	Name     string
	Currency string
	Balance  decimal.Decimal
	// DebitFrom: calls that started before it are never debited (those
	// the account made before it was prepaid, should they be saved
	// again).
	DebitFrom        time.Time
	Created, Updated time.Time
}

func (r *accountRow) account() Account {
	return Account{
		Name: r.Name, Currency: r.Currency, Balance: r.Balance.Decimal,
		DebitFrom: r.DebitFrom.UTC(), Created: r.CreatedAt.UTC(), Updated: r.UpdatedAt.UTC(),
	}
}

// A LedgerEntry is one change of a balance.
type LedgerEntry struct {
	ID      uint64
	Account string
	Kind    string // EntryTopUp or EntryCall
	// Amount is signed: a top-up adds, a call's debit is negative.
	Amount decimal.Decimal
	// Server, CallID and CallStart name the call of a debit.
	Server, CallID string
	CallStart      time.Time
	// Note says why a call was not (fully) debited, or what the operator
	// wrote with a top-up.
	Note string
	// Created is when the entry was first written; Updated when a call
	// saved again last changed it.
	Created, Updated time.Time
}

func (r *ledgerEntryRow) entry() LedgerEntry {
	e := LedgerEntry{
		ID: r.PK, Account: r.Account, Kind: r.Kind, Amount: r.Amount.Decimal, Note: r.Note,
		Created: r.CreatedAt.UTC(), Updated: r.UpdatedAt.UTC(),
	}
	if r.Server != nil {
		e.Server = *r.Server
	}
	if r.CallID != nil {
		e.CallID = *r.CallID
	}
	if r.CallStart != nil {
		e.CallStart = r.CallStart.UTC()
	}
	return e
}

// A Reservation is money set aside on an account for a call in
// progress.
type Reservation struct {
	Account string
	// Server and Leg name the channel that asked: its server ("" when
	// not known) and Uniqueid.
	Server, Leg string
	Destination string
	Amount      decimal.Decimal
	// MaxSeconds is how long the call was allowed to last.
	MaxSeconds       int64
	Created, Expires time.Time
}

func (r *reservationRow) reservation() Reservation {
	return Reservation{
		Account: r.Account, Server: r.Server, Leg: r.LegID, Destination: r.Destination,
		Amount: r.Amount.Decimal, MaxSeconds: r.MaxSeconds,
		Created: r.CreatedAt.UTC(), Expires: r.ExpiresAt.UTC(),
	}
}

// Funds is what an account may spend at one moment.
type Funds struct {
	Account Account
	// Reserved is held for calls in progress; Available is the balance
	// less that.
	Reserved, Available decimal.Decimal
}

// now is the store's clock, at the databases' precision.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

var errLongName = errors.New("longer than 255 bytes")

func checkAccountName(name string) error {
	switch {
	case name == "":
		return errors.New("store: empty account name")
	case len(name) > 255:
		return fmt.Errorf("store: account name %.20q…: %w", name, errLongName)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("store: account name %q has control characters", name)
	}
	return nil
}

// A NewAccount is what CreateAccount needs.
type NewAccount struct {
	Name     string
	Currency string // as the rate plans write it: "EUR"
	// Balance is the opening balance, written to the ledger as a top-up
	// when not zero.
	Balance decimal.Decimal
	// DebitFrom: calls that started before it are never debited; zero
	// means from now on.
	DebitFrom time.Time
	Note      string // goes with the opening top-up
}

// CreateAccount creates a prepaid account; ErrAccountExists when one of
// that name is there already.
func (s *Store) CreateAccount(ctx context.Context, n NewAccount) (Account, error) {
	if err := checkAccountName(n.Name); err != nil {
		return Account{}, err
	}
	if n.Currency == "" || len(n.Currency) > 8 || strings.ContainsAny(n.Currency, " \t\r\n") {
		return Account{}, fmt.Errorf("store: currency %q: want a code of 1 to 8 characters, as the rate plans write it", n.Currency)
	}
	if err := checkAmount("opening balance", n.Balance); err != nil {
		return Account{}, fmt.Errorf("store: %w", err)
	}
	t := now()
	row := accountRow{
		Name: n.Name, Currency: n.Currency, Balance: money{n.Balance},
		DebitFrom: n.DebitFrom.UTC().Truncate(time.Microsecond), CreatedAt: t, UpdatedAt: t,
	}
	if n.DebitFrom.IsZero() {
		row.DebitFrom = t
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var found int64
		if err := tx.Model(&accountRow{}).Where("name = ?", n.Name).Count(&found).Error; err != nil {
			return err
		}
		if found > 0 {
			return fmt.Errorf("%w: %s", ErrAccountExists, n.Name)
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if n.Balance.IsZero() {
			return nil
		}
		return tx.Create(&ledgerEntryRow{
			Account: n.Name, Kind: EntryTopUp, Amount: money{n.Balance}, Note: n.Note, CreatedAt: t, UpdatedAt: t,
		}).Error
	})
	if err != nil {
		return Account{}, accountErr("create account", n.Name, err)
	}
	return row.account(), nil
}

// accountErr wraps err unless it is one of the package's own.
func accountErr(op, name string, err error) error {
	if errors.Is(err, ErrNoAccount) || errors.Is(err, ErrAccountExists) || strings.HasPrefix(err.Error(), "store: ") {
		return err
	}
	return fmt.Errorf("store: %s %s: %w", op, name, err)
}

// lockAccount reads an account's row and locks it until the transaction
// ends.
func lockAccount(tx *gorm.DB, name string) (*accountRow, error) {
	var a accountRow
	err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("name = ?", name).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoAccount, name)
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// TopUp adds amount to an account's balance (a negative amount takes
// money back) and writes it to the ledger. It returns the account as it
// is after.
func (s *Store) TopUp(ctx context.Context, name string, amount decimal.Decimal, note string) (Account, error) {
	if amount.IsZero() {
		return Account{}, errors.New("store: top-up of zero")
	}
	if err := checkAmount("top-up", amount); err != nil {
		return Account{}, fmt.Errorf("store: %w", err)
	}
	var after Account
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		a, err := lockAccount(tx, name)
		if err != nil {
			return err
		}
		t := now()
		a.Balance = money{a.Balance.Add(amount)}
		a.UpdatedAt = t
		if err := checkAmount("balance", a.Balance.Decimal); err != nil {
			return fmt.Errorf("store: top up %s: %w", name, err)
		}
		if err := tx.Model(a).Select("balance", "updated_at").Updates(a).Error; err != nil {
			return err
		}
		after = a.account()
		return tx.Create(&ledgerEntryRow{
			Account: name, Kind: EntryTopUp, Amount: money{amount}, Note: note, CreatedAt: t, UpdatedAt: t,
		}).Error
	})
	if err != nil {
		return Account{}, accountErr("top up", name, err)
	}
	return after, nil
}

// Account returns an account, or an error wrapping ErrNoAccount.
func (s *Store) Account(ctx context.Context, name string) (Account, error) {
	var a accountRow
	err := s.db.WithContext(ctx).Where("name = ?", name).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Account{}, fmt.Errorf("%w: %s", ErrNoAccount, name)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %s: %w", name, err)
	}
	return a.account(), nil
}

// Accounts returns every account, by name.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	var rows []accountRow
	if err := s.db.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	out := make([]Account, len(rows))
	for i := range rows {
		out[i] = rows[i].account()
	}
	return out, nil
}

// A LedgerFilter selects ledger entries by when they were first
// written: From ≤ created < To; zero times do not bound. Limit caps the
// number (0: no cap), keeping the newest.
type LedgerFilter struct {
	From, To time.Time
	Limit    int
}

// Ledger returns an account's ledger entries, oldest first.
func (s *Store) Ledger(ctx context.Context, name string, f LedgerFilter) ([]LedgerEntry, error) {
	if _, err := s.Account(ctx, name); err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("account = ?", name)
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To.UTC())
	}
	q = q.Order("created_at DESC, pk DESC")
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var rows []ledgerEntryRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: ledger %s: %w", name, err)
	}
	out := make([]LedgerEntry, len(rows))
	for i := range rows {
		out[len(rows)-1-i] = rows[i].entry()
	}
	return out, nil
}

// Reservations returns the reservations of an account that have not
// expired, oldest first.
func (s *Store) Reservations(ctx context.Context, name string) ([]Reservation, error) {
	var rows []reservationRow
	err := s.db.WithContext(ctx).Where("account = ? AND expires_at > ?", name, now()).Order("created_at, pk").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: reservations %s: %w", name, err)
	}
	out := make([]Reservation, len(rows))
	for i := range rows {
		out[i] = rows[i].reservation()
	}
	return out, nil
}

// Funds returns an account's balance, what is reserved of it and what is
// left.
func (s *Store) Funds(ctx context.Context, name string) (Funds, error) {
	a, err := s.Account(ctx, name)
	if err != nil {
		return Funds{}, err
	}
	held, err := s.Reservations(ctx, name)
	if err != nil {
		return Funds{}, err
	}
	f := Funds{Account: a, Reserved: decimal.Zero}
	for _, r := range held {
		f.Reserved = f.Reserved.Add(r.Amount)
	}
	f.Available = a.Balance.Sub(f.Reserved)
	return f, nil
}

// A Hold is what Reserve's decide function sets aside for a call.
type Hold struct {
	Amount      decimal.Decimal
	MaxSeconds  int64
	Destination string
	// TTL is how long the reservation stands if the call is never
	// stored: the longest the call may ring and last, and a margin.
	TTL time.Duration
}

// ErrOverReserve is returned by Reserve when decide asks for more than
// the account has available.
var ErrOverReserve = errors.New("store: reservation exceeds the available balance")

// Reserve sets money aside on an account for a call in progress, keyed
// by the channel that asks (server, leg: its Uniqueid). In one
// transaction that holds the account's lock, it drops the account's
// expired reservations and any earlier one of the same channel (an
// authorization again replaces it), works out the Funds left, and calls
// decide with them: decide returns what to hold, or nil to hold nothing
// (the call is refused). Calls of Reserve for one account are thus
// decided one after the other, each seeing what the others hold, and
// never hold more than the balance: a hold above Funds.Available fails
// with ErrOverReserve. An error from decide ends the transaction with
// nothing changed. It returns the reservation made (nil if none) and the
// funds decide saw; ErrNoAccount when there is no such account.
func (s *Store) Reserve(ctx context.Context, account, server, leg string, decide func(Funds) (*Hold, error)) (*Reservation, Funds, error) {
	if leg == "" {
		return nil, Funds{}, errors.New("store: reserve: no leg id")
	}
	var (
		made  *Reservation
		funds Funds
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The lock comes first: on MySQL the first plain read fixes
		// the transaction's snapshot, which must already show every
		// reservation the account's previous lock holder made.
		a, err := lockAccount(tx, account)
		if err != nil {
			return err
		}
		t := now()
		var stale []reservationRow
		err = tx.Select("pk").
			Where("(server = ? AND leg_id = ?) OR (account = ? AND expires_at <= ?)", server, leg, account, t).
			Find(&stale).Error
		if err != nil {
			return err
		}
		if err := deleteByPK[reservationRow](tx, pksOf(stale)); err != nil {
			return err
		}
		var held []reservationRow
		if err := tx.Select("amount").Where("account = ?", account).Find(&held).Error; err != nil {
			return err
		}
		funds = Funds{Account: a.account(), Reserved: decimal.Zero}
		for _, r := range held {
			funds.Reserved = funds.Reserved.Add(r.Amount.Decimal)
		}
		funds.Available = a.Balance.Sub(funds.Reserved)
		h, err := decide(funds)
		if err != nil || h == nil {
			return err
		}
		if h.Amount.IsNegative() {
			return fmt.Errorf("store: reserve %s: negative amount %s", account, h.Amount)
		}
		if h.Amount.IsPositive() && h.Amount.GreaterThan(funds.Available) {
			return fmt.Errorf("%w: %s of %s available on %s", ErrOverReserve, h.Amount, funds.Available, account)
		}
		if err := checkAmount("reservation", h.Amount); err != nil {
			return fmt.Errorf("store: reserve on %s: %w", account, err)
		}
		row := reservationRow{
			Account: account, Server: server, LegID: leg, Destination: h.Destination,
			Amount: money{h.Amount}, MaxSeconds: h.MaxSeconds,
			CreatedAt: t, ExpiresAt: t.Add(h.TTL),
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		r := row.reservation()
		made = &r
		return nil
	})
	if err != nil {
		return nil, Funds{}, accountErr("reserve on", account, err)
	}
	return made, funds, nil
}

func (r *reservationRow) key() uint64 { return r.PK }
func (r *ledgerEntryRow) key() uint64 { return r.PK }

// pksOf returns the primary keys of rows.
func pksOf[T any, P interface {
	*T
	key() uint64
}](rows []T) []uint64 {
	out := make([]uint64, len(rows))
	for i := range rows {
		out[i] = P(&rows[i]).key()
	}
	return out
}

// deleteByPK deletes rows by primary key: on MySQL that locks only those
// rows, where a DELETE by another column also locks the gaps around
// them, which an insert by a concurrent transaction could deadlock on.
func deleteByPK[T any](tx *gorm.DB, pks []uint64) error {
	for chunk := range slices.Chunk(pks, inChunk) {
		if err := tx.Where("pk IN ?", chunk).Delete(new(T)).Error; err != nil {
			return err
		}
	}
	return nil
}

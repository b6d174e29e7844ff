package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/calltrail/calltrail/callgraph"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// wantBalance checks an account's balance, and that it is the sum of its
// ledger.
func wantBalance(t *testing.T, s *Store, name, want string) {
	t.Helper()
	ctx := context.Background()
	a, err := s.Account(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Balance.Equal(dec(want)) {
		t.Errorf("%s balance = %s, want %s", name, a.Balance, want)
	}
	entries, err := s.Ledger(ctx, name, LedgerFilter{})
	if err != nil {
		t.Fatal(err)
	}
	sum := decimal.Zero
	for _, e := range entries {
		sum = sum.Add(e.Amount)
	}
	if !sum.Equal(a.Balance) {
		t.Errorf("%s: ledger sums to %s, balance is %s", name, sum, a.Balance)
	}
}

func createAccount(t *testing.T, s *Store, name, currency, balance string) Account {
	t.Helper()
	a, err := s.CreateAccount(context.Background(), NewAccount{
		Name: name, Currency: currency, Balance: dec(balance), DebitFrom: t0.Add(-time.Hour), Note: "opening",
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAccountsAndTopUps(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a := createAccount(t, s, "acme", "EUR", "10.00")
		if a.Name != "acme" || a.Currency != "EUR" || !a.Balance.Equal(dec("10")) || !a.DebitFrom.Equal(t0.Add(-time.Hour)) {
			t.Errorf("created %+v", a)
		}
		if _, err := s.CreateAccount(ctx, NewAccount{Name: "acme", Currency: "EUR"}); !errors.Is(err, ErrAccountExists) {
			t.Errorf("second create: %v, want ErrAccountExists", err)
		}
		// No opening balance: no ledger entry; DebitFrom defaults to now.
		before := time.Now().Add(-time.Second)
		b, err := s.CreateAccount(ctx, NewAccount{Name: "beta", Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		if b.DebitFrom.Before(before) || !b.Balance.IsZero() {
			t.Errorf("beta = %+v, want a zero balance debited from now", b)
		}

		// Twelve decimals are kept exactly, a thirteenth is refused.
		if _, err := s.TopUp(ctx, "acme", dec("0.000000000001"), "smallest"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TopUp(ctx, "acme", dec("0.0000000000001"), ""); err == nil || !strings.Contains(err.Error(), "more than 12 decimal places") {
			t.Errorf("13 decimals: %v", err)
		}
		after, err := s.TopUp(ctx, "acme", dec("-2.5"), "refund of a mistaken top-up")
		if err != nil {
			t.Fatal(err)
		}
		if !after.Balance.Equal(dec("7.500000000001")) {
			t.Errorf("after top-ups: %s", after.Balance)
		}
		wantBalance(t, s, "acme", "7.500000000001")
		if _, err := s.TopUp(ctx, "nobody", dec("1"), ""); !errors.Is(err, ErrNoAccount) {
			t.Errorf("top-up of a missing account: %v", err)
		}
		if _, err := s.TopUp(ctx, "acme", decimal.Zero, ""); err == nil {
			t.Error("top-up of zero accepted")
		}

		entries, err := s.Ledger(ctx, "acme", LedgerFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, fmt.Sprintf("%s %s %s", e.Kind, e.Amount, e.Note))
		}
		want := []string{"topup 10 opening", "topup 0.000000000001 smallest", "topup -2.5 refund of a mistaken top-up"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("ledger:\n got %q\nwant %q", got, want)
		}
		last, err := s.Ledger(ctx, "acme", LedgerFilter{Limit: 1})
		if err != nil || len(last) != 1 || last[0].Note != "refund of a mistaken top-up" {
			t.Errorf("ledger limit 1 = %+v, %v; want the newest entry", last, err)
		}

		all, err := s.Accounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all[0].Name != "acme" || all[1].Name != "beta" {
			t.Errorf("accounts = %+v", all)
		}
		for _, bad := range []NewAccount{{Name: "", Currency: "EUR"}, {Name: "x", Currency: ""}, {Name: "x", Currency: "EURO DOLLAR"}, {Name: "a\nb", Currency: "EUR"}} {
			if _, err := s.CreateAccount(ctx, bad); err == nil {
				t.Errorf("CreateAccount(%+v) accepted", bad)
			}
		}
	})
}

// trunkCall is an outbound call whose trunk leg is billed to the given
// records.
func trunkCall(server, id string, start callgraph.Time, recs ...callgraph.Billing) *callgraph.Call {
	c := minimalCall(server, id, start)
	c.Legs = append(c.Legs, &callgraph.Leg{ID: id + "1", Channel: "PJSIP/carrier-00000002", Party: "5557788",
		Role: callgraph.RoleCallee, Created: start, Ended: start, Disposition: "ANSWERED"})
	for i := range recs {
		if recs[i].Leg == "" {
			recs[i].Leg = id + "1"
		}
	}
	c.Billing = recs
	return c
}

func rec(account, cost, currency string) callgraph.Billing {
	return callgraph.Billing{Party: "1001", Account: account, Billsec: 16.72, BilledSeconds: 17,
		Destination: "+12125557788", Cost: cost, Currency: currency, Plan: "retail", Row: "+1", Increment: "1/1", Units: 17}
}

func ledgerOf(t *testing.T, s *Store, name string) []LedgerEntry {
	t.Helper()
	entries, err := s.Ledger(context.Background(), name, LedgerFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var calls []LedgerEntry
	for _, e := range entries {
		if e.Kind == EntryCall {
			calls = append(calls, e)
		}
	}
	return calls
}

func TestDebitOnSave(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		createAccount(t, s, "acme", "EUR", "10.00")
		createAccount(t, s, "beta", "EUR", "5")

		// A call of acme's (two records: a segments split), and one
		// record for a postpaid account, which has no account row.
		c := trunkCall("pbx1", "200.1", at(0), rec("acme", "0.0172", "EUR"), rec("acme", "0.0036", "EUR"), rec("house", "0.5000", "EUR"))
		if err := s.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, s, "acme", "9.9792")
		e := ledgerOf(t, s, "acme")
		if len(e) != 1 || !e[0].Amount.Equal(dec("-0.0208")) || e[0].Server != "pbx1" || e[0].CallID != "200.1" ||
			!e[0].CallStart.Equal(c.Start.Time) || e[0].Note != "" {
			t.Fatalf("ledger after the first save: %+v", e)
		}

		// Saved again (a replay, a restart): no second debit.
		for range 2 {
			if err := s.SaveCalls(ctx, []*callgraph.Call{c, c}); err != nil {
				t.Fatal(err)
			}
		}
		wantBalance(t, s, "acme", "9.9792")
		if e := ledgerOf(t, s, "acme"); len(e) != 1 {
			t.Fatalf("%d debits after saving again, want 1", len(e))
		}

		// Re-rated dearer: the debit and the balance move by the difference.
		c.Billing = []callgraph.Billing{rec("acme", "0.0300", "EUR")}
		if err := s.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, s, "acme", "9.97")
		if e := ledgerOf(t, s, "acme"); len(e) != 1 || !e[0].Amount.Equal(dec("-0.03")) {
			t.Fatalf("ledger after a dearer save: %+v", e)
		}

		// Billed to beta now: acme gets its money back.
		c.Billing = []callgraph.Billing{rec("beta", "0.0300", "EUR")}
		if err := s.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, s, "acme", "10")
		wantBalance(t, s, "beta", "4.97")
		if e := ledgerOf(t, s, "acme"); len(e) != 0 {
			t.Errorf("acme keeps debits %+v", e)
		}

		// What cannot be debited is noted, not guessed.
		odd := trunkCall("pbx1", "200.2", at(10), rec("acme", "0.05", "USD"), rec("acme", "", ""), rec("acme", "0.0100", "EUR"))
		odd.Billing[1].Error = `plan "retail" has no outbound row for "+999"`
		if err := s.SaveCall(ctx, odd); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, s, "acme", "9.99")
		e = ledgerOf(t, s, "acme")
		wantNote := `1 record(s) not priced: plan "retail" has no outbound row for "+999"; 0.05 USD not debited: the account is in EUR`
		if len(e) != 1 || !e[0].Amount.Equal(dec("-0.01")) || e[0].Note != wantNote {
			t.Errorf("ledger of the odd call: %+v\nwant note %q", e, wantNote)
		}

		// A call that costs nothing has no entry; one from before the
		// account was prepaid is not debited.
		free := trunkCall("pbx1", "200.3", at(20), rec("acme", "0.0000", "EUR"))
		old := trunkCall("pbx1", "200.4", callgraph.Time{Time: t0.Add(-2 * time.Hour)}, rec("acme", "1.00", "EUR"))
		if err := s.SaveCalls(ctx, []*callgraph.Call{free, old}); err != nil {
			t.Fatal(err)
		}
		wantBalance(t, s, "acme", "9.99")
		if e := ledgerOf(t, s, "acme"); len(e) != 1 {
			t.Errorf("%d call entries, want only the odd call's", len(e))
		}
	})
}

// A debit that cannot be written takes the call down with it: they share
// one transaction.
func TestDebitSharesTheSaveTransaction(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		createAccount(t, s, "acme", "EUR", "1")
		ok := trunkCall("pbx1", "300.1", at(0), rec("acme", "0.25", "EUR"))
		huge := trunkCall("pbx1", "300.2", at(1), rec("acme", "1000000000000000000", "EUR"))
		err := s.SaveCalls(ctx, []*callgraph.Call{ok, huge})
		if err == nil || !strings.Contains(err.Error(), "debit of acme for call pbx1/300.2 -1000000000000000000 is too large") {
			t.Fatalf("save = %v, want the balance refused", err)
		}
		if n := count(t, s, "callRow", ""); n != 0 {
			t.Errorf("%d calls stored by a batch whose debit failed", n)
		}
		wantBalance(t, s, "acme", "1")
	})
}

func TestReserve(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		createAccount(t, s, "acme", "EUR", "1.00")
		hold := func(amount string) func(Funds) (*Hold, error) {
			return func(f Funds) (*Hold, error) {
				return &Hold{Amount: dec(amount), MaxSeconds: 60, Destination: "+44", TTL: time.Hour}, nil
			}
		}
		r, f, err := s.Reserve(ctx, "acme", "pbx1", "400.1", hold("0.40"))
		if err != nil {
			t.Fatal(err)
		}
		if r == nil || !r.Amount.Equal(dec("0.4")) || r.Leg != "400.1" || r.Server != "pbx1" || r.MaxSeconds != 60 ||
			!f.Available.Equal(dec("1")) || !f.Reserved.IsZero() {
			t.Fatalf("first reservation %+v with funds %+v", r, f)
		}
		// The same channel again replaces its reservation.
		if _, f, err = s.Reserve(ctx, "acme", "pbx1", "400.1", hold("0.50")); err != nil {
			t.Fatal(err)
		}
		if !f.Available.Equal(dec("1")) {
			t.Errorf("a channel's second authorization saw %s available, want its first one dropped", f.Available)
		}
		if _, f, err = s.Reserve(ctx, "acme", "", "400.2", hold("0.25")); err != nil {
			t.Fatal(err)
		}
		if !f.Reserved.Equal(dec("0.5")) || !f.Available.Equal(dec("0.5")) {
			t.Errorf("funds %+v, want 0.50 reserved", f)
		}
		// More than is available is refused, and holds nothing.
		if _, _, err := s.Reserve(ctx, "acme", "pbx1", "400.3", hold("0.26")); !errors.Is(err, ErrOverReserve) {
			t.Errorf("over-reserve: %v", err)
		}
		// So is anything when decide fails.
		boom := errors.New("boom")
		if _, _, err := s.Reserve(ctx, "acme", "pbx1", "400.3", func(Funds) (*Hold, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Errorf("decide's error: %v", err)
		}
		if _, _, err := s.Reserve(ctx, "nobody", "pbx1", "400.3", hold("0")); !errors.Is(err, ErrNoAccount) {
			t.Errorf("missing account: %v", err)
		}
		funds, err := s.Funds(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if !funds.Reserved.Equal(dec("0.75")) || !funds.Available.Equal(dec("0.25")) {
			t.Errorf("funds %+v, want 0.75 reserved", funds)
		}

		// Storing the call releases its reservations, whether the
		// authorization knew the server or not, in the transaction that
		// debits it.
		c := trunkCall("pbx1", "400.1", at(0), rec("acme", "0.10", "EUR"))
		c.Legs[1].ID = "400.2"
		c.Billing[0].Leg = "400.2"
		if err := s.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		if held, err := s.Reservations(ctx, "acme"); err != nil || len(held) != 0 {
			t.Errorf("reservations after the save: %+v, %v", held, err)
		}
		wantBalance(t, s, "acme", "0.9")

		// An expired reservation holds nothing.
		expiring := func(Funds) (*Hold, error) { return &Hold{Amount: dec("0.9"), TTL: time.Millisecond}, nil }
		if _, _, err := s.Reserve(ctx, "acme", "pbx1", "400.4", expiring); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, f, err = s.Reserve(ctx, "acme", "pbx1", "400.5", hold("0.9")); err != nil {
			t.Fatalf("after the expiry: %v", err)
		}
		if !f.Available.Equal(dec("0.9")) {
			t.Errorf("available %s, want the expired reservation gone", f.Available)
		}
	})
}

// Twenty authorizations of one account at the same moment, each taking
// what it may of the balance, hold the balance exactly and never more.
func TestReserveConcurrently(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		createAccount(t, s, "acme", "EUR", "10.00")
		const n = 20
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total = decimal.Zero
			made  int
			errs  []error
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, _, err := s.Reserve(ctx, "acme", "pbx1", fmt.Sprintf("500.%d", i), func(f Funds) (*Hold, error) {
					if !f.Available.IsPositive() {
						return nil, nil
					}
					return &Hold{Amount: decimal.Min(f.Available, dec("1.5")), TTL: time.Hour}, nil
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if r != nil {
					made++
					total = total.Add(r.Amount)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			t.Error(err)
		}
		if !total.Equal(dec("10")) || made != 7 {
			t.Errorf("%d reservations hold %s of a balance of 10, want 7 holding 10", made, total)
		}
		f, err := s.Funds(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if !f.Reserved.Equal(dec("10")) || !f.Available.IsZero() {
			t.Errorf("funds %+v", f)
		}
	})
}

// Reservations, debits and top-ups of one account, all at once: the
// balance ends as the ledger says.
func TestAccountUnderLoad(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		createAccount(t, s, "acme", "EUR", "100")
		var wg sync.WaitGroup
		errc := make(chan error, 60)
		for i := range 20 {
			wg.Add(3)
			go func() {
				defer wg.Done()
				_, _, err := s.Reserve(ctx, "acme", "pbx1", fmt.Sprintf("600.%d", i), func(f Funds) (*Hold, error) {
					return &Hold{Amount: dec("1"), TTL: time.Hour}, nil
				})
				errc <- err
			}()
			go func() {
				defer wg.Done()
				c := trunkCall("pbx1", fmt.Sprintf("600.%d", i), at(float64(i)), rec("acme", "0.25", "EUR"))
				errc <- s.SaveCall(ctx, c)
			}()
			go func() {
				defer wg.Done()
				_, err := s.TopUp(ctx, "acme", dec("0.10"), "")
				errc <- err
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Error(err)
			}
		}
		// 100 − 20 × 0.25 + 20 × 0.10
		wantBalance(t, s, "acme", "97")
	})
}

// The money columns take their database's exact type, and opening the
// store again migrates nothing away.
func TestMoneyColumnsReopen(t *testing.T) {
	for _, db := range testDSNs(t) {
		t.Run(db.name, func(t *testing.T) {
			if db.dsn == "off" {
				t.Skip("turned off by the environment")
			}
			dsn := db.dsn
			if db.name == "sqlite" {
				dsn = "sqlite:" + filepath.Join(t.TempDir(), "calls.db")
			}
			s := openTest(t, dsn)
			ctx := context.Background()
			createAccount(t, s, "acme", "EUR", "123456789012345678.000000000001")
			again, err := OpenWith(ctx, dsn, Options{TablePrefix: s.names.TablePrefix})
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			a, err := again.Account(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if !a.Balance.Equal(dec("123456789012345678.000000000001")) {
				t.Errorf("balance read back as %s", a.Balance)
			}
			var typ string
			switch db.name {
			case "postgres":
				again.db.Raw("SELECT data_type FROM information_schema.columns WHERE table_name = ? AND column_name = 'balance'", again.table("accountRow")).Scan(&typ)
				if typ != "numeric" {
					t.Errorf("balance column is %q, want numeric", typ)
				}
			case "mysql":
				again.db.Raw("SELECT data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'balance'", again.table("accountRow")).Scan(&typ)
				if typ != "decimal" {
					t.Errorf("balance column is %q, want decimal", typ)
				}
			}
		})
	}
}

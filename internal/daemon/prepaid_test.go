package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/internal/store"
)

// prepaidRates: North America at 0.60/min (a cent a second), per second;
// toll-free numbers are free. Account "dollar" is on a plan in USD.
const prepaidRates = `
currency: EUR
rounding: {mode: up, decimals: 4}
numbering:
  rewrite: {"011": "+", "1": "+1", "": "+1212"}
default_plan: retail
accounts: {dollar: usplan}
plans:
  retail:
    outbound:
      - {prefix: "+1", name: North America, price: 0.60, increment: 1/1}
      - {prefix: "+1800", name: Toll-free, price: 0, increment: 1/1}
    inbound:
      - {prefix: "", name: Inbound, price: 0, increment: 1/1}
  usplan:
    currency: USD
    outbound:
      - {prefix: "+1", name: North America, price: 0.60, increment: 1/1}
`

func prepaidRater(t *testing.T) *billing.Rater {
	t.Helper()
	rates, err := billing.ParseRates([]byte(prepaidRates), "rates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := billing.DefaultConfig()
	cfg.Trunks = []string{"SIP/trunk"}
	r, err := billing.NewRater(rates, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func newAccount(t *testing.T, st *store.Store, name, currency, balance string) {
	t.Helper()
	_, err := st.CreateAccount(context.Background(), store.NewAccount{
		Name: name, Currency: currency, Balance: dec(balance),
		DebitFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// authorizeServer serves the daemon's FastAGI handlers on a loopback
// socket, without following any Asterisk.
func authorizeServer(t *testing.T, st *store.Store) string {
	t.Helper()
	d, err := New(Options{Store: st, Rater: prepaidRater(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := d.agiServer()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return l.Addr().String()
}

// agiVars plays Asterisk for one AGI() call: it answers every SET
// VARIABLE with success and returns the variables set, in order.
func agiVars(ctx context.Context, addr string, env []agi.Var) ([][2]string, error) {
	c, err := agitest.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SendEnv(env); err != nil {
		return nil, err
	}
	var vars [][2]string
	for {
		cmd, err := c.ReadCommand()
		if errors.Is(err, io.EOF) {
			return vars, nil
		}
		if err != nil {
			return vars, err
		}
		rest, ok := strings.CutPrefix(cmd, "SET VARIABLE ")
		if !ok {
			return vars, fmt.Errorf("unexpected command %q", cmd)
		}
		name, value, _ := strings.Cut(rest, " ")
		vars = append(vars, [2]string{name, strings.Trim(value, `"`)})
		if err := c.Send("200 result=1\n"); err != nil {
			return vars, err
		}
	}
}

func authorizeEnv(query, uid, accountcode string) []agi.Var {
	return agitest.Env("agi://127.0.0.1:4573/authorize"+query, nil,
		agi.Var{Name: "agi_uniqueid", Value: uid},
		agi.Var{Name: "agi_accountcode", Value: accountcode},
		agi.Var{Name: "agi_extension", Value: "5557788"})
}

func TestAuthorize(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "calls.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	newAccount(t, st, "acme", "EUR", "1.00")
	newAccount(t, st, "poor", "EUR", "0.01")
	newAccount(t, st, "walkin", "EUR", "0.30")
	newAccount(t, st, "big", "EUR", "100")
	newAccount(t, st, "dollar", "EUR", "100")
	addr := authorizeServer(t, st)
	ctx := context.Background()

	// The wire, exactly: 1.00 at a cent a second is 100 s; the call is
	// told 99 and the 100th second is reserved for its overrun.
	err = agitest.Run(ctx, addr, authorizeEnv("?account=acme&dest=5557788", "800.1", ""),
		agitest.Step{Command: "SET VARIABLE CALLTRAIL_MAXSEC 99", Reply: "200 result=1"},
		agitest.Step{Command: `SET VARIABLE CALLTRAIL_REASON ""`, Reply: "200 result=1"},
		agitest.Step{Command: "SET VARIABLE ALLOWED yes", Reply: "200 result=1"},
	)
	if err != nil {
		t.Fatal(err)
	}
	held, err := st.Reservations(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || !held[0].Amount.Equal(dec("1")) || held[0].MaxSeconds != 99 || held[0].Leg != "800.1" ||
		held[0].Destination != "+12125557788" || held[0].Expires.Before(time.Now().Add(ReservationMargin)) {
		t.Fatalf("reservations %+v", held)
	}

	tests := []struct {
		name, query, uid, accountcode string
		maxsec, reason                string
	}{
		{"balance all reserved", "?account=acme&dest=5557788", "800.2", "", "0", ReasonInsufficientBalance},
		{"the same channel again", "?account=acme&dest=5557788", "800.1", "", "99", ""},
		{"not one second affordable", "?account=poor&dest=5557788", "800.3", "", "0", ReasonInsufficientBalance},
		{"the channel's accountcode, the extension", "", "800.4", "walkin", "29", ""},
		{"arguments instead of a query", "", "800.5", "", "7", ""}, // AGI(…/authorize,account=big,dest=5557788,max=7)
		{"no account", "?dest=5557788", "800.6", "", "0", ReasonNoAccount},
		{"no such account", "?account=nobody&dest=5557788", "800.7", "", "0", ReasonNoAccount},
		{"no rate for the destination", "?account=big&dest=011441234", "800.8", "", "0", ReasonNoRate},
		{"plan in another currency", "?account=dollar&dest=5557788", "800.9", "", "0", ReasonCurrencyMismatch},
		{"max caps the call", "?account=big&dest=5557788&max=20", "800.10", "", "20", ""},
		{"a free destination: the default cap", "?account=big&dest=18005551234", "800.11", "", "14400", ""},
		{"bad max", "?account=big&max=soon", "800.12", "", "0", ReasonError},
		{"max beyond 30 days", "?account=big&max=9223372036854775807", "800.12", "", "0", ReasonError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := authorizeEnv(tt.query, tt.uid, tt.accountcode)
			if tt.uid == "800.5" {
				env = agitest.Env("agi://127.0.0.1:4573/authorize", []string{"account=big", "dest=5557788", "max=7"},
					agi.Var{Name: "agi_uniqueid", Value: tt.uid})
			}
			vars, err := agiVars(ctx, addr, env)
			if err != nil {
				t.Fatal(err)
			}
			allowed := "yes"
			if tt.reason != "" {
				allowed = "no"
			}
			want := [][2]string{{"CALLTRAIL_MAXSEC", tt.maxsec}, {"CALLTRAIL_REASON", tt.reason}, {"ALLOWED", allowed}}
			if !slices.Equal(vars, want) {
				t.Errorf("set %q, want %q", vars, want)
			}
		})
	}
	// walkin's 0.30 is all reserved: 29 s, and the 30th.
	if f, err := st.Funds(ctx, "walkin"); err != nil || !f.Available.IsZero() {
		t.Errorf("walkin: %+v, %v; want nothing available", f, err)
	}
	// big: 8 s for max=7, 21 s for max=20; the free call holds nothing.
	big, err := st.Funds(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if !big.Reserved.Equal(dec("0.29")) {
		t.Errorf("big has %s reserved, want 0.29", big.Reserved)
	}

	// With cdr=1 the account goes to Asterisk's CDR too.
	vars, err := agiVars(ctx, addr, authorizeEnv("?account=big&dest=5557788&cdr=1&max=5", "800.13", ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) != 4 || vars[0] != [2]string{"CDR(accountcode)", "big"} {
		t.Errorf("with cdr=1 set %q", vars)
	}
}

// Twenty calls of one account ask at the same moment, over real FastAGI
// sockets, against each database: together they are never allowed more
// than the balance pays. 5.00 at a cent a second, each call capped at
// 60 s (61 reserved): eight get 60 s, the ninth the 11 s left (12
// reserved), the others nothing; 5.00 is reserved, exactly.
func TestAuthorizeConcurrently(t *testing.T) {
	dbs := []struct{ name, dsn string }{
		{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "calls.db")},
		{"postgres", envOr("CALLTRAIL_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")},
		{"mysql", envOr("CALLTRAIL_TEST_MYSQL", "mysql://root@tcp(127.0.0.1:3306)/test")},
	}
	for _, db := range dbs {
		t.Run(db.name, func(t *testing.T) {
			if db.dsn == "off" {
				t.Skip("turned off by the environment")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			st, err := store.OpenWith(ctx, db.dsn, store.Options{TablePrefix: fmt.Sprintf("p%08x_", rand.Uint32())})
			if err != nil {
				t.Fatalf("%s: %v (is it running? .ci/run starts it)", db.name, err)
			}
			defer st.Close()
			defer st.DropTables(context.Background())
			newAccount(t, st, "acme", "EUR", "5.00")
			addr := authorizeServer(t, st)

			const n = 20
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				allowed []string
				errs    []error
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					vars, err := agiVars(ctx, addr, authorizeEnv("?account=acme&dest=5557788&max=60", fmt.Sprintf("900.%d", i), ""))
					mu.Lock()
					defer mu.Unlock()
					if err != nil || len(vars) != 3 {
						errs = append(errs, fmt.Errorf("call %d: %q, %v", i, vars, err))
						return
					}
					if vars[2][1] == "yes" {
						allowed = append(allowed, vars[0][1])
					} else if vars[1][1] != ReasonInsufficientBalance {
						errs = append(errs, fmt.Errorf("call %d refused: %q", i, vars))
					}
				}()
			}
			wg.Wait()
			for _, err := range errs {
				t.Error(err)
			}
			slices.Sort(allowed)
			want := []string{"11", "60", "60", "60", "60", "60", "60", "60", "60"}
			if !slices.Equal(allowed, want) {
				t.Errorf("allowed %q seconds, want %q", allowed, want)
			}
			f, err := st.Funds(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if !f.Reserved.Equal(dec("5")) || !f.Available.IsZero() {
				t.Errorf("reserved %s of 5.00, available %s", f.Reserved, f.Available)
			}
		})
	}
}

// A prepaid call from the dialplan to the database: authorize reserves,
// the call (S23: 1026 dials 5557788 out through SIP/trunk, then
// transfers it; the trunk leg lasts 16.720 s) is billed to the account
// authorize named, and storing it debits 17 s, 0.17, and releases the
// reservation.
func TestPrepaidCall(t *testing.T) {
	ctx := context.Background()
	msgs := readCapture(t, filepath.Join("..", "..", "testdata", "asterisk20", "S23", "ami.log"))
	ast := amitest.NewServer(amitest.Config{Username: "lab", Secret: "labpass"})
	defer ast.Close()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "calls.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	newAccount(t, st, "acme", "EUR", "1.00")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	d, err := New(Options{
		Sources:     []Source{{ID: "pbx1", Addr: ast.Addr(), Config: cfg}},
		Store:       st,
		Rater:       prepaidRater(t),
		AGIListener: l,
		WriterDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := ast.WaitLogins(wctx, 1); err != nil {
		t.Fatal(err)
	}
	for ast.Send(ami.NewMessage("Event", "TestReady")) == 0 {
		if wctx.Err() != nil {
			t.Fatal("the daemon's connection never took events")
		}
		time.Sleep(5 * time.Millisecond)
	}

	const caller = "1795336341.36"
	err = agitest.Run(ctx, l.Addr().String(), authorizeEnv("?account=acme&dest=5557788", caller, ""),
		agitest.Step{Command: "SET VARIABLE CALLTRAIL_MAXSEC 99", Reply: "200 result=1"},
		agitest.Step{Command: `SET VARIABLE CALLTRAIL_REASON ""`, Reply: "200 result=1"},
		agitest.Step{Command: "SET VARIABLE ALLOWED yes", Reply: "200 result=1"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := st.Reservations(ctx, "acme"); err != nil || len(held) != 1 || held[0].Server != "pbx1" {
		t.Fatalf("reservations before the call: %+v, %v", held, err)
	}
	ast.Send(msgs...)
	calls := waitCalls(t, st, 1)
	if len(calls) != 1 {
		t.Fatalf("%d calls stored", len(calls))
	}
	c := calls[0]
	if len(c.Billing) != 1 || c.Billing[0].Account != "acme" || c.Billing[0].Cost != "0.1700" {
		t.Fatalf("billing %+v", c.Billing)
	}
	f, err := st.Funds(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Account.Balance.Equal(dec("0.83")) || !f.Reserved.IsZero() {
		t.Errorf("after the call: balance %s, reserved %s; want 0.83, nothing", f.Account.Balance, f.Reserved)
	}
	entries, err := st.Ledger(ctx, "acme", store.LedgerFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[1].Kind != store.EntryCall || entries[1].CallID != c.ID || !entries[1].Amount.Equal(dec("-0.17")) {
		t.Errorf("ledger %+v", entries)
	}
}

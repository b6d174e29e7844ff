package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
)

func TestAccountCommand(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "calls.db")
	db := []string{"--db", dsn, "--tz", "UTC"}
	acct := func(args ...string) string {
		t.Helper()
		return mustRun(t, append(append([]string{"account"}, args...), db...)...)
	}

	// The first account may come before the first serve: create makes
	// the database.
	if got, want := acct("create", "acme", "--currency", "EUR", "--balance", "10", "--since", "2026-11-01"),
		"account acme created: balance 10.00 EUR; calls from 2026-11-01T00:00:00Z on are debited\n"; got != want {
		t.Errorf("create: %q, want %q", got, want)
	}
	acct("create", "beta", "--currency", "USD")
	// Flags before, between or after the arguments; a negative amount
	// is an argument, not a flag.
	if got := acct("topup", "--note", "refund", "acme", "-2.5"); got != "acme: -2.50 EUR, balance 7.50 EUR\n" {
		t.Errorf("topup: %q", got)
	}
	if got := acct("topup", "acme", "0.0208", "--currency", "EUR"); got != "acme: +0.0208 EUR, balance 7.5208 EUR\n" {
		t.Errorf("topup: %q", got)
	}

	// A call of acme's, stored: debited.
	saveCalls(t, dsn, store.Options{}, []*callgraph.Call{{
		ID: "1795336341.36", Server: "lab", Start: callgraph.Time{Time: time.Date(2026, 11, 22, 8, 32, 21, 147e6, time.UTC)},
		Disposition: "ANSWERED", Complete: true,
		Legs: []*callgraph.Leg{{ID: "1795336341.37", Channel: "SIP/trunk-00000023", Party: "5557788", Role: callgraph.RoleCallee}},
		Billing: []callgraph.Billing{{Leg: "1795336341.37", Party: "1026", Account: "acme", Billsec: 16.72,
			BilledSeconds: 17, Destination: "+12125557788", Cost: "0.1700", Currency: "EUR"}},
	}})

	show := acct("show", "acme")
	for _, want := range []string{"balance            7.3508 EUR", "reserved           0.00 EUR (0 call(s) in progress)",
		"available          7.3508 EUR", "debits calls from  2026-11-01T00:00:00Z"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	list := acct("list")
	if !regexp.MustCompile(`(?m)^ +acme +EUR +7\.3508 +0\.00 +7\.3508$`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^ +beta +USD +0\.00 +0\.00 +0\.00$`).MatchString(list) {
		t.Errorf("list:\n%s", list)
	}
	ledger := acct("ledger", "acme")
	lines := strings.Split(strings.TrimSuffix(ledger, "\n"), "\n")
	if len(lines) != 6 || !strings.Contains(lines[4], "call   -0.17    lab/1795336341.36 at 2026-11-22 08:32:21") ||
		lines[5] != "4 entries, +7.3508 EUR; balance now 7.3508 EUR" {
		t.Errorf("ledger:\n%s", ledger)
	}
	csvOut := acct("ledger", "acme", "--format", "csv", "--limit", "1")
	if !strings.HasSuffix(csvOut, ",call,-0.17,EUR,lab,1795336341.36,2026-11-22T08:32:21.147Z,\n") || strings.Count(csvOut, "\n") != 2 {
		t.Errorf("ledger csv, newest entry:\n%s", csvOut)
	}

	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Account(context.Background(), "acme")
	st.Close()
	if err != nil || !a.Balance.Equal(decimal.RequireFromString("7.3508")) {
		t.Errorf("stored balance %s, %v", a.Balance, err)
	}

	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{}, "no subcommand", 2},
		{[]string{"close", "acme"}, `unknown subcommand "close"`, 2},
		{[]string{"create", "gamma"}, "--currency is required", 2},
		{[]string{"create", "acme", "--currency", "EUR"}, "account already exists: acme", 1},
		{[]string{"topup", "acme"}, "want NAME AMOUNT", 2},
		{[]string{"topup", "acme", "1,50"}, `AMOUNT "1,50" is not a decimal amount`, 2},
		{[]string{"topup", "acme", "5", "--currency", "USD"}, "acme is in EUR, not USD: nothing topped up", 1},
		{[]string{"topup", "nobody", "5"}, "no such account: nobody", 1},
		{[]string{"show", "nobody"}, "no such account: nobody", 1},
		{[]string{"ledger", "acme", "--format", "xml"}, `unknown --format "xml"`, 2},
	} {
		_, stderr, err := calltrail(t, append(append([]string{"account"}, tc.args...), db...)...)
		if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error()+stderr, tc.want) {
			t.Errorf("account %q: %v (exit %d), want %q (exit %d)", tc.args, err, exitCode(err), tc.want, tc.code)
		}
	}
	// Reading commands refuse a database that is not there.
	if _, _, err := calltrail(t, "account", "list", "--db", "sqlite:"+filepath.Join(t.TempDir(), "none.db")); err == nil ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Errorf("list of a missing database: %v", err)
	}
}

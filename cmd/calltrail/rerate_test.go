package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/internal/store"
)

// testDSNs are the databases the commands that write are tested on,
// as internal/store's tests name them.
func testDSNs(t *testing.T) []struct{ name, dsn string } {
	t.Helper()
	return []struct{ name, dsn string }{
		{"sqlite", "sqlite:" + filepath.Join(t.TempDir(), "calls.db")},
		{"postgres", envOr("CALLTRAIL_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")},
		{"mysql", envOr("CALLTRAIL_TEST_MYSQL", "mysql://root@tcp(127.0.0.1:3306)/test")},
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// rateFile writes a plan pricing North America at price per minute,
// per second, and inbound calls at 0.012/min, per minute.
func rateFile(t *testing.T, name, price string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	err := os.WriteFile(path, []byte(`currency: EUR
rounding: {mode: up, decimals: 4}
numbering:
  rewrite: {"011": "+", "1": "+1", "": "+1212"}
default_plan: retail
plans:
  retail:
    outbound:
      - {prefix: "+1", name: North America, price: `+price+`, increment: 1/1}
    inbound:
      - {prefix: "", name: Inbound, price: 0.012, increment: 60/60}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// S23 (1026, prepaid by acme, dials out: 16.720 s of trunk) and S11 (a
// call in to house's DID: 18.028 s), priced at 0.06/min and then again
// at 0.12/min: acme's call goes from 17 × 0.001 to 17 × 0.002.
func TestRerateCommand(t *testing.T) {
	cheap, dear := rateFile(t, "cheap.yaml", "0.06"), rateFile(t, "dear.yaml", "0.12")
	for _, db := range testDSNs(t) {
		t.Run(db.name, func(t *testing.T) {
			if db.dsn == "off" {
				t.Skip("turned off by the environment")
			}
			ctx := context.Background()
			prefix := fmt.Sprintf("r%08x_", rand.Uint32())
			st, err := store.OpenWith(ctx, db.dsn, store.Options{TablePrefix: prefix})
			if err != nil {
				t.Fatalf("%s: %v (is it running? .ci/run starts it)", db.name, err)
			}
			defer st.Close()
			defer st.DropTables(context.Background())
			where := []string{"--db", db.dsn, "--table-prefix", prefix}

			rates, err := billing.LoadRates(cheap)
			if err != nil {
				t.Fatal(err)
			}
			cfg := trunksOnly()
			cfg.DefaultAccount = "house"
			r, err := billing.NewRater(rates, cfg)
			if err != nil {
				t.Fatal(err)
			}
			calls := golden(t, "S23", "S11")
			for _, l := range calls[0].Legs {
				if l.Party == "1026" {
					l.Account = "acme"
				}
			}
			for _, c := range calls {
				c.Billing = r.Rate(c)
			}
			if err := st.SaveCalls(ctx, calls); err != nil {
				t.Fatal(err)
			}
			mustRun(t, append([]string{"account", "create", "acme", "--currency", "EUR", "--balance", "1", "--since", "2026-11-01"}, where...)...)

			args := append([]string{"rerate", "--rates", dear, "--from", "2026-11-22", "--to", "2026-11-22",
				"--tz", "UTC", "--trunk", "SIP/trunk", "--default-account", "house"}, where...)
			dry := mustRun(t, append(args, "--dry-run")...)
			if !strings.HasPrefix(dry, "dry run, nothing written: 2 calls from 2026-11-22T00:00:00Z to 2026-11-23T00:00:00Z priced with "+dear+"; 1 priced differently\n") {
				t.Errorf("dry run:\n%s", dry)
			}
			out := mustRun(t, args...)
			// Run ids come from the database (a dry run may use one up).
			_, out, _ = strings.Cut(out, ":")
			want := " 2 calls from 2026-11-22T00:00:00Z to 2026-11-23T00:00:00Z priced with " + dear + "; 1 priced differently\n" +
				"  account  currency     old     new    delta  unpriced\n" +
				"     acme       EUR  0.0170  0.0340  +0.0170          \n" +
				"    house       EUR  0.0120  0.0120  +0.0000          \n"
			if out != want {
				t.Errorf("rerate printed:\n%s\nwant:\n%s", out, want)
			}

			// The new price is stored, the old one kept, and acme, whose
			// call was stored before it was prepaid from 2026-11-01 on,
			// is debited now, once.
			got, err := st.Call(ctx, "lab", "1795336341.36")
			if err != nil {
				t.Fatal(err)
			}
			hist, err := st.BillingHistory(ctx, "lab", "1795336341.36")
			if err != nil {
				t.Fatal(err)
			}
			runs, err := st.RerateRuns(ctx)
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs %+v, %v", runs, err)
			}
			if id := runs[0].ID; got.Billing[0].Cost != "0.0340" || len(hist[id]) != 1 || hist[id][0].Cost != "0.0170" {
				t.Errorf("billing %+v, history %+v", got.Billing, hist)
			}
			a, err := st.Account(ctx, "acme")
			if err != nil || !a.Balance.Equal(decimal.RequireFromString("0.966")) {
				t.Errorf("acme's balance %s (%v), want 0.966", a.Balance, err)
			}
			// Again with the same file: nothing changes, nothing moves.
			again := mustRun(t, args...)
			if !strings.Contains(again, "; 0 priced differently") {
				t.Errorf("second run:\n%s", again)
			}
			if a, _ := st.Account(ctx, "acme"); !a.Balance.Equal(decimal.RequireFromString("0.966")) {
				t.Errorf("a second run moved acme's balance to %s", a.Balance)
			}
		})
	}
}

func TestRerateUsage(t *testing.T) {
	dsn := testDB(t, "S23")
	rates := rateFile(t, "r.yaml", "0.06")
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--from", "2026-11-22", "--to", "2026-11-23"}, "--rates, --from and --to are required", 2},
		{[]string{"--rates", rates, "--to", "2026-11-23"}, "--rates, --from and --to are required", 2},
		{[]string{"--rates", rates, "--from", "2026-11-23", "--to", "2026-11-22"}, "is not after --from", 2},
		{[]string{"--rates", rates, "--from", "2026-11-22", "--to", "2026-11-23"}, "no trunk patterns are set", 1},
		{[]string{"--rates", "nofile.yaml", "--from", "2026-11-22", "--to", "2026-11-23", "--trunk", "SIP/trunk"}, "nofile.yaml", 1},
	} {
		_, stderr, err := calltrail(t, append([]string{"rerate", "--db", dsn}, tc.args...)...)
		if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error()+stderr, tc.want) {
			t.Errorf("rerate %q: %v (exit %d), want %q (exit %d)", tc.args, err, exitCode(err), tc.want, tc.code)
		}
	}
}

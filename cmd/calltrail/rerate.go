package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/calltrail/calltrail/internal/config"
	"github.com/calltrail/calltrail/internal/store"
)

func runRerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rerate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sel callSelection
	sel.registerDB(fs)
	fs.StringVar(&sel.from, "from", "", "first start time of the calls to price again (required)")
	fs.StringVar(&sel.to, "to", "", "end of the period, not included (required)")
	fs.StringVar(&sel.tz, "tz", "Local", "time zone of --from and --to (an IANA name, UTC or Local)")
	fs.StringVar(&sel.server, "server", "", "only calls of this server id")
	fs.StringVar(&sel.account, "account", "", "only calls with a leg or a billing record on this account")
	configFile := fs.String("config", "", "take the billing settings (trunks, legs, attribution, default account) from this config file")
	rates := fs.String("rates", "", "the rate file to price the calls with (required)")
	var trunks stringList
	fs.Var(&trunks, "trunk", "channel pattern of a trunk leg, e.g. 'PJSIP/carrier-*' (repeatable; overrides the config's)")
	legs := fs.String("bill", "", "which legs are billed: trunks or all (default: the config's, else trunks)")
	attribution := fs.String("attribution", "", "who pays a transferred trunk leg: originator or segments (default: the config's, else originator)")
	defaultAccount := fs.String("default-account", "", "who pays when nothing names an account (default: the config's)")
	dryRun := fs.Bool("dry-run", false, "work out and print the difference, write nothing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail rerate --rates FILE --from T --to T [--config FILE | --trunk P ...] [--dry-run]")
		fmt.Fprintln(stderr, "\nPrices the stored calls that started in [--from, --to) again with a rate file, in")
		fmt.Fprintln(stderr, "one transaction, and prints what each account's calls cost before and after.")
		fmt.Fprintln(stderr, "Prepaid balances move by the difference. The previous records are kept in the")
		fmt.Fprintln(stderr, "billing_history table under the run. See docs/billing.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("rerate: unexpected argument %q", fs.Arg(0))}
	}
	if *rates == "" || sel.from == "" || sel.to == "" {
		fs.Usage()
		return usageError{"rerate: --rates, --from and --to are required"}
	}
	sel.withTime = true
	f, err := sel.filter("rerate")
	if err != nil {
		return err
	}

	cfg := config.DefaultConfig()
	if *configFile != "" {
		c, err := config.Load(*configFile, os.Getenv)
		if err != nil {
			return err
		}
		cfg = *c
	}
	cfg.Billing.Rates = *rates
	if len(trunks) > 0 {
		cfg.Billing.Trunks = trunks
	}
	if *legs != "" {
		cfg.Billing.Legs = *legs
	}
	if *attribution != "" {
		cfg.Billing.Attribution = *attribution
	}
	if *defaultAccount != "" {
		cfg.Billing.DefaultAccount = *defaultAccount
	}
	rater, err := loadRater(&cfg)
	if err != nil {
		return fmt.Errorf("rerate: %w", err)
	}

	st, err := openForReading(ctx, "rerate", sel.db, sel.tablePrefix)
	if err != nil {
		return err
	}
	defer st.Close()
	run, err := st.Rerate(ctx, f, store.RerateOptions{Rates: *rates, DryRun: *dryRun}, rater.Rate)
	if err != nil {
		return err
	}
	loc, _ := sel.location("rerate") // checked by filter
	return printRerate(stdout, run, loc)
}

func printRerate(w io.Writer, run store.RerateRun, loc *time.Location) error {
	what := fmt.Sprintf("rerate run %d", run.ID)
	if run.ID == 0 {
		what = "dry run, nothing written"
	}
	period := run.From.In(loc).Format(time.RFC3339) + " to " + run.To.In(loc).Format(time.RFC3339)
	if run.Selection != "" {
		period += ", " + run.Selection
	}
	fmt.Fprintf(w, "%s: %d calls from %s priced with %s; %d priced differently\n", what, run.Calls, period, run.Rates, run.Changed)
	if len(run.Totals) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "account\tcurrency\told\tnew\tdelta\tunpriced\t")
	for _, t := range run.Totals {
		account := t.Account
		if account == "" {
			account = "(none)"
		}
		unpriced := ""
		if t.OldUnpriced > 0 || t.NewUnpriced > 0 {
			unpriced = fmt.Sprintf("%d → %d", t.OldUnpriced, t.NewUnpriced)
		}
		currency := t.Currency
		if currency == "" {
			currency = "-"
		}
		delta := t.Delta()
		sign := "+"
		if delta.IsNegative() {
			sign = ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", account, currency, asWritten(t.Old), asWritten(t.New), sign+asWritten(delta), unpriced)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range run.Totals {
		if t.NewUnpriced > 0 {
			fmt.Fprintf(w, "note: %d record(s) of %s have no price under %s; calltrail export --format csv shows why (the error column)\n",
				t.NewUnpriced, orNone(t.Account), run.Rates)
		}
	}
	return nil
}

// asWritten writes a sum of costs with the decimals the costs were
// written with (a plan's), and at least two.
func asWritten(d decimal.Decimal) string {
	return d.StringFixed(max(2, -d.Exponent()))
}

func orNone(s string) string {
	if s == "" {
		return "(no account)"
	}
	return s
}

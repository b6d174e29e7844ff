package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"

	"github.com/calltrail/calltrail/internal/store"
)

// accountCommands are account's subcommands, in the order the usage
// lists them.
var accountCommands = []string{"create", "topup", "show", "list", "ledger"}

func runAccount(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("account", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sel callSelection
	sel.registerDB(fs)
	currency := fs.String("currency", "", "create: the account's currency, as the rate plans write it (EUR); topup: refuse the top-up unless the account is in it")
	balance := fs.String("balance", "0", "create: the opening balance")
	since := fs.String("since", "", "create: debit the calls that start from then on (default: now); RFC 3339 or 2026-11-22 10:00 in --tz")
	tz := fs.String("tz", "Local", "time zone of --since, --from, --to and the times shown")
	note := fs.String("note", "", "create, topup: a note kept in the ledger with the amount")
	from := fs.String("from", "", "ledger: entries written from then on")
	to := fs.String("to", "", "ledger: entries written before then")
	limit := fs.Int("limit", 0, "ledger: the newest N entries only")
	format := fs.String("format", "table", "ledger: table or csv")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail account create NAME --currency EUR [--balance 10.00] [--since T]")
		fmt.Fprintln(stderr, "       calltrail account topup NAME AMOUNT [--note TEXT]")
		fmt.Fprintln(stderr, "       calltrail account show NAME")
		fmt.Fprintln(stderr, "       calltrail account list")
		fmt.Fprintln(stderr, "       calltrail account ledger NAME [--from T] [--to T] [--limit N] [--format table|csv]")
		fmt.Fprintln(stderr, "\nPrepaid accounts: each stored call is debited from the account its billing")
		fmt.Fprintln(stderr, "records name, in the transaction that stores it; FastAGI authorize tells the")
		fmt.Fprintln(stderr, "dialplan how long a call may last. Amounts are decimals (a negative top-up takes")
		fmt.Fprintln(stderr, "money back). See docs/billing.md.")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return usageError{"account: no subcommand (want " + orList(accountCommands) + ")"}
	}
	sub, pos := pos[0], pos[1:]
	want := map[string]int{"create": 1, "topup": 2, "show": 1, "list": 0, "ledger": 1}
	n, ok := want[sub]
	if !ok {
		return usageError{fmt.Sprintf("account: unknown subcommand %q (want %s)", sub, orList(accountCommands))}
	}
	if len(pos) != n {
		what := map[string]string{"create": "NAME", "topup": "NAME AMOUNT", "show": "NAME", "list": "no argument", "ledger": "NAME"}[sub]
		return usageError{fmt.Sprintf("account %s: want %s, got %d argument(s)", sub, what, len(pos))}
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageError{fmt.Sprintf("account: --tz %q: unknown time zone", *tz)}
	}
	cmd := "account " + sub

	var st *store.Store
	if sub == "create" {
		// Creating the first account may come before the first serve.
		if err := store.CheckDSN(sel.db); err != nil {
			return usageError{fmt.Sprintf("%s: --db: %s", cmd, strings.TrimPrefix(err.Error(), "store: "))}
		}
		st, err = store.OpenWith(ctx, sel.db, store.Options{TablePrefix: sel.tablePrefix})
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
	} else if st, err = openForReading(ctx, cmd, sel.db, sel.tablePrefix); err != nil {
		return err
	}
	defer st.Close()

	switch sub {
	case "create":
		if *currency == "" {
			return usageError{"account create: --currency is required (EUR, as the rate plans write it)"}
		}
		amount, err := parseAmount(cmd, "--balance", *balance)
		if err != nil {
			return err
		}
		n := store.NewAccount{Name: pos[0], Currency: *currency, Balance: amount, Note: *note}
		if *since != "" {
			if n.DebitFrom, err = parseTime(*since, loc, false); err != nil {
				return usageError{fmt.Sprintf("%s: --since: %v", cmd, err)}
			}
		}
		a, err := st.CreateAccount(ctx, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "account %s created: balance %s %s; calls from %s on are debited\n",
			a.Name, amountText(a.Balance), a.Currency, a.DebitFrom.In(loc).Format(time.RFC3339))
		return nil

	case "topup":
		amount, err := parseAmount(cmd, "AMOUNT", pos[1])
		if err != nil {
			return err
		}
		if *currency != "" {
			a, err := st.Account(ctx, pos[0])
			if err != nil {
				return err
			}
			if a.Currency != *currency {
				return fmt.Errorf("%s: %s is in %s, not %s: nothing topped up", cmd, a.Name, a.Currency, *currency)
			}
		}
		a, err := st.TopUp(ctx, pos[0], amount, *note)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s %s, balance %s %s\n", a.Name, signed(amount), a.Currency, amountText(a.Balance), a.Currency)
		return nil

	case "show":
		return showAccount(ctx, st, pos[0], loc, stdout)

	case "list":
		accounts, err := st.Accounts(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "account\tcurrency\tbalance\treserved\tavailable\t")
		for _, a := range accounts {
			f, err := st.Funds(ctx, a.Name)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", a.Name, a.Currency, amountText(a.Balance), amountText(f.Reserved), amountText(f.Available))
		}
		return tw.Flush()

	case "ledger":
		var f store.LedgerFilter
		if *from != "" {
			if f.From, err = parseTime(*from, loc, false); err != nil {
				return usageError{fmt.Sprintf("%s: --from: %v", cmd, err)}
			}
		}
		if *to != "" {
			if f.To, err = parseTime(*to, loc, true); err != nil {
				return usageError{fmt.Sprintf("%s: --to: %v", cmd, err)}
			}
		}
		if *limit < 0 {
			return usageError{fmt.Sprintf("%s: --limit %d: want 0 or more", cmd, *limit)}
		}
		f.Limit = *limit
		if *format != "table" && *format != "csv" {
			return usageError{fmt.Sprintf("%s: unknown --format %q (want table or csv)", cmd, *format)}
		}
		a, err := st.Account(ctx, pos[0])
		if err != nil {
			return err
		}
		entries, err := st.Ledger(ctx, pos[0], f)
		if err != nil {
			return err
		}
		if *format == "csv" {
			return ledgerCSV(stdout, a, entries)
		}
		return ledgerTable(stdout, a, entries, loc)
	}
	return nil
}

func showAccount(ctx context.Context, st *store.Store, name string, loc *time.Location, w io.Writer) error {
	f, err := st.Funds(ctx, name)
	if err != nil {
		return err
	}
	held, err := st.Reservations(ctx, name)
	if err != nil {
		return err
	}
	a := f.Account
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "account\t%s\n", a.Name)
	fmt.Fprintf(tw, "balance\t%s %s\n", amountText(a.Balance), a.Currency)
	fmt.Fprintf(tw, "reserved\t%s %s (%d call(s) in progress)\n", amountText(f.Reserved), a.Currency, len(held))
	fmt.Fprintf(tw, "available\t%s %s\n", amountText(f.Available), a.Currency)
	fmt.Fprintf(tw, "debits calls from\t%s\n", a.DebitFrom.In(loc).Format(time.RFC3339))
	fmt.Fprintf(tw, "created\t%s\n", a.Created.In(loc).Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(held) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nin progress:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  since\tchannel\tdestination\tmax s\treserved\texpires")
	for _, r := range held {
		ch := r.Leg
		if r.Server != "" {
			ch = r.Server + "/" + r.Leg
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", r.Created.In(loc).Format("2006-01-02 15:04:05"), ch, r.Destination,
			r.MaxSeconds, amountText(r.Amount), r.Expires.In(loc).Format("15:04:05"))
	}
	return tw.Flush()
}

func ledgerTable(w io.Writer, a store.Account, entries []store.LedgerEntry, loc *time.Location) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "written\tkind\tamount\tcall\tnote\n")
	sum := decimal.Zero
	for _, e := range entries {
		call := ""
		if e.Kind == store.EntryCall {
			call = e.Server + "/" + e.CallID + " at " + e.CallStart.In(loc).Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Created.In(loc).Format("2006-01-02 15:04:05"), e.Kind, signed(e.Amount), call, e.Note)
		sum = sum.Add(e.Amount)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d entries, %s %s; balance now %s %s\n", len(entries), signed(sum), a.Currency, amountText(a.Balance), a.Currency)
	return err
}

func ledgerCSV(w io.Writer, a store.Account, entries []store.LedgerEntry) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"account", "written", "updated", "kind", "amount", "currency", "server", "call_id", "call_start", "note"})
	for _, e := range entries {
		start := ""
		if !e.CallStart.IsZero() {
			start = e.CallStart.UTC().Format(time.RFC3339Nano)
		}
		cw.Write([]string{a.Name, e.Created.UTC().Format(time.RFC3339Nano), e.Updated.UTC().Format(time.RFC3339Nano),
			e.Kind, e.Amount.String(), a.Currency, e.Server, e.CallID, start, e.Note})
	}
	cw.Flush()
	return cw.Error()
}

// parseAmount reads a decimal amount from the command line.
func parseAmount(cmd, what, s string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err != nil || strings.ContainsAny(s, "eE") {
		return decimal.Decimal{}, usageError{fmt.Sprintf("%s: %s %q is not a decimal amount (write 10.50)", cmd, what, s)}
	}
	return d, nil
}

// amountText writes an amount with at least two decimals and no
// trailing zeros beyond: 10 → 10.00, 0.0208 → 0.0208.
func amountText(d decimal.Decimal) string {
	s := d.String()
	if i := strings.IndexByte(s, '.'); i < 0 || len(s)-i-1 < 2 {
		return d.StringFixed(2)
	}
	return s
}

func signed(d decimal.Decimal) string {
	if d.IsNegative() {
		return amountText(d)
	}
	return "+" + amountText(d)
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments, which it returns. An argument that is a
// negative number ("-2.50") is positional, not a flag; "--" ends the
// flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if _, err := decimal.NewFromString(a); err == nil || !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && i+1 < len(args) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
			i++
			flags = append(flags, args[i])
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return pos, nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/config"
	"github.com/calltrail/calltrail/internal/daemon"
	"github.com/calltrail/calltrail/internal/store"
)

// runRebuild is "calltrail rebuild": every call re-derived from the
// journal and written to the database again.
func runRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	batchGC()
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("journal", "", "the journal folder serve wrote (required)")
	db := fs.String("db", "sqlite:calltrail.db", "database to write the calls to")
	fromS := fs.String("from", "", "only calls that started at or after this time (RFC 3339 or 2026-11-22)")
	toS := fs.String("to", "", "only calls that started before this time")
	rates := fs.String("rates", "", "rate plan file: price the calls again")
	var trunks stringList
	fs.Var(&trunks, "trunk", "channel pattern of a trunk leg (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail rebuild --journal DIR --db DSN [--from T --to T] [--rates FILE]")
		fmt.Fprintln(stderr, "\nRe-derives every call from serve's journal with the current engine and")
		fmt.Fprintln(stderr, "writes them again (a stored call is replaced, never doubled).")
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	if err != nil {
		return err
	}
	if *dir == "" {
		return usageError{"rebuild: --journal DIR is required"}
	}
	var from, to time.Time
	if *fromS != "" {
		if from, err = parseTime(*fromS, time.UTC, false); err != nil {
			return usageError{"rebuild: --from: " + err.Error()}
		}
	}
	if *toS != "" {
		if to, err = parseTime(*toS, time.UTC, true); err != nil {
			return usageError{"rebuild: --to: " + err.Error()}
		}
	}
	var rater daemon.Rater
	if *rates != "" {
		cfg := config.DefaultConfig()
		cfg.Billing.Rates, cfg.Billing.Trunks = *rates, trunks
		r, err := loadRater(&cfg)
		if err != nil {
			return err
		}
		rater = r
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer st.Close()
	res, err := daemon.Rebuild(ctx, *dir, from, to, rater, func(calls []*callgraph.Call) error {
		return st.SaveCalls(ctx, calls)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt %d calls from %d journal records (%d outside the range, %d still in progress at the journal's end, left to serve)\n",
		res.Calls, res.Events, res.Skipped, res.StillOpen)
	return nil
}

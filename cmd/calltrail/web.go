package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/calltrail/calltrail/internal/config"
)

func runWeb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sel callSelection
	sel.registerDB(fs)
	var hf httpFlags
	hf.register(fs, "listen", "127.0.0.1:8080", "HTTP listen address")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	logFormat := fs.String("log-format", "", "text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail web [--db DSN] [--listen ADDR] [--token-file F] [--admin-token-file F]")
		fmt.Fprintln(stderr, "\nServes the web UI (at /) and the HTTP API (calls, diagrams, reports,")
		fmt.Fprintln(stderr, "accounts, /metrics) from the database alone, without following Asterisk.")
		fmt.Fprintln(stderr, "See docs/web.md and docs/api.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("web: unexpected argument %q", fs.Arg(0))}
	}
	o, err := hf.options(os.Getenv)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	log := newLogger(stderr, config.Log{Level: *logLevel, Format: *logFormat})
	st, err := openForReading(ctx, "web", sel.db, sel.tablePrefix)
	if err != nil {
		return err
	}
	defer st.Close()
	o.Store = st
	_, stop, err := startHTTP(o, hf.listen, log)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	<-ctx.Done()
	stop()
	log.Info("calltrail web stopped")
	return nil
}

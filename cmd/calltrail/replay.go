package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/config"
	"github.com/calltrail/calltrail/internal/store"
)

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	batchGC()
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "json", "output: json (one call per line) or table")
	server := fs.String("server", "asterisk", "server id written on every call")
	stats := fs.Bool("stats", false, "print what the engine saw to standard error")
	dbDSN := fs.String("db", "", "also store every call in this database (sqlite:FILE, postgres://…, mysql://…)")
	rates := fs.String("rates", "", "rate plan file: price the billable legs (see configs/rates.yaml)")
	var trunks stringList
	fs.Var(&trunks, "trunk", "channel pattern of a trunk leg, e.g. 'PJSIP/carrier-*' (repeatable)")
	legs := fs.String("bill", "trunks", "which legs are billed: trunks or all")
	attribution := fs.String("attribution", "originator", "who pays a transferred trunk leg: originator or segments")
	diagramDir := fs.String("diagram", "", "also draw every call into this folder, as <call id>.svg (see --diagram-format)")
	diagramFmt := fs.String("diagram-format", "svg", "what --diagram writes, comma-separated: svg, dot, mermaid, gantt")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail replay [--format json|table] [--diagram DIR] FILE...")
		fmt.Fprintln(stderr, "\nReads raw AMI captures (the bytes Asterisk sent, as a wire tap or ami.log")
		fmt.Fprintln(stderr, "writes them) and prints one record per completed call.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError{"replay: no capture file given"}
	}
	var out callPrinter
	switch *format {
	case "json":
		out = newJSONPrinter(stdout)
	case "table":
		out = newTablePrinter(stdout)
	default:
		return usageError{fmt.Sprintf("replay: unknown --format %q (want json or table)", *format)}
	}
	if *dbDSN != "" {
		st, err := store.Open(ctx, *dbDSN)
		if err != nil {
			return fmt.Errorf("database: %w", err)
		}
		defer st.Close()
		// Innermost: what reaches the database is the priced record.
		out = &storePrinter{callPrinter: out, ctx: ctx, st: st}
	}
	var rater *billing.Rater
	if *rates != "" {
		cfg := config.DefaultConfig()
		cfg.Billing.Rates, cfg.Billing.Trunks, cfg.Billing.Legs, cfg.Billing.Attribution = *rates, trunks, *legs, *attribution
		r, err := loadRater(&cfg)
		if err != nil {
			return err
		}
		rater = r
		out = ratingPrinter{out, rater}
	}
	if *diagramDir != "" {
		formats, err := parseDiagramFormats(*diagramFmt)
		if err != nil {
			return usageError{"replay: --diagram-format: " + err.Error()}
		}
		if err := os.MkdirAll(*diagramDir, 0o755); err != nil {
			return fmt.Errorf("replay: --diagram: %w", err)
		}
		out = &diagramPrinter{callPrinter: out, dir: *diagramDir, formats: formats}
	}
	for _, name := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := replayFile(ctx, name, *server, out)
		if err != nil {
			return err
		}
		for _, w := range st.warnings {
			fmt.Fprintln(stderr, "calltrail: replay:", w)
		}
		if st.untimed > int(st.Events)/2 {
			fmt.Fprintf(stderr, "calltrail: %s: %d of %d events have no Timestamp header: their times are only their order. Set timestampevents = yes in manager.conf, or rebuild from calltrail's journal, which keeps arrival times.\n", name, st.untimed, st.Events)
		}
		if *stats {
			fmt.Fprintf(stderr, "%s: %d events, %d calls, %d events not placed\n", name, st.Events, st.Calls, st.Unplaced)
		}
	}
	return out.Close()
}

// replayFile feeds one capture to a fresh engine: a capture is one AMI
// connection, and calls still open at its end are printed as incomplete.
func replayFile(ctx context.Context, name, server string, out callPrinter) (replayStats, error) {
	var st replayStats
	f, err := os.Open(name)
	if err != nil {
		return st, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	eng := callgraph.New(callgraph.Options{Server: server})
	r := ami.NewReader(bufio.NewReaderSize(f, 1<<20))
	var m ami.Message
	// A capture without Timestamp headers carries no time at all: events
	// are spaced by a millisecond so their order survives.
	clock := time.Unix(0, 0).UTC()
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		err := r.ReadMessageInto(&m)
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// A capture cut in the middle of a message (the recorder was
			// stopped): the calls so far are still worth printing.
			st.warnings = append(st.warnings, fmt.Sprintf("%s: the capture ends inside message %d; it is left out", name, n+1))
			break
		}
		if errors.Is(err, ami.ErrLineTooLong) || errors.Is(err, ami.ErrMessageTooLarge) {
			// The reader skipped that message and can go on.
			st.warnings = append(st.warnings, fmt.Sprintf("%s: message %d left out: %v", name, n+1, err))
			continue
		}
		if err != nil {
			return st, fmt.Errorf("replay %s: message %d: %w", name, n+1, err)
		}
		clock = clock.Add(time.Millisecond)
		if _, ok := m.Lookup("Timestamp"); !ok && m.IsEvent() {
			st.untimed++
		}
		for _, c := range eng.Handle(&m, clock) {
			if err := out.Print(c); err != nil {
				return st, err
			}
		}
	}
	for _, c := range eng.Flush(time.Time{}) {
		if err := out.Print(c); err != nil {
			return st, err
		}
	}
	st.Stats = eng.Stats()
	return st, nil
}

type replayStats struct {
	callgraph.Stats
	untimed  int
	warnings []string
}

// A callPrinter writes completed calls somewhere.
type callPrinter interface {
	Print(*callgraph.Call) error
	Close() error
}

type jsonPrinter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newJSONPrinter(w io.Writer) *jsonPrinter {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonPrinter{w: bw, enc: enc}
}

func (p *jsonPrinter) Print(c *callgraph.Call) error { return p.enc.Encode(c) }
func (p *jsonPrinter) Close() error                  { return p.w.Flush() }

// ratingPrinter prices each call before printing it.
type ratingPrinter struct {
	callPrinter
	rater *billing.Rater
}

func (p ratingPrinter) Print(c *callgraph.Call) error {
	c.Billing = p.rater.Rate(c)
	return p.callPrinter.Print(c)
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// storePrinter also writes the calls to a database, in batches; writing a
// call again replaces it.
type storePrinter struct {
	callPrinter
	ctx   context.Context
	st    *store.Store
	batch []*callgraph.Call
}

func (p *storePrinter) Print(c *callgraph.Call) error {
	p.batch = append(p.batch, c)
	if len(p.batch) >= 500 {
		if err := p.flush(); err != nil {
			return err
		}
	}
	return p.callPrinter.Print(c)
}

func (p *storePrinter) flush() error {
	if len(p.batch) == 0 {
		return nil
	}
	err := p.st.SaveCalls(p.ctx, p.batch)
	p.batch = p.batch[:0]
	return err
}

func (p *storePrinter) Close() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.callPrinter.Close()
}

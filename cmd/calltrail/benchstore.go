package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
)

// benchStore replays a stream into call records, rates them, and times
// their writing into a database through store.Writer, the daemon's own
// batching writer: completed calls per second, into fresh tables that
// are dropped afterwards.
func benchStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("dsn", "", "database to write into (default: a new SQLite file in a temporary directory)")
	batch := fs.Int("batch", store.DefaultMaxBatch, "most calls in one transaction (the writer's MaxBatch)")
	limit := fs.Int("calls", 0, "write only the first this many calls (0: all the stream's)")
	writers := fs.Int("writers", 1, "transactions at once (store.Writer.Parallel, the db_writers setting)")
	repeat := fs.Int("repeat", 3, "write the calls this many times, each into fresh tables, and report the median")
	legs := fs.String("legs", billing.BillTrunks, "billed legs: trunks or all")
	var bf billingFlags
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"bench store: one FILE"}
	}
	rater, err := bf.rater(*legs)
	if err != nil {
		return err
	}
	col := &callCollector{limit: *limit}
	if _, err := replayFile(ctx, fs.Arg(0), "bench", ratingPrinter{col, rater}); err != nil && !errors.Is(err, errEnough) {
		return err
	}
	if len(col.calls) == 0 {
		return fmt.Errorf("bench store: %s holds no complete call", fs.Arg(0))
	}
	shape := shapeOf(col.calls)
	if *dsn == "" {
		dir, err := os.MkdirTemp("", "calltrail-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dsn = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	var runs []time.Duration
	dialect := ""
	for i := range max(*repeat, 1) {
		d, name, err := writeAll(ctx, *dsn, col.calls, *batch, max(*writers, 1))
		if err != nil {
			return err
		}
		dialect = name
		fmt.Fprintf(stderr, "bench store: run %d: %d calls in %v (%.0f calls/s)\n", i+1, len(col.calls), d.Round(time.Millisecond), float64(len(col.calls))/d.Seconds())
		runs = append(runs, d)
	}
	slices.Sort(runs)
	med := runs[len(runs)/2]
	n := float64(len(col.calls))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "database\tcalls\trows/call\tcall JSON bytes\tbatch\tmedian s\tcalls/s\trows/s\t")
	fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%d\t%.3f\t%.0f\t%.0f\t\n", dialect, len(col.calls), shape.rows/n, shape.record/n,
		*batch, med.Seconds(), n/med.Seconds(), shape.rows/med.Seconds())
	return tw.Flush()
}

var errEnough = errors.New("enough calls")

// callCollector keeps the complete calls a replay prints, up to limit.
type callCollector struct {
	calls []*callgraph.Call
	limit int
}

func (c *callCollector) Print(call *callgraph.Call) error {
	if !call.Complete {
		return nil
	}
	c.calls = append(c.calls, call)
	if c.limit > 0 && len(c.calls) >= c.limit {
		return errEnough
	}
	return nil
}

func (c *callCollector) Close() error { return nil }

// shapeOf counts what the calls put in the database, rows of every
// table, and how big they are as JSON.
func shapeOf(calls []*callgraph.Call) (s struct{ rows, record float64 }) {
	for _, c := range calls {
		rows := 1 + len(c.Legs) + len(c.Connections) + len(c.Segments) + len(c.Queues) +
			len(c.Conferences) + len(c.Billing) + len(c.Gaps)
		for _, l := range c.Legs {
			rows += len(l.Tags)
		}
		for _, f := range c.Conferences {
			rows += len(f.Participants)
		}
		s.rows += float64(rows)
		b, _ := json.Marshal(c)
		s.record += float64(len(b))
	}
	return s
}

// writeAll sends calls through a store.Writer into fresh tables of dsn
// and returns how long the writer took to save them all.
func writeAll(ctx context.Context, dsn string, calls []*callgraph.Call, batch, writers int) (time.Duration, string, error) {
	prefix := fmt.Sprintf("bench%06x_", rand.Uint32()&0xffffff)
	s, err := store.OpenWith(ctx, dsn, store.Options{TablePrefix: prefix})
	if err != nil {
		return 0, "", err
	}
	defer s.Close()
	defer s.DropTables(context.WithoutCancel(ctx))
	in := make(chan *callgraph.Call, 1024)
	w := &store.Writer{Store: s, In: in, MaxBatch: batch, Parallel: writers}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- w.Run(ctx) }()
	for _, c := range calls {
		select {
		case in <- c:
		case err := <-done:
			return 0, "", fmt.Errorf("bench store: writer stopped: %v", err)
		}
	}
	close(in)
	if err := <-done; err != nil {
		return 0, "", err
	}
	d := time.Since(start)
	if st := w.Status(); st.Saved != uint64(len(calls)) || st.Rejected > 0 {
		return 0, "", fmt.Errorf("bench store: %d of %d calls saved, %d rejected: %v", st.Saved, len(calls), st.Rejected, st.LastError)
	}
	return d, s.Dialect(), nil
}

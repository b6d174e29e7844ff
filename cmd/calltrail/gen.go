package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/calltrail/calltrail/internal/gen"
)

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := gen.DefaultOptions()
	calls := fs.Int("calls", def.Calls, "calls in the stream (each conference participant is one)")
	concurrency := fs.Int("concurrency", def.Concurrency, "calls in progress at once, on average")
	seed := fs.Uint64("seed", def.Seed, "seed: the same flags write the same bytes")
	start := fs.String("start", gen.DefaultStart.Format(time.RFC3339), "time of the first call (RFC 3339)")
	out := fs.String("out", "-", "file to write, - for standard output")
	var only stringList
	fs.Var(&only, "template", "copy only this template, or capture's templates, e.g. asterisk20/S14; -NAME leaves it out (repeatable)")
	list := fs.Bool("list", false, "list the templates and the calls each makes, and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail gen [--calls N] [--concurrency C] [--seed S] [--out FILE]")
		fmt.Fprintln(stderr, "\nWrites an AMI stream in the form of a capture (banner, login response,")
		fmt.Fprintln(stderr, "events) made of copies of the real captures, for load tests and benchmarks.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{fmt.Sprintf("gen: unexpected argument %q", fs.Arg(0))}
	}
	if *list {
		names, err := gen.TemplateNames()
		if err != nil {
			return err
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			fmt.Fprintf(stdout, "%s\t%d\n", n, names[n])
		}
		return nil
	}
	t, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return usageError{fmt.Sprintf("gen: --start: %v", err)}
	}
	opts := gen.Options{Calls: *calls, Concurrency: *concurrency, Seed: *seed, Start: t, Templates: only}
	if err := opts.Validate(); err != nil {
		return usageError{err.Error()}
	}

	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		defer f.Close()
		w = f
	}
	began := time.Now()
	st, err := gen.Write(ctxWriter{ctx, w}, opts)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("gen: %w", err)
		}
	}
	took := time.Since(began)
	fmt.Fprintf(stderr, "gen: %d calls (%d copies of templates), %d events, %d bytes, %s of traffic, at most %d calls at once; written in %s (%.0f events/s)\n",
		st.Calls, st.Copies, st.Events, st.Bytes, st.End.Sub(st.Start).Round(time.Second), st.MaxLive,
		took.Round(time.Millisecond), float64(st.Events)/took.Seconds())
	return nil
}

// ctxWriter stops a long write when the context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
	"github.com/calltrail/calltrail/reports"
	"github.com/calltrail/calltrail/reports/callflow"
)

// diagramFormats are the renderings of a call flow, with the file
// extension replay --diagram gives each.
var diagramFormats = map[string]string{
	"svg":     ".svg",
	"dot":     ".dot",
	"mermaid": ".mmd",
	"gantt":   ".gantt.mmd",
}

func runDiagram(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("diagram", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sel callSelection
	sel.registerDB(fs)
	id := fs.String("call", "", "call id (the call_id of the record)")
	fs.StringVar(&sel.server, "server", "", "server id of the call (default: found from the call id's time)")
	format := fs.String("format", "svg", "output: svg (diagram and timeline), dot, mermaid (flowchart) or gantt (timeline)")
	out := fs.String("out", "", "write to this file instead of standard output")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail diagram --call ID [--server S] [--format svg|dot|mermaid|gantt] [--out FILE]")
		fmt.Fprintln(stderr, "\nDraws one stored call: its parties, connections and transfers, and a timeline")
		fmt.Fprintln(stderr, "of its legs. A call that joined a conference is drawn with the other calls in it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("diagram: unexpected argument %q", fs.Arg(0))}
	}
	if *id == "" {
		fs.Usage()
		return usageError{"diagram: no --call given"}
	}
	if _, ok := diagramFormats[*format]; !ok {
		return usageError{fmt.Sprintf("diagram: unknown --format %q (want svg, dot, mermaid or gantt)", *format)}
	}
	st, err := openForReading(ctx, "diagram", sel.db, sel.tablePrefix)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := findCall(ctx, st, sel.server, *id)
	if err != nil {
		return err
	}
	calls, err := conferenceMates(ctx, st, c)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := renderFlow(&b, callflow.Build(reports.DefaultOptions(), calls...), *format); err != nil {
		return fmt.Errorf("diagram: %w", err)
	}
	if *out == "" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("diagram: %w", err)
	}
	return nil
}

// findCall returns the stored call with the id, on the server when one
// is named. Without a server it looks at the calls that started when the
// id says: an Asterisk call id ([system-]1795333612.20) begins with the
// Unix time its first channel was made.
func findCall(ctx context.Context, st *store.Store, server, id string) (*callgraph.Call, error) {
	if server != "" {
		c, err := st.Call(ctx, server, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("diagram: call %s not found on server %s", id, server)
		}
		if err != nil {
			return nil, fmt.Errorf("diagram: %w", err)
		}
		return c, nil
	}
	at, ok := idTime(id)
	if !ok {
		return nil, usageError{fmt.Sprintf("diagram: call id %q holds no time: name its --server", id)}
	}
	var found []*callgraph.Call
	for c, err := range st.Iterate(ctx, store.Filter{From: at.Add(-2 * time.Second), To: at.Add(3 * time.Second)}) {
		if err != nil {
			return nil, fmt.Errorf("diagram: %w", err)
		}
		if c.ID == id {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("diagram: call %s not found (if its record has no real times, name its --server)", id)
	case 1:
		return found[0], nil
	}
	var servers []string
	for _, c := range found {
		servers = append(servers, c.Server)
	}
	return nil, usageError{fmt.Sprintf("diagram: call %s is on servers %s: pick one with --server", id, strings.Join(servers, ", "))}
}

// idTime reads the Unix time at the start of an Asterisk unique id.
func idTime(id string) (time.Time, bool) {
	if i := strings.LastIndexByte(id, '-'); i >= 0 {
		id = id[i+1:]
	}
	secs, _, ok := strings.Cut(id, ".")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// conferenceLookaround is how far before a conference opened, and after
// it closed, conferenceMates looks for calls that joined it.
const conferenceLookaround = time.Hour

// conferenceMates returns c with the other stored calls that joined the
// same conferences, in the order they started (same name, opened at the same moment), looking at
// the calls of c's server that started from an hour before each
// conference opened to an hour after it closed (or after c ended, when
// c's record does not say).
func conferenceMates(ctx context.Context, st *store.Store, c *callgraph.Call) ([]*callgraph.Call, error) {
	if len(c.Conferences) == 0 {
		return []*callgraph.Call{c}, nil
	}
	var from, to time.Time
	keys := map[string]bool{}
	for _, cf := range c.Conferences {
		keys[callflow.Session(cf)] = true
		start, end := cf.Start.Time, cf.End.Time
		if start.IsZero() {
			start = c.Start.Time
		}
		if end.IsZero() {
			end = c.End.Time
		}
		if from.IsZero() || start.Before(from) {
			from = start
		}
		if end.After(to) {
			to = end
		}
	}
	calls := []*callgraph.Call{c}
	f := store.Filter{Server: c.Server, From: from.Add(-conferenceLookaround), To: to.Add(conferenceLookaround)}
	for m, err := range st.Iterate(ctx, f) {
		if err != nil {
			return nil, fmt.Errorf("diagram: %w", err)
		}
		if m.ID == c.ID {
			continue
		}
		if slices.ContainsFunc(m.Conferences, func(cf callgraph.Conference) bool { return keys[callflow.Session(cf)] }) {
			calls = append(calls, m)
		}
	}
	// In the order they started, as a report draws them.
	slices.SortStableFunc(calls, func(a, b *callgraph.Call) int { return a.Start.Compare(b.Start.Time) })
	return calls, nil
}

func renderFlow(w io.Writer, fl *callflow.Flow, format string) error {
	switch format {
	case "svg":
		return fl.SVG(w)
	case "dot":
		return fl.DOT(w)
	case "mermaid":
		return fl.Mermaid(w)
	case "gantt":
		return fl.Gantt(w)
	}
	return fmt.Errorf("unknown diagram format %q", format)
}

// parseDiagramFormats reads a comma-separated list of diagram formats.
func parseDiagramFormats(s string) ([]string, error) {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if _, ok := diagramFormats[f]; !ok {
			return nil, fmt.Errorf("unknown diagram format %q (want svg, dot, mermaid or gantt)", f)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// diagramPrinter writes the diagram of every call it prints to dir, as
// <call id>.svg and so on, before passing the call on. Calls that joined
// a conference are held until Close and drawn together: each gets a file
// showing the whole conference.
type diagramPrinter struct {
	callPrinter
	dir     string
	formats []string
	held    []*callgraph.Call
}

func (p *diagramPrinter) Print(c *callgraph.Call) error {
	if len(c.Conferences) > 0 {
		p.held = append(p.held, c)
	} else if err := p.write(c); err != nil {
		return err
	}
	return p.callPrinter.Print(c)
}

func (p *diagramPrinter) Close() error {
	var err error
	for _, g := range callflow.Group(p.held) {
		if err = p.write(g...); err != nil {
			break
		}
	}
	return errors.Join(err, p.callPrinter.Close())
}

// write draws calls as one flow into a file per call and format.
func (p *diagramPrinter) write(calls ...*callgraph.Call) error {
	fl := callflow.Build(reports.DefaultOptions(), calls...)
	for _, f := range p.formats {
		var b bytes.Buffer
		if err := renderFlow(&b, fl, f); err != nil {
			return fmt.Errorf("replay: diagram of call %s: %w", calls[0].ID, err)
		}
		for _, c := range calls {
			name := filepath.Join(p.dir, fileName(c.ID)+diagramFormats[f])
			if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
		}
	}
	return nil
}

// fileName makes a call id safe as a file name: anything but letters,
// digits, '.', '-' and '_' becomes '_'.
func fileName(id string) string {
	b := []byte(id)
	for i, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			b[i] = '_'
		}
	}
	if strings.Trim(string(b), ".") == "" {
		return strings.Repeat("_", len(b)+1)
	}
	return string(b)
}

package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/calltrail/calltrail/callgraph"
)

// tablePrinter writes calls for people: one block per call, one line per
// leg.
type tablePrinter struct {
	w *tabwriter.Writer
}

func newTablePrinter(w io.Writer) *tablePrinter {
	return &tablePrinter{w: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func (p *tablePrinter) Print(c *callgraph.Call) error {
	status := ""
	if !c.Complete {
		status = "  (incomplete)"
	}
	fmt.Fprintf(p.w, "call %s\t%s\t%s%s\n", c.ID, c.Start.UTC().Format("2006-01-02 15:04:05"), c.Disposition, status)
	fmt.Fprintln(p.w, "  party\trole\tchannel\tring\tbillsec\ttalk\tdisposition\tcause")
	for _, l := range c.Legs {
		fmt.Fprintf(p.w, "  %s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%s\t%d %s\n",
			l.Party, l.Role, l.Channel, float64(l.Ring), float64(l.Billsec), float64(l.Talk), l.Disposition, l.Cause, l.CauseText)
	}
	party := make(map[string]string, len(c.Legs))
	for _, l := range c.Legs {
		party[l.ID] = l.Party
	}
	name := func(id string) string {
		if p, ok := party[id]; ok {
			return p
		}
		return id
	}
	for _, x := range c.Connections {
		var b strings.Builder
		fmt.Fprintf(&b, "  %s %s", x.At.UTC().Format("15:04:05.000"), x.Kind)
		if x.By != "" {
			fmt.Fprintf(&b, " by %s", name(x.By))
		}
		fmt.Fprintf(&b, ": %s -> %s", name(x.From), name(x.To))
		if x.Status != "" {
			fmt.Fprintf(&b, " (%s)", x.Status)
		}
		fmt.Fprintln(p.w, b.String())
	}
	for _, s := range c.Segments {
		fmt.Fprintf(p.w, "  talk %s - %s\t%.3f s\n", name(s.A), name(s.B), float64(s.Seconds))
	}
	for _, b := range c.Billing {
		if b.Error != "" {
			fmt.Fprintf(p.w, "  bill %s (%s) %s: %s\n", name(b.Leg), b.Account, b.Destination, b.Error)
			continue
		}
		fmt.Fprintf(p.w, "  bill %s (%s) %s: %d s billed, %s %s [%s %s]\n", name(b.Leg), b.Account, b.Destination, b.BilledSeconds, b.Cost, b.Currency, b.Row, b.Increment)
	}
	for _, q := range c.Queues {
		fmt.Fprintf(p.w, "  queue %s: %s after %.3f s, %d attempts\n", q.Queue, q.Outcome, float64(q.Wait), q.Attempts)
	}
	fmt.Fprintln(p.w)
	return p.w.Flush()
}

func (p *tablePrinter) Close() error { return p.w.Flush() }

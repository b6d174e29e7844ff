package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// A Table is a report's figures as rows of text, the form the text, CSV
// and HTML renderers share.
type Table struct {
	Title   string
	Columns []string
	Rows    [][]string
	// Notes are printed under the table: definitions, thresholds.
	Notes []string
}

// A Report is anything that renders as tables and marshals as JSON.
type Report interface {
	Tables() []Table
}

// A Format names an output format.
type Format string

// Output formats.
const (
	FormatTable Format = "table"
	FormatCSV   Format = "csv"
	FormatJSON  Format = "json"
	// FormatMarkdown writes GitHub-flavoured Markdown tables.
	FormatMarkdown Format = "markdown"
)

// Write renders r to w in format f: aligned text tables, CSV (each table
// a block of a header row and data rows, preceded by a row holding only
// "# <title>", blocks separated by an empty line), or the report's JSON.
func Write(w io.Writer, f Format, r Report) error {
	switch f {
	case FormatTable, "":
		return WriteText(w, r.Tables()...)
	case FormatCSV:
		return WriteCSV(w, r.Tables()...)
	case FormatMarkdown:
		return WriteMarkdown(w, r.Tables()...)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("reports: unknown format %q (want table, csv or json)", f)
}

// WriteText writes tables as aligned columns, each under its title.
func WriteText(w io.Writer, tables ...Table) error {
	for i, t := range tables {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(w, "%s\n", t.Title); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  %s\n", strings.Join(t.Columns, "\t"))
		for _, r := range t.Rows {
			fmt.Fprintf(tw, "  %s\n", strings.Join(r, "\t"))
		}
		if len(t.Rows) == 0 {
			fmt.Fprintf(tw, "  (none)\n")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, n := range t.Notes {
			if _, err := fmt.Fprintf(w, "  %s\n", n); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteMarkdown writes tables as Markdown, each under a bold title with
// its notes after it.
func WriteMarkdown(w io.Writer, tables ...Table) error {
	cell := strings.NewReplacer("|", `\|`, "\n", " ")
	for i, t := range tables {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "**%s**\n\n|", t.Title)
		for _, c := range t.Columns {
			fmt.Fprintf(&b, " %s |", cell.Replace(c))
		}
		b.WriteString("\n|")
		for range t.Columns {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, r := range t.Rows {
			b.WriteString("|")
			for _, c := range r {
				fmt.Fprintf(&b, " %s |", cell.Replace(c))
			}
			b.WriteString("\n")
		}
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "\n%s\n", n)
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// WriteCSV writes tables as CSV blocks (see Write).
func WriteCSV(w io.Writer, tables ...Table) error {
	cw := csv.NewWriter(w)
	for i, t := range tables {
		if i > 0 {
			if err := cw.Write(nil); err != nil {
				return err
			}
		}
		if err := cw.Write([]string{"# " + t.Title}); err != nil {
			return err
		}
		if err := cw.Write(t.Columns); err != nil {
			return err
		}
		if err := cw.WriteAll(t.Rows); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Cell formatting shared by the tables.

func fmtInt(n int) string { return strconv.Itoa(n) }

func fmtSec(s callgraph.Seconds) string { return strconv.FormatFloat(float64(s), 'f', 3, 64) }

func fmtSecPtr(s *callgraph.Seconds) string {
	if s == nil {
		return "–"
	}
	return fmtSec(*s)
}

func fmtPct(p *float64) string {
	if p == nil {
		return "–"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64) + "%"
}

func fmtFloat(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

func fmtFloatPtr(f *float64, prec int) string {
	if f == nil {
		return "–"
	}
	return fmtFloat(*f, prec)
}

func fmtTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "–"
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

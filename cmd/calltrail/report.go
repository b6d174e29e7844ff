package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"github.com/calltrail/calltrail/internal/api"
	"html"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
	"github.com/calltrail/calltrail/reports"
	"github.com/calltrail/calltrail/reports/callflow"
	"github.com/calltrail/calltrail/reports/causes"
)

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sel callSelection
	sel.register(fs)
	interval := fs.String("interval", "", "break queues and KPI into intervals: hour or day")
	sl := fs.String("sl", "20s", "queue service level target T (20s, 1m; a bare number is seconds)")
	lang := fs.String("lang", causes.DefaultLanguage, "language of the cause explanations: "+strings.Join(causes.Languages(), " or "))
	format := fs.String("format", "table", "output: table, json, csv or markdown")
	htmlOut := fs.String("html", "", "write every report with charts, and the diagrams of the transfer calls, to this HTML file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail report queues|agents|causes|kpi|quality [flags]")
		fmt.Fprintln(stderr, "       calltrail report --html FILE [flags]")
		fmt.Fprintln(stderr, "\nReads the calls that started in [--from, --to) from the database and prints")
		fmt.Fprintln(stderr, "a report over them. Times are RFC 3339, \"2026-11-22\" or \"2026-11-22 10:00\",")
		fmt.Fprintln(stderr, "in --tz; a date alone as --to means the end of that day. See docs/reports.md.")
		fs.PrintDefaults()
	}
	// The report name may come before the flags or after them.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if name == "" && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("report: unexpected argument %q", rest[0])}
	}
	switch {
	case *htmlOut != "" && name != "":
		return usageError{fmt.Sprintf("report: --html writes every report: give no report name (got %q)", name)}
	case *htmlOut == "" && name == "":
		fs.Usage()
		return usageError{"report: no report named (want " + orList(reports.Names) + ", or --html FILE)"}
	case *htmlOut == "" && !slices.Contains(reports.Names, name):
		return usageError{fmt.Sprintf("report: unknown report %q (want %s)", name, orList(reports.Names))}
	}
	var f reports.Format
	switch *format {
	case "table", "json", "csv", "markdown":
		f = reports.Format(*format)
	default:
		return usageError{fmt.Sprintf("report: unknown --format %q (want table, json, csv or markdown)", *format)}
	}

	o := reports.DefaultOptions()
	loc, err := sel.location("report")
	if err != nil {
		return err
	}
	o.Location = loc
	switch *interval {
	case "", "hour", "day":
		o.Interval = reports.Interval(*interval)
	default:
		return usageError{fmt.Sprintf("report: unknown --interval %q (want hour or day)", *interval)}
	}
	if o.ServiceLevel, err = parseTarget(*sl); err != nil {
		return usageError{fmt.Sprintf("report: --sl %q: %v", *sl, err)}
	}
	if !slices.Contains(causes.Languages(), *lang) {
		return usageError{fmt.Sprintf("report: unknown --lang %q (want %s)", *lang, orList(causes.Languages()))}
	}
	o.Language = *lang
	if err := o.Validate(); err != nil {
		return usageError{"report: " + strings.TrimPrefix(err.Error(), "reports: ")}
	}

	keep := func(c *callgraph.Call) bool { return reports.Needs(name, c) }
	calls, matched, err := sel.load(ctx, "report", stderr, keep)
	if err != nil {
		return err
	}
	if matched == 0 {
		fmt.Fprintf(stderr, "calltrail: report: no calls match (%s)\n", sel.describe())
	}

	if *htmlOut != "" {
		return writeHTMLReport(*htmlOut, "calltrail report", calls, o)
	}
	r, err := reports.ByName(name, calls, o)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(stdout)
	if err := reports.Write(bw, f, r); err != nil {
		return err
	}
	return bw.Flush()
}

// A callSelection is the flags that pick calls from the database, shared
// by report and diagram.
type callSelection struct {
	db, tablePrefix string
	from, to, tz    string
	server, account string
	queue, party    string
	trunks          stringList
	fromT, toT      time.Time
	withTime        bool
}

func (s *callSelection) register(fs *flag.FlagSet) {
	s.registerDB(fs)
	s.withTime = true
	fs.StringVar(&s.from, "from", "", "first start time of the period (default: the first call)")
	fs.StringVar(&s.to, "to", "", "end of the period, not included (default: the last call)")
	fs.StringVar(&s.tz, "tz", "Local", "time zone of --from, --to and the intervals (an IANA name, UTC or Local)")
	fs.StringVar(&s.server, "server", "", "only calls of this server id")
	fs.StringVar(&s.account, "account", "", "only calls with a leg or a billing record on this account")
	fs.StringVar(&s.queue, "queue", "", "only calls that stayed in this queue")
	fs.StringVar(&s.party, "party", "", "only calls with a leg of this party (number or extension)")
	fs.Var(&s.trunks, "trunk", "only calls with a leg on a matching channel or endpoint, e.g. 'PJSIP/carrier-*' (repeatable)")
}

func (s *callSelection) registerDB(fs *flag.FlagSet) {
	fs.StringVar(&s.db, "db", store.DefaultDSN, "database: sqlite:FILE, postgres://… or mysql://…")
	fs.StringVar(&s.tablePrefix, "table-prefix", "", "prefix of calltrail's table names, when the database holds several instances")
}

func (s *callSelection) location(cmd string) (*time.Location, error) {
	loc, err := time.LoadLocation(s.tz)
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s: --tz %q: unknown time zone", cmd, s.tz)}
	}
	return loc, nil
}

// filter checks the flags and returns what the store can select itself.
func (s *callSelection) filter(cmd string) (store.Filter, error) {
	f := store.Filter{Server: s.server, Account: s.account, Queue: s.queue, Party: s.party}
	if !s.withTime {
		return f, nil
	}
	loc, err := s.location(cmd)
	if err != nil {
		return f, err
	}
	if s.from != "" {
		if f.From, err = parseTime(s.from, loc, false); err != nil {
			return f, usageError{fmt.Sprintf("%s: --from: %v", cmd, err)}
		}
	}
	if s.to != "" {
		if f.To, err = parseTime(s.to, loc, true); err != nil {
			return f, usageError{fmt.Sprintf("%s: --to: %v", cmd, err)}
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, usageError{fmt.Sprintf("%s: --to %s is not after --from %s", cmd, s.to, s.from)}
	}
	for _, p := range s.trunks {
		if _, err := path.Match(p, ""); err != nil {
			return f, usageError{fmt.Sprintf("%s: --trunk %q: malformed pattern", cmd, p)}
		}
	}
	s.fromT, s.toT = f.From, f.To
	return f, nil
}

// load streams the selected calls from the database and keeps those
// that match the flags the store cannot filter on and that keep accepts;
// matched counts the calls that match the flags. On a terminal it counts
// the calls read on stderr as it goes.
func (s *callSelection) load(ctx context.Context, cmd string, stderr io.Writer, keep func(*callgraph.Call) bool) (calls []*callgraph.Call, matched int, err error) {
	f, err := s.filter(cmd)
	if err != nil {
		return nil, 0, err
	}
	st, err := openForReading(ctx, cmd, s.db, s.tablePrefix)
	if err != nil {
		return nil, 0, err
	}
	defer st.Close()
	p := newProgress(stderr)
	defer p.done()
	for c, err := range st.Iterate(ctx, f) {
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", cmd, err)
		}
		p.add()
		if !s.onTrunk(c) {
			continue
		}
		matched++
		if keep(c) {
			calls = append(calls, c)
		}
	}
	return calls, matched, nil
}

// onTrunk reports whether c has a leg whose channel ("PJSIP/carrier-0000001d")
// or endpoint ("PJSIP/carrier") matches a --trunk pattern; true without any.
func (s *callSelection) onTrunk(c *callgraph.Call) bool {
	if len(s.trunks) == 0 {
		return true
	}
	for _, l := range c.Legs {
		for _, p := range s.trunks {
			if ok, _ := path.Match(p, l.Channel); ok {
				return true
			}
			if ok, _ := path.Match(p, reports.Endpoint(l.Channel)); ok {
				return true
			}
		}
	}
	return false
}

// describe says which calls were asked for, for the "no calls" note.
func (s *callSelection) describe() string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, name+" "+v)
		}
	}
	if !s.fromT.IsZero() {
		add("from", s.fromT.Format(time.RFC3339))
	}
	if !s.toT.IsZero() {
		add("to", s.toT.Format(time.RFC3339))
	}
	add("server", s.server)
	add("account", s.account)
	add("queue", s.queue)
	add("party", s.party)
	add("trunk", strings.Join(s.trunks, ", "))
	if len(parts) == 0 {
		return "the database holds none"
	}
	return strings.Join(parts, ", ")
}

// openForReading opens the database for a command that only reads it: a
// SQLite file that does not exist is an error rather than a new, empty
// database.
func openForReading(ctx context.Context, cmd, dsn, prefix string) (*store.Store, error) {
	if err := store.CheckDSN(dsn); err != nil {
		return nil, usageError{fmt.Sprintf("%s: --db: %s", cmd, strings.TrimPrefix(err.Error(), "store: "))}
	}
	if file := sqliteFile(dsn); file != "" {
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: --db: %s does not exist (calltrail serve creates it)", cmd, file)
		}
	}
	st, err := store.OpenWith(ctx, dsn, store.Options{TablePrefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return st, nil
}

// sqliteFile returns the file a sqlite: DSN names, "" for another
// database or an in-memory one.
func sqliteFile(dsn string) string {
	scheme, rest, _ := strings.Cut(dsn, ":")
	if s := strings.ToLower(scheme); s != "sqlite" && s != "sqlite3" {
		return ""
	}
	file, _, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "?")
	if file == ":memory:" {
		return ""
	}
	return file
}

// parseTime reads a time the way the HTTP API does (api.ParseTime), with
// the text in the error.
func parseTime(s string, loc *time.Location, end bool) (time.Time, error) {
	t, err := api.ParseTime(s, loc, end)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return t, nil
}

// parseTarget reads a duration ("20s", "1m30s") or a number of seconds.
func parseTarget(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n <= 0 {
			return 0, errors.New("must be positive")
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 20s")
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func hasTransfer(c *callgraph.Call) bool {
	return slices.ContainsFunc(c.Connections, func(x callgraph.Connection) bool {
		switch x.Kind {
		case callgraph.KindBlindTransfer, callgraph.KindAttendedTransfer, callgraph.KindAttendedTransferAbandoned:
			return true
		}
		return false
	})
}

// maxHTMLDiagrams bounds the transfer diagrams one HTML report embeds: a
// month of calls can hold thousands.
const maxHTMLDiagrams = 50

// writeHTMLReport writes reports.WriteHTML's page to file, with the
// diagrams of the calls that had a transfer added at its end.
func writeHTMLReport(file, title string, calls []*callgraph.Call, o reports.Options) error {
	var page bytes.Buffer
	if err := reports.WriteHTML(&page, title, calls, o); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var groups [][]*callgraph.Call
	for _, g := range callflow.Group(calls) {
		if slices.ContainsFunc(g, hasTransfer) {
			groups = append(groups, g)
		}
	}
	out := page.Bytes()
	if len(groups) > 0 {
		var sec bytes.Buffer
		fmt.Fprintf(&sec, "<h2>Transfers (%d)</h2>\n", len(groups))
		if len(groups) > maxHTMLDiagrams {
			fmt.Fprintf(&sec, "<p class=\"note\">The first %d; draw any other with calltrail diagram --call ID.</p>\n", maxHTMLDiagrams)
			groups = groups[:maxHTMLDiagrams]
		}
		for _, g := range groups {
			fl := callflow.Build(o, g...)
			var svg bytes.Buffer
			if err := fl.SVG(&svg); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			fmt.Fprintf(&sec, "<figure><img style=\"max-width:100%%\" alt=\"%s\" src=\"data:image/svg+xml;base64,%s\"></figure>\n",
				html.EscapeString(fl.Title), base64.StdEncoding.EncodeToString(svg.Bytes()))
		}
		i := bytes.LastIndex(out, []byte("</body>"))
		if i < 0 {
			return errors.New("report: the HTML page has no </body>")
		}
		out = slices.Concat(out[:i], sec.Bytes(), out[i:])
	}
	if err := os.WriteFile(file, out, 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// progress counts calls on a terminal: "\r12345 calls", at most ten times
// a second, wiped when done. It writes nothing when stderr is not a
// terminal, and nothing for a run too short to need it.
type progress struct {
	w     io.Writer // nil: silent
	n     int
	last  time.Time
	shown bool
}

func newProgress(stderr io.Writer) *progress {
	p := &progress{}
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.w = f
		}
	}
	return p
}

func (p *progress) add() {
	p.n++
	if p.w == nil || p.n%256 != 0 {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		fmt.Fprintf(p.w, "\r%d calls", p.n)
		p.last, p.shown = now, true
	}
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

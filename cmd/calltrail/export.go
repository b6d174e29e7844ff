package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// exportFormats are export's --format values.
var exportFormats = []string{"csv", "jsonl", "master-csv"}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sel callSelection
	sel.register(fs)
	format := fs.String("format", "csv", "csv (a row per billing record), jsonl (a call record per line) or master-csv (Asterisk's Master.csv)")
	out := fs.String("out", "", "write to this file (default: standard output); it appears only once complete")
	newColumns := fs.Bool("newcdrcolumns", false, "master-csv: add peeraccount, linkedid and sequence, as cdr.conf's newcdrcolumns does")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail export --format csv|jsonl|master-csv [--from T] [--to T] [--account A] [--out FILE]")
		fmt.Fprintln(stderr, "\nWrites the stored calls that started in [--from, --to), streaming: memory stays")
		fmt.Fprintln(stderr, "flat however many there are. csv and master-csv have one row per billing record")
		fmt.Fprintln(stderr, "(with --account, that account's); jsonl one call record per line, as replay")
		fmt.Fprintln(stderr, "prints it. master-csv times are in --tz. See docs/billing.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("export: unexpected argument %q", fs.Arg(0))}
	}
	loc, err := sel.location("export")
	if err != nil {
		return err
	}
	var w callWriter
	switch *format {
	case "csv":
		w = &billingCSV{account: sel.account}
	case "jsonl":
		w = &jsonLines{}
	case "master-csv":
		w = &masterCSV{account: sel.account, loc: loc, newColumns: *newColumns}
	default:
		return usageError{fmt.Sprintf("export: unknown --format %q (want %s)", *format, orList(exportFormats))}
	}
	f, err := sel.filter("export")
	if err != nil {
		return err
	}
	st, err := openForReading(ctx, "export", sel.db, sel.tablePrefix)
	if err != nil {
		return err
	}
	defer st.Close()

	dst := stdout
	var file *os.File
	if *out != "" {
		// A temporary file beside the target, renamed once complete: an
		// export that fails leaves no half file behind.
		file, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer func() {
			if file != nil {
				file.Close()
				os.Remove(file.Name())
			}
		}()
		dst = file
	}
	bw := bufio.NewWriterSize(dst, 64<<10)
	w.begin(bw)
	p := newProgress(stderr)
	n := 0
	for c, err := range st.Iterate(ctx, f) {
		if err != nil {
			p.done()
			return fmt.Errorf("export: %w", err)
		}
		p.add()
		if !sel.onTrunk(c) {
			continue
		}
		if err := w.write(c); err != nil {
			p.done()
			return fmt.Errorf("export: %w", err)
		}
		n++
	}
	p.done()
	if err := w.end(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if file != nil {
		if err := file.Chmod(0o644); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(file.Name(), *out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		file = nil
	}
	if n == 0 {
		fmt.Fprintf(stderr, "calltrail: export: no calls match (%s)\n", sel.describe())
	}
	return nil
}

// A callWriter writes calls in one export format.
type callWriter interface {
	begin(w io.Writer)
	write(c *callgraph.Call) error
	end() error
}

// jsonLines writes each call record as one line of JSON: docs/output.md's
// form, as replay prints it.
type jsonLines struct{ enc *json.Encoder }

func (j *jsonLines) begin(w io.Writer) {
	j.enc = json.NewEncoder(w)
	j.enc.SetEscapeHTML(false)
}
func (j *jsonLines) write(c *callgraph.Call) error { return j.enc.Encode(c) }
func (j *jsonLines) end() error                    { return nil }

// billingCSVHeader is the header of the csv export: one row per billing
// record, with the call and the billed leg it belongs to.
var billingCSVHeader = []string{
	"server", "call_id", "call_start", "leg", "channel", "role", "disposition", "answered", "ended",
	"party", "account", "destination", "billsec", "billed_seconds", "units", "increment",
	"cost", "currency", "plan", "rate_row", "error",
}

// billingCSV writes the csv export. Times are RFC 3339 in UTC with
// milliseconds, as in the call record, and empty when absent; billsec is
// seconds with milliseconds.
type billingCSV struct {
	account string // only this account's records, when set
	w       *csv.Writer
}

func (b *billingCSV) begin(w io.Writer) {
	b.w = csv.NewWriter(w)
	b.w.Write(billingCSVHeader)
}

func (b *billingCSV) write(c *callgraph.Call) error {
	legs := legsByID(c)
	for _, r := range c.Billing {
		if b.account != "" && r.Account != b.account {
			continue
		}
		l := legs[r.Leg]
		if l == nil {
			l = &callgraph.Leg{ID: r.Leg}
		}
		b.w.Write([]string{
			c.Server, c.ID, recordTime(c.Start), r.Leg, l.Channel, l.Role, l.Disposition,
			recordTime(l.Answered), recordTime(l.Ended),
			r.Party, r.Account, r.Destination, secondsText(r.Billsec),
			strconv.FormatInt(r.BilledSeconds, 10), strconv.FormatInt(r.Units, 10), r.Increment,
			r.Cost, r.Currency, r.Plan, r.Row, r.Error,
		})
	}
	return b.w.Error()
}

func (b *billingCSV) end() error {
	b.w.Flush()
	return b.w.Error()
}

func recordTime(t callgraph.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func secondsText(s callgraph.Seconds) string {
	return strconv.FormatFloat(math.Round(float64(s)*1000)/1000, 'f', -1, 64)
}

func legsByID(c *callgraph.Call) map[string]*callgraph.Leg {
	m := make(map[string]*callgraph.Leg, len(c.Legs))
	for _, l := range c.Legs {
		m[l.ID] = l
	}
	return m
}

// masterCSV writes rows in the layout of Asterisk's Master.csv (cdr_csv
// with loguniqueid and loguserfield): accountcode, src, dst, dcontext,
// clid, channel, dstchannel, lastapp, lastdata, start, answer, end,
// duration, billsec, disposition, amaflags, uniqueid, userfield, and with
// newcdrcolumns peeraccount, linkedid, sequence. Text is always quoted
// (quotes doubled), numbers never, an absent time is an empty field
// without quotes; times are "2006-01-02 15:04:05", truncated to the
// second, in loc. There is no header line, as in Master.csv.
//
// A row is one billing record — a billable leg, or one party's share of
// one under the segments policy — with calltrail's values: see
// docs/billing.md, "Exports".
type masterCSV struct {
	account    string
	loc        *time.Location
	newColumns bool
	w          io.Writer
	row        []byte // the row being written
	err        error
}

func (m *masterCSV) begin(w io.Writer) { m.w = w }
func (m *masterCSV) end() error        { return m.err }

func (m *masterCSV) write(c *callgraph.Call) error {
	legs := legsByID(c)
	for i, r := range c.Billing {
		if m.account != "" && r.Account != m.account {
			continue
		}
		l := legs[r.Leg]
		if l == nil {
			continue
		}
		m.writeRow(c, i, r, l, legs)
	}
	return m.err
}

func (m *masterCSV) writeRow(c *callgraph.Call, seq int, r callgraph.Billing, l *callgraph.Leg, legs map[string]*callgraph.Leg) {
	// channel is the calling side, dstchannel the called one, as in an
	// Asterisk CDR. A leg that placed a call (the caller's, a
	// consultation's, an originated one) calls whom it reached; any
	// other is called by the party that pays it, else by the leg that
	// brought it in.
	var near, far *callgraph.Leg
	var how *callgraph.Connection
	by, x := bringer(c, l, legs)
	if l.Role == callgraph.RoleCaller || by == nil {
		near = l
		far, how = peerOf(c, l, legs)
	} else {
		near, far, how = by, l, x
		if near.Party != r.Party {
			for _, o := range c.Legs {
				if o != l && o.Party == r.Party {
					near = o
					break
				}
			}
		}
	}
	dst := l.Party // the number the leg reached
	if near == l && l.Dialed != "" {
		dst = l.Dialed // the number it dialled
	}
	clid := ""
	if near.CallerName != "" || near.CallerNum != "" {
		// As Asterisk merges them: the name quoted, its \ and " escaped.
		name := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(near.CallerName)
		clid = `"` + name + `" <` + near.CallerNum + ">"
	}
	src := near.CallerNum
	if src == "" {
		src = near.Party
	}
	var dstChannel, peerAccount, lastApp, lastData string
	if far != nil {
		dstChannel, peerAccount = far.Channel, far.Account
	}
	if how != nil {
		lastApp, lastData = appOf(how.Kind), how.Target
	}
	m.text(r.Account)
	m.text(src)
	m.text(dst)
	m.text(near.Context)
	m.text(clid)
	m.text(near.Channel)
	m.text(dstChannel)
	m.text(lastApp)
	m.text(lastData)
	m.time(l.Created)
	m.time(l.Answered)
	m.time(l.Ended)
	m.int(wholeSeconds(l.Duration))
	m.int(wholeSeconds(r.Billsec))
	m.text(masterDisposition(l.Disposition))
	m.text("DOCUMENTATION")
	m.text(near.ID)
	m.text(callgraph.Userfield(near.Tags))
	if m.newColumns {
		m.text(peerAccount)
		m.text(c.ID)
		m.int(int64(seq))
	}
	m.newline()
}

// The fields of a row are written each followed by a comma; newline
// turns the last one into the line's end and writes the row.
func (m *masterCSV) text(s string) {
	m.row = append(m.row, '"')
	m.row = append(m.row, strings.ReplaceAll(s, `"`, `""`)...)
	m.row = append(m.row, '"', ',')
}

func (m *masterCSV) int(n int64) {
	m.row = strconv.AppendInt(m.row, n, 10)
	m.row = append(m.row, ',')
}

func (m *masterCSV) time(t callgraph.Time) {
	if t.IsZero() {
		m.row = append(m.row, ',')
		return
	}
	m.text(t.In(m.loc).Format("2006-01-02 15:04:05"))
}

func (m *masterCSV) newline() {
	m.row[len(m.row)-1] = '\n'
	if _, err := m.w.Write(m.row); err != nil && m.err == nil {
		m.err = err
	}
	m.row = m.row[:0]
}

// wholeSeconds rounds a time up to whole seconds, as per-second billing
// of the exact time does (Asterisk truncates).
func wholeSeconds(s callgraph.Seconds) int64 {
	ms := int64(math.Round(float64(s) * 1000))
	return (ms + 999) / 1000
}

// masterDisposition maps calltrail's disposition to one Asterisk's CDR
// writes: a cancelled attempt is NO ANSWER there.
func masterDisposition(d string) string {
	switch d {
	case "ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION":
		return d
	}
	return "NO ANSWER"
}

// appOf names, as a dialplan application, how a leg joined the call:
// calltrail sees the connection, not the application.
func appOf(kind string) string {
	switch kind {
	case callgraph.KindDial, callgraph.KindForward:
		return "Dial"
	case callgraph.KindQueueAttempt:
		return "Queue"
	case callgraph.KindBlindTransfer, callgraph.KindAttendedTransfer:
		return "Transfer"
	case callgraph.KindPickup:
		return "Pickup"
	case callgraph.KindPark:
		return "Park"
	case callgraph.KindConferenceJoin:
		return "ConfBridge"
	}
	return ""
}

// userfield writes a leg's tags as the tag handler's cdr=1 sets
// peerOf returns the leg a caller reached and how: its first answered
// dial or queue attempt, else its first attempt, else nil.
func peerOf(c *callgraph.Call, l *callgraph.Leg, legs map[string]*callgraph.Leg) (*callgraph.Leg, *callgraph.Connection) {
	var first *callgraph.Connection
	for i := range c.Connections {
		x := &c.Connections[i]
		if x.From != l.ID || legs[x.To] == nil || (x.Kind != callgraph.KindDial && x.Kind != callgraph.KindQueueAttempt) {
			continue
		}
		if x.Answered != nil && *x.Answered {
			return legs[x.To], x
		}
		if first == nil {
			first = x
		}
	}
	if first == nil {
		return nil, nil
	}
	return legs[first.To], first
}

// bringer returns the leg that brought l into the call and how: the
// transferrer of a transfer to it, else the leg that dialled (or
// forwarded, queued, picked) it; nil for an originated leg.
func bringer(c *callgraph.Call, l *callgraph.Leg, legs map[string]*callgraph.Leg) (*callgraph.Leg, *callgraph.Connection) {
	var (
		from *callgraph.Leg
		how  *callgraph.Connection
	)
	for i := range c.Connections {
		x := &c.Connections[i]
		if x.To != l.ID {
			continue
		}
		switch x.Kind {
		case callgraph.KindBlindTransfer, callgraph.KindAttendedTransfer:
			if p := legs[x.By]; p != nil && p != l {
				return p, x
			}
		default:
			if p := legs[x.From]; p != nil && p != l && from == nil {
				from, how = p, x
			}
		}
	}
	return from, how
}

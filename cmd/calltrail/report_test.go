package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/callgraph/callgraphtest"
	"github.com/calltrail/calltrail/internal/store"
	"github.com/calltrail/calltrail/reports"
)

// golden reads the call records of the named captures from callgraph's
// golden files, in file order.
func golden(t testing.TB, scenarios ...string) []*callgraph.Call {
	t.Helper()
	var paths []string
	for _, s := range scenarios {
		paths = append(paths, filepath.Join("..", "..", "callgraph", "testdata", "golden", s+".jsonl"))
	}
	return callgraphtest.Load(t, paths...)
}

// testDB writes the golden records of the captures into a new SQLite file
// and returns its DSN.
func testDB(t testing.TB, scenarios ...string) string {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "calls.db")
	saveCalls(t, dsn, store.Options{}, golden(t, scenarios...))
	return dsn
}

func saveCalls(t testing.TB, dsn string, opts store.Options, calls []*callgraph.Call) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenWith(ctx, dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SaveCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
}

// calltrail runs the command line and returns what it wrote.
func calltrail(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// mustRun runs the command line and fails the test on an error.
func mustRun(t testing.TB, args ...string) string {
	t.Helper()
	out, stderr, err := calltrail(t, args...)
	if err != nil {
		t.Fatalf("calltrail %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

var docExampleRE = regexp.MustCompile(`(?s)<!-- example (\w+) -->\n\n(.*?)\n\n<!-- end -->`)

// docExample returns an example of docs/reports.md, which the reports
// package generates from the same captures and keeps current.
func docExample(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "reports.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range docExampleRE.FindAllStringSubmatch(string(doc), -1) {
		if m[1] == name {
			return m[2]
		}
	}
	t.Fatalf("docs/reports.md has no example %q", name)
	return ""
}

// Every report the documentation shows, now read back from a database
// through the command line: the store's round trip and the command's
// options must leave every figure as the reports package computes it.
func TestReportMatchesDocs(t *testing.T) {
	queueDB := testDB(t, "S08", "S09", "S20", "P04", "S14")
	for _, tc := range []struct {
		example string
		db      string
		args    []string
	}{
		{"queues", queueDB, []string{"queues", "--sl", "6s", "--interval", "hour"}},
		{"agents", queueDB, []string{"agents"}},
		{"causes", testDB(t, "S21", "P06"), []string{"causes"}},
		{"kpi", testDB(t, "S14", "S11", "S23"), []string{"kpi"}},
		{"quality", testDB(t, "Q01", "Q02", "Q03", "Q04", "Q05", "Q06", "S08"), []string{"quality"}},
	} {
		t.Run(tc.example, func(t *testing.T) {
			args := append(tc.args, "--db", tc.db, "--tz", "UTC", "--format", "markdown")
			got := strings.TrimRight(mustRun(t, append([]string{"report"}, args...)...), "\n")
			if want := docExample(t, tc.example); got != want {
				t.Errorf("calltrail report %s:\n%s\n\nwant (docs/reports.md):\n%s", strings.Join(args, " "), got, want)
			}
		})
	}
}

// The queue report over S08, S09 and S20, with T = 6 s, figure by figure
// (see reports/queue_test.go and docs/reports.md): support offered 2 —
// S08 answered after 5.008 s (in T), S09 abandoned after 4.501 s (within
// T) — and ringall offered 1, S20 answered after 2.605 s.
func TestReportQueues(t *testing.T) {
	db := testDB(t, "S08", "S09", "S20")
	out := mustRun(t, "report", "queues", "--db", db, "--sl", "6s", "--interval", "hour", "--tz", "UTC", "--format", "json")
	var r reports.QueueReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if r.Target != 6 {
		t.Errorf("target = %v, want 6", r.Target)
	}
	type row struct {
		queue                                    string
		offered, answered, inT, abandoned, abInT int
		sl                                       float64
		avgWait, maxWait, asa, avgAband, talk    callgraph.Seconds
	}
	want := []row{
		{"ringall", 1, 1, 1, 0, 0, 100, 2.605, 2.605, 2.605, 0, 6.321},
		{"support", 2, 1, 1, 1, 1, 100, 4.755, 5.008, 5.008, 4.501, 6.013},
	}
	if len(r.Queues) != len(want) {
		t.Fatalf("queues = %+v, want %d rows", r.Queues, len(want))
	}
	for i, w := range want {
		q := r.Queues[i]
		got := row{q.Queue, q.Offered, q.Answered, q.AnsweredInTarget, q.Abandoned, q.AbandonedInTarget,
			deref(q.ServiceLevel), q.AvgWait, q.MaxWait, q.ASA, q.AvgAbandonWait, q.AvgTalk}
		if got != w {
			t.Errorf("queue %d = %+v, want %+v", i, got, w)
		}
	}
	// Per hour: S08 and S09 joined at 07:4x, S20 at 08:31.
	var ivs []string
	for _, q := range r.Intervals {
		ivs = append(ivs, q.Interval+" "+q.Queue)
	}
	if got, want := strings.Join(ivs, ", "), "2026-11-22 07:00 support, 2026-11-22 08:00 ringall"; got != want {
		t.Errorf("intervals = %s, want %s", got, want)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// S21's four failures from 1027, leg by leg (chan_sip: no SIP statuses):
// 486 → both legs cause 17, released by Asterisk; 603 → both 21, by
// Asterisk; 404 → both 1, the caller's by Asterisk, the callee's by the
// callee; the caller's CANCEL → both 16, by the caller.
func TestReportCauses(t *testing.T) {
	db := testDB(t, "S21")
	out := mustRun(t, "report", "causes", "--db", db, "--format", "json", "--lang", "ru")
	var r reports.CauseReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if r.Legs != 8 || r.Language != "ru" {
		t.Errorf("legs %d, language %q; want 8, ru", r.Legs, r.Language)
	}
	want := map[int][3]int{17: {0, 0, 2}, 21: {0, 0, 2}, 1: {0, 1, 1}, 16: {2, 0, 0}}
	if len(r.Causes) != len(want) {
		t.Errorf("causes = %d rows, want %d", len(r.Causes), len(want))
	}
	for _, c := range r.Causes {
		w, ok := want[c.Cause]
		if got := [3]int{c.ByCaller, c.ByCallee, c.BySystem}; !ok || c.Legs != 2 || got != w {
			t.Errorf("cause %d: %d legs, by caller/callee/system %v; want 2, %v", c.Cause, c.Legs, got, w)
		}
		if len(c.SIPSeen) != 0 {
			t.Errorf("cause %d: SIP seen %v on chan_sip legs", c.Cause, c.SIPSeen)
		}
		if !containsCyrillic(c.Explanation.Meaning) {
			t.Errorf("cause %d: explanation %q is not Russian", c.Cause, c.Explanation.Meaning)
		}
	}
	if len(r.SIP) != 0 {
		t.Errorf("SIP statuses = %+v, want none", r.SIP)
	}
}

func containsCyrillic(s string) bool {
	for _, r := range s {
		if r >= 'А' && r <= 'я' {
			return true
		}
	}
	return false
}

// S14's 20 calls (see reports/kpi_test.go): 15 answered, 2 busy, 3 rang
// out; billsec 103.095; 18 in progress at 07:50:15.529.
func TestReportKPI(t *testing.T) {
	db := testDB(t, "S14")
	out := mustRun(t, "report", "kpi", "--db", db, "--format", "json")
	var r reports.KPIReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	tot := r.Total
	if tot.Attempts != 20 || tot.Answered != 15 || tot.Busy != 2 || tot.NoAnswer != 3 || tot.Rejected != 0 || tot.Failed != 0 {
		t.Errorf("outcomes = %d attempts %d/%d/%d/%d/%d, want 20 15/2/3/0/0", tot.Attempts, tot.Answered, tot.Busy, tot.NoAnswer, tot.Rejected, tot.Failed)
	}
	if deref(tot.ASR) != 75 || deref(tot.NER) != 100 || tot.Billsec != 103.095 || tot.ACD != 6.873 {
		t.Errorf("ASR %v NER %v billsec %v ACD %v, want 75 100 103.095 6.873", deref(tot.ASR), deref(tot.NER), tot.Billsec, tot.ACD)
	}
	if at := time.Date(2026, 11, 22, 7, 50, 15, 529e6, time.UTC); tot.Peak != 18 || tot.PeakAt == nil || !tot.PeakAt.Equal(at) {
		t.Errorf("peak %d at %v, want 18 at %v", tot.Peak, tot.PeakAt, at)
	}
}

// Q01–Q06, one per kind of damage (see reports/quality_test.go): good,
// poor, bad, bad, poor, bad. S08 carries no RTCP and is left out.
func TestReportQuality(t *testing.T) {
	db := testDB(t, "Q01", "Q02", "Q03", "Q04", "Q05", "Q06", "S08")
	out := mustRun(t, "report", "quality", "--db", db, "--format", "json")
	var r reports.QualityReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	var verdicts []string
	for _, c := range r.Calls {
		verdicts = append(verdicts, c.Verdict)
	}
	if got, want := strings.Join(verdicts, " "), "good poor bad bad poor bad"; got != want {
		t.Errorf("verdicts = %s, want %s", got, want)
	}
	if r.Good != 1 || r.Poor != 2 || r.Bad != 3 {
		t.Errorf("good/poor/bad = %d/%d/%d, want 1/2/3", r.Good, r.Poor, r.Bad)
	}
}

// The filters, pushed down to the store or applied here, each over
// S14 + S11 + S23 (22 calls; S11 and S23 and one S14 call cross
// SIP/trunk).
func TestReportFilters(t *testing.T) {
	db := testDB(t, "S14", "S11", "S23")
	attempts := func(args ...string) int {
		t.Helper()
		out := mustRun(t, append([]string{"report", "kpi", "--db", db, "--format", "json", "--tz", "UTC"}, args...)...)
		var r reports.KPIReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("json output: %v\n%s", err, out)
		}
		return r.Total.Attempts
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 22},
		{[]string{"--from", "2026-11-22", "--to", "2026-11-22"}, 22},
		{[]string{"--from", "2026-11-23"}, 0},
		{[]string{"--to", "2026-11-22 07:50"}, 1},                                        // S11 at 07:47
		{[]string{"--from", "2026-11-22T08:00:00Z"}, 1},                                  // S23 at 08:32
		{[]string{"--from", "2026-11-22T10:00:00+03:00", "--to", "2026-11-22 07:49"}, 1}, // 07:00Z–07:49Z: S11
		{[]string{"--server", "lab"}, 22},
		{[]string{"--server", "other"}, 0},
		{[]string{"--trunk", "SIP/trunk"}, 3},
		{[]string{"--trunk", "SIP/trunk-*"}, 3},
		{[]string{"--trunk", "PJSIP/*"}, 0},
		{[]string{"--trunk", "PJSIP/*", "--trunk", "SIP/tr*"}, 3},
		{[]string{"--party", "1040"}, 2}, // the two busy calls
		{[]string{"--queue", "support"}, 3},
		{[]string{"--account", "nobody"}, 0},
	} {
		if got := attempts(tc.args...); got != tc.want {
			t.Errorf("kpi %s: %d attempts, want %d", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	// Nothing matched: an empty report, and a note saying what was asked.
	out, stderr, err := calltrail(t, "report", "kpi", "--db", db, "--server", "other", "--format", "csv")
	if err != nil || !strings.Contains(stderr, "no calls match (server other)") || !strings.Contains(out, "# KPI") {
		t.Errorf("no calls: err %v, stderr %q, stdout %q", err, stderr, out)
	}
	out, stderr, err = calltrail(t, "report", "kpi", "--db", db, "--trunk", "IAX2/*", "--format", "csv")
	if err != nil || !strings.Contains(stderr, "no calls match (trunk IAX2/*)") || !strings.Contains(out, "# KPI") {
		t.Errorf("no calls on the trunk: err %v, stderr %q, stdout %q", err, stderr, out)
	}
	// Calls match, but none stayed in a queue: an empty report, no note.
	out, stderr, err = calltrail(t, "report", "queues", "--db", db, "--party", "1040")
	if err != nil || stderr != "" || !strings.HasPrefix(out, "Queues\n") {
		t.Errorf("no queue calls: err %v, stderr %q, stdout %q", err, stderr, out)
	}
}

func TestReportCSV(t *testing.T) {
	db := testDB(t, "S08", "S09")
	out := mustRun(t, "report", "agents", "--db", db, "--format", "csv")
	// 1004 rang out twice; 1005 answered S08 and was cut short on S09.
	for _, line := range []string{"# Agents", "1004,support,2,0,2,0,", "1005,support,2,1,0,1,"} {
		if !strings.Contains(out, line) {
			t.Errorf("csv has no %q:\n%s", line, out)
		}
	}
}

// Mistakes give one line, and usage mistakes exit with status 2.
func TestReportErrors(t *testing.T) {
	db := testDB(t, "S08")
	missing := filepath.Join(t.TempDir(), "nothing.db")
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"report", "queue", "--db", db}, true, `report: unknown report "queue" (want queues, agents, causes, kpi or quality)`},
		{[]string{"report", "kpi", "--db", "nosuch:x"}, true, `report: --db: DSN scheme "nosuch" unknown`},
		{[]string{"report", "kpi", "--db", "postgres://u:secret@[::1"}, true, "report: --db: postgres DSN: malformed URL"},
		{[]string{"report", "kpi", "--db", "sqlite:" + missing}, false, "report: --db: " + missing + " does not exist"},
		{[]string{"report", "kpi", "--db", db, "--from", "22.11.2026"}, true, `report: --from: time "22.11.2026": want RFC 3339`},
		{[]string{"report", "kpi", "--db", db, "--to", "2026-11-22 25:00"}, true, "report: --to: time"},
		{[]string{"report", "kpi", "--db", db, "--from", "2026-11-23", "--to", "2026-11-22 10:00"}, true, "report: --to 2026-11-22 10:00 is not after --from 2026-11-23"},
		{[]string{"report", "kpi", "--db", db, "--tz", "Mars/Olympus"}, true, `report: --tz "Mars/Olympus": unknown time zone`},
		{[]string{"report", "kpi", "--db", db, "--format", "xml"}, true, `report: unknown --format "xml"`},
		{[]string{"report", "kpi", "--db", db, "--interval", "week"}, true, `report: unknown --interval "week"`},
		{[]string{"report", "kpi", "--db", db, "--sl", "-5s"}, true, `report: --sl "-5s": must be positive`},
		{[]string{"report", "kpi", "--db", db, "--lang", "xx"}, true, `report: unknown --lang "xx"`},
		{[]string{"report", "kpi", "--db", db, "--trunk", "SIP/[a"}, true, `report: --trunk "SIP/[a": malformed pattern`},
		{[]string{"report", "kpi", "extra", "--db", db}, true, `report: unexpected argument "extra"`},
		{[]string{"report", "kpi", "--db", db, "--html", "x.html"}, true, "report: --html writes every report: give no report name"},
	} {
		stdout, stderr, err := calltrail(t, tc.args...)
		name := strings.Join(tc.args, " ")
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line starting %q", name, msg, tc.want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
		if code, want := exitCode(err), map[bool]int{true: 2, false: 1}[tc.usage]; code != want {
			t.Errorf("%s: exit status %d, want %d", name, code, want)
		}
		if stdout != "" || stderr != "" {
			t.Errorf("%s: wrote stdout %q, stderr %q besides the error", name, stdout, stderr)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("report created the missing database %s", missing)
	}
}

func TestParseTime(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	for _, tc := range []struct {
		in   string
		end  bool
		want time.Time
	}{
		{"2026-11-22T10:00:00Z", false, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)},
		{"2026-11-22T10:00:00.5+01:00", false, time.Date(2026, 11, 22, 9, 0, 0, 5e8, time.UTC)},
		{"2026-11-22", false, time.Date(2026, 11, 22, 0, 0, 0, 0, msk)},
		{"2026-11-22", true, time.Date(2026, 11, 23, 0, 0, 0, 0, msk)},
		{"2026-11-22 10:00", false, time.Date(2026, 11, 22, 10, 0, 0, 0, msk)},
		{"2026-11-22 10:00", true, time.Date(2026, 11, 22, 10, 0, 0, 0, msk)},
		{"2026-11-22 10:00:30", false, time.Date(2026, 11, 22, 10, 0, 30, 0, msk)},
		{"2026-11-22T10:00", false, time.Date(2026, 11, 22, 10, 0, 0, 0, msk)},
	} {
		got, err := parseTime(tc.in, msk, tc.end)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q, end %v) = %v, %v; want %v", tc.in, tc.end, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "today", "2026-13-01", "22/11/2026", "2026-11-22 10"} {
		if _, err := parseTime(bad, msk, false); err == nil {
			t.Errorf("parseTime(%q): no error", bad)
		}
	}
}

// The HTML report holds every report and, as images, the diagrams of the
// calls with a transfer: S06 (attended), S07 (blind) and S22's
// conference, drawn once for its four calls.
func TestReportHTML(t *testing.T) {
	db := testDB(t, "S06", "S07", "S08", "S22")
	file := filepath.Join(t.TempDir(), "report.html")
	if out := mustRun(t, "report", "--html", file, "--db", db); out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, s := range []string{"<h2>KPI</h2>", "<h2>Queues</h2>", "<h2>Transfers (3)</h2>"} {
		if !strings.Contains(page, s) {
			t.Errorf("page has no %q", s)
		}
	}
	imgs := regexp.MustCompile(`src="data:image/svg\+xml;base64,([^"]+)"`).FindAllStringSubmatch(page, -1)
	var titles []string
	for _, m := range imgs {
		svg, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatal(err)
		}
		title := regexp.MustCompile(`<title>([^<]*)</title>`).FindSubmatch(svg)
		if !bytes.HasPrefix(svg, []byte("<svg")) || title == nil {
			t.Fatalf("embedded image is not a titled SVG: %.80s", svg)
		}
		titles = append(titles, string(title[1]))
	}
	want := []string{"call 1795333566.12", "call 1795333590.16", "call 1795336314.28, 1795336314.31, 1795336315.33, 1795336323.35"}
	if got := strings.Join(titles, " | "); got != strings.Join(want, " | ") {
		t.Errorf("diagrams = %s\nwant       %s", got, strings.Join(want, " | "))
	}
	if !strings.HasSuffix(page, "</body>\n</html>\n") {
		t.Errorf("page does not end the document: %q", page[max(0, len(page)-40):])
	}
}

// A long period can hold thousands of transfers: the page draws the
// first maxHTMLDiagrams and says so.
func TestReportHTMLManyTransfers(t *testing.T) {
	var calls []*callgraph.Call
	for i := range maxHTMLDiagrams + 2 {
		c := golden(t, "S06")[0]
		shiftCall(t, c, time.Duration(i)*time.Minute)
		calls = append(calls, c)
	}
	db := testDB(t)
	saveCalls(t, db, store.Options{}, calls)
	file := filepath.Join(t.TempDir(), "report.html")
	mustRun(t, "report", "--html", file, "--db", db)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	head := fmt.Sprintf("<h2>Transfers (%d)</h2>\n<p class=\"note\">The first %d;", maxHTMLDiagrams+2, maxHTMLDiagrams)
	if !strings.Contains(page, head) {
		t.Errorf("page has no %q", head)
	}
	if n := strings.Count(page, "<img "); n != maxHTMLDiagrams {
		t.Errorf("%d diagrams, want %d", n, maxHTMLDiagrams)
	}
	if !strings.Contains(page, `alt="call 1795333566.12"`) || strings.Contains(page, fmt.Sprintf(`alt="call %d.12"`, 1795333566+60*maxHTMLDiagrams)) {
		t.Error("the diagrams drawn are not the first ones")
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	if p := newProgress(&buf); p.w != nil {
		t.Fatal("progress on a writer that is not a terminal")
	}
	p := &progress{w: &buf}
	for range 600 {
		p.add()
	}
	p.done()
	// The first count goes out at 256; the next is due 100 ms later.
	if got, want := buf.String(), "\r256 calls\r\x1b[K"; got != want {
		t.Errorf("progress wrote %q, want %q", got, want)
	}
	buf.Reset()
	p = &progress{w: &buf}
	for range 255 {
		p.add()
	}
	p.done()
	if buf.Len() != 0 {
		t.Errorf("a short run wrote %q", buf.String())
	}
}

// The same report against PostgreSQL, with tables of its own. It runs
// wherever a server answers on 127.0.0.1:5432, and always in CI.
func TestReportPostgres(t *testing.T) {
	dsn := os.Getenv("CALLTRAIL_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL unreachable (%v); CI runs this", err)
		}
		t.Fatalf("PostgreSQL: %v", err)
	}
	prefix := fmt.Sprintf("rep%08x_", rand.Uint32())
	t.Cleanup(func() {
		dropTables(t, conn, prefix)
		conn.Close(context.Background())
	})
	saveCalls(t, dsn, store.Options{TablePrefix: prefix}, golden(t, "S08", "S09"))

	out := mustRun(t, "report", "queues", "--db", dsn, "--table-prefix", prefix,
		"--sl", "6s", "--interval", "hour", "--tz", "UTC", "--from", "2026-11-22", "--to", "2026-11-22")
	want := strings.TrimSuffix(strings.TrimPrefix(docExample(t, "text"), "```\n"), "```")
	if out != want {
		t.Errorf("report queues on PostgreSQL:\n%s\nwant (docs/reports.md):\n%s", out, want)
	}
}

// dropTables drops the tables whose names start with prefix.
func dropTables(t *testing.T, conn *pgx.Conn, prefix string) {
	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
	if err != nil {
		t.Errorf("list tables: %v", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Errorf("list tables: %v", err)
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			if _, err := conn.Exec(ctx, "DROP TABLE "+pgx.Identifier{n}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("drop %s: %v", n, err)
			}
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
	"github.com/calltrail/calltrail/reports"
	"github.com/calltrail/calltrail/reports/callflow"
)

// goldenDiagram reads one of reports/callflow's golden diagrams.
func goldenDiagram(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "reports", "callflow", "testdata", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A stored call comes out of the database drawn exactly as callflow draws
// its golden record, in every format.
func TestDiagram(t *testing.T) {
	db := testDB(t, "S06", "S08", "S21")
	for _, tc := range []struct {
		call, format, golden string
		args                 []string
	}{
		{"1795333566.12", "svg", "S06-1795333566.12.svg", nil},
		{"1795333566.12", "dot", "S06-1795333566.12.dot", nil},
		{"1795333566.12", "mermaid", "S06-1795333566.12.mmd", []string{"--server", "lab"}},
		{"1795333566.12", "gantt", "S06-1795333566.12.gantt.mmd", nil},
		{"1795333612.20", "svg", "S08-1795333612.20.svg", []string{"--server", "lab"}},
	} {
		args := append([]string{"diagram", "--db", db, "--call", tc.call, "--format", tc.format}, tc.args...)
		if got, want := mustRun(t, args...), goldenDiagram(t, tc.golden); got != want {
			t.Errorf("calltrail %s differs from %s:\n%s", strings.Join(args, " "), tc.golden, got)
		}
	}
	out := filepath.Join(t.TempDir(), "s06.svg")
	if stdout := mustRun(t, "diagram", "--db", db, "--call", "1795333566.12", "--out", out); stdout != "" {
		t.Errorf("--out: stdout %q", stdout)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != goldenDiagram(t, "S06-1795333566.12.svg") {
		t.Errorf("--out wrote %d bytes (%v), not the golden SVG", len(b), err)
	}
}

// A call in a conference is drawn with every call that joined the same
// session of the room, and not with the calls that used the room an
// hour later.
func TestDiagramConference(t *testing.T) {
	s22 := golden(t, "S22")
	later := golden(t, "S22")
	for _, c := range later {
		shiftCall(t, c, 50*time.Minute)
	}
	db := testDB(t)
	saveCalls(t, db, store.Options{}, append(slices.Clone(s22), later...))

	byStart := slices.Clone(s22)
	slices.SortStableFunc(byStart, func(a, b *callgraph.Call) int { return a.Start.Compare(b.Start.Time) })
	var want bytes.Buffer
	if err := callflow.Build(reports.DefaultOptions(), byStart...).SVG(&want); err != nil {
		t.Fatal(err)
	}
	for _, c := range s22 {
		if got := mustRun(t, "diagram", "--db", db, "--call", c.ID); got != want.String() {
			t.Errorf("diagram of %s is not the diagram of S22's four calls:\n%.300s", c.ID, got)
		}
	}
	got := mustRun(t, "diagram", "--db", db, "--call", later[0].ID, "--format", "mermaid")
	if !strings.Contains(got, "title: call 1795339314.28, 1795339314.31, 1795339315.33, 1795339323.35\n") {
		t.Errorf("diagram of the later session:\n%s", got)
	}
}

// shiftCall moves every time of a call by d, its id too, as if the same
// thing happened again later.
func shiftCall(t *testing.T, c *callgraph.Call, d time.Duration) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	b = timeRE.ReplaceAllFunc(b, func(m []byte) []byte {
		at, err := time.Parse(time.RFC3339Nano, string(m[1:len(m)-1]))
		if err != nil {
			t.Fatal(err)
		}
		return []byte(`"` + at.Add(d).Format(time.RFC3339Nano) + `"`)
	})
	*c = callgraph.Call{}
	if err := json.Unmarshal(b, c); err != nil {
		t.Fatal(err)
	}
	secs, seq, _ := strings.Cut(c.ID, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	c.ID = fmt.Sprintf("%d.%s", n+int64(d/time.Second), seq)
}

var timeRE = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+Z"`)

func TestGroupConferences(t *testing.T) {
	s22 := golden(t, "S22")
	later := golden(t, "S22")
	for _, c := range later {
		shiftCall(t, c, 50*time.Minute)
	}
	all := append(append(golden(t, "S06"), s22...), later...)
	var got []string
	for _, g := range callflow.Group(all) {
		var ids []string
		for _, c := range g {
			ids = append(ids, c.ID)
		}
		got = append(got, strings.Join(ids, " "))
	}
	want := []string{
		"1795333566.12",
		"1795336315.33 1795336323.35 1795336314.28 1795336314.31",
		"1795339315.33 1795339323.35 1795339314.28 1795339314.31",
	}
	if !slices.Equal(got, want) {
		t.Errorf("groups:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDiagramErrors(t *testing.T) {
	db := testDB(t, "S06")
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"diagram", "--db", db}, true, "diagram: no --call given"},
		{[]string{"diagram", "--db", db, "--call", "1795333566.12", "--format", "png"}, true, `diagram: unknown --format "png"`},
		{[]string{"diagram", "--db", db, "--call", "1795333566.12", "--server", "other"}, false, "diagram: call 1795333566.12 not found on server other"},
		{[]string{"diagram", "--db", db, "--call", "1795333566.99"}, false, "diagram: call 1795333566.99 not found"},
		{[]string{"diagram", "--db", db, "--call", "abc"}, true, `diagram: call id "abc" holds no time: name its --server`},
		{[]string{"diagram", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db"), "--call", "1.2"}, false, "diagram: --db: "},
		{[]string{"diagram", "--db", db, "--call", "1795333566.12", "S06"}, true, `diagram: unexpected argument "S06"`},
	} {
		stdout, _, err := calltrail(t, tc.args...)
		name := strings.Join(tc.args, " ")
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line starting %q", name, msg, tc.want)
		}
		if code, want := exitCode(err), map[bool]int{true: 2, false: 1}[tc.usage]; code != want {
			t.Errorf("%s: exit status %d, want %d", name, code, want)
		}
		if stdout != "" {
			t.Errorf("%s: wrote %q", name, stdout)
		}
	}
}

// replay --diagram draws every call it prints, a conference's calls
// together, and prints the same records as without it.
func TestReplayDiagram(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "diagrams")
	captures := []string{
		filepath.Join("..", "..", "testdata", "asterisk20", "S06", "ami.log"),
		filepath.Join("..", "..", "testdata", "asterisk20", "S22", "ami.log"),
	}
	plain := mustRun(t, append([]string{"replay"}, captures...)...)
	drawn := mustRun(t, append([]string{"replay", "--diagram", dir, "--diagram-format", "svg,mermaid,dot,gantt"}, captures...)...)
	if drawn != plain {
		t.Error("replay --diagram printed other records than replay")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var want []string
	for _, id := range []string{"1795333566.12", "1795336314.28", "1795336314.31", "1795336315.33", "1795336323.35"} {
		want = append(want, id+".dot", id+".gantt.mmd", id+".mmd", id+".svg")
	}
	if !slices.Equal(names, want) {
		t.Errorf("files:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// Mermaid and DOT carry no sub-millisecond times: they match the
	// golden files, drawn from the records (which keep milliseconds).
	for _, ext := range []string{".mmd", ".dot"} {
		if read("1795333566.12"+ext) != goldenDiagram(t, "S06-1795333566.12"+ext) {
			t.Errorf("S06 %s differs from callflow's golden file", ext)
		}
		conf := goldenDiagram(t, "S22-1795336315.33"+ext)
		for _, id := range []string{"1795336314.28", "1795336314.31", "1795336315.33", "1795336323.35"} {
			if read(id+ext) != conf {
				t.Errorf("S22 %s%s is not the conference's golden diagram", id, ext)
			}
		}
	}
	// The SVG and the Gantt chart are drawn from the engine's own times
	// (microseconds): compare them with the calls replayed here.
	var s06, s22 collector
	for i, c := range []*collector{&s06, &s22} {
		if _, err := replayFile(t.Context(), captures[i], "asterisk", c); err != nil {
			t.Fatal(err)
		}
	}
	draw := func(format string, calls ...*callgraph.Call) string {
		var b bytes.Buffer
		if err := renderFlow(&b, callflow.Build(reports.DefaultOptions(), calls...), format); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for format, ext := range map[string]string{"svg": ".svg", "gantt": ".gantt.mmd"} {
		if read("1795333566.12"+ext) != draw(format, s06...) {
			t.Errorf("S06 %s is not the call's diagram", ext)
		}
		conf := draw(format, s22...)
		for _, c := range s22 {
			if read(c.ID+ext) != conf {
				t.Errorf("S22 %s%s is not the conference's diagram", c.ID, ext)
			}
		}
	}

	_, _, err = calltrail(t, "replay", "--diagram", dir, "--diagram-format", "svg,png", captures[0])
	if err == nil || err.Error() != `replay: --diagram-format: unknown diagram format "png" (want svg, dot, mermaid or gantt)` || exitCode(err) != 2 {
		t.Errorf("--diagram-format png: %v", err)
	}
}

// A collector keeps the calls it is given.
type collector []*callgraph.Call

func (c *collector) Print(call *callgraph.Call) error { *c = append(*c, call); return nil }
func (c *collector) Close() error                     { return nil }

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"1795333566.12":       "1795333566.12",
		"pbx-1-1795333566.12": "pbx-1-1795333566.12",
		"../../etc/passwd":    ".._.._etc_passwd",
		"..":                  "___",
		"a b/c\\d:e":          "a_b_c_d_e",
		"":                    "_",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

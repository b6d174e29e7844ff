package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
)

// testRater prices with billing's test plan (billing/testdata/rates.yaml).
func testRater(t testing.TB, cfg billing.Config) *billing.Rater {
	t.Helper()
	rates, err := billing.LoadRates(filepath.Join("..", "..", "billing", "testdata", "rates.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := billing.NewRater(rates, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ratedDB stores the golden records of the captures, priced by r, in a
// new SQLite file, and returns its DSN and the calls.
func ratedDB(t testing.TB, r *billing.Rater, scenarios ...string) (string, []*callgraph.Call) {
	t.Helper()
	return storeRated(t, r, golden(t, scenarios...))
}

func storeRated(t testing.TB, r *billing.Rater, calls []*callgraph.Call) (string, []*callgraph.Call) {
	t.Helper()
	for _, c := range calls {
		c.Billing = r.Rate(c)
	}
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "calls.db")
	saveCalls(t, dsn, store.Options{}, calls)
	return dsn, calls
}

// everyLeg bills every leg, splitting transferred trunk legs by talk:
// many records per call, several per leg.
func everyLeg() billing.Config {
	cfg := billing.DefaultConfig()
	cfg.Legs, cfg.Attribution = billing.BillAll, billing.Segments
	cfg.Trunks = []string{"SIP/trunk"}
	cfg.DefaultAccount = "house"
	return cfg
}

func trunksOnly() billing.Config {
	cfg := billing.DefaultConfig()
	cfg.Trunks = []string{"SIP/trunk"}
	return cfg
}

var allScenarios = []string{"S01", "S02", "S05", "S06b", "S08", "S10", "S11", "S13", "S14", "S22", "S23", "P04"}

func callsIn(t *testing.T, dsn string) []*callgraph.Call {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	calls, err := st.Calls(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// JSON lines are the call records, exactly: each line decodes to the
// stored call and is what replay would print for it.
func TestExportJSONLinesRoundTrip(t *testing.T) {
	dsn, _ := ratedDB(t, testRater(t, everyLeg()), allScenarios...)
	out, stderr, err := calltrail(t, "export", "--db", dsn, "--format", "jsonl")
	if err != nil || stderr != "" {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	want := callsIn(t, dsn)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(want) || len(want) < 20 {
		t.Fatalf("%d lines for %d stored calls", len(lines), len(want))
	}
	for i, line := range lines {
		var got callgraph.Call
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(&got, want[i]) {
			t.Fatalf("line %d decodes to a call other than the stored %s:\n%s", i+1, want[i].ID, line)
		}
		var b bytes.Buffer
		p := newJSONPrinter(&b)
		p.Print(want[i])
		p.Close()
		if b.String() != line+"\n" {
			t.Fatalf("line %d is not the record replay prints:\n got %s\nwant %s", i+1, line, b.String())
		}
	}

	// --out writes the same, to a file that appears once complete.
	file := filepath.Join(t.TempDir(), "calls.jsonl")
	mustRun(t, "export", "--db", dsn, "--format", "jsonl", "--out", file)
	data, err := os.ReadFile(file)
	if err != nil || string(data) != out {
		t.Errorf("--out wrote %d bytes (%v), stdout %d", len(data), err, len(out))
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// The CSV export reads back into exactly the stored billing records.
func TestExportCSVRoundTrip(t *testing.T) {
	calls := golden(t, allScenarios...)
	// S01's 1001 dials Berlin, which the plan does not price.
	calls[0].Legs[0].Dialed = "0114930123456"
	dsn, _ := storeRated(t, testRater(t, everyLeg()), calls)
	out := mustRun(t, "export", "--db", dsn, "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], billingCSVHeader) {
		t.Fatalf("header %q", rows[0])
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	type key struct{ server, id string }
	got := map[key][]callgraph.Billing{}
	for _, r := range rows[1:] {
		f := func(name string) string { return r[col[name]] }
		num := func(name string) int64 {
			n, err := strconv.ParseInt(f(name), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", name, f(name), err)
			}
			return n
		}
		billsec, err := strconv.ParseFloat(f("billsec"), 64)
		if err != nil {
			t.Fatal(err)
		}
		k := key{f("server"), f("call_id")}
		got[k] = append(got[k], callgraph.Billing{
			Leg: f("leg"), Party: f("party"), Account: f("account"), Billsec: callgraph.Seconds(billsec),
			BilledSeconds: num("billed_seconds"), Destination: f("destination"), Cost: f("cost"),
			Currency: f("currency"), Plan: f("plan"), Row: f("rate_row"), Increment: f("increment"),
			Units: num("units"), Error: f("error"),
		})
	}
	records, unpriced, split := 0, 0, 0
	for _, c := range callsIn(t, dsn) {
		g := got[key{c.Server, c.ID}]
		if !slices.Equal(g, c.Billing) {
			t.Errorf("call %s: CSV reads back\n%+v\nstored\n%+v", c.ID, g, c.Billing)
		}
		legs := map[string]int{}
		for _, b := range c.Billing {
			legs[b.Leg]++
			if b.Error != "" {
				unpriced++
			}
		}
		for _, n := range legs {
			if n > 1 {
				split++
			}
		}
		records += len(c.Billing)
		delete(got, key{c.Server, c.ID})
	}
	if len(got) != 0 {
		t.Errorf("rows of calls not stored: %v", got)
	}
	// The test is only as good as what it covers.
	if records != len(rows)-1 || records < 40 || unpriced == 0 || split == 0 {
		t.Errorf("%d records in %d rows, %d unpriced, %d legs split: the data misses a case", records, len(rows)-1, unpriced, split)
	}

	// The billed leg's columns: S23's trunk leg, paid by 1026 and 1029.
	for _, r := range rows[1:] {
		if r[col["leg"]] == "1795336341.37" && r[col["party"]] == "1029" {
			want := []string{"lab", "1795336341.36", "2026-11-22T08:32:21.147Z", "1795336341.37", "SIP/trunk-00000023", "callee", "ANSWERED",
				"2026-11-22T08:32:24.753Z", "2026-11-22T08:32:41.473Z", "1029", "house", "+12125557788", "5.706", "6", "1", "12/6",
				"0.0036", "EUR", "retail", "+1212555 New York local: 0.036/min, connect 0.01", ""}
			if !slices.Equal(r, want) {
				t.Errorf("S23's second share:\n got %q\nwant %q", r, want)
			}
		}
	}

	// --account keeps that account's records only.
	only := mustRun(t, "export", "--db", dsn, "--format", "csv", "--account", "acme-cdr")
	rows, err = csv.NewReader(strings.NewReader(only)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("--account acme-cdr: %d rows", len(rows))
	}
	for _, r := range rows[1:] {
		if r[col["account"]] != "acme-cdr" {
			t.Errorf("--account acme-cdr wrote a record of %q", r[col["account"]])
		}
	}
}

// masterFields splits a Master.csv line into its fields and how each is
// written: q quoted, n a bare number, e bare and empty (a time Asterisk
// did not have).
func masterFields(t *testing.T, line string) (fields []string, kinds string) {
	t.Helper()
	for len(line) > 0 {
		if line[0] == '"' {
			var b strings.Builder
			i := 1
			for ; i < len(line); i++ {
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i++
						continue
					}
					break
				}
				b.WriteByte(line[i])
			}
			fields, kinds = append(fields, b.String()), kinds+"q"
			line = line[i+1:]
		} else {
			end := strings.IndexByte(line, ',')
			if end < 0 {
				end = len(line)
			}
			v := line[:end]
			if v == "" {
				kinds += "e"
			} else if _, err := strconv.Atoi(v); err == nil {
				kinds += "n"
			} else {
				t.Fatalf("bare field %q that is no number", v)
			}
			fields = append(fields, v)
			line = line[end:]
		}
		if line == "" {
			break
		}
		if line[0] != ',' {
			t.Fatalf("no comma after field %d: %q", len(fields), line)
		}
		line = line[1:]
		if line == "" { // a trailing comma: an empty last field
			fields, kinds = append(fields, ""), kinds+"e"
		}
	}
	return fields, kinds
}

func cdrLines(t *testing.T, scenario string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "asterisk20", scenario, "cdr.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// master-csv has the columns, quoting and time format of the Master.csv
// Asterisk wrote for the same calls, and calltrail's values in them.
func TestExportMasterCSVLayout(t *testing.T) {
	tests := []struct {
		scenario string
		cfg      billing.Config
		real     int      // the cdr.csv line of the same channels
		want     []string // calltrail's row
	}{
		{
			// S23: 1026 dials out; Asterisk's first row for the trunk
			// stops at the transfer (billsec 11); the trunk leg lasts
			// 16.720 s, paid by 1026, and runs until 1029 hangs up.
			"S23", trunksOnly(), 1,
			[]string{"", "1026", "5557788", "lab", `"Ext 1026" <1026>`, "SIP/1026-00000022", "SIP/trunk-00000023",
				"Dial", "trunk/5557788", "2026-11-22 08:32:21", "2026-11-22 08:32:24", "2026-11-22 08:32:41",
				"21", "17", "ANSWERED", "DOCUMENTATION", "1795336341.36", ""},
		},
		{
			// S11: a call in from the trunk, blind-transferred from
			// 1002 to 1003: one leg of 18.028 s, not two rows of 8 and
			// 10.
			"S11", trunksOnly(), 0,
			[]string{"", "+15551234567", "5550100", "from-trunk", `"External A" <+15551234567>`, "SIP/trunk-0000001d",
				"SIP/1002-0000001e", "Dial", "1002", "2026-11-22 07:47:45", "2026-11-22 07:47:47", "2026-11-22 07:48:05",
				"21", "19", "ANSWERED", "DOCUMENTATION", "1795333665.31", ""},
		},
		{
			// S02: no answer, every leg billed: the answer time is an
			// empty field, unquoted, as Asterisk writes it.
			"S02", everyLeg(), 0,
			[]string{"house", "1001", "2002", "lab", `"Ext 1001" <1001>`, "SIP/1001-00000002", "SIP/1002-00000003",
				"Dial", "1002", "2026-11-22 07:45:06", "", "2026-11-22 07:45:12", "7", "0", "NO ANSWER", "DOCUMENTATION",
				"1795333506.2", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			dsn, _ := ratedDB(t, testRater(t, tt.cfg), tt.scenario)
			out := mustRun(t, "export", "--db", dsn, "--format", "master-csv", "--tz", "UTC")
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			real := cdrLines(t, tt.scenario)
			wantFields, wantKinds := masterFields(t, real[tt.real])
			gotFields, gotKinds := masterFields(t, lines[0])
			if len(gotFields) != len(wantFields) || gotKinds != wantKinds {
				t.Errorf("layout differs from Asterisk's:\n got %s %q\nwant %s %q", gotKinds, gotFields, wantKinds, wantFields)
			}
			if !slices.Equal(gotFields, tt.want) {
				t.Errorf("row:\n got %q\nwant %q", gotFields, tt.want)
			}
			// Asterisk's and calltrail's agree on who and when it began.
			for _, c := range []int{5, 6, 9, 10, 15, 16} { // channel, dstchannel, start, answer, amaflags, uniqueid
				if gotFields[c] != wantFields[c] {
					t.Errorf("column %d: %q, Asterisk wrote %q", c+1, gotFields[c], wantFields[c])
				}
			}
			// encoding/csv reads it, as viewers' CSV readers do.
			if _, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil {
				t.Error(err)
			}
		})
	}

	// newcdrcolumns adds peeraccount, linkedid and sequence.
	dsn, _ := ratedDB(t, testRater(t, trunksOnly()), "S23")
	out := mustRun(t, "export", "--db", dsn, "--format", "master-csv", "--newcdrcolumns", "--tz", "UTC")
	f, kinds := masterFields(t, strings.TrimSuffix(out, "\n"))
	if len(f) != 21 || !strings.HasSuffix(kinds, "qqn") || f[19] != "1795336341.36" || f[20] != "0" {
		t.Errorf("with newcdrcolumns: %s %q", kinds, f)
	}
}

func TestExportUsage(t *testing.T) {
	dsn, _ := ratedDB(t, testRater(t, trunksOnly()), "S23")
	for _, args := range [][]string{
		{"--format", "xml"},
		{"--from", "yesterday"},
		{"--tz", "Mars/Olympus"},
		{"stray"},
	} {
		_, _, err := calltrail(t, append([]string{"export", "--db", dsn}, args...)...)
		if exitCode(err) != 2 {
			t.Errorf("export %q: %v, want a usage error", args, err)
		}
	}
	_, stderr, err := calltrail(t, "export", "--db", dsn, "--from", "2030-01-01")
	if err != nil || !strings.Contains(stderr, "no calls match") {
		t.Errorf("an empty period: %v, %q", err, stderr)
	}
	file := filepath.Join(t.TempDir(), "out.csv")
	if _, _, err := calltrail(t, "export", "--db", "sqlite:"+filepath.Join(t.TempDir(), "none.db"), "--out", file); err == nil {
		t.Error("export of a missing database succeeded")
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("a failed export left %s: %v", file, err)
	}
}

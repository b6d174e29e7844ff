package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/callgraph/callgraphtest"
	"github.com/calltrail/calltrail/internal/daemon"
	"github.com/calltrail/calltrail/internal/store"
	"github.com/calltrail/calltrail/reports"
	"github.com/shopspring/decimal"
)

const (
	readToken  = "read-secret"
	adminToken = "admin-secret"
)

// goldenCalls decodes every record of callgraph's golden files.
func goldenCalls(t *testing.T) []*callgraph.Call {
	t.Helper()
	files, err := filepath.Glob("../../callgraph/testdata/golden/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return callgraphtest.Load(t, files...)
}

// testStore is an SQLite store holding the golden calls and one account.
func testStore(t *testing.T) (*store.Store, []*callgraph.Call) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	calls := goldenCalls(t)
	if err := st.SaveCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAccount(ctx, store.NewAccount{Name: "acme", Currency: "EUR", Balance: decimal.RequireFromString("5")}); err != nil {
		t.Fatal(err)
	}
	return st, calls
}

func fakeStatus() daemon.Status {
	return daemon.Status{
		Sources: []daemon.SourceStatus{
			{ID: "pbx1", Connected: true, Events: 1234, Unplaced: 7, Calls: 56, OpenCalls: 3, OpenLegs: 5, Reconnects: 2,
				EventsByType:       map[string]int64{"Newchannel": 300, "Hangup": 290},
				CallsByDisposition: map[string]int64{"ANSWERED": 40, "NO ANSWER": 16}},
			{ID: "pbx2", Connected: false, Events: 10},
		},
		Writer:       store.WriterStatus{Waiting: 4, Saved: 50, Rejected: 2, Writes: writes(0.004, 0.03, 0.2)},
		Sent:         54,
		AGI:          agi.Stats{Sessions: 12, Active: 1, Failed: 2, Refused: 3, Bad: 4},
		JournalBytes: 65536,
	}
}

type fixture struct {
	h     http.Handler
	calls []*callgraph.Call
}

func newFixture(t *testing.T, status func() daemon.Status) fixture {
	t.Helper()
	st, calls := testStore(t)
	h, err := New(Options{Store: st, Status: status, ReadToken: readToken, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{h: h, calls: calls}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (f fixture) do(t *testing.T, method, target, token, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Header(), rec.Body.String()}
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// errorOf checks that r is a JSON error of status and returns its message.
func (r response) errorOf(t *testing.T, status int) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct{ Error string }
	r.decode(t, &e)
	if e.Error == "" {
		t.Errorf("body %s has no error", r.body)
	}
	return e.Error
}

func TestCallsPaging(t *testing.T) {
	f := newFixture(t, nil)
	var all []*callgraph.Call
	offset := 0
	for pages := 0; ; pages++ {
		if pages > len(f.calls) {
			t.Fatal("paging does not end")
		}
		r := f.do(t, "GET", "/api/v1/calls?limit=7&offset="+itoa(offset), readToken, "")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var page struct {
			Calls      []*callgraph.Call
			NextOffset *int `json:"next_offset"`
		}
		r.decode(t, &page)
		all = append(all, page.Calls...)
		if page.NextOffset == nil {
			break
		}
		if got, want := *page.NextOffset, offset+7; got != want {
			t.Fatalf("next_offset %d, want %d", got, want)
		}
		offset = *page.NextOffset
	}
	if got, want := len(all), len(f.calls); got != want {
		t.Fatalf("paged through %d calls, want %d", got, want)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Start.Before(all[i-1].Start.Time) {
			t.Fatalf("call %d starts before call %d", i, i-1)
		}
	}
}

func TestCallsFilter(t *testing.T) {
	f := newFixture(t, nil)
	want := 0
	for _, c := range f.calls {
		if c.Disposition == "NO ANSWER" {
			want++
		}
	}
	if want == 0 {
		t.Skip("no unanswered golden call")
	}
	r := f.do(t, "GET", "/api/v1/calls?disposition=NO+ANSWER&limit=1000", readToken, "")
	var page struct{ Calls []*callgraph.Call }
	r.decode(t, &page)
	if got := len(page.Calls); got != want {
		t.Errorf("got %d unanswered calls, want %d", got, want)
	}

	// A period that ends before the first call holds nothing; the answer
	// is still an array.
	r = f.do(t, "GET", "/api/v1/calls?from=2000-01-01&to=2000-01-02", readToken, "")
	if r.status != 200 || !strings.Contains(r.body, `"calls":[]`) || !strings.Contains(r.body, `"next_offset":null`) {
		t.Errorf("empty period: %d %s", r.status, r.body)
	}
}

func TestBadQueries(t *testing.T) {
	f := newFixture(t, nil)
	for target, param := range map[string]string{
		"/api/v1/calls?limit=1001":                                        "limit",
		"/api/v1/calls?limit=x":                                           "limit",
		"/api/v1/calls?limit=0":                                           "limit",
		"/api/v1/calls?offset=-1":                                         "offset",
		"/api/v1/calls?from=yesterday":                                    "from",
		"/api/v1/calls?to=2026-13-01":                                     "to",
		"/api/v1/calls?from=2026-11-22&to=2026-11-21":                     "to",
		"/api/v1/calls?tz=Mars/Olympus":                                   "tz",
		"/api/v1/reports/kpi?interval=week":                               "interval",
		"/api/v1/reports/queues?sl=soon":                                  "sl",
		"/api/v1/reports/causes?lang=xx":                                  "lang",
		"/api/v1/calls/lab/1795335493.4/diagram?format=png":               "format",
		"/api/v1/calls?cause=x":                                           "cause",
		"/api/v1/calls?cause=128":                                         "cause",
		"/api/v1/calls?cause=-1":                                          "cause",
		"/api/v1/calls?sip=99":                                            "sip",
		"/api/v1/calls?sip=700":                                           "sip",
		"/api/v1/calls?text=" + strings.Repeat("é", MaxText+1):            "text",
		"/api/v1/reports/causes?cause=busy":                               "cause",
		"/api/v1/calls/lab/1795335493.4/diagram?timeline=maybe":           "timeline",
		"/api/v1/calls/lab/1795335493.4/diagram?format=dot&timeline=true": "timeline",
		"/api/v1/calls/lab/1795335493.4/timeline?format=svg":              "format",
		"/api/v1/causes?lang=xx":                                          "lang",
	} {
		msg := f.do(t, "GET", target, readToken, "").errorOf(t, 400)
		if !strings.HasPrefix(msg, param+":") {
			t.Errorf("%s: error %q does not name %s", target, msg, param)
		}
	}
	msg := f.do(t, "POST", "/api/v1/accounts/acme/topup", adminToken, `{"amount": 0}`).errorOf(t, 400)
	if !strings.HasPrefix(msg, "amount:") {
		t.Errorf("zero top-up: error %q does not name amount", msg)
	}
	f.do(t, "POST", "/api/v1/accounts/acme/topup", adminToken, `{"amount": "1", "tip": 2}`).errorOf(t, 400)
	f.do(t, "POST", "/api/v1/accounts/acme/topup", adminToken, `not json`).errorOf(t, 400)
}

func TestCall(t *testing.T) {
	f := newFixture(t, nil)
	want := f.calls[0]
	r := f.do(t, "GET", "/api/v1/calls/"+want.Server+"/"+want.ID, readToken, "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got callgraph.Call
	r.decode(t, &got)
	if got.ID != want.ID || got.Server != want.Server || len(got.Legs) != len(want.Legs) || got.Disposition != want.Disposition {
		t.Errorf("got call %s/%s with %d legs (%s), want %s/%s with %d (%s)",
			got.Server, got.ID, len(got.Legs), got.Disposition, want.Server, want.ID, len(want.Legs), want.Disposition)
	}

	f.do(t, "GET", "/api/v1/calls/"+want.Server+"/no.such", readToken, "").errorOf(t, 404)
	f.do(t, "GET", "/api/v1/calls/nowhere/"+want.ID, readToken, "").errorOf(t, 404)
	f.do(t, "GET", "/api/v1/calls/nowhere/"+want.ID+"/diagram", readToken, "").errorOf(t, 404)
	f.do(t, "GET", "/api/v1/calls/nowhere/"+want.ID+"/timeline", readToken, "").errorOf(t, 404)
}

// TestCallsSearch: cause, sip and text select the calls a scan of the
// records finds, alone and with the other parameters.
func TestCallsSearch(t *testing.T) {
	f := newFixture(t, nil)
	hasLeg := func(pred func(*callgraph.Leg) bool) func(*callgraph.Call) bool {
		return func(c *callgraph.Call) bool { return slices.ContainsFunc(c.Legs, pred) }
	}
	contains := func(text string) func(*callgraph.Call) bool {
		text = strings.ToLower(text)
		in := func(v string) bool { return strings.Contains(strings.ToLower(v), text) }
		return func(c *callgraph.Call) bool {
			return in(c.ID) || slices.ContainsFunc(c.Legs, func(l *callgraph.Leg) bool {
				for _, v := range []string{l.ID, l.Party, l.Channel, l.CallerNum, l.CallerName, l.Dialed, l.Account} {
					if in(v) {
						return true
					}
				}
				for _, v := range l.Tags {
					if in(v) {
						return true
					}
				}
				return false
			})
		}
	}
	for _, tc := range []struct {
		query string
		want  func(*callgraph.Call) bool
	}{
		{"cause=17", hasLeg(func(l *callgraph.Leg) bool { return l.Cause == 17 })},
		{"cause=0", hasLeg(func(l *callgraph.Leg) bool { return l.Cause == 0 })},
		{"cause=26&disposition=ANSWERED", func(c *callgraph.Call) bool {
			return c.Disposition == "ANSWERED" && hasLeg(func(l *callgraph.Leg) bool { return l.Cause == 26 })(c)
		}},
		{"sip=486", hasLeg(func(l *callgraph.Leg) bool { return l.SIPCode != nil && *l.SIPCode == 486 })},
		{"sip=404&cause=1", func(c *callgraph.Call) bool { // each on a leg of its own
			return hasLeg(func(l *callgraph.Leg) bool { return l.SIPCode != nil && *l.SIPCode == 404 })(c) &&
				hasLeg(func(l *callgraph.Leg) bool { return l.Cause == 1 })(c)
		}},
		{"text=1003", contains("1003")},
		{"text=sip%2F1002-", contains("SIP/1002-")},
		{"text=+ext+1001+", contains("Ext 1001")},
		{"text=1021&cause=17", func(c *callgraph.Call) bool {
			return contains("1021")(c) && hasLeg(func(l *callgraph.Leg) bool { return l.Cause == 17 })(c)
		}},
	} {
		want := 0
		for _, c := range f.calls {
			if tc.want(c) {
				want++
			}
		}
		if want == 0 || want == len(f.calls) {
			t.Fatalf("%s: %d of %d golden calls match: the case tells nothing", tc.query, want, len(f.calls))
		}
		r := f.do(t, "GET", "/api/v1/calls?limit=1000&"+tc.query, readToken, "")
		if r.status != 200 {
			t.Fatalf("%s: status %d: %s", tc.query, r.status, r.body)
		}
		var page struct{ Calls []*callgraph.Call }
		r.decode(t, &page)
		for _, c := range page.Calls {
			if !tc.want(c) {
				t.Errorf("%s: call %s/%s does not match", tc.query, c.Server, c.ID)
			}
		}
		if got := len(page.Calls); got != want {
			t.Errorf("%s: got %d calls, want %d", tc.query, got, want)
		}
	}
}

func TestTimeline(t *testing.T) {
	f := newFixture(t, nil)
	var transfer *callgraph.Call
	for _, c := range f.calls {
		if slices.ContainsFunc(c.Connections, func(x callgraph.Connection) bool { return x.Kind == callgraph.KindBlindTransfer }) {
			transfer = c
			break
		}
	}
	if transfer == nil {
		t.Fatal("no blind transfer among the golden calls")
	}
	base := "/api/v1/calls/" + transfer.Server + "/" + transfer.ID + "/timeline"
	r := f.do(t, "GET", base, readToken, "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var tl timelineJSON
	r.decode(t, &tl)
	if tl.Call != transfer.ID || tl.Server != transfer.Server {
		t.Errorf("timeline of %s/%s, want %s/%s", tl.Server, tl.Call, transfer.Server, transfer.ID)
	}
	if got, want := len(tl.Lanes), len(transfer.Legs); got != want {
		t.Fatalf("%d lanes, want one per leg: %d", got, want)
	}
	kinds := map[string]int{}
	for _, lane := range tl.Lanes {
		i := slices.IndexFunc(transfer.Legs, func(l *callgraph.Leg) bool { return l.ID == lane.Leg })
		if i < 0 {
			t.Errorf("lane of unknown leg %s", lane.Leg)
			continue
		}
		if l := transfer.Legs[i]; lane.Party != l.Party || lane.Role != l.Role || lane.Channel != l.Channel {
			t.Errorf("lane %s is %s/%s/%s, want %s/%s/%s", lane.Leg, lane.Party, lane.Role, lane.Channel, l.Party, l.Role, l.Channel)
		}
		for _, b := range lane.Bars {
			kinds[b.Kind]++
			if b.From.Before(tl.Start.Time) || b.To.After(tl.End.Time) || b.To.Before(b.From.Time) {
				t.Errorf("lane %s: bar %s %v–%v outside the call %v–%v", lane.Leg, b.Kind, b.From, b.To, tl.Start, tl.End)
			}
			if got, want := b.Seconds, callgraph.Dur(b.To.Sub(b.From.Time)); got != want {
				t.Errorf("lane %s: bar %s of %v s, want %v", lane.Leg, b.Kind, got, want)
			}
		}
	}
	if kinds["ring"] == 0 || kinds["talk"] == 0 {
		t.Errorf("bars %v: want ringing and talk", kinds)
	}

	r = f.do(t, "GET", base+"?format=mermaid", readToken, "")
	if r.status != 200 || !strings.HasPrefix(r.body, "gantt\n") || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("mermaid: %d %q %.100s", r.status, r.header.Get("Content-Type"), r.body)
	}
}

func TestCauses(t *testing.T) {
	f := newFixture(t, nil)
	byLang := map[string]causesJSON{}
	for _, lang := range []string{"", "en", "ru"} {
		r := f.do(t, "GET", "/api/v1/causes?lang="+lang, readToken, "")
		if r.status != 200 {
			t.Fatalf("lang %q: status %d: %s", lang, r.status, r.body)
		}
		var cs causesJSON
		r.decode(t, &cs)
		byLang[lang] = cs
		for _, tc := range []struct {
			list       []causeJSON
			code       int
			name, text string
		}{
			{cs.Q850, 16, "NORMAL_CLEARING", "Normal Clearing"},
			{cs.Q850, 17, "USER_BUSY", "User busy"},
			{cs.SIP, 486, "", "Busy Here"},
			{cs.SIP, 603, "", "Decline"},
		} {
			i := slices.IndexFunc(tc.list, func(c causeJSON) bool { return c.Code == tc.code })
			if i < 0 {
				t.Errorf("lang %q: no code %d", lang, tc.code)
				continue
			}
			c := tc.list[i]
			if c.Name != tc.name || c.Text != tc.text || c.Explanation.Meaning == "" || c.Explanation.Check == "" {
				t.Errorf("lang %q: code %d is %+v, want %s %q with an explanation", lang, tc.code, c, tc.name, tc.text)
			}
		}
	}
	if byLang[""].Language != "en" || byLang["ru"].Language != "ru" {
		t.Errorf("languages %q, %q", byLang[""].Language, byLang["ru"].Language)
	}
	if byLang["en"].Q850[0].Explanation == byLang["ru"].Q850[0].Explanation {
		t.Error("the Russian explanations are the English ones")
	}
}

func TestDiagram(t *testing.T) {
	f := newFixture(t, nil)
	c := f.calls[0]
	base := "/api/v1/calls/" + c.Server + "/" + c.ID + "/diagram"
	for _, tc := range []struct{ query, ct, start string }{
		{"", "image/svg+xml", "<svg"},
		{"?format=svg", "image/svg+xml", "<svg"},
		{"?format=dot", "text/vnd.graphviz; charset=utf-8", "digraph"},
		{"?format=mermaid", "text/plain; charset=utf-8", ""},
		{"?timeline=true", "image/svg+xml", ">timeline</text>"},
		{"?format=svg&timeline=false", "image/svg+xml", ">transfer, pickup</text>"},
		{"?format=dot&timeline=false", "text/vnd.graphviz; charset=utf-8", "digraph"},
	} {
		r := f.do(t, "GET", base+tc.query, readToken, "")
		if r.status != 200 {
			t.Errorf("%s: status %d: %s", tc.query, r.status, r.body)
			continue
		}
		if got := r.header.Get("Content-Type"); got != tc.ct {
			t.Errorf("%s: Content-Type %q, want %q", tc.query, got, tc.ct)
		}
		if !strings.Contains(r.body, tc.start) || r.body == "" {
			t.Errorf("%s: body does not hold %q: %.200s", tc.query, tc.start, r.body)
		}
		if strings.Contains(tc.query, "timeline=false") && strings.Contains(r.body, ">timeline</text>") {
			t.Errorf("%s: the diagram has a timeline", tc.query)
		}
	}
}

func TestReports(t *testing.T) {
	f := newFixture(t, nil)
	for _, name := range reports.Names {
		r := f.do(t, "GET", "/api/v1/reports/"+name+"?from=2000-01-01&interval=day&sl=20s&lang=en", readToken, "")
		if r.status != 200 {
			t.Errorf("%s: status %d: %s", name, r.status, r.body)
			continue
		}
		var v map[string]any
		r.decode(t, &v)
		if len(v) == 0 {
			t.Errorf("%s: empty report %s", name, r.body)
		}
	}
	f.do(t, "GET", "/api/v1/reports/bogus", readToken, "").errorOf(t, 404)
}

func TestAccounts(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do(t, "GET", "/api/v1/accounts", readToken, "")
	var list struct{ Accounts []accountJSON }
	r.decode(t, &list)
	if len(list.Accounts) != 1 || list.Accounts[0].Name != "acme" || !list.Accounts[0].Balance.Equal(decimal.NewFromInt(5)) {
		t.Fatalf("accounts: %s", r.body)
	}

	r = f.do(t, "GET", "/api/v1/accounts/acme", readToken, "")
	var a accountJSON
	r.decode(t, &a)
	if a.Available == nil || !a.Available.Equal(decimal.NewFromInt(5)) || a.Currency != "EUR" {
		t.Errorf("account: %s", r.body)
	}
	f.do(t, "GET", "/api/v1/accounts/nobody", readToken, "").errorOf(t, 404)

	r = f.do(t, "POST", "/api/v1/accounts/acme/topup", adminToken, `{"amount": "2.50", "note": "card"}`)
	if r.status != 200 {
		t.Fatalf("top-up: status %d: %s", r.status, r.body)
	}
	r.decode(t, &a)
	if got, want := a.Balance, decimal.RequireFromString("7.5"); !got.Equal(want) {
		t.Errorf("balance after top-up %s, want %s", got, want)
	}
	f.do(t, "POST", "/api/v1/accounts/nobody/topup", adminToken, `{"amount": 1}`).errorOf(t, 404)
}

func TestAuth(t *testing.T) {
	f := newFixture(t, fakeStatus)
	topup := `{"amount": "1"}`
	for _, tc := range []struct {
		method, target, token, body string
		want                        int
	}{
		{"GET", "/api/v1/calls", "", "", 401},
		{"GET", "/api/v1/calls", "wrong", "", 401},
		{"GET", "/api/v1/calls", readToken, "", 200},
		{"GET", "/api/v1/calls", adminToken, "", 200},
		{"GET", "/metrics", "", "", 401},
		{"GET", "/metrics", readToken, "", 200},
		{"GET", "/api/v1/openapi.json", "", "", 401},
		{"GET", "/api/v1/status", "", "", 401},
		{"POST", "/api/v1/accounts/acme/topup", "", topup, 401},
		{"POST", "/api/v1/accounts/acme/topup", "wrong", topup, 401},
		{"POST", "/api/v1/accounts/acme/topup", readToken, topup, 403},
		{"POST", "/api/v1/accounts/acme/topup", adminToken, topup, 200},
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 503}, // pbx2 is down
	} {
		r := f.do(t, tc.method, tc.target, tc.token, tc.body)
		if r.status != tc.want {
			t.Errorf("%s %s with token %q: status %d, want %d (%s)", tc.method, tc.target, tc.token, r.status, tc.want, r.body)
		}
		if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", tc.method, tc.target)
		}
	}
}

// TestOpen: without tokens reads need none, and top-ups are refused.
func TestOpen(t *testing.T) {
	st, _ := testStore(t)
	h, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{h: h}
	if r := f.do(t, "GET", "/api/v1/calls?limit=1", "", ""); r.status != 200 {
		t.Errorf("read without tokens: status %d", r.status)
	}
	f.do(t, "POST", "/api/v1/accounts/acme/topup", "", `{"amount": 1}`).errorOf(t, 401)
}

func TestNotFoundAndMethod(t *testing.T) {
	f := newFixture(t, nil)
	f.do(t, "GET", "/api/v1/nothing", readToken, "").errorOf(t, 404)
	r := f.do(t, "DELETE", "/api/v1/calls", readToken, "")
	r.errorOf(t, 405)
	if r.header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
	// Without a daemon there is no status.
	f.do(t, "GET", "/api/v1/status", readToken, "").errorOf(t, 404)
}

func TestStatus(t *testing.T) {
	f := newFixture(t, fakeStatus)
	r := f.do(t, "GET", "/api/v1/status", readToken, "")
	var st statusJSON
	r.decode(t, &st)
	if len(st.Sources) != 2 || st.Sources[0].Events != 1234 || st.Writer.Waiting != 4 || st.Sent != 54 {
		t.Errorf("status: %s", r.body)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, fakeStatus)
	r := f.do(t, "GET", "/metrics", readToken, "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	for _, line := range []string{
		`calltrail_events_handled_total{server="pbx1"} 1234`,
		`calltrail_events_unplaced_total{server="pbx1"} 7`,
		`calltrail_calls_completed_total{server="pbx1"} 56`,
		`calltrail_calls_in_flight{server="pbx1"} 3`,
		`calltrail_legs_in_flight{server="pbx1"} 5`,
		`calltrail_ami_connected{server="pbx1"} 1`,
		`calltrail_ami_connected{server="pbx2"} 0`,
		`calltrail_writer_queue_depth 4`,
		`calltrail_writer_saved_total 50`,
		`calltrail_writer_rejected_total 2`,
		`calltrail_database_unreachable 0`,
		`calltrail_calls_sent_total 54`,
		`calltrail_ami_reconnects_total{server="pbx1"} 2`,
		`calltrail_events_total{server="pbx1",type="Newchannel"} 300`,
		`calltrail_events_total{server="pbx1",type="Hangup"} 290`,
		`calltrail_calls_by_disposition_total{disposition="NO ANSWER",server="pbx1"} 16`,
		`calltrail_agi_sessions_total 12`,
		`calltrail_agi_sessions_active 1`,
		`calltrail_agi_errors_total{kind="handler"} 2`,
		`calltrail_agi_errors_total{kind="refused"} 3`,
		`calltrail_agi_errors_total{kind="bad"} 4`,
		`calltrail_journal_bytes 65536`,
		`calltrail_db_write_seconds_bucket{le="0.005"} 1`,
		`calltrail_db_write_seconds_bucket{le="0.05"} 2`,
		`calltrail_db_write_seconds_bucket{le="+Inf"} 3`,
		`calltrail_db_write_seconds_count 3`,
		`go_goroutines `,
	} {
		if !strings.Contains(r.body, "\n"+line) {
			t.Errorf("metrics lack %q", line)
		}
	}
}

// writes is the latency histogram of transactions that took these many
// seconds.
func writes(seconds ...float64) store.Latency {
	var l store.Latency
	for _, s := range seconds {
		l.Count++
		l.Sum += s
		for i, b := range store.WriteBuckets {
			if s <= b {
				l.Buckets[i]++
			}
		}
	}
	return l
}

func TestReadyz(t *testing.T) {
	up := func() daemon.Status {
		return daemon.Status{Sources: []daemon.SourceStatus{{ID: "pbx1", Connected: true}}}
	}
	f := newFixture(t, up)
	if r := f.do(t, "GET", "/readyz", "", ""); r.status != 200 {
		t.Errorf("all up: status %d: %s", r.status, r.body)
	}
	f = newFixture(t, fakeStatus)
	r := f.do(t, "GET", "/readyz", "", "")
	var v struct{ Status, Reason string }
	r.decode(t, &v)
	if r.status != 503 || !strings.Contains(v.Reason, "pbx2") || strings.Contains(v.Reason, "pbx1") {
		t.Errorf("pbx2 down: status %d, %s", r.status, r.body)
	}

	h, err := New(Options{Store: downStore{}, PingTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r = fixture{h: h}.do(t, "GET", "/readyz", "", "")
	r.decode(t, &v)
	if r.status != 503 || !strings.Contains(v.Reason, "database") {
		t.Errorf("database down: status %d, %s", r.status, r.body)
	}
}

// downStore is a database that does not answer.
type downStore struct{ Store }

func (downStore) Ping(context.Context) error { return errors.New("connection refused") }

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		o     Options
		allow bool
	}{
		{"127.0.0.1:8080", Options{}, true},
		{"[::1]:8080", Options{}, true},
		{"localhost:8080", Options{}, true},
		{":8080", Options{}, false},
		{"0.0.0.0:8080", Options{}, false},
		{"192.0.2.1:8080", Options{}, false},
		{"0.0.0.0:8080", Options{ReadToken: "x"}, true},
		{"0.0.0.0:8080", Options{AdminToken: "x"}, true},
	} {
		err := tc.o.CheckAddr(tc.addr)
		if (err == nil) != tc.allow {
			t.Errorf("CheckAddr(%q) with tokens %q/%q: %v, want allowed %v", tc.addr, tc.o.ReadToken, tc.o.AdminToken, err, tc.allow)
		}
		if err != nil && !errors.Is(err, ErrNoToken) {
			t.Errorf("CheckAddr(%q): %v is not ErrNoToken", tc.addr, err)
		}
	}
}

func TestOpenAPI(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do(t, "GET", "/api/v1/openapi.json", readToken, "")
	var doc struct {
		OpenAPI string
		Paths   map[string]any
	}
	r.decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for _, p := range []string{"/api/v1/calls", "/api/v1/calls/{server}/{id}", "/api/v1/calls/{server}/{id}/diagram", "/api/v1/reports/{name}", "/api/v1/accounts", "/api/v1/accounts/{name}", "/api/v1/accounts/{name}/topup", "/api/v1/rerate", "/api/v1/status",
		"/api/v1/calls/{server}/{id}/timeline", "/api/v1/causes", "/api/v1/live"} {
		if doc.Paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// brokenStore fails with an error that must not reach the client.
type brokenStore struct{ Store }

func (brokenStore) Calls(context.Context, store.Filter) ([]*callgraph.Call, error) {
	return nil, errors.New("dial tcp 10.0.0.5:5432: password authentication failed for user calltrail")
}

func TestInternalError(t *testing.T) {
	h, err := New(Options{Store: brokenStore{}, ReadToken: readToken})
	if err != nil {
		t.Fatal(err)
	}
	msg := fixture{h: h}.do(t, "GET", "/api/v1/calls", readToken, "").errorOf(t, 500)
	if msg != "internal error" {
		t.Errorf("500 says %q", msg)
	}
}

// The rate plan the rerate tests price every call with: every leg billed
// as outbound at 0.60 a minute, by the second.
const flatRates = `currency: EUR
rounding: {mode: half-up, decimals: 4}
default_plan: flat
plans:
  flat:
    outbound:
      - prefix: ""
        name: Everything
        price: 0.60
        increment: 1/1
    inbound:
      - prefix: ""
        name: Everything in
        price: 0.60
        increment: 1/1
`

func TestRerate(t *testing.T) {
	f := newFixture(t, nil)
	body := func(extra string) string {
		rates, _ := json.Marshal(flatRates)
		return `{"from": "2026-11-01", "to": "2026-12-01", "legs": "all", "rates": ` + string(rates) + extra + `}`
	}
	type run struct {
		ID      uint64 `json:"id"`
		DryRun  bool   `json:"dry_run"`
		Calls   int    `json:"calls"`
		Changed int    `json:"changed"`
		Totals  []struct {
			Account, Currency string
			New, Delta        decimal.Decimal
		} `json:"totals"`
	}

	// A dry run says what would change and writes nothing: twice the same.
	var dry, dry2 run
	r := f.do(t, "POST", "/api/v1/rerate", adminToken, body(`, "dry_run": true`))
	if r.status != 200 {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	r.decode(t, &dry)
	f.do(t, "POST", "/api/v1/rerate", adminToken, body(`, "dry_run": true`)).decode(t, &dry2)
	if dry.ID != 0 || !dry.DryRun || dry.Calls != len(f.calls) || dry.Changed == 0 || dry2.Changed != dry.Changed {
		t.Fatalf("dry runs: %+v then %+v (%d calls stored)", dry, dry2, len(f.calls))
	}
	var total decimal.Decimal
	for _, tt := range dry.Totals {
		total = total.Add(tt.New)
	}
	if !total.IsPositive() {
		t.Fatalf("the flat plan prices nothing: %+v", dry.Totals)
	}

	// The run itself: every call priced, the records stored.
	var done run
	r = f.do(t, "POST", "/api/v1/rerate", adminToken, body(""))
	if r.status != 200 {
		t.Fatalf("rerate: %d %s", r.status, r.body)
	}
	r.decode(t, &done)
	if done.ID == 0 || done.Changed != dry.Changed {
		t.Fatalf("run %+v after dry run %+v", done, dry)
	}
	c := f.calls[0]
	var stored callgraph.Call
	f.do(t, "GET", "/api/v1/calls/"+c.Server+"/"+c.ID, readToken, "").decode(t, &stored)
	if len(stored.Billing) == 0 || stored.Billing[0].Cost == "" {
		t.Fatalf("call %s after the rerate has billing %+v", c.ID, stored.Billing)
	}
	// Once more: nothing changes any more.
	var again run
	f.do(t, "POST", "/api/v1/rerate", adminToken, body("")).decode(t, &again)
	if again.Changed != 0 {
		t.Errorf("a second identical rerate changed %d calls", again.Changed)
	}

	for _, tt := range []struct {
		name, token, body string
		status            int
		want              string
	}{
		{"read token", readToken, body(""), 403, ""},
		{"no token", "", body(""), 401, ""},
		{"no rates", adminToken, `{"from": "2026-11-01", "to": "2026-12-01"}`, 400, "rates: required"},
		{"bad rates", adminToken, `{"from": "2026-11-01", "to": "2026-12-01", "rates": "plans: [1"}`, 400, "rates: "},
		{"no period", adminToken, `{"rates": "x"}`, 400, "from: "},
		{"backwards", adminToken, `{"from": "2026-12-01", "to": "2026-11-01", "rates": "x"}`, 400, "to: "},
		{"bad legs", adminToken, body(`, "legs": "some"`), 400, "billing: "},
		{"unknown field", adminToken, `{"from": "2026-11-01", "to": "2026-12-01", "rates": "x", "dryrun": true}`, 400, "body: "},
		{"bad zone", adminToken, body(`, "tz": "Mars/Olympus"`), 400, "tz: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, "POST", "/api/v1/rerate", tt.token, tt.body)
			if r.status != tt.status || !strings.Contains(r.body, tt.want) {
				t.Errorf("%d %s, want %d with %q", r.status, r.body, tt.status, tt.want)
			}
		})
	}
}

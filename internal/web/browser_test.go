package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/api"
)

// The browser tests drive the pages in headless Chromium. Without
// Chromium they are skipped, unless CALLTRAIL_REQUIRE_BROWSER=1 (CI sets
// it), which makes a missing browser a failure. CALLTRAIL_SCREENSHOTS=DIR
// saves a screenshot of every page they look at.

// chromium finds the browser, or ends the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no chromium on PATH: the browser tests need Debian's chromium package (apt-get install chromium)"
	if os.Getenv("CALLTRAIL_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + ", and CALLTRAIL_REQUIRE_BROWSER=1 requires them")
	}
	t.Skip(msg + "; skipped")
	return ""
}

// browser starts one headless Chromium with a fresh profile for the
// test; every page opens a tab of it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	// The whole browser test, the start of the browser included, gets a
	// minute.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	)
	t.Cleanup(cancelAlloc)
	b, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(b); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return b
}

// A tab is one page of the browser, with what its console said.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

func newTab(t *testing.T, b context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	tb := &tab{t: t, ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// The browser logs every 401 and 404 the pages meet on
			// purpose; exceptions, console errors and refused content
			// (CSP) are faults.
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source != "network" {
				tb.mu.Lock()
				tb.problems = append(tb.problems, m.String())
				tb.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return tb
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.fail("%v", err)
	}
}

// wait waits until the JavaScript expression is true.
func (tb *tab) wait(expr string) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		tb.fail("waiting for %s: %v", expr, err)
	}
}

// count is the number of elements the CSS selector matches.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return eval[int](tb, fmt.Sprintf("document.querySelectorAll(%q).length", sel))
}

// text is the text of the first element the CSS selector matches.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf("document.querySelector(%q)?.textContent ?? ''", sel))
}

func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.fail("evaluating %s: %v", expr, err)
	}
	return v
}

// fail ends the test, with a screenshot when they are asked for and what
// the page shows.
func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	tb.shot("failure")
	body, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string]("document.body.innerText.slice(0, 2000)"))
	tb.t.Fatalf(format+"\nthe page says:\n%s", append(args, body)...)
}

// shot saves a screenshot of the whole page under CALLTRAIL_SCREENSHOTS.
func (tb *tab) shot(name string) {
	dir := os.Getenv("CALLTRAIL_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(dir, strings.ReplaceAll(tb.t.Name(), "/", "-")+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
	}
}

// serve serves the UI and the API over calls on a loopback server.
func serve(t *testing.T, calls []*callgraph.Call, o api.Options) string {
	t.Helper()
	o.Store = testStore(t, calls)
	a, err := api.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// The captures the browser tests store: plain calls, a blind and an
// attended transfer, queues, failed calls (with SIP statuses: P06), and a
// call with lossy audio.
var browserScenarios = []string{
	"asterisk20/S01", "asterisk20/S02", "asterisk20/S05", "asterisk20/S06", "asterisk20/S08",
	"asterisk20/S20", "asterisk20/S21", "asterisk20/S23", "asterisk22/P06", "quality/Q03",
}

// TestBrowser drives the pages the way a person does, in one browser.
func TestBrowser(t *testing.T) {
	b := browser(t)
	calls := replay(t, browserScenarios...)
	fake := &liveCalls{}
	now := time.Now().UTC()
	fake.set(liveCall("1795340001.1", now.Add(-12*time.Second), "1001", "1002"), liveCall("1795340002.5", now.Add(-3*time.Second), "1004", "5200"))
	open := serve(t, calls, api.Options{Live: fake.calls, LivePeriod: 100 * time.Millisecond})

	t.Run("calls", func(t *testing.T) { browseCalls(t, newTab(t, b), open, calls) })
	t.Run("time zone", func(t *testing.T) { browseInZone(t, newTab(t, b), open, calls) })
	t.Run("reports", func(t *testing.T) { browseReports(t, newTab(t, b), open, calls) })
	t.Run("live", func(t *testing.T) { browseLive(t, newTab(t, b), open, fake) })
	t.Run("token", func(t *testing.T) {
		const token = "reader-token"
		guarded := serve(t, calls, api.Options{ReadToken: token, Live: fake.calls, LivePeriod: 100 * time.Millisecond})
		browseWithToken(t, newTab(t, b), guarded, token, len(calls))
	})
	t.Run("linked", func(t *testing.T) { browseLinked(t, newTab(t, b), calls) })
	t.Run("no daemon", func(t *testing.T) {
		tb := newTab(t, b)
		tb.do(chromedp.Navigate(serve(t, calls, api.Options{}) + "/#/live"))
		tb.wait(`document.querySelector('#live-none') !== null`)
		if got := tb.text("#live-none"); !strings.Contains(got, "calltrail serve") {
			t.Errorf("the live view without a daemon says %q", got)
		}
	})
}

// browseCalls lists the calls, filters them by party, and opens a blind
// transfer from the list.
func browseCalls(t *testing.T, tb *tab, base string, calls []*callgraph.Call) {
	tb.do(chromedp.Navigate(base + "/"))
	tb.wait(`document.querySelectorAll('#calls-table tbody tr').length > 0`)
	tb.shot("list")
	if got, want := tb.count("#calls-table tbody tr"), len(calls); got != want {
		t.Errorf("the list shows %d calls, want all %d", got, want)
	}

	// Paging, five calls a page.
	ids := `[...document.querySelectorAll('#calls-table tbody tr')].map(r => r.dataset.call)`
	tb.do(chromedp.Navigate(base + "/#/calls?limit=5"))
	tb.wait(`document.querySelectorAll('#calls-table tbody tr').length === 5 && document.querySelector('#next') !== null`)
	if tb.count("#prev") != 0 {
		t.Error("the first page offers a previous one")
	}
	first := eval[[]string](tb, ids)
	tb.do(chromedp.Click(chromedp.CSS("#next")))
	tb.wait(`location.hash.includes('offset=5') && document.querySelector('#prev') !== null`)
	second := eval[[]string](tb, ids)
	if len(second) != 5 || slices.ContainsFunc(second, func(id string) bool { return slices.Contains(first, id) }) {
		t.Errorf("page 2 %v after page 1 %v", second, first)
	}
	if got := tb.text("#page-info"); got != "calls 6–10" {
		t.Errorf("page 2 says %q", got)
	}
	tb.do(chromedp.Navigate(fmt.Sprintf("%s/#/calls?limit=5&offset=%d", base, len(calls)-1)))
	tb.wait(`document.querySelectorAll('#calls-table tbody tr').length === 1 && document.querySelector('#prev') !== null`)
	if tb.count("#next") != 0 {
		t.Error("the last page offers a next one")
	}

	// A filter the API refuses is shown with the form, to be fixed.
	tb.do(chromedp.Navigate(base + "/#/calls?cause=300"))
	tb.wait(`document.querySelector('#error')?.textContent.startsWith('cause:') && document.querySelector('#filters') !== null`)

	const party = "1003"
	var want []string
	for _, c := range calls {
		if slices.ContainsFunc(c.Legs, func(l *callgraph.Leg) bool { return l.Party == party }) {
			want = append(want, c.Server+"/"+c.ID)
		}
	}
	if len(want) == 0 || len(want) == len(calls) {
		t.Fatalf("%d of %d calls have party %s: the filter would tell nothing", len(want), len(calls), party)
	}
	tb.do(chromedp.Navigate(base + "/#/calls"))
	tb.wait(`document.querySelectorAll('#calls-table tbody tr').length > 0`)
	tb.do(chromedp.SetValue(chromedp.CSS("#f-party"), party), chromedp.Click(chromedp.CSS("#apply")))
	tb.wait(fmt.Sprintf(`location.hash.includes('party=%s') && document.querySelectorAll('#calls-table tbody tr').length === %d`, party, len(want)))
	got := eval[[]string](tb, ids)
	if !slices.Equal(got, want) {
		t.Errorf("filtered by party %s the list shows %v, want %v", party, got, want)
	}
	if v := eval[string](tb, `document.querySelector('#f-party').value`); v != party {
		t.Errorf("after the filter the party field holds %q", v)
	}

	var blind *callgraph.Call
	for _, c := range calls {
		if slices.ContainsFunc(c.Connections, func(x callgraph.Connection) bool { return x.Kind == callgraph.KindBlindTransfer }) {
			blind = c
		}
	}
	if blind == nil {
		t.Fatal("no blind transfer among the calls")
	}
	tb.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#calls-table tr[data-call="%s/%s"] td`, blind.Server, blind.ID))))
	tb.wait(`document.querySelector('#diagram svg') !== null && document.querySelectorAll('#legs-table tbody tr').length > 0`)
	tb.shot("call")
	if h := eval[string](tb, `location.hash`); h != "#/call/"+blind.Server+"/"+blind.ID {
		t.Errorf("the call page is at %s", h)
	}

	// The diagram: a node per party, arrows between them, the transfer
	// among them, and no timeline (the page draws its own).
	texts := eval[[]string](tb, `[...document.querySelectorAll('#diagram svg text')].map(t => t.textContent)`)
	for _, l := range blind.Legs {
		if !slices.Contains(texts, l.Party) {
			t.Errorf("the diagram has no node %s: %q", l.Party, texts)
		}
	}
	if n := tb.count("#diagram svg path[marker-end]"); n < len(blind.Legs)-1 {
		t.Errorf("the diagram has %d arrows for %d parties", n, len(blind.Legs))
	}
	if !slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, "blind") }) {
		t.Errorf("the diagram does not say blind transfer: %q", texts)
	}
	if slices.Contains(texts, "timeline") {
		t.Error("the diagram has the API's timeline under it")
	}
	if w := eval[float64](tb, `document.querySelector('#diagram svg').getBoundingClientRect().width`); w < 300 {
		t.Errorf("the diagram is %v px wide", w)
	}

	// The timeline: a lane per leg, ringing and talk.
	if got, want := tb.count("#timeline svg g.lane"), len(blind.Legs); got != want {
		t.Errorf("the timeline has %d lanes, want %d", got, want)
	}
	for _, kind := range []string{"ring", "talk"} {
		if tb.count("#timeline svg rect.bar-"+kind) == 0 {
			t.Errorf("the timeline has no %s bar", kind)
		}
	}

	// The legs: one row each, with times, billsec and causes.
	if got, want := tb.count("#legs-table tbody tr"), len(blind.Legs); got != want {
		t.Errorf("the legs table has %d rows, want %d", got, want)
	}
	for _, l := range blind.Legs {
		row := tb.text(fmt.Sprintf(`#legs-table tr[data-leg="%s"]`, l.ID))
		for _, want := range []string{l.Party, l.Channel, fmt.Sprintf("%.1f s", float64(l.Billsec)), fmt.Sprint(l.Cause), l.CauseText} {
			if !strings.Contains(row, want) {
				t.Errorf("leg %s's row %q lacks %q", l.ID, row, want)
			}
		}
	}

	// Back to the list, as filtered.
	tb.do(chromedp.Click(chromedp.CSS(".back a")))
	tb.wait(fmt.Sprintf(`document.querySelectorAll('#calls-table tbody tr').length === %d`, len(want)))

	// A call with audio quality shows the MOS of both directions.
	var lossy *callgraph.Call
	for _, c := range calls {
		if slices.ContainsFunc(c.Legs, func(l *callgraph.Leg) bool { return l.Quality != nil && l.Quality.FromParty != nil }) {
			lossy = c
		}
	}
	if lossy == nil {
		t.Fatal("no call with audio quality")
	}
	tb.do(chromedp.Navigate(base + "/#/call/" + lossy.Server + "/" + lossy.ID))
	tb.wait(`document.querySelectorAll('#legs-table tbody tr').length > 0`)
	tb.shot("quality")
	for _, l := range lossy.Legs {
		if l.Quality == nil || l.Quality.FromParty == nil {
			continue
		}
		cells := eval[[]string](tb, fmt.Sprintf(`[...document.querySelectorAll('#legs-table tr[data-leg="%s"] td.num')].map(td => td.textContent)`, l.ID))
		if want := fmt.Sprintf("%.1f", l.Quality.FromParty.MOS); !slices.Contains(cells, want) {
			t.Errorf("leg %s: the MOS sent %s is not among %q", l.ID, want, cells)
		}
	}
}

// browseInZone looks at the list from Tokyo: times are shown there, and
// a time typed in the filter is read there.
func browseInZone(t *testing.T, tb *tab, base string, calls []*callgraph.Call) {
	const zone = "Asia/Tokyo"
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
		return err
	}))
	starts := make([]time.Time, len(calls))
	for i, c := range calls {
		starts[i] = c.Start.Time
	}
	slices.SortFunc(starts, time.Time.Compare)
	from := starts[len(starts)/2].Truncate(time.Minute)
	want := 0
	for _, s := range starts {
		if !s.Before(from) {
			want++
		}
	}
	if want == 0 || want == len(starts) {
		t.Fatalf("%d of %d calls from %v: the filter would tell nothing", want, len(starts), from)
	}
	tb.do(chromedp.Navigate(base + "/#/calls?from=" + from.In(loc).Format("2006-01-02T15:04")))
	tb.wait(fmt.Sprintf(`document.querySelectorAll('#calls-table tbody tr').length === %d`, want))
	if got := tb.text("#session"); !strings.Contains(got, "times in "+zone) {
		t.Errorf("the page says %q, want the times in %s", got, zone)
	}
	first := starts[len(starts)-want]
	if got, want := tb.text("#calls-table tbody tr td"), first.In(loc).Format("2006-01-02 15:04:05"); got != want {
		t.Errorf("the first call starts at %q, want %q (%s)", got, want, zone)
	}
}

// browseReports opens the cause and queue reports and follows a cause to
// its calls.
func browseReports(t *testing.T, tb *tab, base string, calls []*callgraph.Call) {
	tb.do(chromedp.Navigate(base + "/#/reports/causes"))
	tb.wait(`document.querySelectorAll('#cause-chart rect.series').length > 0`)
	tb.shot("causes")
	causes := map[int]bool{}
	for _, c := range calls {
		for _, l := range c.Legs {
			causes[l.Cause] = true
		}
	}
	if got, want := tb.count("#cause-table tbody tr"), len(causes); got != want {
		t.Errorf("the cause table has %d rows, want one per cause: %d", got, want)
	}
	if tb.count("#sip-chart rect.series") == 0 {
		t.Error("no SIP status chart")
	}

	busy := 0
	for _, c := range calls {
		if slices.ContainsFunc(c.Legs, func(l *callgraph.Leg) bool { return l.Cause == 17 }) {
			busy++
		}
	}
	if busy == 0 {
		t.Fatal("no call with a busy leg")
	}
	tb.do(chromedp.Click(chromedp.CSS(`#cause-chart a[href*="cause=17"] text`)))
	tb.wait(fmt.Sprintf(`location.hash.includes('cause=17') && document.querySelectorAll('#calls-table tbody tr').length === %d`, busy))

	tb.do(chromedp.Navigate(base + "/#/reports/queues"))
	tb.wait(`document.querySelectorAll('#queue-chart rect.series').length > 0`)
	queues := map[string]bool{}
	for _, c := range calls {
		for _, q := range c.Queues {
			queues[q.Queue] = true
		}
	}
	if got, want := tb.count("#queue-table tbody tr"), len(queues); got != want || want == 0 {
		t.Errorf("the queue table has %d rows, want %d", got, want)
	}
	tb.do(chromedp.SetValue(chromedp.CSS("#r-interval"), "hour"), chromedp.Click(chromedp.CSS("#report-filters button")))
	tb.wait(`document.querySelectorAll('#interval-chart rect.series').length > 0`)
	tb.shot("queues")
}

// liveCalls is a fake daemon's Live.
type liveCalls struct {
	mu sync.Mutex
	cs []*callgraph.Call
}

func (f *liveCalls) set(cs ...*callgraph.Call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cs = cs
}

func (f *liveCalls) calls() []*callgraph.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cs
}

// liveCall is a call in progress: the caller up, the callee ringing.
func liveCall(id string, start time.Time, from, to string) *callgraph.Call {
	at := func(sec float64) callgraph.Time {
		return callgraph.Time{Time: start.Add(time.Duration(sec * float64(time.Second)))}
	}
	up := time.Since(start).Seconds()
	return &callgraph.Call{ID: id, Server: "pbx1", Start: at(0), Legs: []*callgraph.Leg{
		{ID: id, Channel: "PJSIP/" + from + "-0001", Party: from, Role: callgraph.RoleCaller, Created: at(0), Answered: at(0.5),
			Duration: callgraph.Seconds(up), Billsec: callgraph.Seconds(up - 0.5), Disposition: callgraph.DispositionUp},
		{ID: id + "1", Channel: "PJSIP/" + to + "-0002", Party: to, Role: callgraph.RoleCallee, Created: at(0.5),
			Duration: callgraph.Seconds(up - 0.5), Ring: callgraph.Seconds(up - 0.5), Disposition: callgraph.DispositionRinging},
	}}
}

// browseLive watches the calls in progress come and go.
func browseLive(t *testing.T, tb *tab, base string, fake *liveCalls) {
	tb.do(chromedp.Navigate(base + "/#/live"))
	tb.wait(`document.querySelectorAll('#live-table tbody tr').length === 2`)
	tb.shot("two")
	row := tb.text(`#live-table tr[data-call="pbx1/1795340001.1"]`)
	for _, want := range []string{"1001", "1002", "RINGING", "UP"} {
		if !strings.Contains(row, want) {
			t.Errorf("the live row %q lacks %q", row, want)
		}
	}
	fake.set(liveCall("1795340003.9", time.Now().Add(-time.Second), "1021", "1022"))
	tb.wait(`document.querySelectorAll('#live-table tbody tr').length === 1 && document.querySelector('#live-table tr[data-call="pbx1/1795340003.9"]') !== null`)
	// A call the engine knows little of yet: no start, no legs.
	fake.set(&callgraph.Call{ID: "1795340004.2", Server: "pbx1"})
	tb.wait(`document.querySelector('#live-table tr[data-call="pbx1/1795340004.2"]') !== null`)
	fake.set()
	tb.wait(`document.querySelector('#live-empty') !== null`)
	if s := tb.text("#live-status"); !strings.Contains(s, "0 in progress") {
		t.Errorf("the live status says %q", s)
	}
	// Leaving the page ends the stream (the server would otherwise hold
	// it until shutdown).
	tb.do(chromedp.Navigate(base + "/#/calls"))
	tb.wait(`document.querySelector('#calls-table') !== null`)
}

// browseWithToken meets a server that wants a token: the page asks for
// it, says when it is wrong, and uses it for the data and the live view.
func browseWithToken(t *testing.T, tb *tab, base, token string, n int) {
	tb.do(chromedp.Navigate(base + "/#/calls"))
	tb.wait(`document.querySelector('#token-form') !== null`)
	tb.shot("asked")
	// The page, its scripts and styles need no token.
	for _, p := range []string{"/", "/ui/app.js", "/ui/style.css"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s without a token: %d", p, resp.StatusCode)
		}
	}

	tb.do(chromedp.SetValue(chromedp.CSS("#token"), "wrong"), chromedp.Click(chromedp.CSS("#token-form button")))
	tb.wait(`document.querySelector('#token-form')?.textContent.includes('refused')`)

	tb.do(chromedp.SetValue(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#token-form button")))
	tb.wait(fmt.Sprintf(`document.querySelectorAll('#calls-table tbody tr').length === %d`, n))
	if got := eval[string](tb, `sessionStorage.getItem('calltrail.token')`); got != token {
		t.Errorf("sessionStorage holds %q", got)
	}
	if tb.count("#forget-token") != 1 {
		t.Error("no way to forget the token")
	}

	// The live stream sends the token too.
	tb.do(chromedp.Navigate(base + "/#/live"))
	tb.wait(`document.querySelector('#live-status')?.textContent.includes('in progress')`)

	// Forgotten, it is asked for again.
	tb.do(chromedp.Navigate(base + "/#/calls"))
	tb.wait(`document.querySelector('#forget-token') !== null`)
	tb.do(chromedp.Click(chromedp.CSS("#forget-token")))
	tb.wait(`document.querySelector('#token-form') !== null && sessionStorage.getItem('calltrail.token') === null`)
}

// browseLinked follows a call to the call it became on another server
// over a SIP trunk: the same basic call, seen again on pbx2, its caller
// leg the other end of the dialog of pbx1's callee leg.
func browseLinked(t *testing.T, tb *tab, calls []*callgraph.Call) {
	var first *callgraph.Call
	for _, c := range calls {
		if len(c.Legs) == 2 && c.Legs[1].SIPCallID != "" && len(c.Connections) == 1 {
			first = c
			break
		}
	}
	if first == nil {
		t.Fatal("no two-leg call with SIP Call-IDs")
	}
	a := *first
	a.Linked = nil
	b := a
	b.Server, b.ID = "pbx2", "1795349999.7"
	b.Legs = nil
	for i, l := range a.Legs {
		cp := *l
		cp.ID = fmt.Sprintf("1795349999.%d", 7+i)
		cp.SIPCallID = "pbx2-" + l.SIPCallID
		if i == 0 {
			cp.SIPCallID = a.Legs[1].SIPCallID // came in over the trunk
		}
		b.Legs = append(b.Legs, &cp)
	}
	var k callgraph.Linker
	k.Add(&a)
	out := k.Add(&b)
	if len(out) != 2 || len(out[0].Linked) != 1 {
		t.Fatalf("the linker joined %d calls", len(out))
	}
	base := serve(t, out, api.Options{})
	tb.do(chromedp.Navigate(base + "/#/call/" + a.Server + "/" + a.ID))
	tb.wait(`document.querySelector('#linked-table') !== null`)
	tb.shot("linked")
	if got := tb.count("#linked-table tbody tr"); got != 1 {
		t.Fatalf("the linked table has %d rows, want 1", got)
	}
	if row := tb.text("#linked-table tbody tr"); !strings.Contains(row, "pbx2") || !strings.Contains(row, b.Legs[0].ID) {
		t.Errorf("the link row says %q", row)
	}
	tb.do(chromedp.Click(chromedp.CSS("#linked-table tbody a")))
	tb.wait(`location.hash === '#/call/pbx2/1795349999.7' && document.querySelector('h1').textContent.includes('1795349999.7') && document.querySelector('#linked-table') !== null`)
	if row := tb.text("#linked-table tbody tr"); !strings.Contains(row, a.ID) {
		t.Errorf("pbx2's call links back with %q", row)
	}
}

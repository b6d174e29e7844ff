package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

// templateEvents returns the embedded templates' raw events by name.
func templateEvents(t *testing.T) map[string][]*ami.Message {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(templatesFile))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]*ami.Message)
	var name string
	for _, m := range readAll(t, zr) {
		if m.Event() == EventTemplate {
			name = m.Get("Name")
			continue
		}
		out[name] = append(out[name], m)
	}
	return out
}

// A templateRun is what the engine makes of one template alone.
type templateRun struct {
	calls    []*callgraph.Call
	byLeg    map[string]*callgraph.Call // leg id → its call
	unplaced int64
}

func runTemplates(t *testing.T) map[string]templateRun {
	t.Helper()
	runs := make(map[string]templateRun)
	for name, evs := range templateEvents(t) {
		eng := callgraph.New(callgraph.Options{Server: "gen"})
		var calls []*callgraph.Call
		for _, m := range evs {
			calls = append(calls, eng.Handle(m, time.Time{})...)
		}
		calls = append(calls, eng.Flush(time.Time{})...)
		r := templateRun{calls: calls, byLeg: make(map[string]*callgraph.Call), unplaced: eng.Stats().Unplaced}
		for _, c := range calls {
			for _, l := range c.Legs {
				r.byLeg[l.ID] = c
			}
		}
		runs[name] = r
	}
	return runs
}

// TestReplay generates a stream, replays it with the engine and checks
// every call against the same template replayed alone: the same calls,
// legs and durations, whatever ran beside them.
func TestReplay(t *testing.T) {
	const calls, concurrency = 2000, 100
	var copies []Copy
	opts := Options{Calls: calls, Concurrency: concurrency, Seed: 7, Observe: func(c Copy) { copies = append(copies, c) }}
	pr, pw := io.Pipe()
	var st Stats
	done := make(chan error, 1)
	go func() {
		var err error
		st, err = Write(pw, opts)
		pw.CloseWithError(err)
		done <- err
	}()

	eng := callgraph.New(callgraph.Options{Server: "gen"})
	r := ami.NewReader(bufio.NewReaderSize(pr, 64<<10))
	var (
		m       ami.Message
		got     []*callgraph.Call
		events  int64
		last    string
		uids    = make(map[string]bool)
		chans   = make(map[string]bool)
		bridges = make(map[string]bool)
	)
	for {
		err := r.ReadMessageInto(&m)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !m.IsEvent() {
			continue
		}
		events++
		ts := m.Get("Timestamp")
		if len(ts) != len("1767603600.000000") || ts < last {
			t.Fatalf("event %d: Timestamp %q after %q", events, ts, last)
		}
		last = ts
		switch m.Event() {
		case "Newchannel":
			if u := m.Get("Uniqueid"); uids[u] {
				t.Errorf("uniqueid %s made twice", u)
			} else {
				uids[u] = true
			}
			if c := m.Get("Channel"); chans[c] {
				t.Errorf("channel %s made twice", c)
			} else {
				chans[c] = true
			}
		case "BridgeCreate":
			if b := m.Get("BridgeUniqueid"); bridges[b] {
				t.Errorf("bridge %s made twice", b)
			} else {
				bridges[b] = true
			}
		}
		for _, c := range eng.Handle(&m, time.Time{}) {
			got = append(got, c)
		}
	}
	got = append(got, eng.Flush(time.Time{})...)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if st.Calls != calls || len(got) != calls {
		t.Fatalf("got %d calls from the engine, stats say %d; want %d", len(got), st.Calls, calls)
	}
	if st.Events != events {
		t.Errorf("stats say %d events, read %d", st.Events, events)
	}
	if len(copies) != int(st.Copies) {
		t.Errorf("observed %d copies, stats say %d", len(copies), st.Copies)
	}

	// Which copy, and which template leg, each generated uniqueid is.
	type origin struct {
		copy int
		uid  string
	}
	from := make(map[string]origin)
	for i, c := range copies {
		for tu, gu := range c.UIDs {
			if o, dup := from[gu]; dup {
				t.Fatalf("uniqueid %s in copies %d and %d", gu, o.copy, i)
			}
			from[gu] = origin{i, tu}
		}
	}
	runs := runTemplates(t)
	var wantUnplaced int64
	for _, c := range copies {
		wantUnplaced += runs[c.Template].unplaced
	}
	if u := eng.Stats().Unplaced; u != wantUnplaced {
		t.Errorf("engine could not place %d events; the templates alone %d", u, wantUnplaced)
	}

	perTemplate := make(map[string]int)
	for _, c := range got {
		if !c.Complete {
			t.Errorf("call %s is incomplete", c.ID)
		}
		o, ok := from[c.Legs[0].ID]
		if !ok {
			t.Fatalf("call %s: leg %s is no copy's", c.ID, c.Legs[0].ID)
		}
		cp := copies[o.copy]
		run := runs[cp.Template]
		want := run.byLeg[o.uid]
		if want == nil {
			t.Fatalf("call %s: template %s has no leg %s", c.ID, cp.Template, o.uid)
		}
		perTemplate[cp.Template]++
		if len(c.Legs) != len(want.Legs) {
			t.Errorf("call %s (%s): %d legs, template %d", c.ID, cp.Template, len(c.Legs), len(want.Legs))
			continue
		}
		wantLegs := make(map[string]*callgraph.Leg)
		for _, l := range want.Legs {
			wantLegs[l.ID] = l
		}
		for _, l := range c.Legs {
			lo := from[l.ID]
			w := wantLegs[lo.uid]
			if lo.copy != o.copy || w == nil {
				t.Errorf("call %s (%s): leg %s is not the template call's", c.ID, cp.Template, l.ID)
				continue
			}
			if l.Ring != w.Ring || l.Billsec != w.Billsec || l.Talk != w.Talk || l.Duration != w.Duration ||
				l.Disposition != w.Disposition || l.Role != w.Role || l.Cause != w.Cause {
				t.Errorf("call %s (%s) leg %s: ring %v billsec %v talk %v duration %v %s %s %d; template %v %v %v %v %s %s %d",
					c.ID, cp.Template, l.ID, l.Ring, l.Billsec, l.Talk, l.Duration, l.Disposition, l.Role, l.Cause,
					w.Ring, w.Billsec, w.Talk, w.Duration, w.Disposition, w.Role, w.Cause)
			}
		}
	}
	names, _ := TemplateNames()
	if len(perTemplate) != len(names) {
		t.Errorf("%d of %d templates used", len(perTemplate), len(names))
	}

	// Calls in progress, sampled once a second between the ramp-up and
	// the last copy's start.
	var spans []time.Duration
	for _, c := range copies {
		spans = append(spans, c.End.Sub(c.Start))
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i] < spans[j] })
	ramp := spans[len(spans)*9/10]
	lastStart := copies[0].Start
	for _, c := range copies {
		if c.Start.After(lastStart) {
			lastStart = c.Start
		}
	}
	var live []int
	for at := st.Start.Add(ramp); at.Before(lastStart); at = at.Add(time.Second) {
		n := 0
		for _, c := range copies {
			if !at.Before(c.Start) && at.Before(c.End) {
				n += c.Calls
			}
		}
		live = append(live, n)
	}
	if len(live) < 30 {
		t.Fatalf("only %d samples of calls in progress", len(live))
	}
	sort.Ints(live)
	if med := live[len(live)/2]; med < concurrency*7/10 || med > concurrency*13/10 {
		t.Errorf("median calls in progress %d, asked %d (samples %d..%d)", med, concurrency, live[0], live[len(live)-1])
	} else {
		t.Logf("calls in progress: median %d, %d..%d, asked %d", med, live[0], live[len(live)-1], concurrency)
	}
}

func digest(t *testing.T, opts Options) [32]byte {
	t.Helper()
	h := sha256.New()
	if _, err := Write(h, opts); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func TestDeterministic(t *testing.T) {
	opts := Options{Calls: 300, Concurrency: 20, Seed: 42}
	a, b := digest(t, opts), digest(t, opts)
	if a != b {
		t.Fatal("the same seed wrote different streams")
	}
	opts.Seed = 43
	if digest(t, opts) == a {
		t.Fatal("another seed wrote the same stream")
	}
}

// TestExactCount checks that small and odd counts come out exact, though
// some templates make several calls.
func TestExactCount(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 50} {
		st, err := Write(io.Discard, Options{Calls: n, Concurrency: 5, Seed: uint64(n)})
		if err != nil {
			t.Fatal(err)
		}
		if st.Calls != int64(n) {
			t.Errorf("asked %d calls, wrote %d", n, st.Calls)
		}
	}
	// Conferences only: three calls a copy (S10), four (S22).
	st, err := Write(io.Discard, Options{Calls: 8, Concurrency: 5, Seed: 1, Templates: []string{"asterisk20/S10", "asterisk20/S22"}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Calls < 8 || st.Calls > 10 {
		t.Errorf("asked 8 calls of conferences, wrote %d", st.Calls)
	}
}

// TestTemplatesRewriteEverything checks that no template id is left as
// literal text, where every copy would share it.
func TestTemplatesRewriteEverything(t *testing.T) {
	ts, err := templates()
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range ts {
		own := make(map[string]string)
		for _, u := range tp.uids {
			own[u] = "uniqueid"
		}
		for _, b := range tp.bridges {
			own[b] = "bridge"
		}
		for _, ev := range tp.evs {
			for _, s := range ev.segs {
				if s.kind != segLit {
					continue
				}
				for _, tok := range strings.FieldsFunc(s.lit, func(r rune) bool {
					return r == '\r' || r == '\n' || r == ' ' || r == ',' || r == ';' || r == '='
				}) {
					if what, ok := own[tok]; ok {
						t.Errorf("%s: %s %s left as is", tp.name, what, tok)
					}
				}
				for _, ch := range tp.channels {
					if strings.Contains(s.lit, ch) {
						t.Errorf("%s: channel %s left as is", tp.name, ch)
					}
				}
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{{Calls: 0, Concurrency: 1}, {Calls: 1, Concurrency: 0}} {
		if _, err := Write(io.Discard, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestTemplates(t *testing.T) {
	names, err := TemplateNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sel  []string
		want int // templates chosen, -1 for an error
	}{
		{nil, len(names)},
		{[]string{"asterisk20/S01"}, 1},
		{[]string{"asterisk20/S14"}, 19},
		{[]string{"asterisk20/S14", "asterisk20/S01"}, 20},
		{[]string{"-asterisk20/S14"}, len(names) - 19},
		{[]string{"asterisk20/S14", "-asterisk20/S14#02"}, 18},
		{[]string{"asterisk20/S99"}, -1},
		{[]string{"asterisk20/S01", "-asterisk20/S01"}, -1},
	} {
		ts, _ := templates()
		got, err := selectTemplates(ts, c.sel)
		switch {
		case c.want < 0 && err == nil:
			t.Errorf("%v: no error", c.sel)
		case c.want >= 0 && err != nil:
			t.Errorf("%v: %v", c.sel, err)
		case c.want >= 0 && len(got) != c.want:
			t.Errorf("%v: %d templates, want %d", c.sel, len(got), c.want)
		}
	}
}

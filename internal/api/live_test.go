package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// inProgress is a call as the daemon's Live returns it: not complete,
// one leg up and one ringing.
func inProgress(id string, start time.Time) *callgraph.Call {
	t := func(sec float64) callgraph.Time {
		return callgraph.Time{Time: start.Add(time.Duration(sec * float64(time.Second)))}
	}
	return &callgraph.Call{
		ID: id, Server: "pbx1", Start: t(0), Complete: false,
		Legs: []*callgraph.Leg{
			{ID: id, Channel: "PJSIP/100-0001", Party: "100", Role: callgraph.RoleCaller, Created: t(0), Answered: t(1),
				Duration: 5, Billsec: 4, Disposition: callgraph.DispositionUp},
			{ID: id + "1", Channel: "PJSIP/200-0002", Party: "200", Role: callgraph.RoleCallee, Created: t(1),
				Duration: 4, Ring: 4, Disposition: callgraph.DispositionRinging},
		},
	}
}

// liveFake is a Live func whose answer the test changes, counting the
// calls made to it.
type liveFake struct {
	calls atomic.Pointer[[]*callgraph.Call]
	asked atomic.Int64
}

func (f *liveFake) set(calls ...*callgraph.Call) { f.calls.Store(&calls) }

func (f *liveFake) live() []*callgraph.Call {
	f.asked.Add(1)
	if p := f.calls.Load(); p != nil {
		return *p
	}
	return nil
}

// liveServer serves the API on a real loopback server whose write
// timeout is shorter than the streams the tests read, and counts the
// requests in flight.
func liveServer(t *testing.T, o Options) (url string, active *atomic.Int32) {
	t.Helper()
	st, _ := testStore(t)
	o.Store, o.ReadToken = st, readToken
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	active = new(atomic.Int32)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer active.Add(-1)
		h.ServeHTTP(w, r)
	}))
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, active
}

type event struct{ name, data string }

// stream is an open /api/v1/live response.
type stream struct {
	resp *http.Response
	br   *bufio.Reader
}

func openStream(t *testing.T, ctx context.Context, url, token string) *stream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return &stream{resp: resp, br: bufio.NewReader(resp.Body)}
}

// next reads the next event with data, skipping the retry block; io.EOF
// when the stream ended.
func (s *stream) next() (event, error) {
	var e event
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return e, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if e.data != "" {
				return e, nil
			}
			e = event{}
		case strings.HasPrefix(line, "event: "):
			e.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			e.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// snapshot reads the next event and decodes it as a snapshot.
func (s *stream) snapshot(t *testing.T) liveJSON {
	t.Helper()
	e, err := s.next()
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	if e.name != "snapshot" {
		t.Fatalf("event %q, want snapshot: %s", e.name, e.data)
	}
	var snap liveJSON
	if err := json.Unmarshal([]byte(e.data), &snap); err != nil {
		t.Fatalf("snapshot %s: %v", e.data, err)
	}
	return snap
}

func ids(calls []*callgraph.Call) string {
	var out []string
	for _, c := range calls {
		out = append(out, c.ID)
	}
	return strings.Join(out, ",")
}

func TestLive(t *testing.T) {
	fake := new(liveFake)
	start := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	fake.set(inProgress("1.1", start), inProgress("1.2", start.Add(time.Second)))
	const period = 20 * time.Millisecond
	url, active := liveServer(t, Options{Live: fake.live, LivePeriod: period})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	s := openStream(t, ctx, url, readToken)
	for header, want := range map[string]string{
		"Content-Type":  "text/event-stream",
		"Cache-Control": "no-store",
	} {
		if got := s.resp.Header.Get(header); got != want {
			t.Errorf("%s %q, want %q", header, got, want)
		}
	}

	snap := s.snapshot(t)
	if got, want := ids(snap.Calls), "1.1,1.2"; got != want {
		t.Errorf("first snapshot holds %s, want %s", got, want)
	}
	if got := snap.Calls[0]; got.Complete || len(got.Legs) != 2 || got.Legs[1].Disposition != callgraph.DispositionRinging {
		t.Errorf("first call %+v: want the fake's, in progress with a ringing leg", got)
	}
	if snap.At.IsZero() {
		t.Error("snapshot without at")
	}

	// Snapshots keep coming, past the server's write timeout, and follow
	// what Live says.
	n := 1
	for time.Since(began) < 300*time.Millisecond {
		s.snapshot(t)
		n++
	}
	if n < 5 {
		t.Errorf("%d snapshots in 300 ms at one per %v", n, period)
	}
	fake.set(inProgress("1.3", start.Add(2*time.Second)))
	for i := 0; ; i++ {
		if got := ids(s.snapshot(t).Calls); got == "1.3" {
			break
		}
		if i > 20 {
			t.Fatal("the snapshots do not follow Live")
		}
	}
	fake.set() // no call in progress: the snapshot says [], not null
	for i := 0; ; i++ {
		snap := s.snapshot(t)
		if len(snap.Calls) == 0 {
			if snap.Calls == nil {
				t.Error("no calls in progress sent as null, want []")
			}
			break
		}
		if i > 20 {
			t.Fatal("the snapshots do not follow Live")
		}
	}

	// The client goes away: the handler ends and stops asking.
	cancel()
	s.resp.Body.Close()
	for deadline := time.Now().Add(2 * time.Second); active.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the stream's handler still runs after the client left")
		}
		time.Sleep(5 * time.Millisecond)
	}
	asked := fake.asked.Load()
	time.Sleep(5 * period)
	if got := fake.asked.Load(); got != asked {
		t.Errorf("Live asked %d more times after the client left", got-asked)
	}
}

// TestLiveShutdown: closing Options.Shutdown ends the streams.
func TestLiveShutdown(t *testing.T) {
	fake := new(liveFake)
	shutdown := make(chan struct{})
	url, _ := liveServer(t, Options{Live: fake.live, LivePeriod: time.Hour, Shutdown: shutdown})
	s := openStream(t, context.Background(), url, readToken)
	if snap := s.snapshot(t); len(snap.Calls) != 0 {
		t.Errorf("snapshot %v, want no calls", ids(snap.Calls))
	}
	close(shutdown)
	done := make(chan error, 1)
	go func() {
		_, err := s.next()
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("after shutdown the stream gave %v, want its end", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the stream did not end at shutdown")
	}
}

func TestLiveRefuses(t *testing.T) {
	fake := new(liveFake)
	noLive := newFixture(t, nil)
	h, err := New(Options{Store: downStore{}, Live: fake.live, ReadToken: readToken})
	if err != nil {
		t.Fatal(err)
	}
	live := fixture{h: h}
	for _, tc := range []struct {
		name   string
		f      fixture
		method string
		token  string
		want   int
	}{
		{"no daemon", noLive, "GET", readToken, 404},
		{"no token", live, "GET", "", 401},
		{"bad token", live, "GET", "wrong", 401},
		{"post", live, "POST", readToken, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.do(t, tc.method, "/api/v1/live", tc.token, "").errorOf(t, tc.want)
		})
	}
	if got := fake.asked.Load(); got != 0 {
		t.Errorf("Live asked %d times by refused requests", got)
	}
}

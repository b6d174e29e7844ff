package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/netfault"
)

// fakeSaver is a database that can be taken down and that refuses the
// calls named in reject.
type fakeSaver struct {
	mu      sync.Mutex
	down    bool
	reject  map[string]bool
	batches [][]string
	saved   []string
}

var errRefused = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (f *fakeSaver) SaveCalls(ctx context.Context, calls []*callgraph.Call) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errRefused
	}
	var ids []string
	for _, c := range calls {
		if f.reject[c.ID] {
			return fmt.Errorf("Error 1406: Data too long for column 'party' (call %s)", c.ID)
		}
		ids = append(ids, c.ID)
	}
	f.batches = append(f.batches, ids)
	f.saved = append(f.saved, ids...)
	return nil
}

func (f *fakeSaver) Ping(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errRefused
	}
	return nil
}

func (f *fakeSaver) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeSaver) snapshot() (batches [][]string, saved []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.batches...), append([]string(nil), f.saved...)
}

func ids(n int, prefix string) []*callgraph.Call {
	var calls []*callgraph.Call
	for i := range n {
		calls = append(calls, minimalCall("pbx1", fmt.Sprintf("%s.%02d", prefix, i), at(float64(i))))
	}
	return calls
}

// runWriter starts w.Run and returns a function that waits for its
// result.
func runWriter(t *testing.T, ctx context.Context, w *Writer) func() error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("Writer.Run did not return")
			return nil
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestWriterBatchesBySize(t *testing.T) {
	f := &fakeSaver{}
	in := make(chan *callgraph.Call)
	w := &Writer{Store: f, In: in, MaxBatch: 10, MaxDelay: time.Hour}
	wait := runWriter(t, context.Background(), w)
	for _, c := range ids(25, "s") {
		in <- c
	}
	waitFor(t, "two full batches", func() bool { b, _ := f.snapshot(); return len(b) == 2 })
	close(in) // the last 5 go out at once, without waiting an hour
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	batches, saved := f.snapshot()
	var sizes []int
	for _, b := range batches {
		sizes = append(sizes, len(b))
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("batch sizes = %v, want [10 10 5]", sizes)
	}
	checkInOrder(t, saved, 25, "s")
	st := w.Status()
	if st.Saved != 25 || st.Waiting != 0 || st.LastError != nil {
		t.Errorf("status = %+v", st)
	}
	// Three transactions timed: each bucket counts those at or under its
	// bound, the last one all three.
	if l := st.Writes; l.Count != 3 || l.Sum <= 0 || l.Buckets[len(l.Buckets)-1] != 3 || !slices.IsSorted(l.Buckets[:]) {
		t.Errorf("write latency = %+v", l)
	}
}

func checkInOrder(t *testing.T, saved []string, n int, prefix string) {
	t.Helper()
	if len(saved) != n {
		t.Fatalf("saved %d calls, want %d: %v", len(saved), n, saved)
	}
	for i, id := range saved {
		if want := fmt.Sprintf("%s.%02d", prefix, i); id != want {
			t.Fatalf("saved[%d] = %s, want %s (all: %v)", i, id, want, saved)
		}
	}
}

func TestWriterBatchesByDelay(t *testing.T) {
	f := &fakeSaver{}
	in := make(chan *callgraph.Call)
	const delay = 50 * time.Millisecond
	w := &Writer{Store: f, In: in, MaxBatch: 100, MaxDelay: delay}
	wait := runWriter(t, context.Background(), w)
	start := time.Now()
	for _, c := range ids(3, "d") {
		in <- c
	}
	waitFor(t, "the batch", func() bool { _, s := f.snapshot(); return len(s) == 3 })
	if el := time.Since(start); el < delay {
		t.Errorf("batch saved after %v, before MaxDelay %v", el, delay)
	}
	close(in)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.snapshot(); len(b) != 1 {
		t.Errorf("batches = %v, want one", b)
	}
}

func TestWriterRidesOutOutage(t *testing.T) {
	f := &fakeSaver{down: true}
	in := make(chan *callgraph.Call)
	w := &Writer{Store: f, In: in, MaxBatch: 3, MaxDelay: time.Millisecond, MaxQueue: 8,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	wait := runWriter(t, context.Background(), w)

	var mu sync.Mutex
	sent := 0
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		for _, c := range ids(20, "o") {
			in <- c
			mu.Lock()
			sent++
			mu.Unlock()
		}
	}()
	waitFor(t, "a full queue", func() bool { return w.Status().Waiting == 8 })
	time.Sleep(50 * time.Millisecond) // a few retries; the sender must stay blocked
	mu.Lock()
	if sent != 8 {
		t.Errorf("sender got %d calls through with the queue bounded at 8", sent)
	}
	mu.Unlock()
	st := w.Status()
	if !st.Unreachable || !errors.Is(st.LastError, ErrUnreachable) {
		t.Fatalf("status = %+v, want unreachable", st)
	}
	if got, want := st.LastError.Error(), "store: database unreachable, 8 calls waiting: "+errRefused.Error(); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}

	f.setDown(false)
	<-senderDone
	close(in)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	batches, saved := f.snapshot()
	checkInOrder(t, saved, 20, "o")
	for _, b := range batches {
		if len(b) > 3 {
			t.Errorf("batch of %d > MaxBatch 3", len(b))
		}
	}
	if st := w.Status(); st.Unreachable || st.LastError != nil || st.Saved != 20 {
		t.Errorf("status after recovery = %+v", st)
	}
}

func TestWriterRejectsOnlyBadCalls(t *testing.T) {
	f := &fakeSaver{reject: map[string]bool{"r.02": true}}
	in := make(chan *callgraph.Call, 5)
	for _, c := range ids(5, "r") {
		in <- c
	}
	close(in)
	var log bytes.Buffer
	w := &Writer{Store: f, In: in, MaxBatch: 10, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	if err := runWriter(t, context.Background(), w)(); err != nil {
		t.Fatal(err)
	}
	_, saved := f.snapshot()
	if got := strings.Join(saved, " "); got != "r.00 r.01 r.03 r.04" {
		t.Errorf("saved %s", got)
	}
	if st := w.Status(); st.Rejected != 1 || st.Saved != 4 || st.Unreachable {
		t.Errorf("status = %+v, want 1 rejected, 4 saved", st)
	}
	if want := `level=ERROR msg="store: call rejected" server=pbx1 call_id=r.02 err="Error 1406`; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, log.String())
	}
}

func TestWriterStopReportsUnsaved(t *testing.T) {
	f := &fakeSaver{down: true}
	in := make(chan *callgraph.Call)
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{Store: f, In: in, MaxBatch: 10, MaxDelay: time.Millisecond, MinBackoff: time.Hour}
	wait := runWriter(t, ctx, w)
	for _, c := range ids(3, "c") {
		in <- c
	}
	waitFor(t, "a failed attempt", func() bool { return w.Status().Unreachable })
	cancel()
	err := wait()
	if err == nil || !strings.Contains(err.Error(), "store: writer stopped, 3 calls not saved") || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

// viaProxy rewrites a postgres:// or mysql:// DSN to go through p, and
// returns the address it pointed at.
func viaProxy(t *testing.T, dsn string, addr func(target string) string) string {
	t.Helper()
	d, err := parseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	switch d.dialect {
	case "postgres":
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = addr(u.Host)
		return u.String()
	case "mysql":
		cfg, err := mysql.ParseDSN(d.driver)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Addr = addr(cfg.Addr)
		return "mysql://" + cfg.FormatDSN()
	}
	t.Fatalf("no proxy for %s", d.dialect)
	return ""
}

// TestWriterDatabaseOutage cuts a real database away from the Writer while
// calls arrive, then brings it back: every call lands, once.
func TestWriterDatabaseOutage(t *testing.T) {
	for _, db := range testDSNs(t) {
		if db.name == "sqlite" {
			continue // no network to lose
		}
		t.Run(db.name, func(t *testing.T) {
			if db.dsn == "off" {
				t.Skipf("%s turned off by the environment", db.name)
			}
			var p *netfault.Proxy
			dsn := viaProxy(t, db.dsn, func(target string) string {
				p = netfault.New(t, target)
				return p.Addr()
			})
			s := openTest(t, dsn)
			if err := s.SaveCall(context.Background(), minimalCall("pbx1", "before", at(0))); err != nil {
				t.Fatal(err)
			}

			p.SetUp(false)
			in := make(chan *callgraph.Call)
			w := &Writer{Store: s, In: in, MaxBatch: 5, MaxDelay: 5 * time.Millisecond,
				MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
				AttemptTimeout: 5 * time.Second}
			wait := runWriter(t, context.Background(), w)
			calls := ids(12, "w")
			for _, c := range calls {
				in <- c
			}
			waitFor(t, "the outage to show", func() bool { return w.Status().Unreachable })
			st := w.Status()
			if st.Saved != 0 || !strings.HasPrefix(st.LastError.Error(), "store: database unreachable, ") {
				t.Fatalf("status during the outage = %+v", st)
			}

			p.SetUp(true)
			close(in)
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			if st := w.Status(); st.Saved != 12 || st.Rejected != 0 || st.Unreachable {
				t.Errorf("status after = %+v", st)
			}
			if n := count(t, s, "callRow", ""); n != 13 {
				t.Errorf("calls rows = %d, want 13", n)
			}
			got, err := s.Call(context.Background(), "pbx1", calls[7].ID)
			if err != nil {
				t.Fatal(err)
			}
			sameCall(t, got, calls[7])
		})
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// orderSaver records, per call, the dispositions its saves carried, and
// can hold every save until released.
type orderSaver struct {
	mu      sync.Mutex
	saves   map[string][]string
	batches int
	hold    chan struct{} // nil: never hold
	active  int
	most    int // most transactions in progress at once
}

func (o *orderSaver) SaveCalls(ctx context.Context, calls []*callgraph.Call) error {
	o.mu.Lock()
	o.active++
	o.most = max(o.most, o.active)
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.active--
		o.mu.Unlock()
	}()
	if o.hold != nil {
		select {
		case <-o.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	time.Sleep(time.Millisecond) // long enough for the shares to overlap
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches++
	for _, c := range calls {
		o.saves[c.ID] = append(o.saves[c.ID], c.Disposition)
	}
	return nil
}

func (o *orderSaver) Ping(ctx context.Context) error { return nil }

// TestWriterParallel: with several shares every call is saved, the
// transactions overlap, and the saves of one call keep their order.
func TestWriterParallel(t *testing.T) {
	tests := []struct {
		parallel int
		overlap  bool
	}{
		{1, false},
		{2, true},
		{5, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.parallel), func(t *testing.T) {
			o := &orderSaver{saves: map[string][]string{}}
			in := make(chan *callgraph.Call)
			w := &Writer{Store: o, In: in, Parallel: tt.parallel, MaxBatch: 7, MaxDelay: time.Millisecond}
			done := make(chan error, 1)
			go func() { done <- w.Run(context.Background()) }()
			const calls, versions = 200, 3
			for v := range versions {
				for i := range calls {
					c := minimalCall("pbx1", fmt.Sprintf("p.%d", i), at(float64(i)))
					c.Disposition = fmt.Sprint("v", v)
					in <- c
				}
			}
			close(in)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if len(o.saves) != calls {
				t.Fatalf("%d calls saved, want %d", len(o.saves), calls)
			}
			for id, got := range o.saves {
				if want := []string{"v0", "v1", "v2"}; !slices.Equal(got, want) {
					t.Fatalf("call %s saved as %v, want %v in that order", id, got, want)
				}
			}
			if st := w.Status(); st.Saved != calls*versions || st.Waiting != 0 {
				t.Errorf("status: %d saved, %d waiting; want %d and 0", st.Saved, st.Waiting, calls*versions)
			}
			if got := o.most > 1; got != tt.overlap {
				t.Errorf("at most %d transactions at once (overlap %v, want %v)", o.most, got, tt.overlap)
			}
		})
	}
}

// TestWriterParallelStopCountsEveryCall: stopped while the database
// holds every save, the writer counts as not saved every call it took,
// whichever share held it.
func TestWriterParallelStopCountsEveryCall(t *testing.T) {
	o := &orderSaver{saves: map[string][]string{}, hold: make(chan struct{})}
	in := make(chan *callgraph.Call, 100)
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{Store: o, In: in, Parallel: 3, MaxBatch: 4, MaxDelay: time.Millisecond, MaxQueue: 4}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	for _, c := range ids(100, "s") {
		in <- c
	}
	// Let the shares fill up and block, then stop.
	for deadline := time.Now().Add(5 * time.Second); len(in) > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		if w.Status().Waiting >= 12 {
			break
		}
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	err := <-done
	taken := 100 - len(in)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d calls not saved", taken)) {
		t.Errorf("err = %v, want %d calls not saved", err, taken)
	}
}

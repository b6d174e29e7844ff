package daemon

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/gen"
	"github.com/calltrail/calltrail/internal/journal"
	"github.com/calltrail/calltrail/internal/sim"
	"github.com/calltrail/calltrail/internal/store"
)

// stamps records when each call completed in the engine (the rater is
// called at that moment) and when its row was committed.
type stamps struct {
	mu        sync.Mutex
	completed map[string]time.Time
	committed map[string]time.Time
}

type completedAt struct{ s *stamps }

func (r completedAt) Rate(c *callgraph.Call) []callgraph.Billing {
	r.s.mu.Lock()
	r.s.completed[c.ID] = time.Now()
	r.s.mu.Unlock()
	return nil
}

type committedAt struct {
	store.Saver
	s *stamps
}

func (w committedAt) SaveCalls(ctx context.Context, calls []*callgraph.Call) error {
	err := w.Saver.SaveCalls(ctx, calls)
	if err == nil {
		now := time.Now()
		w.s.mu.Lock()
		for _, c := range calls {
			w.s.committed[c.ID] = now
		}
		w.s.mu.Unlock()
	}
	return err
}

// TestLiveLatency measures, for serve fed live by a fake Asterisk at a
// given event rate, the delay from the event that completes a call (its
// last Hangup) to its committed row. A measurement, not a check: run it
// by hand, e.g.
//
//	CALLTRAIL_LATENCY_RATE=10000 go test ./internal/daemon -run TestLiveLatency -v
//
// and copy the figures to docs/performance.md.
func TestLiveLatency(t *testing.T) {
	rate, _ := strconv.Atoi(os.Getenv("CALLTRAIL_LATENCY_RATE"))
	if rate <= 0 {
		t.Skip("set CALLTRAIL_LATENCY_RATE (events per second) to measure")
	}
	var stream bytes.Buffer
	o := gen.DefaultOptions()
	o.Calls, o.Concurrency, o.Seed = 4000, 200, 1
	gs, err := gen.Write(&stream, o)
	if err != nil {
		t.Fatal(err)
	}
	capture, err := sim.ReadCapture("generated", bytes.NewReader(stream.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// The stream's own pace, sped up to the asked event rate.
	evs := capture.Events
	span := evs[len(evs)-1].Time.Sub(evs[0].Time).Seconds()
	speed := float64(rate) * span / float64(len(evs))
	asterisk := &sim.Server{User: "lab", Secret: "labpass", Captures: []*sim.Capture{capture}, Speed: speed}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go asterisk.Serve(l)
	defer asterisk.Close()

	dir := t.TempDir()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "calls.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	s := &stamps{completed: map[string]time.Time{}, committed: map[string]time.Time{}}
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	d, err := New(Options{
		Sources: []Source{{ID: "pbx1", Addr: l.Addr().String(), Config: cfg}},
		Store:   committedAt{st, s}, Journal: j, Rater: completedAt{s},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- d.Run(ctx) }()
	<-asterisk.Done()
	elapsed := time.Since(start)
	for !d.Status().Idle() {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	for id, c := range s.completed {
		if w, ok := s.committed[id]; ok {
			lat = append(lat, w.Sub(c))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		t.Fatal("no call measured")
	}
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("%d events (%d calls) in %v: %.0f events/s; hangup to committed row over %d calls: p50 %v, p99 %v, max %v",
		len(evs), gs.Calls, elapsed.Round(time.Millisecond), float64(len(evs))/elapsed.Seconds(), len(lat),
		pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))
}

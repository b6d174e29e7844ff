package bus_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
	"github.com/calltrail/calltrail/internal/bus"
	"github.com/calltrail/calltrail/internal/bus/bustest"
	"github.com/calltrail/calltrail/internal/journal"
	"github.com/calltrail/calltrail/internal/netfault"
)

type collector struct {
	c      *bus.Collector
	cancel context.CancelFunc
	done   chan error
}

func startCollector(t *testing.T, b *bus.Bus, ast *amitest.Server, server, spool string) *collector {
	t.Helper()
	j, err := journal.Open(spool, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	c := &bus.Collector{Server: server, Client: ami.NewClient(ast.Addr(), cfg), Bus: b, Spool: j}
	ctx, cancel := context.WithCancel(context.Background())
	col := &collector{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := c.Run(ctx)
		j.Close()
		col.done <- err
	}()
	t.Cleanup(col.stop)
	return col
}

func (c *collector) stop() {
	c.cancel()
	<-c.done
	c.done <- nil // a second stop returns at once
}

// waitReady waits until the collector's connection takes events.
func waitReady(t *testing.T, ast *amitest.Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ast.Send(ami.NewMessage("Event", "TestReady")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the collector never took events")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func numbered(from, to int) []*ami.Message {
	var out []*ami.Message
	for i := from; i < to; i++ {
		out = append(out, ami.NewMessage("Event", "Numbered", "N", strconv.Itoa(i)))
	}
	return out
}

// receive reads the feed until it has n Numbered events, or fails.
func receive(t *testing.T, f *bus.Feed, n int, timeout time.Duration) []int {
	t.Helper()
	got, _ := receiveSeq(t, f, n, timeout, true)
	return got
}

// receiveSeq is receive that also returns the stream sequence of the last
// event; arrival says whether events must carry the collector's arrival.
func receiveSeq(t *testing.T, f *bus.Feed, n int, timeout time.Duration, arrival bool) ([]int, uint64) {
	t.Helper()
	var got []int
	var last uint64
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case m := <-f.Events():
			if m.Event() != "Numbered" {
				continue
			}
			seq, ok := bus.Seq(m)
			if !ok {
				t.Fatalf("event without %s: %v", bus.FieldSeq, m)
			}
			last = seq
			if _, ok := bus.Arrival(m); arrival && !ok {
				t.Fatalf("event without %s: %v", bus.FieldArrival, m)
			}
			v, _ := strconv.Atoi(m.Get("N"))
			got = append(got, v)
		case <-deadline:
			t.Fatalf("received %d of %d events", len(got), n)
		}
	}
	return got, last
}

func runFeed(t *testing.T, b *bus.Bus, server string, skip uint64) (*bus.Feed, context.CancelFunc) {
	t.Helper()
	f, err := bus.NewFeed(b, server, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx, skip); err != nil {
			t.Errorf("feed: %v", err)
		}
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return f, stop
}

func checkSequence(t *testing.T, got []int, from int) {
	t.Helper()
	for i, v := range got {
		if v != from+i {
			t.Fatalf("event %d is N=%d, want %d (lost, doubled or out of order): %v", i, v, from+i, got)
		}
	}
}

// Events reach the feed once each, in order, through a NATS outage and a
// collector that republishes its whole spool (a crash before it saved
// where it was).
func TestCollectorToFeed(t *testing.T) {
	// The collector talks to NATS through a proxy the test can cut.
	px := netfault.New(t, "127.0.0.1:4222")
	cfg := bustest.Config(t)
	b := bustest.Open(t, "", cfg) // the test's own view, straight to NATS
	_, cjs, err := bus.Connect("nats://"+px.Addr(), "collector-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cb, err := bus.Open(ctx, cjs, cfg)
	if err != nil {
		t.Fatal(err)
	}

	ast := amitest.NewServer(amitest.Config{Username: "lab", Secret: "labpass"})
	t.Cleanup(ast.Close)
	spool := filepath.Join(t.TempDir(), "spool")
	col := startCollector(t, cb, ast, "pbx1", spool)
	waitReady(t, ast)
	feed, stopFeed := runFeed(t, b, "pbx1", 0)

	ast.Send(numbered(0, 500)...)
	checkSequence(t, receive(t, feed, 500, 10*time.Second), 0)

	// NATS goes away; Asterisk goes on.
	px.SetUp(false)
	ast.Send(numbered(500, 1500)...)
	time.Sleep(500 * time.Millisecond)
	if st := col.c.Stats(); st.Published > st.Spooled-1000 {
		t.Fatalf("published %d of %d spooled while NATS was away", st.Published, st.Spooled)
	}
	px.SetUp(true)
	checkSequence(t, receive(t, feed, 1000, 20*time.Second), 500)

	// The collector crashes having saved nothing: its restart publishes
	// the spool again from the start, and JetStream drops every duplicate.
	col.stop()
	if err := os.Remove(filepath.Join(spool, "checkpoint.json")); err != nil {
		t.Fatal(err)
	}
	startCollector(t, cb, ast, "pbx1", spool)
	waitReady(t, ast)
	ast.Send(numbered(1500, 1600)...)
	got, _ := receiveSeq(t, feed, 50, 10*time.Second, true)
	checkSequence(t, got, 1500)
	_, acked := receiveSeq(t, feed, 1, 10*time.Second, true) // N=1550
	feed.Ack(acked)

	// An engine that stops with events unacknowledged gets them again at
	// once from a new feed: everything after what it acknowledged.
	stopFeed()
	ast.Send(numbered(1600, 1700)...)
	feed2, _ := runFeed(t, b, "pbx1", 0)
	checkSequence(t, receive(t, feed2, 149, 10*time.Second), 1551)
}

// The feed drops redeliveries of what the engine journaled: skip.
func TestFeedSkipsJournaled(t *testing.T) {
	b := bustest.Open(t, "", bustest.Config(t))
	subject, _ := b.Subject("pbx9")
	ctx := context.Background()
	var seqs []uint64
	for i := range 10 {
		ack, err := b.JS.Publish(ctx, subject, []byte(fmt.Sprintf("Event: Numbered\r\nN: %d\r\n\r\n", i)))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ack.Sequence)
	}
	// Garbage on the subject is dropped with a log, not delivered.
	if _, err := b.JS.Publish(ctx, subject, []byte("\x00\x01 not AMI")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, subject, []byte("Event: Numbered\r\nN: 10\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	f, _ := runFeed(t, b, "pbx9", seqs[3])
	got, _ := receiveSeq(t, f, 7, 5*time.Second, false)
	checkSequence(t, got, 4)
	if malformed, _ := f.Stats(); malformed != 1 {
		t.Errorf("malformed = %d, want 1", malformed)
	}
}

// TestCollectorRefusesReconnectBuffer: a connection that buffers what is
// published while it reconnects would put those events on the stream
// ahead of the earlier ones the collector publishes again; the collector
// refuses it, and Connect's connection is accepted.
func TestCollectorRefusesReconnectBuffer(t *testing.T) {
	nc, err := nats.Connect(bustest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b := bustest.Open(t, "", bustest.Config(t))
	buffering := &bus.Bus{JS: js, Stream: b.Stream, Config: b.Config, Prefix: b.Prefix}
	c := &bus.Collector{Server: "pbx1", Bus: buffering}
	if err := c.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "buffers while reconnecting") {
		t.Errorf("Run with a buffering connection: %v", err)
	}

	_, cjs, err := bus.Connect(bustest.URL(), "collector-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cjs.Conn().Close()
	if cjs.Conn().Opts.ReconnectBufSize >= 0 {
		t.Errorf("Connect's connection buffers %d bytes while reconnecting", cjs.Conn().Opts.ReconnectBufSize)
	}
}

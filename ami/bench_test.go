package ami_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
)

// benchStream concatenates every captured event stream into one buffer
// (2.8 MB, 7184 messages) and counts its messages.
func benchStream(b *testing.B) (buf []byte, msgs int) {
	b.Helper()
	a, _ := filepath.Glob("../testdata/*/*/ami.log")
	c, _ := filepath.Glob("../testdata/ami-actions/*/*.ami.log")
	for _, f := range append(a, c...) {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		buf = append(buf, data...)
	}
	r := ami.NewReader(bufio.NewReader(bytes.NewReader(buf)))
	var m ami.Message
	for {
		if err := r.ReadMessageInto(&m); err == io.EOF {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		msgs++
	}
	return buf, msgs
}

// report adds events/s (from the wall clock) and CPU ns per event (all
// threads, the collector's included) to a benchmark whose op is one
// message.
func report(b *testing.B, cpuStart time.Duration) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "events/s")
	}
	if cpu := cpuTime() - cpuStart; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
	}
}

// benchRead reads the captures in a loop, one message per op.
func benchRead(b *testing.B, bufSize int, reuse bool) {
	buf, msgs := benchStream(b)
	src := bytes.NewReader(buf)
	br := bufio.NewReaderSize(src, bufSize)
	r := ami.NewReader(br)
	var m ami.Message
	b.SetBytes(int64(len(buf) / msgs))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		var err error
		if reuse {
			err = r.ReadMessageInto(&m)
		} else {
			_, err = r.ReadMessage()
		}
		if err == io.EOF {
			src.Reset(buf)
			br.Reset(src)
			i--
		} else if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, start)
}

// BenchmarkReadMessageInto is the engine's loop: one reused Message, a
// connection-sized buffer.
func BenchmarkReadMessageInto(b *testing.B) { benchRead(b, 64<<10, true) }

// BenchmarkReadMessageIntoSmallBuffer uses bufio's default 4 KiB buffer:
// more messages straddle the buffer's end.
func BenchmarkReadMessageIntoSmallBuffer(b *testing.B) { benchRead(b, 4096, true) }

// BenchmarkReadMessage allocates a Message per message, as Conn does.
func BenchmarkReadMessage(b *testing.B) { benchRead(b, 64<<10, false) }

// BenchmarkReadMessageLineByLine forces the slow path (a 16-byte buffer):
// the cost of legacy and oversized messages.
func BenchmarkReadMessageLineByLine(b *testing.B) { benchRead(b, 16, true) }

// BenchmarkConnEvents measures events through a Conn: the captures'
// events written to a loopback socket by amitest, read, dispatched and
// received from Events. One op is one event.
func BenchmarkConnEvents(b *testing.B) {
	buf, _ := benchStream(b)
	var events []byte // the captures without banners and responses
	msgs := 0
	r := ami.NewReader(bufio.NewReader(bytes.NewReader(buf)))
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			break
		}
		if m.IsEvent() {
			events = append(events, m.String()...)
			msgs++
		}
	}
	srv := amitest.NewServer(amitest.Config{Username: user, Secret: secret})
	defer srv.Close()
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = user, secret
	cfg.PingInterval = -1
	cfg.EventBuffer = 1 << 20
	c, err := ami.Dial(context.Background(), srv.Addr(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	<-c.Events() // FullyBooted

	b.SetBytes(int64(len(events) / msgs))
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	go func() {
		for sent := 0; sent < b.N; sent += msgs {
			srv.SendRaw(events)
		}
	}()
	for range b.N {
		if _, ok := <-c.Events(); !ok {
			b.Fatal(c.Err())
		}
	}
	b.StopTimer()
	report(b, start)
}

package bus_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
	"github.com/calltrail/calltrail/internal/bus"
	"github.com/calltrail/calltrail/internal/bus/bustest"
	"github.com/calltrail/calltrail/internal/journal"
)

// BenchmarkFeed measures how fast a feed delivers events that wait in the
// stream (an engine catching up): one op is one event.
func BenchmarkFeed(b *testing.B) {
	bb := bustest.Open(b, "", bustest.Config(b))
	subject, _ := bb.Subject("pbx1")
	var ev bytes.Buffer
	fmt.Fprintf(&ev, "Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: 1795333490.838015\r\nChannel: SIP/1001-00000000\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: 1001\r\nCallerIDName: Alice\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: lab\r\nExten: 1002\r\nPriority: 1\r\nUniqueid: 1795333490.0\r\nLinkedid: 1795333490.0\r\n\r\n")
	for i := 0; i < b.N; i++ {
		if _, err := bb.JS.PublishAsync(subject, ev.Bytes()); err != nil {
			b.Fatal(err)
		}
		if i%4096 == 4095 {
			<-bb.JS.PublishAsyncComplete()
		}
	}
	<-bb.JS.PublishAsyncComplete()
	f, err := bus.NewFeed(bb, "pbx1", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	go f.Run(ctx, 0)
	for i := 0; i < b.N; i++ {
		m := <-f.Events()
		if i%1024 == 0 {
			s, _ := bus.Seq(m)
			f.Ack(s)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkCollector measures a collector from the AMI socket to events
// acknowledged by JetStream: one op is one event.
func BenchmarkCollector(b *testing.B) {
	bb := bustest.Open(b, "", bustest.Config(b))
	ast := amitest.NewServer(amitest.Config{Username: "lab", Secret: "labpass"})
	defer ast.Close()
	j, err := journal.Open(b.TempDir(), journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	// The whole stream arrives at once: let the connection hold it rather
	// than drop a consumer that falls behind (ami.ErrSlowConsumer).
	cfg.EventBuffer = 1 << 20
	c := &bus.Collector{Server: "pbx1", Client: ami.NewClient(ast.Addr(), cfg), Bus: bb, Spool: j}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for ast.Send(ami.NewMessage("Event", "TestReady")) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	var chunks [][]byte
	var stream bytes.Buffer
	for i := 0; i < b.N; i++ {
		if stream.Len() > 256<<10 {
			chunks = append(chunks, bytes.Clone(stream.Bytes()))
			stream.Reset()
		}
		fmt.Fprintf(&stream, "Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: 1795333490.838015\r\nChannel: SIP/1001-%08x\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: 1001\r\nCallerIDName: Alice\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: lab\r\nExten: 1002\r\nPriority: 1\r\nUniqueid: 1795333490.%d\r\nLinkedid: 1795333490.%d\r\n\r\n", i, i, i)
	}
	base := c.Stats().Published
	b.ResetTimer()
	start := time.Now()
	chunks = append(chunks, stream.Bytes())
	for _, c := range chunks {
		ast.SendRaw(c) // Asterisk's side costs next to nothing here
	}
	for c.Stats().Published < base+int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

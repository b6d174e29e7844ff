package bus

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/calltrail/calltrail/internal/journal"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A batch resumes after the last record it sent, not at the spool's end:
// records still in the spool's write buffer (not on disk yet) go in the
// next batch instead of being skipped. This lost events under a steady
// stream.
func TestPublishBatchStopsAtWhatIsOnDisk(t *testing.T) {
	url := os.Getenv("CALLTRAIL_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("NATS: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := fmt.Sprintf("CALLTRAIL_TEST_PB_%d", time.Now().UnixNano())
	b, err := Open(ctx, js, StreamConfig{Name: name, Prefix: "calltrail-test-pb-" + name[len(name)-9:] + "."})
	if err != nil {
		t.Fatal(err)
	}
	defer js.DeleteStream(context.Background(), name)

	j, err := journal.Open(t.TempDir(), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	add := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := j.Append(journal.Record{Server: "pbx1", Arrival: time.Now(), Data: []byte(fmt.Sprintf("Event: N\r\nN: %d\r\n\r\n", i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(0, 10)
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	onDisk := j.End()
	add(10, 15) // buffered, not flushed

	c := &Collector{Server: "pbx1", Bus: b, Spool: j, Batch: 100, epoch: "test"}
	subject, _ := b.Subject("pbx1")
	next, n, err := c.publishBatch(ctx, subject, journal.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 || next != onDisk {
		t.Fatalf("first batch: %d records up to %v, want 10 up to %v (the spool's end is %v)", n, next, onDisk, j.End())
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	next, n, err = c.publishBatch(ctx, subject, next)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 || next != j.End() {
		t.Fatalf("second batch: %d records up to %v, want 5 up to %v", n, next, j.End())
	}
	// A batch smaller than what waits stops where it stopped.
	add(15, 40)
	j.Flush()
	c.Batch = 10
	for want := 15; want < 40; want += 10 {
		var got int
		next, got, err = c.publishBatch(ctx, subject, next)
		if err != nil || got != min(10, 40-want) {
			t.Fatalf("batch from %d: %d records, err %v", want, got, err)
		}
	}
	if next != j.End() {
		t.Fatalf("after the batches: %v, want %v", next, j.End())
	}
	info, err := b.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 40 {
		t.Fatalf("the stream holds %d messages, want 40", info.State.Msgs)
	}
}

package callgraph_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

// BenchmarkReplay replays every capture, parse and engine, and reports
// events per second and allocations per event.
func BenchmarkReplay(b *testing.B) {
	var captures [][]byte
	var events int
	for _, dir := range captureDirs(b) {
		data, err := os.ReadFile(filepath.Join(dir, "ami.log"))
		if err != nil {
			b.Fatal(err)
		}
		captures = append(captures, data)
		r := ami.NewReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			if _, err := r.ReadMessage(); err != nil {
				break
			}
			events++
		}
	}
	var size int64
	for _, c := range captures {
		size += int64(len(c))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	calls := 0
	for i := 0; i < b.N; i++ {
		for _, data := range captures {
			eng := callgraph.New(callgraph.Options{Server: "bench"})
			r := ami.NewReader(bufio.NewReaderSize(bytes.NewReader(data), 64<<10))
			var m ami.Message
			now := time.Unix(0, 0)
			for {
				if err := r.ReadMessageInto(&m); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
				calls += len(eng.Handle(&m, now))
			}
			calls += len(eng.Flush(time.Time{}))
		}
	}
	b.StopTimer()
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(events)/perOp, "events/s")
	_ = calls
}

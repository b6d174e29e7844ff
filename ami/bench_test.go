package ami

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchStream concatenates every captured event stream into one buffer.
func benchStream(tb testing.TB) (buf []byte, msgs int) {
	tb.Helper()
	files, err := filepath.Glob("../testdata/*/*/ami.log")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no captures: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		buf = append(buf, b...)
	}
	r := NewReader(bufio.NewReader(bytes.NewReader(buf)))
	var m Message
	for {
		if err := r.ReadMessageInto(&m); err == io.EOF {
			break
		} else if err != nil {
			tb.Fatal(err)
		}
		msgs++
	}
	return buf, msgs
}

func BenchmarkReadMessageInto(b *testing.B) {
	buf, msgs := benchStream(b)
	br := bufio.NewReaderSize(bytes.NewReader(buf), 64<<10)
	r := NewReader(br)
	var m Message
	b.SetBytes(int64(len(buf) / msgs))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.ReadMessageInto(&m); err != nil {
			if err != io.EOF {
				b.Fatal(err)
			}
			br.Reset(bytes.NewReader(buf))
			i--
		}
	}
}

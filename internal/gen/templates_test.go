package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

var update = flag.Bool("update", false, "rewrite templates.ami.gz from the captures in ../../testdata")

// replayCalls feeds messages to a fresh engine and returns the calls it
// completes, flushed at the end.
func replayCalls(msgs []*ami.Message) []*callgraph.Call {
	eng := callgraph.New(callgraph.Options{Server: "gen"})
	var calls []*callgraph.Call
	for _, m := range msgs {
		calls = append(calls, eng.Handle(m, time.Time{})...)
	}
	return append(calls, eng.Flush(time.Time{})...)
}

func readAll(t *testing.T, r io.Reader) []*ami.Message {
	t.Helper()
	ar := ami.NewReader(bufio.NewReader(r))
	var msgs []*ami.Message
	for {
		m, err := ar.ReadMessage()
		if err == io.EOF {
			return msgs
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
}

// buildTemplates splits every capture and keeps the groups the engine
// makes complete calls of.
func buildTemplates(t *testing.T) []byte {
	t.Helper()
	files, err := filepath.Glob("../../testdata/*/*/ami.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	var out bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(f), "../../testdata/"), "/ami.log")
		whole := replayCalls(readAll(t, bytes.NewReader(data)))
		groups, err := Split(name, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var kept []Group
		var calls []int
		sum := 0
		for _, g := range groups {
			cs := replayCalls(g.Events)
			complete := len(cs) > 0
			for _, c := range cs {
				complete = complete && c.Complete
			}
			if !complete {
				t.Logf("%s: left out: %d events, %d calls, not all complete", g.Name, len(g.Events), len(cs))
				continue
			}
			kept = append(kept, g)
			calls = append(calls, len(cs))
			sum += len(cs)
		}
		if sum != len(whole) {
			t.Errorf("%s: groups make %d calls, the capture %d", name, sum, len(whole))
		}
		t.Logf("%s: %d groups, %d calls", name, len(kept), sum)
		if err := WriteTemplates(&out, kept, calls); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// TestTemplatesFile checks that the embedded templates are what the
// captures make today; -update rewrites them.
func TestTemplatesFile(t *testing.T) {
	want := buildTemplates(t)
	if *update {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(want)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("templates.ami.gz", z.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(templatesFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("templates.ami.gz is stale: run go test ./internal/gen -run TestTemplatesFile -update")
	}
}

// Package callgraphtest gives tests call records: read from the JSON
// lines that replay --format json, the golden files and the export write,
// or made by the engine from an AMI capture.
package callgraphtest

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

// Load decodes every record of the named JSON lines files, in order; it
// fails the test on a file it cannot read or a line it cannot decode.
func Load(t testing.TB, paths ...string) []*callgraph.Call {
	t.Helper()
	var calls []*callgraph.Call
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for n := 1; sc.Scan(); n++ {
			c := new(callgraph.Call)
			if err := json.Unmarshal(sc.Bytes(), c); err != nil {
				f.Close()
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			calls = append(calls, c)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return calls
}

// Replay feeds the AMI capture at path to a fresh engine of server, as
// calltrail replay does (events a millisecond apart for a capture without
// Timestamp headers), and returns every call, the ones still open at the
// end included.
func Replay(t testing.TB, server, path string) []*callgraph.Call {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eng := callgraph.New(callgraph.Options{Server: server})
	r := ami.NewReader(bufio.NewReader(f))
	var calls []*callgraph.Call
	var m ami.Message
	arrival := time.Unix(0, 0).UTC()
	for {
		err := r.ReadMessageInto(&m)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		arrival = arrival.Add(time.Millisecond)
		calls = append(calls, eng.Handle(&m, arrival)...)
	}
	return append(calls, eng.Flush(time.Time{})...)
}

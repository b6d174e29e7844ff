package reports

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/calltrail/calltrail/callgraph"
)

// load reads the call records of the named captures from testdata/calls
// (copies of callgraph's golden records), in file order.
func load(t testing.TB, scenarios ...string) []*callgraph.Call {
	t.Helper()
	var calls []*callgraph.Call
	for _, s := range scenarios {
		f, err := os.Open(filepath.Join("testdata", "calls", s+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c := new(callgraph.Call)
			if err := json.Unmarshal(sc.Bytes(), c); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			calls = append(calls, c)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return calls
}

// near reports whether two figures agree to the millisecond.
func near(a, b float64) bool { return a-b < 0.0005 && b-a < 0.0005 }

func ptr[T any](v T) *T { return &v }

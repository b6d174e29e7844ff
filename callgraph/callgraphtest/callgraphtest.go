// Package callgraphtest reads call records for tests: the JSON lines that
// replay --format json, the golden files and the export write.
package callgraphtest

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

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

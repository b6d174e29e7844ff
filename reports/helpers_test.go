package reports

import (
	"path/filepath"
	"testing"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/callgraph/callgraphtest"
)

// load reads the call records of the named captures from testdata/calls
// (copies of callgraph's golden records), in file order.
func load(t testing.TB, scenarios ...string) []*callgraph.Call {
	t.Helper()
	var paths []string
	for _, s := range scenarios {
		paths = append(paths, filepath.Join("testdata", "calls", s+".jsonl"))
	}
	return callgraphtest.Load(t, paths...)
}

// near reports whether two figures agree to the millisecond.
func near(a, b float64) bool { return a-b < 0.0005 && b-a < 0.0005 }

func ptr[T any](v T) *T { return &v }

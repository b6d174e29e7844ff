package web

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/callgraph/callgraphtest"
	"github.com/calltrail/calltrail/internal/store"
)

// replay reads AMI captures of testdata ("asterisk20/S05") as calltrail
// replay does, one engine per capture, and returns the calls they hold.
func replay(t testing.TB, scenarios ...string) []*callgraph.Call {
	t.Helper()
	var calls []*callgraph.Call
	for _, s := range scenarios {
		calls = append(calls, callgraphtest.Replay(t, "lab", filepath.Join("..", "..", "testdata", s, "ami.log"))...)
	}
	if len(calls) == 0 {
		t.Fatalf("no calls in %v", scenarios)
	}
	return calls
}

// testStore is a new SQLite database holding calls.
func testStore(t testing.TB, calls []*callgraph.Call) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.SaveCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	return st
}

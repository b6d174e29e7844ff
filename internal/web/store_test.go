package web

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
)

// replay reads AMI captures of testdata ("asterisk20/S05") as calltrail
// replay does, one engine per capture, and returns the calls they hold.
func replay(t testing.TB, scenarios ...string) []*callgraph.Call {
	t.Helper()
	var calls []*callgraph.Call
	for _, s := range scenarios {
		f, err := os.Open(filepath.Join("..", "..", "testdata", s, "ami.log"))
		if err != nil {
			t.Fatal(err)
		}
		eng := callgraph.New(callgraph.Options{Server: "lab"})
		r := ami.NewReader(bufio.NewReader(f))
		var m ami.Message
		clock := time.Unix(0, 0).UTC()
		for {
			err := r.ReadMessageInto(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			clock = clock.Add(time.Millisecond)
			calls = append(calls, eng.Handle(&m, clock)...)
		}
		calls = append(calls, eng.Flush(time.Time{})...)
		f.Close()
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

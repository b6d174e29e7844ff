package store

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

// engineCalls runs every scenario capture through the call engine and
// returns the calls it completes: real records, with everything the
// engine fills in.
func engineCalls(t *testing.T) []*callgraph.Call {
	t.Helper()
	var paths []string
	for _, pat := range []string{"asterisk20/*/ami.log", "asterisk22/*/ami.log", "quality/*/ami.log"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "testdata", pat))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	var calls []*callgraph.Call
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		e := callgraph.New(callgraph.Options{Server: "pbx-" + filepath.Base(filepath.Dir(p))})
		r := ami.NewReader(bufio.NewReader(f))
		arrival := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
		for {
			m, err := r.ReadMessage()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			arrival = arrival.Add(time.Millisecond)
			calls = append(calls, e.Handle(m, arrival)...)
		}
		calls = append(calls, e.Flush(time.Time{})...)
		f.Close()
	}
	if len(calls) < 40 {
		t.Fatalf("the engine completed only %d calls", len(calls))
	}
	return calls
}

// TestRoundTripEngineCalls stores every call the engine makes of the
// captures and reads each back unchanged.
func TestRoundTripEngineCalls(t *testing.T) {
	calls := engineCalls(t)
	t.Logf("%d calls from the captures", len(calls))
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.SaveCalls(ctx, calls); err != nil {
			t.Fatal(err)
		}
		for _, c := range calls {
			got, err := s.Call(ctx, c.Server, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameCall(t, got, c)
		}
		if n := count(t, s, "callRow", ""); n != int64(len(calls)) {
			t.Errorf("calls rows = %d, want %d", n, len(calls))
		}
	})
}

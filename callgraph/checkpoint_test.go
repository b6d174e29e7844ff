package callgraph_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
)

func readMessages(t *testing.T, path string) []*ami.Message {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := ami.NewReader(bufio.NewReader(f))
	var out []*ami.Message
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

// TestCheckpointRecovery is what a restart relies on: stop the engine
// after any event, start a fresh one at the checkpoint it gave, feed it
// the rest — every call completed after the stop comes out exactly as an
// uninterrupted run writes it.
func TestCheckpointRecovery(t *testing.T) {
	for _, name := range []string{"asterisk20/S14", "asterisk20/S06b", "asterisk20/S22", "asterisk22/P04"} {
		t.Run(name, func(t *testing.T) {
			msgs := readMessages(t, filepath.Join("..", "testdata", name, "ami.log"))
			arrival := func(i int) time.Time { return time.Unix(1795333000, 0).Add(time.Duration(i) * time.Millisecond) }
			// The uninterrupted run, and the checkpoint after each event.
			full := callgraph.New(callgraph.Options{})
			full.Checkpoint()
			want := map[string]string{}
			completedAt := map[string]int{}
			checkpoints := make([]int64, len(msgs))
			for i, m := range msgs {
				for _, c := range full.HandleSeq(m, arrival(i), int64(i+1)) {
					b, _ := json.Marshal(c)
					want[c.ID] = string(b)
					completedAt[c.ID] = i
				}
				checkpoints[i] = full.Checkpoint()
			}
			prev := int64(0)
			for stop := 0; stop < len(msgs); stop += 7 {
				cp := checkpoints[stop]
				if cp < prev {
					t.Fatalf("checkpoint went back from %d to %d", prev, cp)
				}
				prev = cp
				eng := callgraph.New(callgraph.Options{})
				got := map[string]string{}
				for i := int(cp) - 1; i < len(msgs); i++ {
					for _, c := range eng.HandleSeq(msgs[i], arrival(i), int64(i+1)) {
						b, _ := json.Marshal(c)
						got[c.ID] = string(b)
					}
				}
				for id, at := range completedAt {
					if at <= stop {
						continue // stored before the stop
					}
					if got[id] != want[id] {
						t.Fatalf("stop after event %d, checkpoint %d: call %s\n got: %.300s\nwant: %.300s", stop+1, cp, id, got[id], want[id])
					}
				}
			}
		})
	}
}

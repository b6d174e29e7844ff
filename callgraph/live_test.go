package callgraph_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// TestInProgressChangesNothing is what the live view relies on: looking at
// the calls in progress after every event leaves every record exactly as
// an uninterrupted replay writes it, and what it shows is sane — open,
// counted up to the moment asked, and every call it shows completes.
func TestInProgressChangesNothing(t *testing.T) {
	for _, dir := range captureDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			path := filepath.Join(dir, "ami.log")
			want := marshal(t, replay(t, path))

			eng := callgraph.New(callgraph.Options{Server: "lab"})
			var got []*callgraph.Call
			seen := map[string]bool{}
			arrival := time.Unix(0, 0)
			for _, m := range readMessages(t, path) {
				arrival = arrival.Add(time.Millisecond)
				got = append(got, eng.Handle(m, arrival)...)
				live := eng.InProgress(time.Time{})
				if n := eng.Stats().OpenCalls; len(live) != n {
					t.Fatalf("InProgress gave %d calls, the engine has %d open", len(live), n)
				}
				for _, c := range live {
					checkLive(t, c)
					seen[c.ID] = true
				}
			}
			got = append(got, eng.Flush(time.Time{})...)
			if g := marshal(t, got); g != want {
				t.Fatalf("records changed by InProgress: %s", firstDiff(g, want))
			}
			done := map[string]bool{}
			for _, c := range got {
				done[c.ID] = true
			}
			for id := range seen {
				if !done[id] {
					// A call shown live may merge into another; it must
					// still be one of the records' legs.
					if !legOfSome(id, got) {
						t.Errorf("call %s was shown in progress but never completed", id)
					}
				}
			}
		})
	}
}

func checkLive(t *testing.T, c *callgraph.Call) {
	t.Helper()
	if c.Complete || !c.End.IsZero() {
		t.Fatalf("call %s in progress says complete=%v end=%v", c.ID, c.Complete, c.End)
	}
	for _, l := range c.Legs {
		if l.Duration < 0 || l.Ring < 0 || l.Billsec < 0 || l.Talk < 0 {
			t.Fatalf("call %s leg %s: negative time %+v", c.ID, l.ID, l)
		}
		if l.Ended.IsZero() {
			switch l.Disposition {
			case callgraph.DispositionRinging, callgraph.DispositionUp, callgraph.DispositionHeld:
			default:
				t.Fatalf("call %s leg %s still up has disposition %q", c.ID, l.ID, l.Disposition)
			}
			if d := l.Ring + l.Billsec - l.Duration; d < -0.0021 || d > 0.0021 { // each of three rounded to the ms
				t.Fatalf("call %s leg %s: ring %v + billsec %v ≠ duration %v", c.ID, l.ID, l.Ring, l.Billsec, l.Duration)
			}
		}
	}
}

func legOfSome(id string, calls []*callgraph.Call) bool {
	for _, c := range calls {
		for _, l := range c.Legs {
			if l.ID == id {
				return true
			}
		}
	}
	return false
}

func marshal(t *testing.T, calls []*callgraph.Call) string {
	t.Helper()
	b, err := json.Marshal(calls)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInProgressCountsUp follows the basic call: ringing while the phone
// rings, then both legs up with billsec growing with the moment asked.
func TestInProgressCountsUp(t *testing.T) {
	msgs := readMessages(t, filepath.Join("..", "testdata", "asterisk20", "S01", "ami.log"))
	eng := callgraph.New(callgraph.Options{Server: "lab"})
	var ringing, up, talking bool
	for _, m := range msgs {
		eng.Handle(m, time.Time{})
		live := eng.InProgress(time.Time{})
		if len(live) != 1 || len(live[0].Legs) < 2 {
			continue
		}
		c := live[0]
		callee := c.Legs[1]
		switch callee.Disposition {
		case callgraph.DispositionRinging:
			ringing = true
			if c.Disposition != callgraph.DispositionRinging {
				t.Errorf("call ringing has disposition %q", c.Disposition)
			}
		case callgraph.DispositionUp:
			if !up {
				up = true
				at := callee.Answered.Add(10 * time.Second)
				later := eng.InProgress(at)[0]
				if got := later.Legs[1].Billsec.Duration(); got != 10*time.Second {
					t.Errorf("10 s after the answer the callee's billsec is %v", got)
				}
				if c.Disposition != "ANSWERED" {
					t.Errorf("call answered has disposition %q", c.Disposition)
				}
			}
			if len(c.Segments) > 0 && !talking {
				talking = true
				at := c.Segments[0].Start.Add(7 * time.Second)
				later := eng.InProgress(at)
				if s := later[0].Segments[0]; s.End.Time != at || s.Seconds.Duration() != 7*time.Second {
					t.Errorf("the open talk is not counted up to the moment asked: %+v", s)
				}
			}
		}
	}
	if !ringing || !up || !talking {
		t.Fatalf("the basic call was never seen ringing (%v), up (%v) and talking (%v)", ringing, up, talking)
	}
}

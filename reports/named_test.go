package reports

import (
	"testing"

	"github.com/calltrail/calltrail/callgraph"
)

// Every name runs its report; Needs keeps what that report reads and
// leaves out what it would ignore.
func TestByName(t *testing.T) {
	queued := &callgraph.Call{Queues: []callgraph.QueueEntry{{Queue: "support"}}}
	plain := &callgraph.Call{}
	for _, name := range Names {
		if _, err := ByName(name, []*callgraph.Call{queued, plain}, DefaultOptions()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ByName("frobnicate", nil, DefaultOptions()); err == nil {
		t.Error("an unknown report ran")
	}
	tests := []struct {
		name string
		c    *callgraph.Call
		want bool
	}{
		{"queues", queued, true},
		{"queues", plain, false},
		{"agents", &callgraph.Call{Connections: []callgraph.Connection{{Kind: callgraph.KindQueueAttempt}}}, true},
		{"agents", plain, false},
		{"quality", &callgraph.Call{Legs: []*callgraph.Leg{{Quality: &callgraph.Quality{}}}}, true},
		{"quality", plain, false},
		{"kpi", plain, true},
		{"causes", plain, true},
	}
	for _, tt := range tests {
		if got := Needs(tt.name, tt.c); got != tt.want {
			t.Errorf("Needs(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

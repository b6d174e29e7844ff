package callflow

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/callgraph/callgraphtest"
	"github.com/calltrail/calltrail/reports"
)

var update = flag.Bool("update", false, "rewrite the golden diagrams in testdata/golden")

// load reads the call records of a capture (copies of callgraph's golden
// records in ../testdata/calls).
func load(t testing.TB, scenario string) []*callgraph.Call {
	t.Helper()
	return callgraphtest.Load(t, filepath.Join("..", "testdata", "calls", scenario+".jsonl"))
}

// Every transfer, queue and conference capture, with pickup and parking.
var scenarios = []string{
	"S05", "S06", "S06b", "S07", "S11", "S15", "S17", "S23", "P02", "P03", // transfers
	"S08", "S09", "S20", "P04", "S14", // queues (S14: the mix)
	"S10", "S22", "P05", // conferences
	"S18", "S19", // pickup, parking
}

// interesting is whether a call shows anything but a plain dial (S14's
// basic, busy and unanswered calls are left out of the golden files).
func interesting(calls []*callgraph.Call) bool {
	for _, c := range calls {
		if len(c.Queues) > 0 || len(c.Conferences) > 0 {
			return true
		}
		for _, x := range c.Connections {
			if x.Kind != callgraph.KindDial {
				return true
			}
		}
	}
	return false
}

// TestGolden renders every capture's diagrams and compares them with the
// golden files; run with -update after a deliberate change, and look at
// the SVGs.
func TestGolden(t *testing.T) {
	o := reports.DefaultOptions()
	for _, s := range scenarios {
		for _, g := range Group(load(t, s)) {
			if !interesting(g) {
				continue
			}
			f := Build(o, g...)
			name := s + "-" + g[0].ID
			for ext, render := range map[string]func(*bytes.Buffer) error{
				".svg":       func(b *bytes.Buffer) error { return f.SVG(b) },
				".dot":       func(b *bytes.Buffer) error { return f.DOT(b) },
				".mmd":       func(b *bytes.Buffer) error { return f.Mermaid(b) },
				".gantt.mmd": func(b *bytes.Buffer) error { return f.Gantt(b) },
			} {
				var b bytes.Buffer
				if err := render(&b); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", name+ext)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("%s differs from the golden file; run go test -update and review", path)
				}
			}
		}
	}
}

// describe lists a flow's edges as "N kind from→to style".
func describe(f *Flow) []string {
	var out []string
	for _, e := range f.Edges {
		s := e.Kind + " " + e.From.Label + "→" + e.To.Label
		if e.N > 0 {
			s = string(rune('0'+e.N)) + " " + s
		}
		if e.Dashed {
			s += " dashed"
		}
		if e.Curved {
			s += " curved"
		}
		out = append(out, s)
	}
	return out
}

// The edges of the diagrams, read off the captures' descriptions
// (shared/traces/README.md) by hand.
func TestEdges(t *testing.T) {
	tests := []struct {
		scenario string
		want     []string
	}{
		// S05: 1001 calls 1002; 1002 blind-transfers 1001 to 1003, which
		// 1001's leg then dials.
		{"S05", []string{"1 dial 1001→1002", "2 blind_transfer 1002→1003 curved", "3 dial 1001→1003"}},
		// S06: 1002's consultation call to 1003, then the attended
		// transfer, which leaves 1001 talking to 1003 (unnumbered).
		{"S06", []string{"1 dial 1001→1002", "2 dial 1002→1003", "3 attended_transfer 1002→1003 curved", "joined 1001→1003"}},
		// S07: the consultation is abandoned: a dashed curve to whom the
		// consult leg dialled.
		{"S07", []string{"1 dial 1001→1002", "2 attended_transfer_abandoned 1002→1003 dashed curved", "3 dial 1002→1003"}},
		// S08: the caller enters queue support; 1004 rings out, 1005
		// answers.
		{"S08", []string{"1 queue 1001→support", "2 queue_attempt support→1004 dashed", "3 queue_attempt support→1005"}},
		// S17: the consultation to 1028 never answered while 1027 was on
		// it (dashed); the blonde transfer; 1028 answers 1026's leg.
		{"S17", []string{"1 dial 1026→1027", "2 dial 1027→1028 dashed", "3 attended_transfer 1027→1028 curved", "4 dial 1026→1028"}},
		// S18: 1014 rings and is cancelled when 1019 picks the call up.
		{"S18", []string{"1 dial 1029→1014 dashed", "2 pickup 1019→1014 curved", "3 dial 1029→1019"}},
		// S19: blind transfer to the parking extension, parked in 701,
		// retrieved by 1025.
		{"S19", []string{"1 dial 1023→1024", "2 blind_transfer 1024→700@lab curved", "3 park 1023→default:701", "4 park default:701→1025"}},
		// S23: outbound trunk call, consultation to 1029, attended
		// transfer of the trunk party to 1029.
		{"S23", []string{"1 dial 1026→5557788", "2 dial 1026→1029", "3 attended_transfer 1026→1029 curved", "joined 5557788→1029"}},
	}
	for _, tt := range tests {
		f := Build(reports.DefaultOptions(), load(t, tt.scenario)...)
		got := describe(f)
		if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
			t.Errorf("%s edges:\n got %q\nwant %q", tt.scenario, got, tt.want)
		}
	}
}

// S10's three callers met in conference lab: one diagram, a hub with all
// three joins; S23's trunk party is a trunk end-point.
func TestNodes(t *testing.T) {
	groups := Group(load(t, "S10"))
	if len(groups) != 1 || len(groups[0]) != 3 {
		t.Fatalf("S10 groups = %d", len(groups))
	}
	f := Build(reports.DefaultOptions(), groups[0]...)
	var hub *Node
	for _, n := range f.Nodes {
		if n.Kind == Conference {
			hub = n
		}
	}
	if hub == nil || hub.Label != "lab" {
		t.Fatalf("no conference hub in %v", f.Nodes)
	}
	joins := 0
	for _, e := range f.Edges {
		if e.To == hub && e.Kind == callgraph.KindConferenceJoin {
			joins++
		}
	}
	if joins != 3 || len(f.Lanes) != 3 {
		t.Errorf("joins = %d, lanes = %d, want 3 and 3", joins, len(f.Lanes))
	}
	f = Build(reports.DefaultOptions(), load(t, "S23")...)
	if f.Nodes[1].Kind != Trunk || f.Nodes[1].Label != "5557788" {
		t.Errorf("S23 second node = %+v", f.Nodes[1])
	}
	// Queue agents sit in the queue's box.
	f = Build(reports.DefaultOptions(), load(t, "S08")...)
	if len(f.Boxes) != 1 || f.Boxes[0] != "support" {
		t.Fatalf("boxes = %v", f.Boxes)
	}
	for _, n := range f.Nodes {
		if inBox := n.Box == "support"; inBox != (n.Label != "1001") {
			t.Errorf("%s in box: %v", n.Label, inBox)
		}
	}
}

// S08's caller lane, by hand: answered by the PBX at once (no ring), in
// queue support from 07:46:52.857 to 07:46:57.865 (5.008 s), talk with
// 1005 for 6.013 s; the 0.5 s before the queue is answered time without
// talk.
func TestTimeline(t *testing.T) {
	f := Build(reports.DefaultOptions(), load(t, "S08")...)
	lane := f.Lanes[0]
	var kinds []string
	for _, b := range lane.Bars {
		kinds = append(kinds, b.Kind+" "+callgraph.Dur(b.To.Sub(b.From)).Duration().String())
	}
	want := []string{"hold 501ms", "queue 5.008s", "talk 6.013s"}
	if strings.Join(kinds, ", ") != strings.Join(want, ", ") {
		t.Errorf("1001 lane = %v, want %v", kinds, want)
	}
	// 1004 rang 3 s and never answered: one ring bar.
	if b := f.Lanes[1].Bars; len(b) != 1 || b[0].Kind != BarRing || b[0].To.Sub(b[0].From).Seconds() != 3.002 {
		t.Errorf("1004 lane = %+v", b)
	}
}

// Transfers to applications become special end-points: a blind transfer
// to voicemail, one to an IVR menu, one to a plain extension.
func TestApplicationEndpoints(t *testing.T) {
	c := load(t, "S05")[0]
	by, from := c.Connections[1].By, c.Connections[1].From
	c.Connections = []callgraph.Connection{c.Connections[0],
		{Kind: callgraph.KindBlindTransfer, By: by, From: from, To: "VoiceMail", At: c.Connections[1].At},
		{Kind: callgraph.KindBlindTransfer, By: by, From: from, To: "s@ivr-main", At: c.Connections[1].At},
		{Kind: callgraph.KindBlindTransfer, By: by, From: from, To: "700@lab", At: c.Connections[1].At},
	}
	f := Build(reports.DefaultOptions(), c)
	var kinds []string
	for _, n := range f.Nodes {
		kinds = append(kinds, string(n.Kind))
	}
	if got := strings.Join(kinds, " "); got != "phone phone voicemail ivr extension" {
		t.Errorf("kinds = %s", got)
	}
	var b bytes.Buffer
	if err := f.SVG(&b); err != nil || !strings.Contains(b.String(), "<ellipse") {
		t.Errorf("SVG: %v, ellipses missing", err)
	}
}

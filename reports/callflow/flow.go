// Package callflow draws one call the way operators draw it on a
// whiteboard: every party an end-point (phones and trunks; queues,
// conferences, parking lots, voicemail, IVRs and dialplan extensions as
// special end-points), the connections numbered in the order they were
// placed, unanswered attempts dashed, each transfer a curved arrow from
// the party who made it labelled blind or attended with its time, a
// conference a hub with everyone who joined, and a queue's ring attempts
// inside a box for the queue. Beside it, a timeline with one lane per
// leg: ringing, queue wait, talk (with whom), parking, and answered time
// without talk (hold).
//
// Build makes a Flow from call records; SVG, DOT and Mermaid render it
// without any external program.
package callflow

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/reports"
)

// A Kind is the sort of end-point a node stands for.
type Kind string

// End-point kinds.
const (
	Phone      Kind = "phone"
	Trunk      Kind = "trunk"
	Queue      Kind = "queue"
	Conference Kind = "conference"
	Park       Kind = "park"
	Voicemail  Kind = "voicemail"
	IVR        Kind = "ivr"
	Extension  Kind = "extension"
)

// A Node is one end-point.
type Node struct {
	ID    string // n1, n2… in order of appearance
	Kind  Kind
	Label string // party, "support", "lab2"
	Sub   string // endpoint ("SIP/1001"), "queue", "conference"…
	// Box is the queue whose context box holds the node ("" for none).
	Box string

	key          string
	layer, order int
	x, y         float64
}

// An Edge is a connection between two end-points.
type Edge struct {
	// N numbers the connections in the order they were placed; 0 for an
	// edge that shows a consequence (the talk an attended transfer left).
	N        int
	From, To *Node
	// Kind is the connection kind (callgraph.Kind…), or "queue" for a
	// caller entering a queue and "joined" for a transfer's result.
	Kind   string
	Lines  []string // label lines
	Dashed bool     // an attempt nobody answered
	// Curved marks an action a party took on others' calls: transfers,
	// pickups, forwards. It is drawn from the party who acted.
	Curved bool
	At     time.Time
}

// A Bar is a span of a leg's timeline.
type Bar struct {
	Kind     string // ring, queue, talk, park, hold
	From, To time.Time
	Label    string
}

// Bar kinds.
const (
	BarRing  = "ring"
	BarQueue = "queue"
	BarTalk  = "talk"
	BarPark  = "park"
	BarHold  = "hold"
)

// A Lane is one leg's timeline.
type Lane struct {
	Leg   string
	Label string // party and role
	Sub   string // channel
	Bars  []Bar
}

// A Flow is the diagram of one call, or of the calls that met in a
// conference.
type Flow struct {
	Title      string
	Start, End time.Time
	Nodes      []*Node
	Edges      []*Edge
	// Boxes are the queues drawn as context boxes, in order.
	Boxes []string
	Lanes []Lane
}

// Group splits calls into the sets drawn together: the calls that joined
// the same session of a conference form one set, every other call is a
// set of its own. Sets keep the order of their first call.
func Group(calls []*callgraph.Call) [][]*callgraph.Call {
	var out [][]*callgraph.Call
	byConf := map[string]int{}
	for _, c := range calls {
		idx := -1
		for _, cf := range c.Conferences {
			if i, ok := byConf[Session(cf)]; ok {
				idx = i
				break
			}
		}
		if idx < 0 {
			out = append(out, nil)
			idx = len(out) - 1
		}
		out[idx] = append(out[idx], c)
		for _, cf := range c.Conferences {
			byConf[Session(cf)] = idx
		}
	}
	return out
}

// Session names one session of a conference room: rooms are reused, so
// two calls met only if they joined the room opened at the same moment.
func Session(cf callgraph.Conference) string {
	if cf.Start.IsZero() {
		return cf.Name
	}
	return cf.Name + "@" + cf.Start.UTC().Format(time.RFC3339Nano)
}

type builder struct {
	o     reports.Options
	f     *Flow
	nodes map[string]*Node
	legs  map[string]*callgraph.Leg
	seq   int // the last connection number given
}

// Build makes the flow of the calls (one call, or a Group); o says which
// endpoints are trunks.
func Build(o reports.Options, calls ...*callgraph.Call) *Flow {
	b := &builder{o: o, f: &Flow{}, nodes: map[string]*Node{}, legs: map[string]*callgraph.Leg{}}
	var ids []string
	for _, c := range calls {
		ids = append(ids, c.ID)
		for _, l := range c.Legs {
			b.legs[l.ID] = l
		}
		if b.f.Start.IsZero() || c.Start.Before(b.f.Start) {
			b.f.Start = c.Start.Time
		}
		if e := callEnd(c); e.After(b.f.End) {
			b.f.End = e
		}
	}
	b.f.Title = "call " + strings.Join(ids, ", ")
	calls = slices.Clone(calls)
	slices.SortStableFunc(calls, func(x, y *callgraph.Call) int { return x.Start.Compare(y.Start.Time) })
	for _, c := range calls {
		if l := first(c); l != nil {
			b.legNode(l) // the callers come first
		}
	}
	b.edges(calls)
	for _, c := range calls {
		b.lanes(c)
	}
	slices.SortStableFunc(b.f.Lanes, func(x, y Lane) int {
		return b.legs[x.Leg].Created.Compare(b.legs[y.Leg].Created.Time)
	})
	layout(b.f)
	return b.f
}

func first(c *callgraph.Call) *callgraph.Leg {
	for _, l := range c.Legs {
		if l.Role == callgraph.RoleCaller {
			return l
		}
	}
	if len(c.Legs) > 0 {
		return c.Legs[0]
	}
	return nil
}

func callEnd(c *callgraph.Call) time.Time {
	end := c.End.Time
	for _, l := range c.Legs {
		if l.Ended.After(end) {
			end = l.Ended.Time
		}
	}
	return end
}

func (b *builder) node(key string, kind Kind, label, sub string) *Node {
	if n := b.nodes[key]; n != nil {
		return n
	}
	n := &Node{ID: fmt.Sprintf("n%d", len(b.f.Nodes)+1), Kind: kind, Label: label, Sub: sub, key: key}
	b.nodes[key] = n
	b.f.Nodes = append(b.f.Nodes, n)
	return n
}

// legNode is the end-point a leg belongs to: its party's phone or trunk.
func (b *builder) legNode(l *callgraph.Leg) *Node {
	ep := reports.Endpoint(l.Channel)
	if t := b.o.Trunk(l); t != "" {
		return b.node("party:"+l.Party, Trunk, l.Party, "trunk "+t)
	}
	if l.Role == callgraph.RoleApplication {
		return b.target(l.Party)
	}
	return b.node("party:"+l.Party, Phone, l.Party, ep)
}

// target is the end-point a connection's To names: a leg, a conference,
// a parking space, or a dialplan destination.
func (b *builder) target(to string) *Node {
	if l := b.legs[to]; l != nil {
		return b.legNode(l)
	}
	switch {
	case strings.HasPrefix(to, "conference:"):
		name := strings.TrimPrefix(to, "conference:")
		return b.node(to, Conference, name, "conference")
	case strings.HasPrefix(to, "park:"):
		return b.node(to, Park, strings.TrimPrefix(to, "park:"), "parking")
	}
	lower := strings.ToLower(to)
	switch {
	case strings.Contains(lower, "voicemail") || strings.HasPrefix(lower, "vm"):
		return b.node("app:"+to, Voicemail, to, "voicemail")
	case strings.Contains(lower, "ivr"):
		return b.node("app:"+to, IVR, to, "IVR")
	}
	return b.node("app:"+to, Extension, to, "extension")
}

func (b *builder) queueNode(name string) *Node {
	n := b.node("queue:"+name, Queue, name, "queue")
	n.Box = name
	if !slices.Contains(b.f.Boxes, name) {
		b.f.Boxes = append(b.f.Boxes, name)
	}
	return n
}

func (b *builder) party(id string) string {
	if l := b.legs[id]; l != nil {
		return l.Party
	}
	return strings.TrimPrefix(id, "conference:")
}

func hms(t time.Time) string { return t.UTC().Format("15:04:05") }

func secs(s callgraph.Seconds) string { return fmt.Sprintf("%.1f s", float64(s)) }

type step struct {
	at    time.Time
	c     *callgraph.Call
	x     *callgraph.Connection
	queue *callgraph.QueueEntry
}

// edges turns the calls' connections and queue stays into edges numbered
// in the order they happened.
func (b *builder) edges(calls []*callgraph.Call) {
	var steps []step
	left := map[string]time.Time{} // conference participant leg → left
	for _, c := range calls {
		for i := range c.Connections {
			steps = append(steps, step{at: c.Connections[i].At.Time, c: c, x: &c.Connections[i]})
		}
		for i := range c.Queues {
			steps = append(steps, step{at: c.Queues[i].Joined.Time, c: c, queue: &c.Queues[i]})
		}
		for _, cf := range c.Conferences {
			for _, p := range cf.Participants {
				left[p.Leg] = p.Left.Time
			}
		}
	}
	slices.SortStableFunc(steps, func(x, y step) int { return x.at.Compare(y.at) })
	for i, s := range steps {
		n := b.seq + 1
		if s.queue != nil {
			q := s.queue
			from := b.legNode(b.legs[q.Caller])
			detail := fmt.Sprintf("waited %s, %s", secs(q.Wait), strings.ReplaceAll(q.Outcome, "_", " "))
			b.add(&Edge{N: n, From: from, To: b.queueNode(q.Queue), Kind: "queue", At: s.at,
				Lines: []string{fmt.Sprintf("%d queue %s", n, hms(s.at)), detail}})
			continue
		}
		x := s.x
		switch x.Kind {
		case callgraph.KindDial:
			from, to := b.legs[x.From], b.legs[x.To]
			if from == nil || to == nil {
				continue
			}
			b.add(&Edge{N: n, From: b.legNode(from), To: b.legNode(to), Kind: x.Kind, At: s.at,
				Dashed: !answered(x), Lines: []string{fmt.Sprintf("%d dial %s", n, hms(s.at)), dialDetail(x)}})
		case callgraph.KindQueueAttempt:
			to := b.legs[x.To]
			if to == nil {
				continue
			}
			agent := b.legNode(to)
			if agent.Box == "" {
				agent.Box = x.Target
			}
			b.add(&Edge{N: n, From: b.queueNode(x.Target), To: agent, Kind: x.Kind, At: s.at,
				Dashed: !answered(x), Lines: []string{fmt.Sprintf("%d ring %s", n, hms(s.at)), dialDetail(x)}})
		case callgraph.KindBlindTransfer, callgraph.KindAttendedTransfer, callgraph.KindAttendedTransferAbandoned:
			b.transfer(s.c, steps[i+1:], x, n)
		case callgraph.KindPickup:
			by, from := b.legs[x.By], b.legs[x.From]
			if by == nil || from == nil {
				continue
			}
			b.add(&Edge{N: n, From: b.legNode(by), To: b.legNode(from), Kind: x.Kind, At: s.at, Curved: true,
				Lines: []string{fmt.Sprintf("%d pickup %s", n, hms(s.at)), "picks up " + from.Party + "'s call"}})
		case callgraph.KindForward:
			from := b.legs[x.From]
			if from == nil {
				continue
			}
			b.add(&Edge{N: n, From: b.legNode(from), To: b.target(x.To), Kind: x.Kind, At: s.at, Curved: true,
				Lines: []string{fmt.Sprintf("%d forward %s", n, hms(s.at)), "to " + b.party(x.To)}})
		case callgraph.KindPark:
			if x.Status == "retrieved" {
				to := b.legs[x.To]
				if to == nil {
					continue
				}
				b.add(&Edge{N: n, From: b.target("park:" + x.Target), To: b.legNode(to), Kind: x.Kind, At: s.at,
					Lines: []string{fmt.Sprintf("%d retrieved %s", n, hms(s.at)), "by " + to.Party}})
				continue
			}
			from := b.legs[x.From]
			if from == nil {
				continue
			}
			b.add(&Edge{N: n, From: b.legNode(from), To: b.target(x.To), Kind: x.Kind, At: s.at,
				Lines: []string{fmt.Sprintf("%d parked %s", n, hms(s.at)), "space " + x.Target}})
		case callgraph.KindConferenceJoin:
			from := b.legs[x.From]
			if from == nil {
				continue
			}
			detail := "joined"
			if t := left[x.From]; !t.IsZero() {
				detail = "left " + hms(t)
			}
			b.add(&Edge{N: n, From: b.legNode(from), To: b.target(x.To), Kind: x.Kind, At: s.at,
				Lines: []string{fmt.Sprintf("%d join %s", n, hms(s.at)), detail}})
		}
	}
}

func answered(x *callgraph.Connection) bool { return x.Answered != nil && *x.Answered }

func dialDetail(x *callgraph.Connection) string {
	ring := ""
	if x.Ring != nil {
		ring = secs(*x.Ring)
	}
	switch {
	case answered(x) && ring != "" && *x.Ring > 0:
		return "answered after " + ring
	case answered(x):
		return "answered"
	case ring != "":
		return status(x.Status) + " after " + ring
	}
	return status(x.Status)
}

// status words a dial status.
func status(s string) string {
	if w, ok := map[string]string{"NOANSWER": "no answer", "CANCEL": "cancelled", "BUSY": "busy",
		"CHANUNAVAIL": "unavailable", "CONGESTION": "congestion", "TRANSFERRED": "transferred",
		"DUMP": "dumped"}[s]; ok {
		return w
	}
	return strings.ToLower(s)
}

// transfer draws a transfer as a curved arrow from the transferer to the
// target, and, when no later connection shows it, the talk it left
// between the transferee and the target.
func (b *builder) transfer(c *callgraph.Call, later []step, x *callgraph.Connection, n int) {
	by := b.legs[x.By]
	if by == nil {
		return
	}
	kind, dashed := "blind", false
	switch x.Kind {
	case callgraph.KindAttendedTransfer:
		kind = "attended"
	case callgraph.KindAttendedTransferAbandoned:
		kind, dashed = "attended, abandoned", true
	}
	to := x.To
	if to == "" && x.Consult != "" {
		// An abandoned consultation: point at whom the consult leg dialled.
		for _, y := range c.Connections {
			if y.Kind == callgraph.KindDial && y.From == x.Consult {
				to = y.To
				break
			}
		}
	}
	if to == "" {
		return
	}
	target := b.target(to)
	what := "of " + b.party(x.From)
	b.add(&Edge{N: n, From: b.legNode(by), To: target, Kind: x.Kind, At: x.At.Time, Curved: true, Dashed: dashed,
		Lines: []string{fmt.Sprintf("%d %s transfer %s", n, kind, hms(x.At.Time)), what + " → " + target.Label}})
	if x.Kind != callgraph.KindAttendedTransfer || b.legs[x.To] == nil {
		return
	}
	for _, s := range later {
		if s.x != nil && s.x.From == x.From && s.x.To == x.To {
			return // the connection is drawn anyway
		}
	}
	if from := b.legs[x.From]; from != nil {
		b.add(&Edge{From: b.legNode(from), To: target, Kind: "joined", At: x.At.Time,
			Lines: []string{fmt.Sprintf("talk after %d", n)}})
	}
}

func (b *builder) add(e *Edge) {
	b.f.Edges = append(b.f.Edges, e)
	b.seq = max(b.seq, e.N)
}

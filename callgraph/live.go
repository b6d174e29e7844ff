package callgraph

import (
	"maps"
	"sort"
	"time"
)

// Dispositions of a leg in a call still in progress (InProgress): a final
// record never carries them.
const (
	DispositionRinging = "RINGING"
	DispositionUp      = "UP"
	DispositionHeld    = "ON HOLD"
)

// InProgress describes the calls not yet completed, as of at (Asterisk's
// clock; the engine's last event time when zero): records with Complete
// false, End zero, legs that are still up counted up to at and their
// disposition RINGING, UP or ON HOLD, talk segments still open closed at
// at, and the connections and queue stays known so far. It changes nothing
// in the engine, so the calls complete later exactly as they would have;
// the records share no memory with it. Calls come in the order they began.
func (e *Engine) InProgress(at time.Time) []*Call {
	if at.IsZero() {
		at = e.last
	}
	open := e.openCalls()
	out := make([]*Call, 0, len(open))
	for _, c := range open {
		out = append(out, e.liveRecord(c, at))
	}
	return out
}

// Clock turns a moment of this host's clock into Asterisk's, as the last
// stamped event placed them (never before the engine's last event): the
// moment to ask InProgress about when following a live server.
func (e *Engine) Clock(host time.Time) time.Time {
	t := host.Add(e.skew)
	if t.Before(e.last) {
		return e.last
	}
	return t
}

func (e *Engine) liveRecord(c *call, at time.Time) *Call {
	rec := &Call{
		ID:          c.id,
		Server:      e.opts.Server,
		Gaps:        append([]Gap{}, c.gaps...),
		Segments:    append([]Segment{}, c.segs...),
		Unplaced:    c.unplaced,
		Connections: []Connection{},
		Queues:      []QueueEntry{},
		Billing:     []Billing{},
		Legs:        []*Leg{},
	}
	for _, o := range c.open {
		if d := at.Sub(o.start); d >= time.Millisecond {
			rec.Segments = append(rec.Segments, Segment{A: o.a.id, B: o.otherID(), Start: Time{o.start}, End: Time{at}, Seconds: Dur(d)})
		}
	}
	talk := sortTalk(rec.Segments)

	legs := append([]*leg(nil), c.legs...)
	sort.Slice(legs, func(i, j int) bool { return legs[i].seq < legs[j].seq })
	var first *leg
	answered := false
	for _, l := range legs {
		if rec.Start.IsZero() || l.created.Before(rec.Start.Time) {
			rec.Start = Time{l.created}
		}
		if l.kind == kindLocal {
			rec.LocalChannels = append(rec.LocalChannels, l.channel)
			continue
		}
		if l.kind != kindParty {
			continue
		}
		if first == nil {
			first = l
		}
		r := e.legRecord(l, l == first, talk[l.id])
		r.Tags = maps.Clone(r.Tags)
		if l.ended.IsZero() {
			r.Duration = Dur(max(at.Sub(l.created), 0))
			switch {
			case l.answered.IsZero():
				r.Ring = r.Duration
				r.Disposition = DispositionRinging
			case l.held:
				r.Billsec = Dur(max(at.Sub(l.answered), 0))
				r.Disposition = DispositionHeld
			default:
				r.Billsec = Dur(max(at.Sub(l.answered), 0))
				r.Disposition = DispositionUp
			}
		}
		if !l.answered.IsZero() {
			answered = true
		}
		rec.Legs = append(rec.Legs, r)
	}

	for _, x := range c.conns {
		if conn, ok := e.connection(x); ok {
			rec.Connections = append(rec.Connections, conn)
		}
	}
	sort.SliceStable(rec.Connections, func(i, j int) bool { return rec.Connections[i].At.Before(rec.Connections[j].At.Time) })
	for _, q := range c.queues {
		rec.Queues = append(rec.Queues, q.entry)
	}
	rec.Disposition = DispositionRinging
	if answered {
		rec.Disposition = "ANSWERED"
	}
	return rec
}

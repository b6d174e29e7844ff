package callgraph

import "time"

// bridgeOf returns the bridge an event's bridge block names (prefix "",
// "To", "From", "Dest"…), creating it when new.
func (e *Engine) bridgeOf(ev event, prefix string) *bridge {
	m := ev.m
	id := m.Get(prefix + "BridgeUniqueid")
	if id == "" {
		return nil
	}
	b := e.bridges[id]
	if b == nil {
		b = &bridge{id: id}
		e.bridges[id] = b
	}
	if tech := m.Get(prefix + "BridgeTechnology"); tech != "" {
		b.tech = tech
	}
	if typ := m.Get(prefix + "BridgeType"); typ != "" {
		b.typ = typ
	}
	b.holding = b.tech == "holding_bridge" || b.typ == "parking" || b.typ == "holding"
	return b
}

// joins reports whether sharing the bridge puts legs in one call. A
// conference joins calls without merging them, and a parking lot or
// holding bridge is no conversation.
func (b *bridge) joins() bool {
	if b.holding || b.conference != "" {
		return false
	}
	// ConfBridge's bridges are of the base type and mix with softmix;
	// the two-party and multi-party bridges of calls are of type basic.
	return !(b.typ == "base" && b.tech == "softmix")
}

func (e *Engine) bridgeEnter(ev event) {
	l := e.leg(ev, "", true)
	b := e.bridgeOf(ev, "")
	if l == nil || b == nil {
		return
	}
	if l.bridge != nil && l.bridge != b {
		l.bridge.remove(l)
	}
	if l.held && l.holdBridge != b {
		// A hold ends with the bridge it was made in: the channel moved
		// on (a feature transfer takes the transferer to the consultation).
		l.endHold(ev.t)
	}
	l.bridge = b
	if !b.has(l) {
		if b.joins() {
			// Only a bridge that joins calls makes peers: the callers
			// waiting in one parking lot or one conference are strangers,
			// and remembering them would keep every call parked since the
			// lot was last empty alive.
			for _, m := range b.members {
				e.join(m, l)
				notePeer(l, m)
				notePeer(m, l)
			}
		}
		b.members = append(b.members, l)
	}
	// SwapUniqueid names the channel this one replaces in the bridge: a
	// transfer or a Local channel optimisation.
	if swap := ev.m.Get("SwapUniqueid"); swap != "" {
		if s := e.legs[swap]; s != nil {
			e.join(s, l)
		}
	}
	e.talk(l.call, ev.t)
}

func notePeer(l, p *leg) {
	for _, x := range l.peers {
		if x == p {
			return
		}
	}
	l.peers = append(l.peers, p)
}

func (e *Engine) bridgeLeave(ev event) {
	l := e.leg(ev, "", false)
	if l == nil || l.bridge == nil {
		return
	}
	if id := ev.m.Get("BridgeUniqueid"); id != "" && l.bridge.id != id {
		return // a late leave of a bridge the leg already left
	}
	l.bridge.remove(l)
	l.bridge = nil
	e.talk(l.call, ev.t)
}

func (e *Engine) bridgeMerge(ev event) {
	to, from := e.bridgeOf(ev, "To"), e.bridgeOf(ev, "From")
	if to == nil || from == nil || to == from {
		return
	}
	moved := from.members
	from.members = nil
	var touched *call
	for _, l := range moved {
		l.bridge = to
		if to.joins() {
			for _, m := range to.members {
				e.join(m, l)
				notePeer(l, m)
				notePeer(m, l)
			}
		}
		to.members = append(to.members, l)
		touched = l.call
	}
	if touched != nil {
		e.talk(touched, ev.t)
	}
}

// talk brings a call's open talk segments up to date at t: it closes the
// segments of pairs that no longer talk and opens those of pairs that
// started. A pair talks while both parties are answered, not released, not
// on hold, and in one bridge, directly or through Local channels. A party
// in a conference talks with the conference.
func (e *Engine) talk(c *call, t time.Time) {
	want := e.pairs(c)
	// Close what stopped.
	kept := c.open[:0]
	for _, o := range c.open {
		if containsPair(want, o) {
			kept = append(kept, o)
			continue
		}
		if d := t.Sub(o.start); d >= time.Millisecond {
			c.segs = append(c.segs, Segment{
				A: o.a.id, B: o.otherID(), Start: Time{o.start}, End: Time{t}, Seconds: Dur(d),
			})
		}
	}
	c.open = kept
	// Open what started.
	for _, w := range want {
		if !containsPair(c.open, w) {
			w.start = t
			c.open = append(c.open, w)
		}
	}
}

func (o openSegment) otherID() string {
	if o.b != nil {
		return o.b.id
	}
	return o.other
}

func containsPair(list []openSegment, p openSegment) bool {
	for _, x := range list {
		if x.a == p.a && x.b == p.b && x.other == p.other {
			return true
		}
	}
	return false
}

// pairs lists the pairs of a call that talk now.
func (e *Engine) pairs(c *call) []openSegment {
	var out []openSegment
	for _, p := range c.legs {
		if !p.isParty() || !p.talking() || p.bridge == nil || p.bridge.holding {
			continue
		}
		if p.bridge.conference != "" {
			out = append(out, openSegment{a: p, other: "conference:" + p.bridge.conference})
			continue
		}
		for _, r := range e.reach(p) {
			if r.b != nil && r.b.seq <= p.seq {
				continue // each pair once, the older leg first
			}
			out = append(out, r)
		}
	}
	return out
}

// reach lists who p talks with through its bridge, following Local
// channels to the bridges of their other halves.
func (e *Engine) reach(p *leg) []openSegment {
	var out []openSegment
	visited := map[*bridge]bool{p.bridge: true}
	queue := []*bridge{p.bridge}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		for _, m := range b.members {
			if m == p {
				continue
			}
			switch m.kind {
			case kindParty:
				if m.talking() {
					out = append(out, openSegment{a: p, b: m})
				}
			case kindLocal:
				if m.answered.IsZero() || !m.ended.IsZero() {
					continue
				}
				peer := e.localPeer(m)
				if peer == nil || peer.answered.IsZero() || !peer.ended.IsZero() || peer.bridge == nil || visited[peer.bridge] {
					continue
				}
				nb := peer.bridge
				visited[nb] = true
				if nb.conference != "" {
					out = append(out, openSegment{a: p, other: "conference:" + nb.conference})
					continue
				}
				if !nb.holding {
					queue = append(queue, nb)
				}
			}
		}
	}
	return out
}

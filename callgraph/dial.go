package callgraph

import "time"

// join puts two legs in one call, merging their calls if they differ. The
// merged call keeps the id of the one whose first leg is older.
func (e *Engine) join(a, b *leg) {
	if a == nil || b == nil || a.call == b.call {
		return
	}
	keep, drop := a.call, b.call
	if drop.first.seq < keep.first.seq {
		keep, drop = drop, keep
	}
	for _, l := range drop.legs {
		l.call = keep
	}
	keep.firstSeq = min(keep.firstSeq, drop.firstSeq)
	keep.lastSeq = max(keep.lastSeq, drop.lastSeq)
	keep.legs = append(keep.legs, drop.legs...)
	keep.live += drop.live
	keep.conns = append(keep.conns, drop.conns...)
	keep.segs = append(keep.segs, drop.segs...)
	keep.open = append(keep.open, drop.open...)
	keep.queues = append(keep.queues, drop.queues...)
	keep.confs = append(keep.confs, drop.confs...)
	keep.gaps = append(keep.gaps, drop.gaps...)
	keep.unplaced += drop.unplaced
	keep.blind = append(keep.blind, drop.blind...)
	keep.consults = append(keep.consults, drop.consults...)
}

func (c *call) addEdge(x *edge) *edge {
	c.conns = append(c.conns, x)
	return x
}

func (e *Engine) dialBegin(ev event) {
	m := ev.m
	dest := e.leg(ev, "Dest", true)
	if dest == nil {
		return
	}
	caller := e.leg(ev, "", true) // absent for Originate
	dest.consultOf = nil
	if caller != nil && caller.consultOf != nil {
		e.confirmConsult(caller, caller.created)
	}
	e.join(caller, dest)
	c := dest.call
	dest.dialString = m.Get("DialString")
	if dest.dial != nil && dest.dial.from == caller {
		return // app_queue announced this member call with AgentCalled
	}
	dest.dialedBy = caller
	x := c.addEdge(&edge{
		c:     Connection{Kind: KindDial, At: Time{ev.t}, Target: dest.dialString},
		from:  caller,
		to:    dest,
		start: ev.t,
	})
	dest.dial = x
	if dest.role == "" {
		dest.role = RoleCallee
		// A Local channel stands for whoever its other half was called
		// as: a queue member behind Local/…@agents is an agent.
		if caller != nil && caller.kind == kindLocal {
			if peer := e.localPeer(caller); peer != nil && (peer.role == RoleAgent || peer.role == RoleTransferTarget) {
				dest.role = peer.role
			}
		}
	}
	// The first dial a transferee makes after a blind transfer reaches
	// the transfer target.
	if caller != nil {
		for i, p := range c.blind {
			if p.transferee == caller || (p.transferee == nil && caller.kind == kindLocal) {
				p.conn.to = dest
				if dest.role == RoleCallee {
					dest.role = RoleTransferTarget
				}
				c.blind = append(c.blind[:i], c.blind[i+1:]...)
				break
			}
		}
	}
}

func (e *Engine) dialState(ev event) {
	dest := e.leg(ev, "Dest", false)
	if dest == nil || dest.dial == nil {
		return
	}
	if fwd := ev.m.Get("Forward"); fwd != "" {
		e.forward(dest, fwd, ev.t)
	}
	x := dest.dial
	status := ev.m.Get("DialStatus")
	if x.c.Status == "" {
		x.c.Status = status
	}
	if x.c.PDD == nil && (status == "RINGING" || status == "PROGRESS") {
		pdd := Dur(ev.t.Sub(x.start))
		x.c.PDD = &pdd
	}
}

func (e *Engine) forward(dest *leg, target string, t time.Time) {
	dest.call.addEdge(&edge{
		c:    Connection{Kind: KindForward, At: Time{t}, Target: target, To: target},
		from: dest,
	})
}

func (e *Engine) dialEnd(ev event) {
	m := ev.m
	dest := e.leg(ev, "Dest", false)
	if dest == nil {
		return
	}
	caller := e.leg(ev, "", false)
	status := m.Get("DialStatus")
	if fwd := m.Get("Forward"); fwd != "" {
		e.forward(dest, fwd, ev.t)
	}
	x := dest.dial
	if x == nil && caller == nil {
		// The core dialled a Local channel for a feature (an attended
		// transfer's consultation): plumbing, not a party's dial.
		dest.status = status
		return
	}
	if x == nil || (caller != nil && x.from != nil && x.from != caller) {
		// The dial ended on another channel than it began with: a pickup
		// put this one in the dialled channel's place, or a transfer put
		// the transferee in the dialling channel's place.
		if x != nil && !x.closed {
			x.closed = true
			x.c.Status = "TRANSFERRED"
			no := false
			x.c.Answered = &no
			ring := Dur(ev.t.Sub(x.start))
			x.c.Ring = &ring
		}
		e.join(caller, dest)
		x = dest.call.addEdge(&edge{
			c:     Connection{Kind: KindDial, At: Time{ev.t}},
			from:  caller,
			to:    dest,
			start: ev.t,
		})
		dest.dial = x
		if dest.role == "" {
			dest.role = RoleCallee
		}
	}
	if x.closed {
		return
	}
	x.closed = true
	x.c.Status = status
	answered := status == "ANSWER"
	x.c.Answered = &answered
	ring := Dur(ev.t.Sub(x.start))
	x.c.Ring = &ring
	dest.status = status
}

// closeDial settles a dial that never saw its DialEnd (the call ended, or
// the dialled channel was taken over).
func closeDial(x *edge) {
	if x.closed {
		return
	}
	x.closed = true
	answered := x.to != nil && !x.to.answered.IsZero()
	x.c.Answered = &answered
	if x.c.Status == "" || x.c.Status == "RINGING" || x.c.Status == "PROGRESS" || x.c.Status == "PROCEEDING" {
		if answered {
			x.c.Status = "ANSWER"
		} else {
			x.c.Status = "CANCEL"
		}
	}
	if x.to != nil {
		end := x.to.ended
		if answered {
			end = x.to.answered
		}
		if !end.IsZero() && !end.Before(x.start) {
			ring := Dur(end.Sub(x.start))
			x.c.Ring = &ring
		}
		if x.to.status == "" {
			x.to.status = x.c.Status
		}
	}
}

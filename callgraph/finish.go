package callgraph

import (
	"sort"
	"time"
)

// Flush ends every call still in progress, as at the end of a capture: the
// calls are returned marked incomplete, with a gap from the last event on.
func (e *Engine) Flush(at time.Time) []*Call {
	e.done = e.done[:0]
	if at.IsZero() {
		at = e.last
	}
	for _, c := range e.openCalls() {
		c.gaps = append(c.gaps, Gap{From: Time{at}, Reason: "the stream ended before the call did"})
		for _, l := range c.legs {
			if l.gone {
				continue
			}
			if l.ended.IsZero() {
				l.ended = at
				c.gaps[len(c.gaps)-1].Estimated = append(c.gaps[len(c.gaps)-1].Estimated, l.id+".ended")
			}
			l.gone = true
		}
		e.talk(c, at)
		e.finish(c, false)
	}
	return e.done
}

// openCalls returns the calls in progress, in the order they began.
func (e *Engine) openCalls() []*call {
	var open []*call
	seen := make(map[*call]bool)
	for _, l := range e.legs {
		if !seen[l.call] {
			seen[l.call] = true
			open = append(open, l.call)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].first.seq < open[j].first.seq })
	return open
}

// Gap records that events may have been lost between from and to (the AMI
// connection was down): every call in progress is marked incomplete.
func (e *Engine) Gap(from, to time.Time, reason string) {
	seen := make(map[*call]bool)
	for _, l := range e.legs {
		if !seen[l.call] {
			seen[l.call] = true
			l.call.gaps = append(l.call.gaps, Gap{From: Time{from}, To: Time{to}, Reason: reason})
		}
	}
}

// finish turns a call whose last leg is gone into its record and forgets
// it.
func (e *Engine) finish(c *call, complete bool) {
	rec := e.record(c, complete)
	for _, l := range c.legs {
		delete(e.legs, l.id)
		e.finished[l.id] = struct{}{}
		if e.byName[l.channel] == l {
			delete(e.byName, l.channel)
		}
	}
	if len(e.finished) > 4096 {
		e.finishedOld, e.finished = e.finished, make(map[string]struct{}, len(e.finished))
	}
	e.stats.Calls++
	e.done = append(e.done, rec)
	if e.checkpointing {
		e.recent = append(e.recent, span{c.firstSeq, max(c.lastSeq, e.seqNo)})
	}
}

type span struct{ first, last int64 }

// Checkpoint returns the sequence number from which a replay rebuilds
// every call in progress: no call has events on both sides of it, so a
// restart that feeds a fresh engine the events from there on completes the
// calls that were open and redoes, identically, the ones that completed
// since. With no call in progress it is the next event's number. It only
// moves forward.
func (e *Engine) Checkpoint() int64 {
	e.checkpointing = true
	p := e.seqNo + 1
	for _, l := range e.legs {
		p = min(p, l.call.firstSeq)
	}
	// Lower the point below any completed call it would cut in two.
	for changed := true; changed; {
		changed = false
		for _, s := range e.recent {
			if s.first < p && p <= s.last {
				p, changed = s.first, true
			}
		}
	}
	kept := e.recent[:0]
	for _, s := range e.recent {
		if s.last >= p {
			kept = append(kept, s)
		}
	}
	e.recent = kept
	return p
}

func (e *Engine) record(c *call, complete bool) *Call {
	// Close the talk that is still open at the last moment of the call.
	var end time.Time
	for _, l := range c.legs {
		if l.ended.After(end) {
			end = l.ended
		}
	}
	for _, o := range c.open {
		if d := end.Sub(o.start); d >= time.Millisecond {
			c.segs = append(c.segs, Segment{A: o.a.id, B: o.otherID(), Start: Time{o.start}, End: Time{end}, Seconds: Dur(d)})
		}
	}
	c.open = nil

	rec := &Call{
		ID:          c.id,
		Server:      e.opts.Server,
		Complete:    complete && len(c.gaps) == 0,
		Gaps:        c.gaps,
		Segments:    c.segs,
		Unplaced:    c.unplaced,
		Connections: []Connection{},
		Queues:      []QueueEntry{},
		Billing:     []Billing{},
	}
	if rec.Gaps == nil {
		rec.Gaps = []Gap{}
	}
	if rec.Segments == nil {
		rec.Segments = []Segment{}
	}
	talk := sortTalk(rec.Segments)

	legs := append([]*leg(nil), c.legs...)
	sort.Slice(legs, func(i, j int) bool { return legs[i].seq < legs[j].seq })
	var first *leg
	for _, l := range legs {
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
		rec.Legs = append(rec.Legs, e.legRecord(l, l == first, talk[l.id]))
	}
	if rec.Legs == nil {
		rec.Legs = []*Leg{}
	}
	for _, l := range legs {
		if rec.Start.IsZero() || l.created.Before(rec.Start.Time) {
			rec.Start = Time{l.created}
		}
	}
	rec.End = Time{end}

	for _, x := range c.conns {
		if x.c.Kind == KindDial || x.c.Kind == KindQueueAttempt {
			closeDial(x)
		}
	}
	for _, k := range c.consults {
		if !k.settled {
			c.conns = append(c.conns, &edge{
				c:       Connection{Kind: KindAttendedTransferAbandoned, At: Time{k.at}},
				by:      k.held,
				from:    otherParty(k.held),
				consult: k.leg,
			})
		}
	}
	sort.SliceStable(c.conns, func(i, j int) bool { return c.conns[i].c.At.Before(c.conns[j].c.At.Time) })
	for _, x := range c.conns {
		if conn, ok := e.connection(x); ok {
			rec.Connections = append(rec.Connections, conn)
		}
	}

	for _, q := range c.queues {
		e.finishQueue(q)
		rec.Queues = append(rec.Queues, q.entry)
	}
	rec.Conferences = e.conferences(c)

	rec.Disposition = "NO ANSWER"
	best := len(dispositionRank)
	for _, l := range rec.Legs {
		if r, ok := dispositionRank[l.Disposition]; ok && r < best {
			best = r
			rec.Disposition = l.Disposition
		}
	}
	return rec
}

// sortTalk orders talk segments by start and returns each leg's talk.
func sortTalk(segs []Segment) map[string]time.Duration {
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].Start.Before(segs[j].Start.Time) })
	talk := make(map[string]time.Duration)
	for _, s := range segs {
		d := s.Seconds.Duration()
		talk[s.A] += d
		talk[s.B] += d
	}
	return talk
}

// connection is an edge as the record shows it, its legs resolved to the
// parties behind them; ok is false for plumbing between Local channels
// and a dial of a party by itself.
func (e *Engine) connection(x *edge) (conn Connection, ok bool) {
	conn = x.c
	if p := e.party(x.by); p != nil {
		conn.By = p.id
	}
	if p := e.party(x.from); p != nil {
		conn.From = p.id
	}
	if p := e.party(x.to); p != nil {
		conn.To = p.id
	}
	if p := e.party(x.consult); p != nil {
		conn.Consult = p.id
	}
	if conn.Kind == KindDial && (conn.From == "" && conn.To == "" || conn.From == conn.To) {
		return conn, false
	}
	return conn, true
}

// otherParty returns the party the leg was last bridged with.
func otherParty(l *leg) *leg {
	for i := len(l.peers) - 1; i >= 0; i-- {
		if l.peers[i].kind == kindParty {
			return l.peers[i]
		}
	}
	return nil
}

var dispositionRank = map[string]int{
	"ANSWERED": 0, "BUSY": 1, "NO ANSWER": 2, "CANCEL": 3, "CONGESTION": 4, "FAILED": 5,
}

// party resolves a leg to the party it stands for: a Local channel half
// stands for the party that dialled or bridged with its other half.
func (e *Engine) party(l *leg) *leg {
	seen := make(map[*leg]bool)
	for l != nil && l.kind == kindLocal && !seen[l] {
		seen[l] = true
		peer := e.localPeer(l)
		if peer == nil {
			return nil
		}
		seen[peer] = true
		var next *leg
		if peer.dialedBy != nil && !seen[peer.dialedBy] {
			next = peer.dialedBy
		}
		if next == nil {
			for _, p := range peer.peers {
				if !seen[p] {
					next = p
					break
				}
			}
		}
		if next == nil {
			// The far half dialled a party itself.
			for _, x := range l.call.conns {
				if x.c.Kind == KindDial && x.from == peer && x.to != nil && !seen[x.to] {
					next = x.to
					break
				}
			}
		}
		l = next
	}
	if l != nil && l.kind != kindParty {
		return nil
	}
	return l
}

func (e *Engine) legRecord(l *leg, first bool, talk time.Duration) *Leg {
	r := &Leg{
		ID:         l.id,
		Channel:    l.channel,
		CallerNum:  orEmpty(l.callerNum),
		CallerName: orEmpty(l.callerName),
		Dialed:     l.exten,
		Context:    l.context,
		Created:    Time{l.created},
		Answered:   Time{l.answered},
		Ended:      Time{l.ended},
		Cause:      l.cause,
		CauseText:  l.causeText,
		Tags:       l.tags,
		Quality:    l.quality.record(l),
		SIPCallID:  l.sipCallID,
	}
	switch {
	case first:
		r.Role = RoleCaller
	case l.role != "":
		r.Role = l.role
	default:
		r.Role = RoleCallee
	}
	r.Party = partyName(l, r.Role)
	r.Account = l.tagAccount
	if r.Account == "" {
		r.Account = l.account
	}
	if l.techCause >= 100 {
		code := l.techCause
		r.SIPCode = &code
	}
	if r.CauseText == "" {
		r.CauseText = causeText(l.cause)
	}
	if !l.ended.IsZero() {
		r.Duration = Dur(l.ended.Sub(l.created))
	}
	if !l.answered.IsZero() {
		r.Ring = Dur(l.answered.Sub(l.created))
		if l.ended.After(l.answered) {
			r.Billsec = Dur(l.ended.Sub(l.answered))
		}
	} else {
		r.Ring = r.Duration
	}
	hold := l.hold
	if l.held && !l.ended.IsZero() {
		hold += l.ended.Sub(l.holdAt)
	}
	r.Hold = Dur(hold)
	if talk > r.Billsec.Duration() {
		talk = r.Billsec.Duration()
	}
	r.Talk = Dur(talk)
	r.Disposition = disposition(l, r.Role)
	r.ReleasedBy = releasedBy(l, r.Role)
	return r
}

func orEmpty(s string) string {
	if !usable(s) {
		return ""
	}
	return s
}

// partyName names the person or carrier behind a leg: the extension of a
// phone; for a trunk, the caller's number on the way in and the dialled
// number on the way out.
func partyName(l *leg, role string) string {
	ep := endpoint(l.channel)
	if isNumberLike(ep) {
		return ep
	}
	if role == RoleCaller && usable(l.callerNum) {
		return l.callerNum
	}
	if n := numberOf(l.dialString); isNumberLike(n) {
		return n
	}
	if usable(l.connected) && isNumberLike(l.connected) && role == RoleCaller {
		return l.connected
	}
	if isNumberLike(l.exten) && l.exten != "s" {
		return l.exten
	}
	return ep
}

func disposition(l *leg, role string) string {
	if !l.answered.IsZero() {
		return "ANSWERED"
	}
	if l.status == "" && role == RoleCaller {
		// The caller's outcome is that of its best dial.
		if l.requested {
			return "CANCEL"
		}
		return causeDisposition(l.cause)
	}
	switch l.status {
	case "BUSY":
		return "BUSY"
	case "NOANSWER":
		return "NO ANSWER"
	case "CANCEL", "ABORT":
		return "CANCEL"
	case "CONGESTION":
		return "CONGESTION"
	case "CHANUNAVAIL":
		return "FAILED"
	}
	return causeDisposition(l.cause)
}

func causeDisposition(cause int) string {
	switch cause {
	case 17:
		return "BUSY"
	case 34, 38, 41, 42, 44, 47:
		return "CONGESTION"
	case 1, 2, 3, 20, 21, 22, 27, 28, 29, 58, 66, 88, 111, 127:
		return "FAILED"
	}
	return "NO ANSWER"
}

func releasedBy(l *leg, role string) string {
	side := func(x *leg) string {
		if x.seq == x.call.first.seq || x.role == "" {
			return "caller"
		}
		return "callee"
	}
	if l.requested {
		if role == RoleCaller {
			return "caller"
		}
		return "callee"
	}
	// Released because the party it talked with hung up first.
	for i := len(l.peers) - 1; i >= 0; i-- {
		p := l.peers[i]
		if p.kind == kindParty && p.requested && !p.ended.After(l.ended) {
			return side(p)
		}
	}
	if l.dialedBy != nil && l.dialedBy.requested && !l.dialedBy.ended.After(l.ended) {
		return "caller"
	}
	return "system"
}

func (e *Engine) conferences(c *call) []Conference {
	var out []Conference
	idx := make(map[string]int)
	for _, s := range c.confs {
		i, ok := idx[s.name]
		if !ok {
			conf := Conference{Name: s.name}
			if g := s.conf; g != nil {
				conf.Start, conf.End = Time{g.start}, Time{g.end}
			}
			out = append(out, conf)
			i = len(out) - 1
			idx[s.name] = i
		}
		left := s.left
		if left.IsZero() {
			left = s.leg.ended
		}
		out[i].Participants = append(out[i].Participants, Participant{
			Leg: s.leg.id, Channel: s.leg.channel, Joined: Time{s.joined}, Left: Time{left},
		})
	}
	return out
}

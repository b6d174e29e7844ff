package callgraph

import (
	"strconv"
	"time"
)

// stay returns the caller's current stay in the named queue.
func (c *call) stay(caller *leg, queue string) *queueStay {
	for i := len(c.queues) - 1; i >= 0; i-- {
		q := c.queues[i]
		if q.caller == caller && (queue == "" || q.entry.Queue == queue) {
			return q
		}
	}
	return nil
}

func (e *Engine) queueJoin(ev event) {
	l := e.leg(ev, "", true)
	if l == nil {
		return
	}
	pos, _ := strconv.Atoi(ev.m.Get("Position"))
	l.call.queues = append(l.call.queues, &queueStay{
		entry:    QueueEntry{Queue: ev.m.Get("Queue"), Joined: Time{ev.t}, Position: pos},
		caller:   l,
		attempts: make(map[*leg]*edge),
	})
}

func (e *Engine) queueLeave(ev event, abandon bool) {
	l := e.leg(ev, "", false)
	if l == nil {
		return
	}
	q := l.call.stay(l, ev.m.Get("Queue"))
	if q == nil || (q.left && !abandon) {
		return
	}
	if !q.left {
		q.left = true
		q.entry.Left = Time{ev.t}
	}
	if abandon {
		q.abandon = true
	}
}

func (e *Engine) agentCalled(ev event) {
	caller := e.leg(ev, "", true)
	agent := e.leg(ev, "Dest", true)
	if caller == nil || agent == nil {
		return
	}
	e.join(caller, agent)
	agent.role = RoleAgent
	q := caller.call.stay(caller, ev.m.Get("Queue"))
	if q == nil {
		return
	}
	if agent.dial != nil && agent.dial.from == caller {
		// app_queue also reports its member calls with Dial events on
		// some versions: one attempt, one connection.
		agent.dial.c.Kind = KindQueueAttempt
		agent.dial.c.Target = q.entry.Queue
		q.attempts[agent] = agent.dial
	} else {
		x := caller.call.addEdge(&edge{
			c:     Connection{Kind: KindQueueAttempt, At: Time{ev.t}, Target: q.entry.Queue},
			from:  caller,
			to:    agent,
			start: ev.t,
		})
		agent.dial = x
		q.attempts[agent] = x
	}
	agent.dialedBy = caller
	q.entry.Attempts++
}

func (e *Engine) agentOutcome(ev event, name string) {
	caller := e.leg(ev, "", false)
	agent := e.leg(ev, "Dest", false)
	if caller == nil || agent == nil {
		return
	}
	q := caller.call.stay(caller, ev.m.Get("Queue"))
	if q == nil {
		return
	}
	x := q.attempts[agent]
	if x == nil {
		return
	}
	// A DialEnd may have closed the attempt already; the queue's own
	// events are the authority on it (RingTime in milliseconds).
	x.closed = true
	var answered bool
	var ring time.Duration
	switch name {
	case "AgentRingNoAnswer":
		x.c.Status = "NOANSWER"
		agent.status = "NOANSWER"
		ms, err := strconv.ParseInt(ev.m.Get("RingTime"), 10, 64) // milliseconds
		ring = time.Duration(ms) * time.Millisecond
		if err != nil {
			ring = ev.t.Sub(x.start)
		}
	case "AgentConnect":
		answered = true
		x.c.Status = "ANSWER"
		agent.status = "ANSWER"
		ring = ev.t.Sub(x.start)
		if !agent.answered.IsZero() {
			ring = agent.answered.Sub(x.start)
		}
		q.agent = agent
		if !q.left {
			q.left = true
			q.entry.Left = Time{ev.t}
		}
	case "AgentDump":
		x.c.Status = "DUMP"
		ring = ev.t.Sub(x.start)
	}
	x.c.Answered = &answered
	r := Dur(ring)
	x.c.Ring = &r
}

// finishQueue settles a queue stay when its call completes.
func (e *Engine) finishQueue(q *queueStay) {
	if p := e.party(q.agent); p != nil {
		q.entry.Agent = p.id
	}
	if !q.left {
		q.left = true
		q.entry.Left = Time{q.caller.ended}
		if q.caller.ended.IsZero() {
			q.entry.Left = Time{q.caller.hungup}
		}
	}
	switch {
	case q.agent != nil:
		q.entry.Outcome = OutcomeAnswered
	case q.abandon:
		q.entry.Outcome = OutcomeAbandoned
	case q.entry.Outcome != "":
		// set from QUEUESTATUS
	case !q.caller.ended.IsZero() && !q.caller.ended.After(q.entry.Left.Time):
		q.entry.Outcome = OutcomeAbandoned
	default:
		q.entry.Outcome = OutcomeTimeout
	}
	if !q.entry.Left.IsZero() && q.entry.Left.After(q.entry.Joined.Time) {
		q.entry.Wait = Dur(q.entry.Left.Sub(q.entry.Joined.Time))
	}
	q.entry.Caller = q.caller.id
}

func (e *Engine) confStart(ev event) {
	name := ev.m.Get("Conference")
	e.confs[name] = &conference{name: name, start: ev.t}
	if b := e.bridgeOf(ev, ""); b != nil {
		b.conference = name
	}
}

func (e *Engine) confJoin(ev event) {
	name := ev.m.Get("Conference")
	l := e.leg(ev, "", true)
	if l == nil {
		return
	}
	b := e.bridgeOf(ev, "")
	if b != nil {
		b.conference = name
		if l.bridge != b {
			if l.bridge != nil {
				l.bridge.remove(l)
			}
			l.bridge = b
			if !b.has(l) {
				b.members = append(b.members, l)
			}
		}
	}
	conf := e.confs[name]
	if conf == nil {
		conf = &conference{name: name, start: ev.t}
		e.confs[name] = conf
	}
	l.confName = name
	c := l.call
	c.confs = append(c.confs, &confStay{name: name, conf: conf, leg: l, joined: ev.t})
	c.addEdge(&edge{
		c:    Connection{Kind: KindConferenceJoin, At: Time{ev.t}, To: "conference:" + name, Target: name},
		from: l,
	})
	e.talk(c, ev.t)
}

func (e *Engine) confLeave(ev event) {
	l := e.leg(ev, "", false)
	if l == nil {
		return
	}
	for _, s := range l.call.confs {
		if s.leg == l && s.left.IsZero() {
			s.left = ev.t
		}
	}
	if l.bridge != nil && l.bridge.conference != "" {
		l.bridge.remove(l)
		l.bridge = nil
	}
	e.talk(l.call, ev.t)
}

package callgraph

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/ami"
)

// ResyncActionID is the ActionID prefix of the CoreShowChannels action a
// daemon sends after a (re)connect. Its list items (CoreShowChannel
// events) and closing CoreShowChannelsComplete come in the event stream in
// wire order, so the engine meets the snapshot exactly where Asterisk took
// it: every event before it has been seen, none after.
const ResyncActionID = "calltrail-resync"

// ResyncTimeout bounds the wait for a resync's answer.
const ResyncTimeout = 30 * time.Second

// Resync asks Asterisk, through c, for the snapshot an engine reconciles
// with after a (re)connect; n numbers the request. The answer reaches the
// engine through the event stream, where whoever reads c journals and
// feeds it like any event.
func Resync(ctx context.Context, c *ami.Client, n int64) error {
	ctx, cancel := context.WithTimeout(ctx, ResyncTimeout)
	defer cancel()
	_, err := c.Do(ctx, ami.NewMessage("Action", "CoreShowChannels", "ActionID", fmt.Sprintf("%s-%d", ResyncActionID, n)))
	return err
}

// SnapshotMessages builds, from the channels alive, the list a
// CoreShowChannels action with a resync ActionID answers: for tests and
// for fake Asterisks.
func SnapshotMessages(items []*ami.Message, actionID string) []*ami.Message {
	out := make([]*ami.Message, 0, len(items)+1)
	for _, it := range items {
		m := it.Clone()
		m.Set("Event", "CoreShowChannel")
		m.Set("ActionID", actionID)
		out = append(out, m)
	}
	return append(out, ami.NewMessage("Event", "CoreShowChannelsComplete", "ActionID", actionID,
		"EventList", "Complete", "ListItems", strconv.Itoa(len(items))))
}

func isResync(m *ami.Message) bool {
	return strings.HasPrefix(m.Get("ActionID"), ResyncActionID)
}

type snapChannel struct {
	uid, channel, linkedid string
	state                  int
	bridge                 string
	age                    time.Duration
	m                      *ami.Message
}

// resyncState is what the engine keeps between a reconnect and the end of
// the snapshot that follows it.
type resyncState struct {
	// known are the legs open at the reconnect: only they can have ended
	// unseen. Legs created by events after it are known first hand.
	known       map[*leg]bool
	gapStart    time.Time
	reconnectAt time.Time // when the connection came back, on Asterisk's clock
	channels    []snapChannel
}

// beginResync remembers, at a reconnect, which legs were open.
func (e *Engine) beginResync() {
	r := &resyncState{known: make(map[*leg]bool, len(e.legs)), gapStart: e.lastStamp}
	if r.gapStart.IsZero() {
		r.gapStart = e.last
	}
	for _, l := range e.legs {
		if !l.gone {
			r.known[l] = true
		}
	}
	e.resync = r
}

func (e *Engine) snapshotChannel(m *ami.Message) {
	if e.resync == nil {
		// A snapshot without a reconnect before it (taken at start-up, or
		// a second one): it may adopt what the engine never saw, but it
		// knows nothing about legs that ended.
		e.resync = &resyncState{known: map[*leg]bool{}, gapStart: e.last}
	}
	state, _ := strconv.Atoi(m.Get("ChannelState"))
	e.resync.channels = append(e.resync.channels, snapChannel{
		uid:      m.Get("Uniqueid"),
		channel:  m.Get("Channel"),
		linkedid: m.Get("Linkedid"),
		state:    state,
		bridge:   m.Get("BridgeId"),
		age:      parseHMS(m.Get("Duration")),
		m:        m,
	})
}

func parseHMS(s string) time.Duration {
	parts := strings.Split(s, ":")
	var d time.Duration
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0
		}
		d = d*60 + time.Duration(n)
	}
	return d * time.Second
}

// endResync reconciles the engine with the snapshot. It never bills time
// it cannot prove: a leg that vanished during the gap is closed at the last
// moment it was known alive, a leg that was answered during the gap counts
// from the snapshot. Every such time is listed as an estimate in the
// call's gap.
func (e *Engine) endResync(at time.Time) {
	r := e.resync
	e.resync = nil
	if r == nil {
		return
	}
	// The list comes in the stream where Asterisk took it: its moment is
	// that of the events around it.
	snapAt := at
	if snapAt.Before(r.reconnectAt) {
		snapAt = r.reconnectAt
	}
	if snapAt.Before(r.gapStart) {
		snapAt = r.gapStart
	}
	alive := make(map[string]snapChannel, len(r.channels))
	for _, s := range r.channels {
		alive[s.uid] = s
	}
	estimate := func(l *leg, field string) {
		c := l.call
		if len(c.gaps) == 0 {
			c.gaps = append(c.gaps, Gap{From: Time{r.gapStart}, To: Time{snapAt}, Reason: "resync after a lost AMI connection"})
		}
		g := &c.gaps[len(c.gaps)-1]
		g.Estimated = append(g.Estimated, l.id+"."+field)
	}
	// Known legs that are gone: they ended during the gap.
	var ended []*leg
	for l := range r.known {
		if l.gone {
			continue
		}
		if _, ok := alive[l.id]; ok {
			continue
		}
		ended = append(ended, l)
	}
	sortLegs(ended)
	for _, l := range ended {
		if l.ended.IsZero() {
			l.ended = r.gapStart
			estimate(l, "ended")
		}
		e.gone(l, r.gapStart)
	}
	// Channels alive: adopt the unknown, bring the known up to date.
	for _, s := range r.channels {
		if s.uid == "" || e.isFinished(s.uid) {
			continue
		}
		l := e.legs[s.uid]
		if l != nil && (l.gone || !r.known[l]) {
			// Hung up since, or known from events seen whole: the engine's
			// own account is better than the snapshot's.
			continue
		}
		adopted := l == nil
		if l == nil {
			ev := event{m: s.m, t: snapAt}
			l = e.create(ev, "")
			if s.age > 0 && snapAt.Add(-s.age).Before(l.created) {
				l.created = snapAt.Add(-s.age)
			}
			l.adopted = true
			l.answered = time.Time{}
			c := l.call
			c.gaps = append(c.gaps, Gap{From: Time{r.gapStart}, To: Time{snapAt}, Reason: "channel found alive by the resync after a lost AMI connection"})
			estimate(l, "created")
			if l.kind == kindLocal {
				e.pairLocal(l)
			}
		}
		if s.state == stateUp && l.answered.IsZero() {
			// Answered before the snapshot, after the last event seen: it
			// counts from the first moment known to follow the snapshot,
			// so that no unproven second is billed.
			l.answered = snapAt
			estimate(l, "answered")
			provisional := snapAt
			e.atNextStamp(func(t time.Time) {
				if !l.answered.Equal(provisional) || !t.After(provisional) {
					return
				}
				if !l.ended.IsZero() && l.ended.Before(t) {
					t = l.ended
				}
				l.answered = t
			})
		}
		l.state = s.state
		// Bridges: only an adopted channel takes the snapshot's. A known
		// leg's bridge comes from events; a list is not ordered strictly
		// with the events around it, and one taken a moment off would
		// move a leg that never moved.
		if adopted && s.bridge != "" {
			b := e.bridges[s.bridge]
			if b == nil {
				b = &bridge{id: s.bridge, typ: "basic"}
				e.bridges[s.bridge] = b
			}
			if l.bridge != b {
				if l.bridge != nil {
					l.bridge.remove(l)
				}
				l.bridge = b
				if b.joins() {
					for _, m := range b.members {
						e.join(m, l)
						notePeer(l, m)
						notePeer(m, l)
					}
				}
				b.members = append(b.members, l)
			}
		}
	}
	calls := map[*call]bool{}
	for _, l := range e.legs {
		calls[l.call] = true
	}
	for c := range calls {
		e.talk(c, snapAt)
	}
}

func sortLegs(ls []*leg) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j].seq < ls[j-1].seq; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

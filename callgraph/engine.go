package callgraph

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/ami"
)

// Options configure an Engine.
type Options struct {
	// Server is the id written on every call (the Asterisk SystemName or a
	// configured server id).
	Server string
}

// Stats counts what an Engine has seen.
type Stats struct {
	Events    int64 // events handled
	Unplaced  int64 // events that named channels the engine could not place
	Calls     int64 // calls completed
	OpenCalls int   // calls in progress
	OpenLegs  int   // channels in progress
}

// An Engine turns a stream of AMI events into call records. It is a
// deterministic state machine: it does no I/O and has no clock of its
// own; time comes from each event's Timestamp header, or from the arrival
// time given with it. An Engine is owned by one goroutine.
type Engine struct {
	opts Options

	legs     map[string]*leg // by Uniqueid, until their call completes
	byName   map[string]*leg // live channels by name
	byDevice map[string][]*leg
	bridges  map[string]*bridge
	confs    map[string]*conference

	// finished remembers the uniqueids of completed calls for a while, so
	// that late events of a finished call are dropped quietly.
	finished, finishedOld map[string]struct{}

	seq   int
	seqNo int64 // the current event's sequence number
	last  time.Time
	// lastStamp is the last Timestamp Asterisk gave, lastArrival the last
	// arrival time used for an event without one: two clocks, never mixed.
	lastStamp, lastArrival time.Time
	resync                 *resyncState // between a reconnect and the snapshot after it
	// skew is Asterisk's clock minus this host's, as of the last stamped
	// event: it places calltrail's own markers on Asterisk's clock.
	skew time.Duration
	// pendingStamp waits for the next stamped event: the first moment
	// known to be after a reconnect or a snapshot.
	pendingStamp []func(time.Time)
	// recent are the spans of calls completed since the last Checkpoint,
	// kept once a caller asks for checkpoints.
	recent        []span
	checkpointing bool

	pending      map[string]pendingTag // tags of channels not seen yet
	pendingOrder []string
	lostReason   string // why the AMI connection was last lost

	stats Stats
	done  []*Call
}

// New returns an Engine.
func New(opts Options) *Engine {
	return &Engine{
		opts:        opts,
		legs:        make(map[string]*leg),
		byName:      make(map[string]*leg),
		byDevice:    make(map[string][]*leg),
		bridges:     make(map[string]*bridge),
		confs:       make(map[string]*conference),
		finished:    make(map[string]struct{}),
		finishedOld: make(map[string]struct{}),
	}
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.OpenLegs = len(e.legs)
	calls := make(map[*call]struct{})
	for _, l := range e.legs {
		calls[l.call] = struct{}{}
	}
	s.OpenCalls = len(calls)
	return s
}

// Handle feeds one AMI message to the engine. arrival is when it was
// received; it is used when the message has no Timestamp header. Handle
// returns the calls that this event completed, in the order they ended;
// the slice is reused by the next call to Handle.
func (e *Engine) Handle(m *ami.Message, arrival time.Time) []*Call {
	return e.HandleSeq(m, arrival, e.seqNo+1)
}

// HandleSeq is Handle with the event's sequence number chosen by the
// caller: any increasing number, such as the event's position in a
// journal. Checkpoint answers in these numbers.
func (e *Engine) HandleSeq(m *ami.Message, arrival time.Time, seq int64) []*Call {
	e.done = e.done[:0]
	if seq <= e.seqNo {
		seq = e.seqNo + 1
	}
	e.seqNo = seq
	name := m.Event()
	if name == "" {
		return nil
	}
	sec, usec, stamped := m.Timestamp()
	e.stats.Events++
	if isMarker(name) {
		// calltrail's own markers carry this host's clock, which need not
		// be Asterisk's: they never move the engine's clock.
		t := arrival
		if stamped {
			t = time.Unix(sec, usec*1000).UTC()
		}
		e.marker(event{m: m, t: t}, name)
		return e.done
	}
	var t time.Time
	switch {
	case stamped:
		// Asterisk stamps events when the manager formats them; keep its
		// clock monotonic so that no interval is negative.
		t = time.Unix(sec, usec*1000).UTC()
		if t.Before(e.lastStamp) {
			t = e.lastStamp
		}
		e.lastStamp = t
		if !arrival.IsZero() {
			e.skew = t.Sub(arrival)
		}
		if len(e.pendingStamp) > 0 {
			pending := e.pendingStamp
			e.pendingStamp = nil
			for _, f := range pending {
				f(t)
			}
		}

	case !e.lastStamp.IsZero():
		// An event without a Timestamp in a stream that has them (the
		// FullyBooted at login): it happened at the last stamped time, not
		// at this host's clock, which may be skewed from Asterisk's.
		t = e.lastStamp
	default:
		// A stream without Timestamps (timestampevents = no): the arrival
		// time, in order.
		t = arrival
		if t.Before(e.lastArrival) {
			t = e.lastArrival
		}
		e.lastArrival = t
	}
	e.last = t
	ev := event{m: m, t: t}
	switch name {
	case "Newchannel":
		e.newChannel(ev)
	case "Newstate":
		e.newState(ev)
	case "Rename":
		e.rename(ev)
	case "HangupRequest":
		e.hangupRequest(ev, true)
	case "SoftHangupRequest":
		e.hangupRequest(ev, false)
	case "Hangup":
		e.hangup(ev)
	case "VarSet":
		e.varSet(ev)
	case "NewCallerid":
		if l := e.leg(ev, "", false); l != nil {
			l.callerNum, l.callerName = m.Get("CallerIDNum"), m.Get("CallerIDName")
		}
	case "NewConnectedLine":
		if l := e.leg(ev, "", false); l != nil {
			l.connected = m.Get("ConnectedLineNum")
		}
	case "NewAccountCode":
		if l := e.leg(ev, "", false); l != nil {
			l.account = m.Get("AccountCode")
		}
	case "Hold":
		e.hold(ev, true)
	case "Unhold":
		e.hold(ev, false)
	case "DialBegin":
		e.dialBegin(ev)
	case "DialState":
		e.dialState(ev)
	case "DialEnd":
		e.dialEnd(ev)
	case "BridgeCreate":
		e.bridgeOf(ev, "")
	case "BridgeEnter":
		e.bridgeEnter(ev)
	case "BridgeLeave":
		e.bridgeLeave(ev)
	case "BridgeMerge":
		e.bridgeMerge(ev)
	case "BridgeDestroy":
		delete(e.bridges, m.Get("BridgeUniqueid"))
	case "BlindTransfer":
		e.blindTransfer(ev)
	case "AttendedTransfer":
		e.attendedTransfer(ev)
	case "LocalBridge", "LocalOptimizationBegin":
		one, two := e.leg(ev, "LocalOne", false), e.leg(ev, "LocalTwo", false)
		e.join(one, two)
		if src := e.leg(ev, "Source", false); src != nil {
			e.join(one, src)
		}
	case "Pickup":
		e.pickup(ev)
	case "ParkedCall":
		e.parked(ev)
	case "UnParkedCall", "ParkedCallTimeOut", "ParkedCallGiveUp":
		e.unparked(ev, name)
	case "QueueCallerJoin":
		e.queueJoin(ev)
	case "QueueCallerLeave":
		e.queueLeave(ev, false)
	case "QueueCallerAbandon":
		e.queueLeave(ev, true)
	case "AgentCalled":
		e.agentCalled(ev)
	case "AgentRingNoAnswer", "AgentConnect", "AgentDump":
		e.agentOutcome(ev, name)
	case "ConfbridgeStart":
		e.confStart(ev)
	case "ConfbridgeEnd":
		if c := e.confs[m.Get("Conference")]; c != nil {
			c.end = t
			// Its participants' calls keep it; the engine forgets it.
			delete(e.confs, m.Get("Conference"))
		}
	case "ConfbridgeJoin":
		e.confJoin(ev)
	case "ConfbridgeLeave":
		e.confLeave(ev)
	case "RTCPSent", "RTCPReceived":
		e.rtcp(ev, name == "RTCPReceived")
	case "CoreShowChannel":
		if isResync(m) {
			e.snapshotChannel(m)
		}
	case "CoreShowChannelsComplete":
		if isResync(m) {
			e.endResync(t)
		}
	}
	return e.done
}

// event is a message with its time.
type event struct {
	m *ami.Message
	t time.Time
}

// leg returns the leg an event names with the channel block of the given
// prefix ("" for the event's own channel, "Dest", "Transferee", …). With
// adopt, a channel the engine has not seen is taken in, as a leg whose
// beginning was missed.
func (e *Engine) leg(ev event, prefix string, adopt bool) *leg {
	uid := ev.m.Get(prefix + "Uniqueid")
	if uid == "" {
		if ch := ev.m.Get(prefix + "Channel"); ch != "" {
			return e.byName[ch]
		}
		return nil
	}
	if l := e.legs[uid]; l != nil {
		l.call.lastSeq = e.seqNo
		return l
	}
	if !adopt || e.isFinished(uid) {
		if adopt {
			return nil
		}
		if !e.isFinished(uid) && prefix == "" {
			e.stats.Unplaced++
		}
		return nil
	}
	l := e.create(ev, prefix)
	l.adopted = true
	l.call.gaps = append(l.call.gaps, Gap{To: Time{ev.t}, Reason: "channel seen before its Newchannel: events before it are missing", Estimated: []string{l.id + ".created"}})
	return l
}

func (e *Engine) isFinished(uid string) bool {
	if _, ok := e.finished[uid]; ok {
		return true
	}
	_, ok := e.finishedOld[uid]
	return ok
}

// create makes a leg from the channel block with the given prefix.
func (e *Engine) create(ev event, prefix string) *leg {
	m := ev.m
	e.seq++
	// The values are copied: a string taken from a message shares the
	// whole message's memory, which a leg that lives for an hour would
	// keep alive.
	get := func(key string) string { return strings.Clone(m.Get(prefix + key)) }
	l := &leg{
		id:         get("Uniqueid"),
		channel:    get("Channel"),
		linkedid:   get("Linkedid"),
		seq:        e.seq,
		created:    ev.t,
		callerNum:  get("CallerIDNum"),
		callerName: get("CallerIDName"),
		exten:      get("Exten"),
		context:    get("Context"),
		account:    get("AccountCode"),
		connected:  get("ConnectedLineNum"),
	}
	l.kind = classify(l.channel)
	if l.linkedid == "" {
		l.linkedid = l.id
	}
	l.state, _ = strconv.Atoi(m.Get(prefix + "ChannelState"))
	if l.state == stateUp {
		l.answered = ev.t
	}
	c := &call{id: l.linkedid, first: l, firstSeq: e.seqNo, lastSeq: e.seqNo}
	e.addLeg(c, l)
	e.legs[l.id] = l
	e.byName[l.channel] = l
	if p, ok := e.pending[l.id]; ok {
		applyTag(l, p)
		delete(e.pending, l.id)
	}
	if l.kind == kindParty {
		d := device(l.channel)
		e.byDevice[d] = append(e.byDevice[d], l)
	}
	// Linkedid names the oldest channel this one is associated with: a
	// dialled channel carries its caller's.
	if l.linkedid != l.id {
		if other := e.legs[l.linkedid]; other != nil {
			e.join(other, l)
		}
	}
	return l
}

func (e *Engine) addLeg(c *call, l *leg) {
	l.call = c
	c.legs = append(c.legs, l)
	c.live++
}

const (
	stateRinging = 5
	stateUp      = 6
)

func (e *Engine) newChannel(ev event) {
	uid := ev.m.Get("Uniqueid")
	if uid == "" || e.legs[uid] != nil {
		return
	}
	if e.isFinished(uid) {
		// A Uniqueid is never reused: this is not a new channel.
		e.stats.Unplaced++
		return
	}
	l := e.create(ev, "")
	if l.kind == kindLocal {
		e.pairLocal(l)
	}
	if l.kind == kindParty {
		l.consultOf = e.heldSibling(l)
	}
}

// pairLocal links the two halves of a Local channel.
func (e *Engine) pairLocal(l *leg) {
	base, half, ok := strings.Cut(l.channel, ";")
	if !ok {
		return
	}
	other := "1"
	if half == "1" {
		other = "2"
	}
	if peer := e.byName[base+";"+other]; peer != nil {
		e.join(peer, l)
	}
}

// localPeer returns the other half of a Local channel.
func (e *Engine) localPeer(l *leg) *leg {
	base, half, ok := strings.Cut(l.channel, ";")
	if !ok {
		return nil
	}
	other := "1"
	if half == "1" {
		other = "2"
	}
	want := base + ";" + other
	for _, x := range l.call.legs {
		if x.channel == want {
			return x
		}
	}
	return nil
}

// heldSibling returns the other call of the same phone when that call is
// on hold and is the phone's only other call: the way a phone starts an
// attended transfer is to hold its call and place a second one.
func (e *Engine) heldSibling(l *leg) *leg {
	var other *leg
	for _, x := range e.byDevice[device(l.channel)] {
		if x == l || x.gone {
			continue
		}
		if other != nil {
			return nil // a device with several calls (a trunk): no guess
		}
		other = x
	}
	if other != nil && other.held && other.ended.IsZero() {
		return other
	}
	return nil
}

// confirmConsult makes a leg that a held phone placed a consultation of
// the held call, once the leg is seen placing a call (its first dial): a
// leg that is itself dialled is an incoming call, not a consultation. The
// consultation belongs to the held call's call even if the transfer is
// abandoned and no transfer event ever names it.
func (e *Engine) confirmConsult(l *leg, t time.Time) {
	held := l.consultOf
	l.consultOf = nil
	if held == nil || held.gone || !held.held {
		return
	}
	e.join(held, l)
	c := l.call
	c.consults = append(c.consults, consult{held: held, leg: l, at: t})
	if l.role == "" {
		l.role = RoleConsult
	}
}

func (e *Engine) newState(ev event) {
	l := e.leg(ev, "", true)
	if l == nil {
		return
	}
	l.state, _ = strconv.Atoi(ev.m.Get("ChannelState"))
	if l.state == stateUp && l.answered.IsZero() && l.ended.IsZero() {
		l.answered = ev.t
		e.talk(l.call, ev.t)
	}
}

func (e *Engine) rename(ev event) {
	l := e.leg(ev, "", false)
	if l == nil {
		return
	}
	newName := ev.m.Get("Newname")
	if newName == "" || newName == l.channel {
		return
	}
	if e.byName[l.channel] == l {
		delete(e.byName, l.channel)
	}
	if l.kind == kindParty {
		e.forgetDevice(l)
	}
	l.channel = newName
	l.kind = classify(newName)
	e.byName[newName] = l
	if l.kind == kindParty && !l.gone {
		d := device(newName)
		e.byDevice[d] = append(e.byDevice[d], l)
	}
}

func (e *Engine) hangupRequest(ev event, byParty bool) {
	l := e.leg(ev, "", true)
	if l == nil {
		return
	}
	if c, err := strconv.Atoi(ev.m.Get("Cause")); err == nil && c != 0 && l.cause == 0 {
		l.cause = c
	}
	if tc, err := strconv.Atoi(ev.m.Get("TechCause")); err == nil && l.techCause == 0 {
		l.techCause = tc
	}
	if l.ended.IsZero() {
		l.ended = ev.t
		l.requested = byParty
		e.talk(l.call, ev.t)
	}
}

func (e *Engine) hangup(ev event) {
	l := e.leg(ev, "", true)
	if l == nil || l.gone {
		return
	}
	m := ev.m
	if c, err := strconv.Atoi(m.Get("Cause")); err == nil {
		if c != 0 || l.cause == 0 {
			l.cause = c
			l.causeText = m.Get("Cause-txt")
		}
	}
	if l.causeText == "" {
		l.causeText = causeText(l.cause)
	}
	if tc, err := strconv.Atoi(m.Get("TechCause")); err == nil {
		l.techCause = tc
	}
	l.hungup = ev.t
	if l.ended.IsZero() {
		l.ended = ev.t
	}
	e.gone(l, ev.t)
}

// gone takes a hung-up leg out of the live state, and completes its call
// when it was the last.
func (e *Engine) gone(l *leg, t time.Time) {
	if l.hungup.IsZero() {
		l.hungup = t
	}
	l.gone = true
	if l.bridge != nil {
		l.bridge.remove(l)
		l.bridge = nil
	}
	if e.byName[l.channel] == l {
		delete(e.byName, l.channel)
	}
	if l.kind == kindParty {
		e.forgetDevice(l)
	}
	c := l.call
	e.talk(c, t)
	c.live--
	if c.live <= 0 {
		e.finish(c, true)
	}
}

func (e *Engine) varSet(ev event) {
	m := ev.m
	name := m.Get("Variable")
	switch {
	case strings.HasPrefix(name, "RTPAUDIOQOS"):
		if l := e.leg(ev, "", false); l != nil {
			e.qosVar(l, name, m.Get("Value"))
		}
	case name == "QUEUESTATUS":
		if l := e.leg(ev, "", false); l != nil {
			for _, q := range l.call.queues {
				if q.caller == l && q.entry.Outcome == "" {
					q.entry.Outcome = queueStatusOutcome(m.Get("Value"))
				}
			}
		}
	case name == "SIPCALLID":
		if l := e.leg(ev, "", false); l != nil && m.Get("Value") != "" {
			l.sipCallID = m.Get("Value")
		}
	case name == "BRIDGEPVTCALLID":
		// Set on a leg as it enters a bridge: the Call-ID of its peer's
		// dialog. A two-party bridge says whose.
		v := m.Get("Value")
		l := e.leg(ev, "", false)
		if v == "" || l == nil || l.bridge == nil {
			return
		}
		var peer *leg
		for _, o := range l.bridge.members {
			if o == l {
				continue
			}
			if peer != nil {
				return // more than one: not ours to say
			}
			peer = o
		}
		if peer != nil && peer.kind == kindParty && peer.sipCallID == "" {
			peer.sipCallID = v
		}
	case strings.HasPrefix(name, "CALLTRAIL_"):
		if l := e.leg(ev, "", false); l != nil {
			key := strings.ToLower(strings.TrimPrefix(name, "CALLTRAIL_"))
			if key == "account" {
				l.tagAccount = m.Get("Value")
				return
			}
			if l.tags == nil {
				l.tags = make(map[string]string)
			}
			l.tags[key] = m.Get("Value")
		}
	}
}

func queueStatusOutcome(v string) string {
	switch v {
	case "TIMEOUT":
		return OutcomeTimeout
	case "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL":
		return OutcomeExitEmpty
	}
	return ""
}

func (e *Engine) hold(ev event, on bool) {
	l := e.leg(ev, "", false)
	if l == nil || l.held == on {
		return
	}
	if on {
		l.held, l.holdAt, l.holdBridge = true, ev.t, l.bridge
	} else {
		l.endHold(ev.t)
	}
	e.talk(l.call, ev.t)
}

// Markers in an event stream that are not Asterisk's own events.
const (
	// EventTag attaches an account and key/values to a leg: the FastAGI
	// tag handler puts one in the stream, so a journal replays it.
	// Fields: Uniqueid, Account, and Tag: key=value (repeated).
	EventTag = "calltrail.Tag"
	// EventConnected and EventDisconnected are the AMI client's markers
	// (ami.EventConnected, ami.EventDisconnected): when a connection comes
	// up while calls are open, events may have been lost in between.
	EventConnected    = "ami.Connected"
	EventDisconnected = "ami.Disconnected"
)

// TagMessage builds the EventTag message for a leg.
func TagMessage(uniqueid, account string, tags map[string]string) *ami.Message {
	m := ami.NewMessage("Event", EventTag, "Uniqueid", uniqueid)
	if account != "" {
		m.Add("Account", account)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.Add("Tag", k+"="+tags[k])
	}
	return m
}

// maxPendingTags bounds the tags kept for channels not seen yet.
const maxPendingTags = 4096

type pendingTag struct {
	account string
	tags    map[string]string
}

// tag applies an EventTag. A tag can arrive before the channel's
// Newchannel (FastAGI and AMI are two connections): it waits, bounded.
func (e *Engine) tag(ev event) {
	uid := ev.m.Get("Uniqueid")
	if uid == "" {
		return
	}
	p := pendingTag{account: ev.m.Get("Account")}
	for _, kv := range ev.m.Values("Tag") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if p.tags == nil {
			p.tags = make(map[string]string)
		}
		p.tags[k] = v
	}
	if l := e.legs[uid]; l != nil {
		applyTag(l, p)
		return
	}
	if e.isFinished(uid) {
		e.stats.Unplaced++
		return
	}
	if len(e.pending) >= maxPendingTags {
		oldest := e.pendingOrder[0]
		e.pendingOrder = e.pendingOrder[1:]
		delete(e.pending, oldest)
	}
	if e.pending == nil {
		e.pending = make(map[string]pendingTag)
	}
	if _, ok := e.pending[uid]; !ok {
		e.pendingOrder = append(e.pendingOrder, uid)
	}
	e.pending[uid] = p
}

func applyTag(l *leg, p pendingTag) {
	if p.account != "" {
		l.tagAccount = p.account
	}
	for k, v := range p.tags {
		if l.tags == nil {
			l.tags = make(map[string]string)
		}
		l.tags[k] = v
	}
}

// forgetDevice removes a leg from its device's list of live calls.
func (e *Engine) forgetDevice(l *leg) {
	d := device(l.channel)
	list := e.byDevice[d]
	for i, x := range list {
		if x == l {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(e.byDevice, d)
	} else {
		e.byDevice[d] = list
	}
}

func isMarker(name string) bool {
	return strings.HasPrefix(name, "ami.") || strings.HasPrefix(name, "calltrail.")
}

// marker handles calltrail's own events.
func (e *Engine) marker(ev event, name string) {
	switch name {
	case EventTag:
		e.tag(ev)
	case EventDisconnected:
		e.lostReason = ev.m.Get("Reason")
	case EventConnected:
		// Calls open now may have missed events since the last one the
		// engine saw; a snapshot may follow to reconcile them.
		e.beginResync()
		// The reconnect on Asterisk's clock: a snapshot taken right after
		// it is no earlier.
		if at := ev.t.Add(e.skew); at.After(e.resync.gapStart) {
			e.resync.reconnectAt = at
		}
		if len(e.legs) == 0 {
			return
		}
		reason := "AMI connection re-established: events between may be missing"
		if e.lostReason != "" {
			reason = "AMI connection lost (" + e.lostReason + "): events until it came back may be missing"
		}
		// The gap ends when Asterisk's clock says the connection is back:
		// the first stamped event after this marker tells.
		from := e.last
		e.Gap(from, from, reason)
		e.atNextStamp(func(t time.Time) {
			for _, l := range e.legs {
				for i := range l.call.gaps {
					g := &l.call.gaps[i]
					if g.Reason == reason && g.From.Equal(from) && g.To.Equal(from) {
						g.To = Time{t}
					}
				}
			}
		})
		e.lostReason = ""
	}
}

// atNextStamp runs f with the time of the next stamped event, before that
// event is handled.
func (e *Engine) atNextStamp(f func(time.Time)) {
	e.pendingStamp = append(e.pendingStamp, f)
}

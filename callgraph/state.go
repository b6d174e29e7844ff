package callgraph

import "time"

// leg is the engine's state of one channel.
type leg struct {
	id       string
	channel  string
	linkedid string
	kind     channelKind
	call     *call
	seq      int // creation order inside the engine, for stable sorting

	created  time.Time
	answered time.Time
	ended    time.Time // released: first (Soft)HangupRequest, else Hangup
	hungup   time.Time // the Hangup event
	gone     bool
	adopted  bool // first seen by another event than Newchannel

	state      int
	callerNum  string
	callerName string
	exten      string // the dialled extension when the channel was created
	context    string
	account    string // AccountCode, as Asterisk last reported it
	tagAccount string // set by the dialplan through FastAGI or CALLTRAIL_ACCOUNT
	dialString string
	connected  string // ConnectedLineNum, last known

	cause     int
	causeText string
	techCause int
	requested bool // the party itself asked to hang up (HangupRequest)

	role     string
	dialedBy *leg
	dial     *edge  // the dial connection that reaches this leg
	status   string // final DialStatus of the dial that reached it

	bridge     *bridge
	sipCallID  string
	peers      []*leg // every leg this one shared a bridge with, in order
	held       bool
	holdBridge *bridge // the bridge whose other parties the leg put on hold
	holdAt     time.Time
	hold       time.Duration

	confName string // conference the leg is in

	// consultOf is the phone's held call when this leg may be a
	// consultation; confirmed when the leg places a call.
	consultOf *leg

	tags map[string]string

	quality *legQuality
}

func (l *leg) isParty() bool { return l.kind == kindParty }

// talking reports whether the party can talk: answered, not released,
// and not holding the bridge it is in.
func (l *leg) talking() bool {
	return !l.answered.IsZero() && l.ended.IsZero() && !(l.held && l.holdBridge == l.bridge)
}

// endHold closes a hold at t.
func (l *leg) endHold(t time.Time) {
	if l.held {
		l.held = false
		l.hold += t.Sub(l.holdAt)
	}
}

// bridge is the engine's state of one bridge.
type bridge struct {
	id         string
	tech       string
	typ        string
	holding    bool   // parking lots, holding bridges: no talk
	conference string // ConfBridge name, when the bridge is a conference
	members    []*leg
}

func (b *bridge) remove(l *leg) {
	for i, m := range b.members {
		if m == l {
			b.members = append(b.members[:i], b.members[i+1:]...)
			return
		}
	}
}

func (b *bridge) has(l *leg) bool {
	for _, m := range b.members {
		if m == l {
			return true
		}
	}
	return false
}

// call is the engine's state of a connected group of legs.
type call struct {
	id    string
	first *leg
	legs  []*leg
	live  int

	// firstSeq and lastSeq are the sequence numbers of the first and the
	// last event that touched the call.
	firstSeq, lastSeq int64

	conns    []*edge
	segs     []Segment
	open     []openSegment
	queues   []*queueStay
	confs    []*confStay
	gaps     []Gap
	unplaced int

	// pending blind transfers: the transferee's next dial is the target.
	blind []pendingBlind
	// consultations: a second call of a device while its first is held.
	consults []consult
}

type pendingBlind struct {
	conn       *edge
	transferee *leg
}

// edge is a connection while the call is in progress: it points at legs,
// which become ids (Local halves resolved to the parties behind them) when
// the call completes.
type edge struct {
	c                     Connection
	by, from, to, consult *leg
	start                 time.Time
	closed                bool
}

type consult struct {
	held    *leg // the transferer's first leg, on hold
	leg     *leg // the consultation leg
	at      time.Time
	settled bool // a transfer event named it
}

type openSegment struct {
	a, b  *leg
	other string // "conference:NAME" for conference segments
	start time.Time
}

type queueStay struct {
	entry    QueueEntry
	caller   *leg
	attempts map[*leg]*edge
	agent    *leg // the member leg that was connected
	left     bool
	abandon  bool
}

type confStay struct {
	name   string
	conf   *conference // its span, kept here: the engine forgets it at the end
	leg    *leg
	joined time.Time
	left   time.Time
}

// conference is the engine's state of one ConfBridge conference.
type conference struct {
	name  string
	start time.Time
	end   time.Time
}

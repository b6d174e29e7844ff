package callgraph

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A Call is the record of one completed call: every party leg connected to
// the first one by dialling, bridging, transferring or queueing, the
// connections between them and the talk segments. Its JSON form is the
// contract of docs/output.md (shared/spec/output.md).
type Call struct {
	ID          string       `json:"call_id"`
	Server      string       `json:"server"`
	Start       Time         `json:"start"`
	End         Time         `json:"end"`
	Disposition string       `json:"disposition"`
	Complete    bool         `json:"complete"`
	Gaps        []Gap        `json:"gaps"`
	Legs        []*Leg       `json:"legs"`
	Connections []Connection `json:"connections"`
	Segments    []Segment    `json:"segments"`
	Queues      []QueueEntry `json:"queues"`
	Conferences []Conference `json:"conferences,omitempty"`
	Billing     []Billing    `json:"billing"`
	// LocalChannels names the Local channel halves the call used; they are
	// plumbing, never legs, and listed only for debugging.
	LocalChannels []string `json:"local_channels,omitempty"`
	// Unplaced counts events that named this call's channels but that the
	// engine could not interpret.
	Unplaced int `json:"unplaced,omitempty"`
	// Linked are the calls, on this server or another, that this one
	// continued or was continued by over a SIP trunk (a Linker joins them
	// by SIP Call-ID).
	Linked []Link `json:"linked,omitempty"`
}

// A Link joins a leg of this call to the leg of another call that is the
// other end of the same SIP dialog: an outbound trunk leg on one Asterisk
// and the inbound leg it became on the next.
type Link struct {
	Server string `json:"server"`
	CallID string `json:"call_id"`
	// Leg is the other call's leg; Via is this call's.
	Leg       string `json:"leg"`
	Via       string `json:"via"`
	SIPCallID string `json:"sip_call_id"`
}

// A Gap is a span of time during which events of a call may be missing.
type Gap struct {
	From   Time   `json:"from"`
	To     Time   `json:"to"`
	Reason string `json:"reason"`
	// Estimated lists the leg times that are estimates because of the gap,
	// as "<leg id>.<field>".
	Estimated []string `json:"estimated,omitempty"`
}

// A Leg is one party's channel.
type Leg struct {
	ID          string  `json:"id"`
	Channel     string  `json:"channel"`
	Party       string  `json:"party"`
	Role        string  `json:"role"`
	CallerNum   string  `json:"caller_num,omitempty"`
	CallerName  string  `json:"caller_name,omitempty"`
	Dialed      string  `json:"dialed,omitempty"`
	Context     string  `json:"context,omitempty"`
	Created     Time    `json:"created"`
	Answered    Time    `json:"answered"`
	Ended       Time    `json:"ended"`
	Duration    Seconds `json:"duration"`
	Ring        Seconds `json:"ring"`
	Billsec     Seconds `json:"billsec"`
	Talk        Seconds `json:"talk"`
	Hold        Seconds `json:"hold,omitempty"`
	Disposition string  `json:"disposition"`
	Cause       int     `json:"cause"`
	CauseText   string  `json:"cause_text"`
	SIPCode     *int    `json:"sip_code"`
	ReleasedBy  string  `json:"released_by"`
	Account     string  `json:"account"`
	// Tags are the key/values the dialplan attached to the leg (FastAGI
	// tag handler, CDR(userfield)).
	Tags    map[string]string `json:"tags,omitempty"`
	Quality *Quality          `json:"quality,omitempty"`
	// SIPCallID is the Call-ID of the leg's SIP dialog, when Asterisk
	// told it (chan_sip's SIPCALLID, or BRIDGEPVTCALLID on the peer).
	SIPCallID string `json:"sip_call_id,omitempty"`
}

// Userfield writes tags the way calltrail puts them in Asterisk's
// CDR(userfield): key=value pairs sorted by key, joined by ';'.
func Userfield(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k + "=" + tags[k])
	}
	return b.String()
}

// Roles of a leg.
const (
	RoleCaller         = "caller"
	RoleCallee         = "callee"
	RoleAgent          = "agent"
	RoleTransferTarget = "transfer_target"
	RoleConsult        = "consult"
	RoleConference     = "conference"
	RoleApplication    = "application"
)

// A Connection is an edge of the call tree.
type Connection struct {
	Kind string `json:"kind"`
	// By is the leg that made a transfer.
	By   string `json:"by,omitempty"`
	From string `json:"from"`
	To   string `json:"to"`
	At   Time   `json:"at"`
	// Answered and Status describe dials and queue attempts.
	Answered *bool  `json:"answered,omitempty"`
	Status   string `json:"status,omitempty"`
	// Ring is how long a dial or queue attempt rang.
	Ring *Seconds `json:"ring,omitempty"`
	// PDD is the post-dial delay of a dial: from the dial to the first
	// ringing or progress (SIP 18x) the callee sent.
	PDD *Seconds `json:"pdd,omitempty"`
	// Consult is the consultation leg of an attended transfer.
	Consult string `json:"consult,omitempty"`
	// Target is the dialplan destination (exten@context), queue or
	// conference name, where the connection went to one.
	Target string `json:"target,omitempty"`
	// External is true for transfers a phone made with SIP REFER.
	External bool `json:"external,omitempty"`
	// DestType is the AttendedTransfer's DestType.
	DestType string `json:"dest_type,omitempty"`
}

// Connection kinds.
const (
	KindDial                      = "dial"
	KindQueueAttempt              = "queue_attempt"
	KindBlindTransfer             = "blind_transfer"
	KindAttendedTransfer          = "attended_transfer"
	KindAttendedTransferAbandoned = "attended_transfer_abandoned"
	KindPickup                    = "pickup"
	KindForward                   = "forward"
	KindPark                      = "park"
	KindConferenceJoin            = "conference_join"
)

// A Segment is a maximal interval during which two answered parties were
// in one bridge and neither was on hold. B is "conference:NAME" for a
// conference participant.
type Segment struct {
	A       string  `json:"a"`
	B       string  `json:"b"`
	Start   Time    `json:"start"`
	End     Time    `json:"end"`
	Seconds Seconds `json:"seconds"`
}

// A QueueEntry is one stay of a caller in a queue.
type QueueEntry struct {
	Queue    string  `json:"queue"`
	Caller   string  `json:"caller"`
	Joined   Time    `json:"joined"`
	Left     Time    `json:"left"`
	Wait     Seconds `json:"wait"`
	Outcome  string  `json:"outcome"`
	Agent    string  `json:"agent,omitempty"`
	Attempts int     `json:"attempts"`
	Position int     `json:"position,omitempty"`
}

// Queue outcomes.
const (
	OutcomeAnswered    = "answered"
	OutcomeAbandoned   = "abandoned"
	OutcomeTimeout     = "timeout"
	OutcomeExitEmpty   = "exit_empty"
	OutcomeTransferred = "transferred"
)

// A Conference is the span of a conference bridge as seen from one call.
type Conference struct {
	Name         string        `json:"name"`
	Start        Time          `json:"start"`
	End          Time          `json:"end"`
	Participants []Participant `json:"participants"`
}

// A Participant is one leg's stay in a conference.
type Participant struct {
	Leg     string `json:"leg"`
	Channel string `json:"channel"`
	Joined  Time   `json:"joined"`
	Left    Time   `json:"left"`
}

// Billing is one billable record: a leg that crosses the billing boundary,
// with what rating made of it.
type Billing struct {
	Leg           string  `json:"leg"`
	Party         string  `json:"party"`
	Account       string  `json:"account"`
	Billsec       Seconds `json:"billsec"`
	BilledSeconds int64   `json:"billed_seconds"`
	Destination   string  `json:"destination"`
	Cost          string  `json:"cost,omitempty"`
	Currency      string  `json:"currency,omitempty"`
	// What priced it: the plan, the row (prefix, name and price terms),
	// the increment and the number of increments.
	Plan      string `json:"plan,omitempty"`
	Row       string `json:"row,omitempty"`
	Increment string `json:"increment,omitempty"`
	Units     int64  `json:"units,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Quality is what RTCP said about a leg's audio.
type Quality struct {
	Codec     string     `json:"codec,omitempty"`
	RTTms     *float64   `json:"rtt_ms,omitempty"`
	FromParty *Direction `json:"from_party,omitempty"`
	ToParty   *Direction `json:"to_party,omitempty"`
}

// Direction is the quality of the audio in one direction of a leg.
type Direction struct {
	Packets  int64    `json:"packets"`
	Lost     int64    `json:"lost"`
	LossPct  float64  `json:"loss_pct"`
	JitterMs float64  `json:"jitter_ms"`
	MOS      float64  `json:"mos"`
	MES      *float64 `json:"mes,omitempty"`
}

// Time is an instant written as RFC 3339 in UTC with milliseconds, or null
// when zero.
type Time struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Seconds is a duration written as a JSON number of seconds with
// millisecond precision.
type Seconds float64

// Dur converts a duration to Seconds, rounded to the millisecond.
func Dur(d time.Duration) Seconds {
	return Seconds(math.Round(float64(d)/float64(time.Millisecond)) / 1000)
}

// Duration converts s back to a time.Duration.
func (s Seconds) Duration() time.Duration {
	return time.Duration(math.Round(float64(s)*1000)) * time.Millisecond
}

// MarshalJSON implements json.Marshaler.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, math.Round(float64(s)*1000)/1000, 'f', -1, 64), nil
}

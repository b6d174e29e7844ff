package store

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm/schema"

	"github.com/calltrail/calltrail/callgraph"
)

// The row types below are the normalized tables. Their Go names end in
// Row; the table name drops that suffix (callRow → calls, queueCallRow →
// queue_calls), and Options.TablePrefix goes in front. Column sizes are
// given only where MySQL needs them to index a string column.
//
// Times are stored in UTC with microseconds and are NULL when the record
// has none; durations are integer milliseconds (the record's precision),
// in columns ending in _ms. Every child row carries call_pk, the calls
// row it belongs to, and seq, its position in the record.

type callRow struct {
	PK            uint64     `gorm:"column:pk;primaryKey;autoIncrement"`
	Server        string     `gorm:"size:128;not null;uniqueIndex:,composite:call_key,priority:1"`
	CallID        string     `gorm:"size:128;not null;uniqueIndex:,composite:call_key,priority:2"`
	StartedAt     *time.Time `gorm:"precision:6;index"`
	EndedAt       *time.Time `gorm:"precision:6"`
	Disposition   string     `gorm:"size:32;not null;index"`
	Complete      bool       `gorm:"not null"`
	Unplaced      int        `gorm:"not null"`
	LocalChannels string     // JSON array, "" when none
	// Record is the JSON of what no column holds (extra, below), ""
	// when there is none; rows written before 2026-11 hold the whole
	// call. Reads start from it, then take every field the tables hold
	// from the tables.
	Record   string
	StoredAt time.Time `gorm:"precision:6;not null"`
}

type legRow struct {
	PK         uint64 `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK     uint64 `gorm:"not null;index"`
	Seq        int    `gorm:"not null"`
	LegID      string `gorm:"size:128;not null;index"`
	Channel    string
	Party      string `gorm:"size:255;index"`
	Role       string `gorm:"size:32"`
	CallerNum  string
	CallerName string
	Dialed     string
	Context    string
	// CreatedAt is the channel's creation, not the row's: the tag keeps
	// gorm from filling it in.
	CreatedAt   *time.Time `gorm:"column:created_at;precision:6;index;autoCreateTime:false"`
	AnsweredAt  *time.Time `gorm:"precision:6"`
	EndedAt     *time.Time `gorm:"precision:6"`
	DurationMS  int64      `gorm:"column:duration_ms;not null"`
	RingMS      int64      `gorm:"column:ring_ms;not null"`
	BillsecMS   int64      `gorm:"column:billsec_ms;not null"`
	TalkMS      int64      `gorm:"column:talk_ms;not null"`
	HoldMS      int64      `gorm:"column:hold_ms;not null"`
	Disposition string     `gorm:"size:32"`
	Cause       int        `gorm:"not null;index"`
	CauseText   string
	SIPCode     *int `gorm:"column:sip_code"`
	ReleasedBy  string
	Account     string `gorm:"size:255;index"`
	// Quality, flattened: has_quality tells a leg without RTCP from one
	// with an empty report; the from_/to_ columns are NULL when that
	// direction was not reported.
	HasQuality   bool `gorm:"not null"`
	QualityCodec string
	RTTMS        *float64 `gorm:"column:rtt_ms"`
	FromPackets  *int64
	FromLost     *int64
	FromLossPct  *float64
	FromJitterMS *float64 `gorm:"column:from_jitter_ms"`
	FromMOS      *float64 `gorm:"column:from_mos"`
	FromMES      *float64 `gorm:"column:from_mes"`
	ToPackets    *int64
	ToLost       *int64
	ToLossPct    *float64
	ToJitterMS   *float64 `gorm:"column:to_jitter_ms"`
	ToMOS        *float64 `gorm:"column:to_mos"`
	ToMES        *float64 `gorm:"column:to_mes"`
}

type legTagRow struct {
	PK       uint64 `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK   uint64 `gorm:"not null;index"`
	LegSeq   int    `gorm:"not null"`
	LegID    string `gorm:"size:128;not null"`
	TagKey   string `gorm:"size:255;not null"`
	TagValue string
}

type connectionRow struct {
	PK       uint64     `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK   uint64     `gorm:"not null;index"`
	Seq      int        `gorm:"not null"`
	Kind     string     `gorm:"size:32;not null"`
	ByLeg    string     `gorm:"size:128"`
	FromLeg  string     `gorm:"size:128"`
	ToLeg    string     `gorm:"size:128"`
	At       *time.Time `gorm:"precision:6"`
	Answered *bool
	Status   string `gorm:"size:32"`
	RingMS   *int64 `gorm:"column:ring_ms"`
	PDDMS    *int64 `gorm:"column:pdd_ms"`
	Consult  string `gorm:"size:128"`
	Target   string
	External bool `gorm:"not null"`
	DestType string
}

type segmentRow struct {
	PK        uint64     `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK    uint64     `gorm:"not null;index"`
	Seq       int        `gorm:"not null"`
	LegA      string     `gorm:"size:128;not null"`
	LegB      string     `gorm:"size:255;not null"`
	StartedAt *time.Time `gorm:"precision:6"`
	EndedAt   *time.Time `gorm:"precision:6"`
	SecondsMS int64      `gorm:"column:seconds_ms;not null"`
}

type queueCallRow struct {
	PK       uint64     `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK   uint64     `gorm:"not null;index"`
	Seq      int        `gorm:"not null"`
	Queue    string     `gorm:"size:255;not null;index"`
	Caller   string     `gorm:"size:128"`
	JoinedAt *time.Time `gorm:"precision:6"`
	LeftAt   *time.Time `gorm:"precision:6"`
	WaitMS   int64      `gorm:"column:wait_ms;not null"`
	Outcome  string     `gorm:"size:32"`
	Agent    string     `gorm:"size:128"`
	Attempts int        `gorm:"not null"`
	Position int        `gorm:"not null"`
}

type conferenceRow struct {
	PK        uint64     `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK    uint64     `gorm:"not null;index"`
	Seq       int        `gorm:"not null"`
	Name      string     `gorm:"size:255;not null"`
	StartedAt *time.Time `gorm:"precision:6"`
	EndedAt   *time.Time `gorm:"precision:6"`
}

type conferenceParticipantRow struct {
	PK            uint64 `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK        uint64 `gorm:"not null;index"`
	ConferenceSeq int    `gorm:"not null"`
	Seq           int    `gorm:"not null"`
	LegID         string `gorm:"size:128"`
	Channel       string
	JoinedAt      *time.Time `gorm:"precision:6"`
	LeftAt        *time.Time `gorm:"precision:6"`
}

type billingRecordRow struct {
	PK            uint64 `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK        uint64 `gorm:"not null;index"`
	Seq           int    `gorm:"not null"`
	LegID         string `gorm:"size:128"`
	Party         string `gorm:"size:255"`
	Account       string `gorm:"size:255;index"`
	BillsecMS     int64  `gorm:"column:billsec_ms;not null"`
	BilledSeconds int64  `gorm:"not null"`
	Destination   string
	// Cost is the decimal string rating wrote: money is never a float.
	Cost          string
	Currency      string `gorm:"size:8"`
	Plan          string
	RateRow       string
	RateIncrement string
	Units         int64 `gorm:"not null"`
	RatingError   string
}

type callGapRow struct {
	PK        uint64     `gorm:"column:pk;primaryKey;autoIncrement"`
	CallPK    uint64     `gorm:"not null;index"`
	Seq       int        `gorm:"not null"`
	FromAt    *time.Time `gorm:"precision:6"`
	ToAt      *time.Time `gorm:"precision:6"`
	Reason    string
	Estimated string // JSON array, "" when none
}

// owner returns the call_pk of a child row.
func (r *legRow) owner() uint64                   { return r.CallPK }
func (r *legTagRow) owner() uint64                { return r.CallPK }
func (r *connectionRow) owner() uint64            { return r.CallPK }
func (r *segmentRow) owner() uint64               { return r.CallPK }
func (r *queueCallRow) owner() uint64             { return r.CallPK }
func (r *conferenceRow) owner() uint64            { return r.CallPK }
func (r *conferenceParticipantRow) owner() uint64 { return r.CallPK }
func (r *billingRecordRow) owner() uint64         { return r.CallPK }
func (r *callGapRow) owner() uint64               { return r.CallPK }

// models lists every table: the calls' first, parents first, then the
// prepaid accounts' (accounts.go) and the re-rating history's
// (rerate.go).
func models() []any {
	return append(callModels(),
		&accountRow{}, &ledgerEntryRow{}, &reservationRow{},
		&rerateRunRow{}, &billingHistoryRow{},
	)
}

// callModels lists the tables of the calls, parents first.
func callModels() []any {
	return []any{
		&callRow{}, &legRow{}, &legTagRow{}, &connectionRow{}, &segmentRow{},
		&queueCallRow{}, &conferenceRow{}, &conferenceParticipantRow{},
		&billingRecordRow{}, &callGapRow{},
	}
}

// childModels lists the tables keyed by call_pk.
func childModels() []any { return callModels()[1:] }

// namer is gorm's naming strategy with the Row suffix of the model types
// dropped from table names.
type namer struct{ schema.NamingStrategy }

func (n namer) TableName(s string) string {
	return n.NamingStrategy.TableName(strings.TrimSuffix(s, "Row"))
}

// children is every row a call owns besides its calls row.
type children struct {
	legs         []legRow
	tags         []legTagRow
	connections  []connectionRow
	segments     []segmentRow
	queues       []queueCallRow
	conferences  []conferenceRow
	participants []conferenceParticipantRow
	billing      []billingRecordRow
	gaps         []callGapRow
}

func timePtr(t callgraph.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func fromTimePtr(p *time.Time) callgraph.Time {
	if p == nil {
		return callgraph.Time{}
	}
	return callgraph.Time{Time: p.UTC()}
}

func ms(s callgraph.Seconds) int64 { return int64(math.Round(float64(s) * 1000)) }

func seconds(ms int64) callgraph.Seconds { return callgraph.Seconds(float64(ms) / 1000) }

func msPtr(s *callgraph.Seconds) *int64 {
	if s == nil {
		return nil
	}
	v := ms(*s)
	return &v
}

func secondsPtr(ms *int64) *callgraph.Seconds {
	if ms == nil {
		return nil
	}
	s := seconds(*ms)
	return &s
}

func jsonList(v []string) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func fromJSONList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var v []string
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

// extra is what a call's record column holds: the fields of the call
// that no column keeps. Its JSON has the shape of the call's own, so
// that every record decodes into a callgraph.Call, whatever its age
// (those written before 2026-11 hold the whole call; the columns are read
// over them). TestEveryFieldSurvives fails when callgraph gains a field
// that neither a column nor extra keeps.
type extra struct {
	// Legs has an entry per leg, in the order of the legs rows, when any
	// leg has something to keep.
	Legs   []legExtra       `json:"legs,omitempty"`
	Linked []callgraph.Link `json:"linked,omitempty"`
}

type legExtra struct {
	SIPCallID string `json:"sip_call_id,omitempty"`
}

// extraJSON is the record of c: its extra as JSON, or "" when it has
// none.
func extraJSON(c *callgraph.Call) (string, error) {
	var legs []legExtra // one per legs row
	kept := false
	for _, l := range c.Legs {
		if l != nil {
			legs = append(legs, legExtra{SIPCallID: l.SIPCallID})
			kept = kept || l.SIPCallID != ""
		}
	}
	e := extra{Linked: c.Linked}
	if kept {
		e.Legs = legs
	}
	if !kept && len(e.Linked) == 0 {
		return "", nil
	}
	b, err := json.Marshal(e)
	return string(b), err
}

// toRows splits a call into its calls row and its children. pk is filled
// in later, once the calls row has one.
func toRows(c *callgraph.Call, storedAt time.Time) (callRow, children, error) {
	record, err := extraJSON(c)
	if err != nil {
		return callRow{}, children{}, err
	}
	locals, err := jsonList(c.LocalChannels)
	if err != nil {
		return callRow{}, children{}, err
	}
	row := callRow{
		Server:        c.Server,
		CallID:        c.ID,
		StartedAt:     timePtr(c.Start),
		EndedAt:       timePtr(c.End),
		Disposition:   c.Disposition,
		Complete:      c.Complete,
		Unplaced:      c.Unplaced,
		LocalChannels: locals,
		Record:        record,
		StoredAt:      storedAt.UTC(),
	}
	var ch children
	for i, l := range c.Legs {
		if l == nil {
			continue
		}
		ch.legs = append(ch.legs, legToRow(i, l))
		keys := make([]string, 0, len(l.Tags))
		for k := range l.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ch.tags = append(ch.tags, legTagRow{LegSeq: i, LegID: l.ID, TagKey: k, TagValue: l.Tags[k]})
		}
	}
	for i, x := range c.Connections {
		r := connectionRow{
			Seq: i, Kind: x.Kind, ByLeg: x.By, FromLeg: x.From, ToLeg: x.To,
			At: timePtr(x.At), Answered: x.Answered, Status: x.Status,
			Consult: x.Consult, Target: x.Target, External: x.External, DestType: x.DestType,
		}
		r.RingMS, r.PDDMS = msPtr(x.Ring), msPtr(x.PDD)
		ch.connections = append(ch.connections, r)
	}
	for i, s := range c.Segments {
		ch.segments = append(ch.segments, segmentRow{
			Seq: i, LegA: s.A, LegB: s.B, StartedAt: timePtr(s.Start), EndedAt: timePtr(s.End),
			SecondsMS: ms(s.Seconds),
		})
	}
	for i, q := range c.Queues {
		ch.queues = append(ch.queues, queueCallRow{
			Seq: i, Queue: q.Queue, Caller: q.Caller, JoinedAt: timePtr(q.Joined), LeftAt: timePtr(q.Left),
			WaitMS: ms(q.Wait), Outcome: q.Outcome, Agent: q.Agent, Attempts: q.Attempts, Position: q.Position,
		})
	}
	for i, f := range c.Conferences {
		ch.conferences = append(ch.conferences, conferenceRow{
			Seq: i, Name: f.Name, StartedAt: timePtr(f.Start), EndedAt: timePtr(f.End),
		})
		for j, p := range f.Participants {
			ch.participants = append(ch.participants, conferenceParticipantRow{
				ConferenceSeq: i, Seq: j, LegID: p.Leg, Channel: p.Channel,
				JoinedAt: timePtr(p.Joined), LeftAt: timePtr(p.Left),
			})
		}
	}
	for i, b := range c.Billing {
		ch.billing = append(ch.billing, billingRecordRow{
			Seq: i, LegID: b.Leg, Party: b.Party, Account: b.Account, BillsecMS: ms(b.Billsec),
			BilledSeconds: b.BilledSeconds, Destination: b.Destination, Cost: b.Cost,
			Currency: b.Currency, Plan: b.Plan, RateRow: b.Row, RateIncrement: b.Increment,
			Units: b.Units, RatingError: b.Error,
		})
	}
	for i, g := range c.Gaps {
		est, err := jsonList(g.Estimated)
		if err != nil {
			return callRow{}, children{}, err
		}
		ch.gaps = append(ch.gaps, callGapRow{
			Seq: i, FromAt: timePtr(g.From), ToAt: timePtr(g.To), Reason: g.Reason, Estimated: est,
		})
	}
	return row, ch, nil
}

func legToRow(seq int, l *callgraph.Leg) legRow {
	r := legRow{
		Seq: seq, LegID: l.ID, Channel: l.Channel, Party: l.Party, Role: l.Role,
		CallerNum: l.CallerNum, CallerName: l.CallerName, Dialed: l.Dialed, Context: l.Context,
		CreatedAt: timePtr(l.Created), AnsweredAt: timePtr(l.Answered), EndedAt: timePtr(l.Ended),
		DurationMS: ms(l.Duration), RingMS: ms(l.Ring), BillsecMS: ms(l.Billsec),
		TalkMS: ms(l.Talk), HoldMS: ms(l.Hold),
		Disposition: l.Disposition, Cause: l.Cause, CauseText: l.CauseText, SIPCode: l.SIPCode,
		ReleasedBy: l.ReleasedBy, Account: l.Account,
	}
	if q := l.Quality; q != nil {
		r.HasQuality = true
		r.QualityCodec = q.Codec
		r.RTTMS = q.RTTms
		if d := q.FromParty; d != nil {
			r.FromPackets, r.FromLost = &d.Packets, &d.Lost
			r.FromLossPct, r.FromJitterMS, r.FromMOS = &d.LossPct, &d.JitterMs, &d.MOS
			r.FromMES = d.MES
		}
		if d := q.ToParty; d != nil {
			r.ToPackets, r.ToLost = &d.Packets, &d.Lost
			r.ToLossPct, r.ToJitterMS, r.ToMOS = &d.LossPct, &d.JitterMs, &d.MOS
			r.ToMES = d.MES
		}
	}
	return r
}

func direction(packets, lost *int64, lossPct, jitter, mos, mes *float64) *callgraph.Direction {
	if packets == nil {
		return nil
	}
	d := &callgraph.Direction{Packets: *packets, MES: mes}
	if lost != nil {
		d.Lost = *lost
	}
	if lossPct != nil {
		d.LossPct = *lossPct
	}
	if jitter != nil {
		d.JitterMs = *jitter
	}
	if mos != nil {
		d.MOS = *mos
	}
	return d
}

// applyLeg sets every field the legs and leg_tags tables hold; l may
// already carry fields decoded from the record JSON.
func applyLeg(l *callgraph.Leg, r *legRow, tags []legTagRow) {
	l.ID, l.Channel, l.Party, l.Role = r.LegID, r.Channel, r.Party, r.Role
	l.CallerNum, l.CallerName, l.Dialed, l.Context = r.CallerNum, r.CallerName, r.Dialed, r.Context
	l.Created, l.Answered, l.Ended = fromTimePtr(r.CreatedAt), fromTimePtr(r.AnsweredAt), fromTimePtr(r.EndedAt)
	l.Duration, l.Ring, l.Billsec = seconds(r.DurationMS), seconds(r.RingMS), seconds(r.BillsecMS)
	l.Talk, l.Hold = seconds(r.TalkMS), seconds(r.HoldMS)
	l.Disposition, l.Cause, l.CauseText, l.SIPCode = r.Disposition, r.Cause, r.CauseText, r.SIPCode
	l.ReleasedBy, l.Account = r.ReleasedBy, r.Account
	l.Tags = nil
	for _, t := range tags {
		if l.Tags == nil {
			l.Tags = make(map[string]string, len(tags))
		}
		l.Tags[t.TagKey] = t.TagValue
	}
	if !r.HasQuality {
		l.Quality = nil
		return
	}
	if l.Quality == nil {
		l.Quality = new(callgraph.Quality)
	}
	l.Quality.Codec, l.Quality.RTTms = r.QualityCodec, r.RTTMS
	l.Quality.FromParty = direction(r.FromPackets, r.FromLost, r.FromLossPct, r.FromJitterMS, r.FromMOS, r.FromMES)
	l.Quality.ToParty = direction(r.ToPackets, r.ToLost, r.ToLossPct, r.ToJitterMS, r.ToMOS, r.ToMES)
}

// fromRows rebuilds a call: the record JSON first, for any field the
// tables do not hold, then every field the tables hold, from the tables.
// A list whose length differs from its rows is rebuilt from the rows
// alone.
func fromRows(row *callRow, ch *children) (*callgraph.Call, error) {
	c := new(callgraph.Call)
	if row.Record != "" {
		if err := json.Unmarshal([]byte(row.Record), c); err != nil {
			return nil, err
		}
	}
	c.ID, c.Server = row.CallID, row.Server
	c.Start, c.End = fromTimePtr(row.StartedAt), fromTimePtr(row.EndedAt)
	c.Disposition, c.Complete, c.Unplaced = row.Disposition, row.Complete, row.Unplaced
	locals, err := fromJSONList(row.LocalChannels)
	if err != nil {
		return nil, err
	}
	c.LocalChannels = locals

	if len(c.Legs) != len(ch.legs) {
		c.Legs = make([]*callgraph.Leg, len(ch.legs))
	}
	for i := range ch.legs {
		if c.Legs[i] == nil {
			c.Legs[i] = new(callgraph.Leg)
		}
		var tags []legTagRow
		for _, t := range ch.tags {
			if t.LegSeq == ch.legs[i].Seq {
				tags = append(tags, t)
			}
		}
		applyLeg(c.Legs[i], &ch.legs[i], tags)
	}

	if len(c.Connections) != len(ch.connections) {
		c.Connections = make([]callgraph.Connection, len(ch.connections))
	}
	for i, r := range ch.connections {
		x := &c.Connections[i]
		x.Kind, x.By, x.From, x.To, x.At = r.Kind, r.ByLeg, r.FromLeg, r.ToLeg, fromTimePtr(r.At)
		x.Answered, x.Status, x.Consult, x.Target = r.Answered, r.Status, r.Consult, r.Target
		x.External, x.DestType = r.External, r.DestType
		x.Ring, x.PDD = secondsPtr(r.RingMS), secondsPtr(r.PDDMS)
	}

	if len(c.Segments) != len(ch.segments) {
		c.Segments = make([]callgraph.Segment, len(ch.segments))
	}
	for i, r := range ch.segments {
		s := &c.Segments[i]
		s.A, s.B, s.Start, s.End = r.LegA, r.LegB, fromTimePtr(r.StartedAt), fromTimePtr(r.EndedAt)
		s.Seconds = seconds(r.SecondsMS)
	}

	if len(c.Queues) != len(ch.queues) {
		c.Queues = make([]callgraph.QueueEntry, len(ch.queues))
	}
	for i, r := range ch.queues {
		q := &c.Queues[i]
		q.Queue, q.Caller, q.Joined, q.Left = r.Queue, r.Caller, fromTimePtr(r.JoinedAt), fromTimePtr(r.LeftAt)
		q.Wait, q.Outcome, q.Agent, q.Attempts, q.Position = seconds(r.WaitMS), r.Outcome, r.Agent, r.Attempts, r.Position
	}

	if len(c.Conferences) != len(ch.conferences) {
		c.Conferences = make([]callgraph.Conference, len(ch.conferences))
	}
	for i, r := range ch.conferences {
		f := &c.Conferences[i]
		f.Name, f.Start, f.End = r.Name, fromTimePtr(r.StartedAt), fromTimePtr(r.EndedAt)
		var ps []conferenceParticipantRow
		for _, p := range ch.participants {
			if p.ConferenceSeq == r.Seq {
				ps = append(ps, p)
			}
		}
		if len(f.Participants) != len(ps) {
			f.Participants = make([]callgraph.Participant, len(ps))
		}
		for j, p := range ps {
			f.Participants[j].Leg, f.Participants[j].Channel = p.LegID, p.Channel
			f.Participants[j].Joined, f.Participants[j].Left = fromTimePtr(p.JoinedAt), fromTimePtr(p.LeftAt)
		}
	}

	if len(c.Billing) != len(ch.billing) {
		c.Billing = make([]callgraph.Billing, len(ch.billing))
	}
	for i, r := range ch.billing {
		b := &c.Billing[i]
		b.Leg, b.Party, b.Account, b.Billsec = r.LegID, r.Party, r.Account, seconds(r.BillsecMS)
		b.BilledSeconds, b.Destination, b.Cost, b.Currency = r.BilledSeconds, r.Destination, r.Cost, r.Currency
		b.Plan, b.Row, b.Increment, b.Units, b.Error = r.Plan, r.RateRow, r.RateIncrement, r.Units, r.RatingError
	}

	if len(c.Gaps) != len(ch.gaps) {
		c.Gaps = make([]callgraph.Gap, len(ch.gaps))
	}
	for i, r := range ch.gaps {
		g := &c.Gaps[i]
		g.From, g.To, g.Reason = fromTimePtr(r.FromAt), fromTimePtr(r.ToAt), r.Reason
		est, err := fromJSONList(r.Estimated)
		if err != nil {
			return nil, err
		}
		g.Estimated = est
	}
	// The lists the engine always gives, empty or not: a record without
	// them (every record since 2026-11) leaves them nil.
	if c.Legs == nil {
		c.Legs = []*callgraph.Leg{}
	}
	if c.Gaps == nil {
		c.Gaps = []callgraph.Gap{}
	}
	if c.Connections == nil {
		c.Connections = []callgraph.Connection{}
	}
	if c.Segments == nil {
		c.Segments = []callgraph.Segment{}
	}
	if c.Queues == nil {
		c.Queues = []callgraph.QueueEntry{}
	}
	if c.Billing == nil {
		c.Billing = []callgraph.Billing{}
	}
	return c, nil
}

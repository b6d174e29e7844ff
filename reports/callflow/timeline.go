package callflow

import (
	"slices"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// lanes adds a lane for every leg of the call: ringing until the answer
// (or the end), the queue waits of a queue caller, parking, the talk
// segments with the other party, and the answered time left over, which
// is hold, music or a transfer ringing (the record keeps a leg's total
// hold, not when it was).
func (b *builder) lanes(c *callgraph.Call) {
	for _, l := range c.Legs {
		lane := Lane{Leg: l.ID, Label: l.Party + " " + l.Role, Sub: l.Channel}
		end := l.Ended.Time
		if end.IsZero() {
			end = callEnd(c)
		}
		ringEnd := l.Answered.Time
		if ringEnd.IsZero() {
			ringEnd = end
		}
		if ringEnd.After(l.Created.Time) {
			lane.Bars = append(lane.Bars, Bar{Kind: BarRing, From: l.Created.Time, To: ringEnd, Label: "ringing"})
		}
		var busy []Bar
		for _, q := range c.Queues {
			if q.Caller == l.ID && q.Left.After(q.Joined.Time) {
				busy = append(busy, Bar{Kind: BarQueue, From: q.Joined.Time, To: q.Left.Time, Label: "queue " + q.Queue})
			}
		}
		for _, x := range c.Connections {
			if x.Kind != callgraph.KindPark || x.Status != "parked" || x.From != l.ID {
				continue
			}
			until := end
			for _, y := range c.Connections {
				if y.Kind == callgraph.KindPark && y.Status == "retrieved" && y.From == l.ID && y.At.After(x.At.Time) {
					until = y.At.Time
					break
				}
			}
			busy = append(busy, Bar{Kind: BarPark, From: x.At.Time, To: until, Label: "parked " + x.Target})
		}
		for _, s := range c.Segments {
			var other string
			switch l.ID {
			case s.A:
				other = s.B
			case s.B:
				other = s.A
			default:
				continue
			}
			label := "talk " + b.party(other)
			if b.legs[other] == nil {
				label = "conference " + b.party(other)
			}
			busy = append(busy, Bar{Kind: BarTalk, From: s.Start.Time, To: s.End.Time, Label: label})
		}
		slices.SortFunc(busy, func(x, y Bar) int { return x.From.Compare(y.From) })
		if !l.Answered.IsZero() {
			for _, gap := range gaps(l.Answered.Time, end, busy) {
				if gap.to.Sub(gap.from) >= 50*time.Millisecond {
					busy = append(busy, Bar{Kind: BarHold, From: gap.from, To: gap.to, Label: "no talk"})
				}
			}
		}
		lane.Bars = append(lane.Bars, busy...)
		slices.SortStableFunc(lane.Bars, func(x, y Bar) int { return x.From.Compare(y.From) })
		b.f.Lanes = append(b.f.Lanes, lane)
	}
}

type interval struct{ from, to time.Time }

// gaps returns the parts of [from, to) no bar covers; bars are sorted.
func gaps(from, to time.Time, bars []Bar) []interval {
	var out []interval
	at := from
	for _, b := range bars {
		if b.From.After(at) {
			out = append(out, interval{at, minTime(b.From, to)})
		}
		if b.To.After(at) {
			at = b.To
		}
		if !at.Before(to) {
			return out
		}
	}
	if at.Before(to) {
		out = append(out, interval{at, to})
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

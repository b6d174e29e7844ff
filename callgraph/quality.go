package callgraph

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// legQuality accumulates what RTCP and RTPAUDIOQOS said about a leg.
//
// RTCPSent on a leg carries Asterisk's own report block about the audio
// it receives from the party (from_party); RTCPReceived carries the
// party's report about the audio Asterisk sends it (to_party).
type legQuality struct {
	from, to streamStats
	// From RTPAUDIOQOS at hangup: packets Asterisk received from the
	// party and sent to it, and the loss each side counted.
	rxcount, txcount int64
	lp, rlp          int64
	haveQoS          bool
	sentPackets      int64 // Asterisk's SR sender packet count on this leg
	rtt              float64
	haveRTT          bool
}

type streamStats struct {
	reports   int
	lost      int64
	jitterMax int64 // RTP timestamp units
	mes       float64
	haveMES   bool
	firstHS   int64
	lastHS    int64
	firstAt   time.Time
	lastAt    time.Time
}

func (e *Engine) rtcp(ev event, received bool) {
	l := e.leg(ev, "", false)
	if l == nil {
		return
	}
	m := ev.m
	q := l.quality
	if q == nil {
		q = new(legQuality)
		l.quality = q
	}
	if !received {
		if n, err := strconv.ParseInt(m.Get("SentPackets"), 10, 64); err == nil && n > q.sentPackets {
			q.sentPackets = n
		}
	}
	if received {
		if rtt, err := strconv.ParseFloat(m.Get("RTT"), 64); err == nil && rtt > 0 {
			q.rtt, q.haveRTT = rtt, true
		}
	}
	s := &q.from
	if received {
		s = &q.to
	}
	if mes, err := strconv.ParseFloat(m.Get("MES"), 64); err == nil {
		s.mes, s.haveMES = mes, true
	}
	if n, _ := strconv.Atoi(m.Get("ReportCount")); n < 1 {
		return
	}
	lost, err := strconv.ParseInt(m.Get("Report0CumulativeLost"), 10, 64)
	if err != nil {
		return
	}
	hs, _ := strconv.ParseInt(m.Get("Report0HighestSequence"), 10, 64)
	cycles, _ := strconv.ParseInt(m.Get("Report0SequenceNumberCycles"), 10, 64)
	hs += cycles << 16
	jit, _ := strconv.ParseInt(m.Get("Report0IAJitter"), 10, 64)
	if s.reports == 0 {
		s.firstHS, s.firstAt = hs, ev.t
	}
	s.reports++
	s.lost = lost
	s.lastHS, s.lastAt = hs, ev.t
	if jit > s.jitterMax {
		s.jitterMax = jit
	}
}

// qosVar reads the RTPAUDIOQOS variable Asterisk sets on a channel at
// hangup. The …BRIDGED copies describe the bridge peer and are skipped.
func (e *Engine) qosVar(l *leg, name, value string) {
	if name != "RTPAUDIOQOS" {
		return
	}
	q := l.quality
	if q == nil {
		q = new(legQuality)
		l.quality = q
	}
	for _, kv := range strings.Split(value, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "rxcount":
			q.rxcount, _ = strconv.ParseInt(v, 10, 64)
		case "txcount":
			q.txcount, _ = strconv.ParseInt(v, 10, 64)
		case "lp":
			q.lp, _ = strconv.ParseInt(v, 10, 64)
		case "rlp":
			q.rlp, _ = strconv.ParseInt(v, 10, 64)
		case "rtt":
			if rtt, err := strconv.ParseFloat(v, 64); err == nil && rtt > 0 && !q.haveRTT {
				q.rtt, q.haveRTT = rtt, true
			}
		}
	}
	q.haveQoS = true
}

// clockRate is the RTP clock of the audio; the captures carry G.711, and
// G.711, G.729 and G.722 (by its RFC 3551 quirk) all use 8 kHz.
const clockRate = 8000

// record turns the accumulators into the leg's Quality, or nil when the
// leg carried no RTCP.
func (q *legQuality) record(l *leg) *Quality {
	if q == nil {
		return nil
	}
	out := &Quality{}
	var rttMs float64
	if q.haveRTT {
		rttMs = math.Round(q.rtt*1e6) / 1e3
		out.RTTms = &rttMs
	}
	// Audio from the party, as Asterisk received it.
	if q.from.reports > 0 || q.haveQoS {
		lost := q.from.lost
		if q.haveQoS && q.lp > lost {
			lost = q.lp
		}
		received := q.rxcount
		if !q.haveQoS {
			received = expected(q.from, l) - lost
		}
		out.FromParty = direction(received, lost, q.from, rttMs)
	}
	// Audio to the party, as the party's own reports say.
	if q.to.reports > 0 {
		lost := q.to.lost
		delivered := q.txcount
		if delivered == 0 {
			delivered = q.sentPackets
		}
		if delivered == 0 {
			delivered = expected(q.to, l) - lost
		}
		out.ToParty = direction(delivered, lost, q.to, rttMs)
	}
	if out.FromParty == nil && out.ToParty == nil {
		return nil
	}
	return out
}

// expected estimates the packets a stream should have carried when no
// counter says: the sequence numbers advanced between the first and last
// report, extrapolated back to the answer at the same rate.
func expected(s streamStats, l *leg) int64 {
	n := s.lastHS - s.firstHS
	span := s.lastAt.Sub(s.firstAt)
	if span > 0 && !l.answered.IsZero() && s.firstAt.After(l.answered) {
		n += int64(float64(n) * float64(s.firstAt.Sub(l.answered)) / float64(span))
	}
	if n < 0 {
		n = 0
	}
	return n
}

func direction(packets, lost int64, s streamStats, rttMs float64) *Direction {
	if packets <= 0 {
		return nil // no audio flowed: nothing to score
	}
	d := &Direction{Packets: packets, Lost: lost}
	if total := packets + lost; total > 0 {
		d.LossPct = math.Round(float64(lost)/float64(total)*1e4) / 100
	}
	d.JitterMs = math.Round(float64(s.jitterMax)/clockRate*1e4) / 10
	d.MOS = MOS(d.LossPct, d.JitterMs, rttMs)
	if s.haveMES {
		mes := s.mes
		d.MES = &mes
	}
	return d
}

// MOS estimates the mean opinion score (1–5) of G.711 audio with packet
// loss lossPct (percent, random), inter-arrival jitter jitterMs and round
// trip rttMs, with the ITU-T G.107 E-model in its common simplified form:
//
//	R   = 93.2 − Id − Ie,eff
//	EL  = rtt/2 + 2·jitter + 10 ms (the jitter buffer and codec delay)
//	Id  = EL/40 below 160 ms, else (EL − 120)/10
//	Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl), Ie = 0, Bpl = 25.1 (G.711 with PLC, G.113 Appendix I)
//	MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R), clamped to [1, 4.5]
//
// The best score this gives on a clean LAN is about 4.4.
func MOS(lossPct, jitterMs, rttMs float64) float64 {
	const ie, bpl = 0.0, 25.1
	el := rttMs/2 + 2*jitterMs + 10
	var id float64
	if el < 160 {
		id = el / 40
	} else {
		id = (el - 120) / 10
	}
	ieEff := ie + (95-ie)*lossPct/(lossPct+bpl)
	r := 93.2 - id - ieEff
	var mos float64
	switch {
	case r < 0:
		mos = 1
	case r > 100:
		mos = 4.5
	default:
		mos = 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
	}
	return math.Round(mos*100) / 100
}

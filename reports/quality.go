package reports

import (
	"errors"
	"fmt"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// Thresholds flag poor and bad audio in one direction of a leg. A
// direction is bad when any figure crosses its Bad threshold, poor when
// any crosses its Poor one. MOS is bad below BadMOS; loss, jitter and
// RTT are bad at or above theirs.
type Thresholds struct {
	PoorMOS, BadMOS           float64
	PoorLossPct, BadLossPct   float64
	PoorJitterMs, BadJitterMs float64
	PoorRTTms, BadRTTms       float64
}

// DefaultThresholds are the documented defaults: MOS below 3.6 poor and
// below 3.1 bad (the "many users dissatisfied" and "nearly all
// dissatisfied" bands of the E-model's scale); loss from 1 % poor and 5 %
// bad; jitter from 30 ms poor and 50 ms bad; round trip from 300 ms
// (150 ms one way, ITU-T G.114's limit for good interactivity) poor and
// 600 ms bad.
func DefaultThresholds() Thresholds {
	return Thresholds{
		PoorMOS: 3.6, BadMOS: 3.1,
		PoorLossPct: 1, BadLossPct: 5,
		PoorJitterMs: 30, BadJitterMs: 50,
		PoorRTTms: 300, BadRTTms: 600,
	}
}

// Validate checks that every Bad threshold is at least as severe as its
// Poor one.
func (t Thresholds) Validate() error {
	if t.BadMOS > t.PoorMOS || t.BadLossPct < t.PoorLossPct || t.BadJitterMs < t.PoorJitterMs || t.BadRTTms < t.PoorRTTms {
		return errors.New("reports: a bad quality threshold is milder than its poor one")
	}
	if t.PoorMOS <= 0 || t.PoorLossPct <= 0 || t.PoorJitterMs <= 0 || t.PoorRTTms <= 0 {
		return errors.New("reports: quality thresholds must be positive")
	}
	return nil
}

// Verdicts.
const (
	Good = "good"
	Poor = "poor"
	Bad  = "bad"
)

// QualityReport lists the calls that carried RTCP, leg by leg and
// direction by direction, each with a verdict.
type QualityReport struct {
	Thresholds Thresholds    `json:"thresholds"`
	Calls      []CallQuality `json:"calls"`
	// Counts of calls by verdict.
	Good int `json:"good"`
	Poor int `json:"poor"`
	Bad  int `json:"bad"`
}

// CallQuality is the quality of one call: the worst of its directions.
type CallQuality struct {
	CallID  string       `json:"call_id"`
	Start   time.Time    `json:"start"`
	Verdict string       `json:"verdict"`
	Legs    []LegQuality `json:"legs"`
	worst   int
}

// LegQuality is one leg's audio. Label is "A-leg" for the leg the call
// started with (the caller's, towards Asterisk) and "B-leg" for the legs
// Asterisk placed or connected to it.
type LegQuality struct {
	Leg        string           `json:"leg"`
	Label      string           `json:"label"`
	Party      string           `json:"party"`
	Channel    string           `json:"channel"`
	Codec      string           `json:"codec,omitempty"`
	RTTms      *float64         `json:"rtt_ms"`
	Directions []DirectionCheck `json:"directions"`
}

// DirectionCheck is one direction of a leg with its verdict.
// Direction is "from_party" (the audio the party sent, as Asterisk
// received it) or "to_party" (the audio Asterisk sent, as the party's
// RTCP reports say).
type DirectionCheck struct {
	Direction string   `json:"direction"`
	Packets   int64    `json:"packets"`
	Lost      int64    `json:"lost"`
	LossPct   float64  `json:"loss_pct"`
	JitterMs  float64  `json:"jitter_ms"`
	MOS       float64  `json:"mos"`
	MES       *float64 `json:"mes"`
	Verdict   string   `json:"verdict"`
	Reasons   []string `json:"reasons,omitempty"`
}

// Quality computes the quality report over the calls whose legs carry a
// quality record; the others are left out.
func Quality(calls []*callgraph.Call, o Options) *QualityReport {
	t := o.Quality
	r := &QualityReport{Thresholds: t}
	for _, c := range calls {
		cq := CallQuality{CallID: c.ID, Start: c.Start.UTC()}
		first := origin(c)
		for _, l := range c.Legs {
			q := l.Quality
			if q == nil {
				continue
			}
			lq := LegQuality{Leg: l.ID, Label: "B-leg", Party: l.Party, Channel: l.Channel, Codec: q.Codec, RTTms: q.RTTms}
			if l == first {
				lq.Label = "A-leg"
			}
			for _, d := range []struct {
				name string
				d    *callgraph.Direction
			}{{"from_party", q.FromParty}, {"to_party", q.ToParty}} {
				if d.d == nil {
					continue
				}
				dc := t.check(d.name, d.d, q.RTTms)
				cq.worst = max(cq.worst, severity(dc.Verdict))
				lq.Directions = append(lq.Directions, dc)
			}
			cq.Legs = append(cq.Legs, lq)
		}
		if len(cq.Legs) == 0 {
			continue
		}
		cq.Verdict = verdicts[cq.worst]
		switch cq.Verdict {
		case Good:
			r.Good++
		case Poor:
			r.Poor++
		case Bad:
			r.Bad++
		}
		r.Calls = append(r.Calls, cq)
	}
	return r
}

var verdicts = []string{Good, Poor, Bad}

func severity(v string) int {
	for i, s := range verdicts {
		if s == v {
			return i
		}
	}
	return 0
}

func (t Thresholds) check(name string, d *callgraph.Direction, rtt *float64) DirectionCheck {
	dc := DirectionCheck{Direction: name, Packets: d.Packets, Lost: d.Lost, LossPct: d.LossPct,
		JitterMs: d.JitterMs, MOS: d.MOS, MES: d.MES, Verdict: Good}
	flag := func(bad, poor bool, what string) {
		switch {
		case bad:
			dc.Verdict = Bad
			dc.Reasons = append(dc.Reasons, what)
		case poor:
			if dc.Verdict == Good {
				dc.Verdict = Poor
			}
			dc.Reasons = append(dc.Reasons, what)
		}
	}
	flag(d.MOS < t.BadMOS, d.MOS < t.PoorMOS, fmt.Sprintf("MOS %.2f", d.MOS))
	flag(d.LossPct >= t.BadLossPct, d.LossPct >= t.PoorLossPct, fmt.Sprintf("loss %.2f%%", d.LossPct))
	flag(d.JitterMs >= t.BadJitterMs, d.JitterMs >= t.PoorJitterMs, fmt.Sprintf("jitter %.1f ms", d.JitterMs))
	if rtt != nil {
		flag(*rtt >= t.BadRTTms, *rtt >= t.PoorRTTms, fmt.Sprintf("RTT %.0f ms", *rtt))
	}
	return dc
}

// Tables implements Report.
func (r *QualityReport) Tables() []Table {
	t := Table{
		Title: fmt.Sprintf("Call quality (%d calls: %d good, %d poor, %d bad)", len(r.Calls), r.Good, r.Poor, r.Bad),
		Columns: []string{"call", "verdict", "leg", "party", "channel", "direction", "packets", "lost",
			"loss", "max jitter ms", "MOS", "MES", "RTT ms", "flags"},
		Notes: []string{
			"MOS: calltrail's E-model (1–5); MES: Asterisk's own score (0–100) where Asterisk sent one",
			fmt.Sprintf("poor: MOS < %.1f, loss ≥ %.0f%%, jitter ≥ %.0f ms or RTT ≥ %.0f ms; bad: MOS < %.1f, loss ≥ %.0f%%, jitter ≥ %.0f ms or RTT ≥ %.0f ms",
				r.Thresholds.PoorMOS, r.Thresholds.PoorLossPct, r.Thresholds.PoorJitterMs, r.Thresholds.PoorRTTms,
				r.Thresholds.BadMOS, r.Thresholds.BadLossPct, r.Thresholds.BadJitterMs, r.Thresholds.BadRTTms),
		},
	}
	for _, c := range r.Calls {
		for _, l := range c.Legs {
			for _, d := range l.Directions {
				dir := l.Party + " → PBX"
				if d.Direction == "to_party" {
					dir = "PBX → " + l.Party
				}
				t.Rows = append(t.Rows, []string{c.CallID, c.Verdict, l.Label, l.Party, l.Channel, dir,
					fmt.Sprint(d.Packets), fmt.Sprint(d.Lost), fmtFloat(d.LossPct, 2) + "%", fmtFloat(d.JitterMs, 1),
					fmtFloat(d.MOS, 2), fmtFloatPtr(d.MES, 1), fmtFloatPtr(l.RTTms, 1), joinComma(d.Reasons)})
			}
		}
	}
	return []Table{t}
}

package reports

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// Endpoint is the device or trunk a channel belongs to: its name without
// the per-call suffix ("SIP/1001-00000014" → "SIP/1001",
// "PJSIP/trunk-0000001d" → "PJSIP/trunk").
func Endpoint(channel string) string {
	if i := strings.LastIndexByte(channel, '-'); i > strings.IndexByte(channel, '/') && i < len(channel)-1 {
		if isHex(channel[i+1:]) {
			return channel[:i]
		}
	}
	return channel
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return s != ""
}

// Trunk returns the trunk a leg is on ("SIP/trunk"), or "" when the leg
// is on a phone (see Options.Trunks).
func (o Options) Trunk(l *callgraph.Leg) string {
	ep := Endpoint(l.Channel)
	if len(o.Trunks) > 0 {
		if slices.Contains(o.Trunks, ep) {
			return ep
		}
		return ""
	}
	_, name, ok := strings.Cut(ep, "/")
	if !ok || l.Party == "" || name == l.Party {
		return ""
	}
	return ep
}

// Prefix is the destination prefix a dialled number is reported under.
func (o Options) Prefix(number string) string {
	if number == "" {
		return "(none)"
	}
	if len(o.Prefixes) > 0 {
		best := ""
		for _, p := range o.Prefixes {
			if strings.HasPrefix(number, p) && len(p) > len(best) {
				best = p
			}
		}
		if best == "" {
			return "other"
		}
		return best
	}
	if len(number) <= o.PrefixDigits {
		return number
	}
	return number[:o.PrefixDigits]
}

// origin is the leg a call started with: its first caller leg.
func origin(c *callgraph.Call) *callgraph.Leg {
	for _, l := range c.Legs {
		if l.Role == callgraph.RoleCaller {
			return l
		}
	}
	if len(c.Legs) > 0 {
		return c.Legs[0]
	}
	return nil
}

// legIndex maps leg ids to legs.
func legIndex(c *callgraph.Call) map[string]*callgraph.Leg {
	m := make(map[string]*callgraph.Leg, len(c.Legs))
	for _, l := range c.Legs {
		m[l.ID] = l
	}
	return m
}

// talkBetween sums the talk segments between two legs.
func talkBetween(c *callgraph.Call, a, b string) callgraph.Seconds {
	var s callgraph.Seconds
	for _, seg := range c.Segments {
		if seg.A == a && seg.B == b || seg.A == b && seg.B == a {
			s += seg.Seconds
		}
	}
	return s
}

// pct is 100·num/den rounded to 0.01, or nil when den is 0.
func pct(num, den int) *float64 {
	if den == 0 {
		return nil
	}
	v := math.Round(float64(num)/float64(den)*1e4) / 100
	return &v
}

// avg is sum/n rounded to the millisecond, or 0 when n is 0.
func avg(sum callgraph.Seconds, n int) callgraph.Seconds {
	if n == 0 {
		return 0
	}
	return callgraph.Seconds(math.Round(float64(sum)/float64(n)*1000) / 1000)
}

// span is an interval of time during which something was in progress.
type span struct{ from, to time.Time }

// peak is the largest number of spans in progress at once and the first
// instant it was reached. A span ending at the instant another starts
// does not overlap it.
func peak(spans []span) (int, time.Time) {
	type edge struct {
		t     time.Time
		delta int
	}
	var edges []edge
	for _, s := range spans {
		if s.from.IsZero() || !s.to.After(s.from) {
			continue
		}
		edges = append(edges, edge{s.from, 1}, edge{s.to, -1})
	}
	slices.SortStableFunc(edges, func(a, b edge) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.delta - b.delta // ends first
	})
	n, best := 0, 0
	var at time.Time
	for _, e := range edges {
		n += e.delta
		if n > best {
			best, at = n, e.t
		}
	}
	return best, at
}

// callSpan is the time a call was in progress.
func callSpan(c *callgraph.Call) span {
	s := span{c.Start.Time, c.End.Time}
	if s.to.IsZero() {
		for _, l := range c.Legs {
			if l.Ended.After(s.to) {
				s.to = l.Ended.Time
			}
		}
	}
	return s
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func roundMs(f float64) float64 { return math.Round(f*1000) / 1000 }

func compareStrings(a, b string) int { return strings.Compare(a, b) }

func joinComma(s []string) string { return strings.Join(s, ", ") }

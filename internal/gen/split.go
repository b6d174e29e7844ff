package gen

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/calltrail/calltrail/ami"
)

// A Group is the events of one call of a capture, or of the calls that met
// in one conference: the unit the generator copies.
type Group struct {
	Name   string
	Events []*ami.Message
}

// noise are the events Split leaves out: the login's and the phones'
// security events (SuccessfulAuth, ChallengeSent), FullyBooted, which
// Asterisk sends once per connection, and Cdr, which a site that runs
// calltrail has no reason to enable (it is what calltrail replaces).
var noise = map[string]bool{
	"FullyBooted":    true,
	"SuccessfulAuth": true,
	"ChallengeSent":  true,
	"Cdr":            true,
}

// deviceSlack is how far from a channel's life a device event (the
// DeviceStateChange of its phone, the QueueMemberStatus of its agent) may
// be and still count as that call's.
const deviceSlack = 2_000_000 // µs

// Split reads a capture (the bytes of one AMI connection) and cuts it into
// groups of connected events. Events are connected when they name the same
// channel, uniqueid, linkedid, bridge or conference; events that name only
// a device (DeviceStateChange, QueueMemberStatus) go to the group that has
// a channel of that device nearest in time, within two seconds, or are
// left out. Responses, events without a Timestamp and the events of noise
// are left out. Timestamps are made non-decreasing within each group, the
// way the engine reads them, so that a group keeps its durations wherever
// it is replayed. name prefixes the groups' names.
func Split(name string, r io.Reader) ([]Group, error) {
	var evs []*ami.Message
	var times []int64
	ar := ami.NewReader(bufio.NewReaderSize(r, 64<<10))
	for {
		m, err := ar.ReadMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("gen: split %s: %w", name, err)
		}
		ev := m.Event()
		if ev == "" || noise[ev] {
			continue
		}
		sec, usec, ok := m.Timestamp()
		if !ok {
			continue
		}
		evs = append(evs, m)
		times = append(times, sec*1e6+usec)
	}

	uf := newUnionFind()
	keyed := make([]int, len(evs)) // the union-find node of each event, or -1
	ph := newPhones()
	for i, m := range evs {
		keyed[i] = -1
		for _, k := range keys(m) {
			n := uf.node(k)
			if keyed[i] < 0 {
				keyed[i] = n
			} else {
				uf.union(keyed[i], n)
			}
		}
		// A phone that holds its call and places another is consulting:
		// the engine makes both one call, though no event links them.
		if held := ph.see(m); held != "" && keyed[i] >= 0 {
			uf.union(keyed[i], uf.node("c:"+held))
		}
	}

	// Number the components in the order of their first event.
	comp := make(map[int]int)
	group := make([]int, len(evs))
	for i := range evs {
		group[i] = -1
		if keyed[i] < 0 {
			continue
		}
		root := uf.find(keyed[i])
		g, ok := comp[root]
		if !ok {
			g = len(comp)
			comp[root] = g
		}
		group[i] = g
	}

	// Where each group's devices were in use: a span per channel.
	type use struct {
		group    int
		from, to int64
	}
	uses := make(map[string][]use)
	chanSpan := make(map[string]int) // channel → index in uses[device]
	for i, m := range evs {
		g := group[i]
		if g < 0 {
			continue
		}
		for _, d := range devicesOf(m) {
			key := d.device + "\x00" + d.channel
			j, ok := chanSpan[key]
			if !ok {
				j = len(uses[d.device])
				chanSpan[key] = j
				uses[d.device] = append(uses[d.device], use{group: g, from: times[i], to: times[i]})
			}
			u := &uses[d.device][j]
			u.to = times[i]
		}
	}
	for i, m := range evs {
		if group[i] >= 0 {
			continue
		}
		best, bestDist := -1, int64(deviceSlack)+1
		for _, d := range deviceRefs(m) {
			for _, u := range uses[d] {
				dist := int64(0)
				switch {
				case times[i] < u.from:
					dist = u.from - times[i]
				case times[i] > u.to:
					dist = times[i] - u.to
				}
				if dist < bestDist || (dist == bestDist && u.group < best) {
					best, bestDist = u.group, dist
				}
			}
		}
		group[i] = best
	}

	groups := make([]Group, len(comp))
	last := make([]int64, len(comp))
	for i, m := range evs {
		g := group[i]
		if g < 0 {
			continue
		}
		t := times[i]
		if t < last[g] {
			t = last[g]
			m.Set("Timestamp", fmt.Sprintf("%d.%06d", t/1e6, t%1e6))
		}
		last[g] = t
		groups[g].Events = append(groups[g].Events, m)
	}
	for g := range groups {
		groups[g].Name = name
		if len(groups) > 1 {
			groups[g].Name = fmt.Sprintf("%s#%02d", name, g+1)
		}
	}
	return groups, nil
}

// keys returns what an event names that ties it to other events.
func keys(m *ami.Message) []string {
	var ks []string
	for _, f := range m.Fields {
		if f.Value == "" {
			continue
		}
		switch fieldClass(f.Key) {
		case classBridge:
			ks = append(ks, "b:"+f.Value)
		case classUID:
			ks = append(ks, "u:"+f.Value)
		case classChannel:
			if _, ok := parseChannel(f.Value); ok {
				ks = append(ks, "c:"+f.Value)
			}
		case classConference:
			ks = append(ks, "conf:"+f.Value)
		}
	}
	// VarSets that name other channels (BRIDGEPEER, DIALEDPEERNAME,
	// BLINDTRANSFER…).
	if m.Event() == "VarSet" {
		for _, v := range strings.Split(m.Get("Value"), ",") {
			if _, ok := parseChannel(v); ok {
				ks = append(ks, "c:"+v)
			}
		}
	}
	return ks
}

type deviceUse struct{ device, channel string }

// devicesOf returns the devices an event of a group shows in use: the
// device of each channel it names, its queue and its conference.
func devicesOf(m *ami.Message) []deviceUse {
	var ds []deviceUse
	for _, f := range m.Fields {
		switch fieldClass(f.Key) {
		case classChannel:
			if c, ok := parseChannel(f.Value); ok {
				ds = append(ds, deviceUse{c.device(), f.Value})
			}
		case classConference:
			ds = append(ds, deviceUse{"confbridge:" + f.Value, "confbridge:" + f.Value})
		}
	}
	if q := m.Get("Queue"); q != "" {
		ds = append(ds, deviceUse{"Queue:" + q, "Queue:" + q}, deviceUse{"Queue:" + q + "_avail", "Queue:" + q})
	}
	return ds
}

// deviceRefs returns the devices an event without channels names.
func deviceRefs(m *ami.Message) []string {
	var ds []string
	for _, k := range [...]string{"Device", "Interface", "StateInterface"} {
		if v := m.Get(k); v != "" {
			ds = append(ds, v)
		}
	}
	sort.Strings(ds)
	return ds
}

type unionFind struct {
	parent []int
	ids    map[string]int
}

func newUnionFind() *unionFind { return &unionFind{ids: make(map[string]int)} }

func (u *unionFind) node(k string) int {
	if n, ok := u.ids[k]; ok {
		return n
	}
	n := len(u.parent)
	u.parent = append(u.parent, n)
	u.ids[k] = n
	return n
}

func (u *unionFind) find(n int) int {
	for u.parent[n] != n {
		u.parent[n] = u.parent[u.parent[n]]
		n = u.parent[n]
	}
	return n
}

func (u *unionFind) union(a, b int) {
	a, b = u.find(a), u.find(b)
	if a < b {
		u.parent[b] = a
	} else if b < a {
		u.parent[a] = b
	}
}

// phones follows the live channels of each device and which are on hold.
type phones struct {
	live map[string][]string // device → its live channels
	held map[string]bool
}

func newPhones() *phones {
	return &phones{live: make(map[string][]string), held: make(map[string]bool)}
}

// see takes in one event. For the Newchannel of a phone whose one other
// live channel is on hold, it returns that held channel.
func (p *phones) see(m *ami.Message) (held string) {
	name := m.Get("Channel")
	ch, ok := parseChannel(name)
	if !ok {
		return ""
	}
	d := ch.device()
	switch m.Event() {
	case "Newchannel":
		if l := p.live[d]; len(l) == 1 && p.held[l[0]] {
			held = l[0]
		}
		p.live[d] = append(p.live[d], name)
	case "Hold":
		p.held[name] = true
	case "Unhold":
		delete(p.held, name)
	case "Hangup":
		delete(p.held, name)
		l := p.live[d]
		for i, x := range l {
			if x == name {
				p.live[d] = append(l[:i:i], l[i+1:]...)
				break
			}
		}
		if len(p.live[d]) == 0 {
			delete(p.live, d)
		}
	}
	return held
}

package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/calltrail/calltrail/ami"
)

// templatesFile holds the groups that Split cut from the captures in
// ../../testdata, each after a calltrail.Template marker event naming it
// and the number of calls the engine makes of it. Regenerate it with
// "go test ./internal/gen -run TestTemplatesFile -update".
//
//go:embed templates.ami.gz
var templatesFile []byte

// EventTemplate is the marker that starts a group in the templates file.
const EventTemplate = "calltrail.Template"

// A template is a group compiled for fast copying: every event is a list
// of segments, literal text and the places where an instance writes its
// own time, ids, channel names and numbers.
type template struct {
	name  string
	calls int   // calls the engine makes of one copy
	span  int64 // µs from the first event to the last
	evs   []tevent

	// The template's own values, by slot.
	numbers  []string
	channels []string // channel name bases: "SIP/1001-00000000"
	uids     []string
	bridges  []string
	confs    []string
	// lasting marks the bridges the template never destroys, such as a
	// parking lot's: Asterisk keeps them for every call that comes after,
	// so all copies share one, where a bridge per copy would be a bridge
	// that lives on, unused, for every copy.
	lasting []bool
}

type tevent struct {
	at   int64 // µs after the template's first event
	segs []seg
	// creates is the slot+1 of the lasting bridge this event is the
	// BridgeCreate of, 0 for other events: only the first copy sends it.
	creates int32
}

type segKind uint8

const (
	segLit      segKind = iota
	segTime             // the event's time, "1795333490.837918"
	segNumber           // a phone number of the instance
	segCounter          // a channel's hex counter
	segUID              // a uniqueid
	segBridge           // a bridge uniqueid
	segConf             // a conference name
	segClock            // another wall-clock time, delta µs from the event's
	segClockSec         // the same in whole seconds
)

type seg struct {
	kind  segKind
	slot  int32
	lit   string
	delta int64 // segClock, segClockSec
}

var (
	loadOnce  sync.Once
	loaded    []*template
	loadError error
)

// templates returns the compiled templates of the embedded file.
func templates() ([]*template, error) {
	loadOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(templatesFile))
		if err != nil {
			loadError = fmt.Errorf("gen: templates: %w", err)
			return
		}
		loaded, loadError = parseTemplates(zr)
	})
	return loaded, loadError
}

// TemplateNames returns the names of the embedded templates and the calls
// each makes.
func TemplateNames() (map[string]int, error) {
	ts, err := templates()
	if err != nil {
		return nil, err
	}
	names := make(map[string]int, len(ts))
	for _, t := range ts {
		names[t.name] = t.calls
	}
	return names, nil
}

// parseTemplates reads a templates file: marker events, each followed by
// its group's events.
func parseTemplates(r io.Reader) ([]*template, error) {
	ar := ami.NewReader(bufio.NewReaderSize(r, 64<<10))
	var (
		ts    []*template
		name  string
		calls int
		evs   []*ami.Message
	)
	flush := func() error {
		if name == "" {
			return nil
		}
		t, err := compile(name, calls, evs)
		if err != nil {
			return err
		}
		ts = append(ts, t)
		return nil
	}
	for {
		m, err := ar.ReadMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("gen: templates: %w", err)
		}
		if m.Event() != EventTemplate {
			evs = append(evs, m)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		name, evs = m.Get("Name"), nil
		if calls, err = strconv.Atoi(m.Get("Calls")); err != nil || calls < 1 {
			return nil, fmt.Errorf("gen: template %s: bad Calls %q", name, m.Get("Calls"))
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("gen: no templates")
	}
	return ts, nil
}

// WriteTemplates writes groups in the templates file format; calls[i] is
// the number of calls the engine makes of groups[i].
func WriteTemplates(w io.Writer, groups []Group, calls []int) error {
	for i, g := range groups {
		marker := ami.NewMessage("Event", EventTemplate, "Name", g.Name, "Calls", strconv.Itoa(calls[i]))
		if _, err := io.WriteString(w, marker.String()); err != nil {
			return err
		}
		for _, m := range g.Events {
			if _, err := io.WriteString(w, m.String()); err != nil {
				return err
			}
		}
	}
	return nil
}

// A compiler turns one group's events into a template.
type compiler struct {
	t       *template
	numbers map[string]int32
	chans   map[string]int32
	uids    map[string]int32
	bridges map[string]int32
	confs   map[string]int32
	segs    []seg
	pending []byte // literal text not yet in segs
	at      int64  // the current event's Timestamp, µs
}

func compile(name string, calls int, evs []*ami.Message) (*template, error) {
	if len(evs) == 0 {
		return nil, fmt.Errorf("gen: template %s has no events", name)
	}
	c := &compiler{
		t:       &template{name: name, calls: calls},
		numbers: make(map[string]int32),
		chans:   make(map[string]int32),
		uids:    make(map[string]int32),
		bridges: make(map[string]int32),
		confs:   make(map[string]int32),
	}
	c.collect(evs)
	destroyed := make(map[string]bool)
	for _, m := range evs {
		if m.Event() == "BridgeDestroy" {
			destroyed[m.Get("BridgeUniqueid")] = true
		}
	}
	for _, b := range c.t.bridges {
		c.t.lasting = append(c.t.lasting, !destroyed[b])
	}
	var first int64
	for i, m := range evs {
		sec, usec, ok := m.Timestamp()
		if !ok {
			return nil, fmt.Errorf("gen: template %s: event %d has no Timestamp", name, i+1)
		}
		at := sec*1e6 + usec
		if i == 0 {
			first = at
		}
		c.at = at
		at -= first
		if at < c.t.span {
			return nil, fmt.Errorf("gen: template %s: event %d goes back in time", name, i+1)
		}
		c.t.span = at
		ev := tevent{at: at, segs: c.event(m)}
		if m.Event() == "BridgeCreate" {
			if b, ok := c.bridges[m.Get("BridgeUniqueid")]; ok && c.t.lasting[b] {
				ev.creates = b + 1
			}
		}
		c.t.evs = append(c.t.evs, ev)
	}
	return c.t, nil
}

func slot(m map[string]int32, list *[]string, v string) {
	if _, ok := m[v]; !ok {
		m[v] = int32(len(*list))
		*list = append(*list, v)
	}
}

// collect finds the template's own values: its uniqueids, bridges,
// channels, conferences and phone numbers, each given a slot in order of
// first appearance.
func (c *compiler) collect(evs []*ami.Message) {
	t := c.t
	for _, m := range evs {
		for _, f := range m.Fields {
			if f.Value == "" {
				continue
			}
			switch fieldClass(f.Key) {
			case classUID:
				slot(c.uids, &t.uids, f.Value)
			case classBridge:
				slot(c.bridges, &t.bridges, f.Value)
			case classConference:
				slot(c.confs, &t.confs, f.Value)
			case classChannel:
				if ch, ok := parseChannel(f.Value); ok {
					slot(c.chans, &t.channels, ch.base())
				}
			}
		}
	}
	for _, b := range t.channels {
		ch, _ := parseChannel(b)
		if c.isConfChannel(ch) {
			continue
		}
		digitRuns(ch.resource, func(n string) { slot(c.numbers, &t.numbers, n) })
	}
	for _, m := range evs {
		for _, f := range m.Fields {
			if fieldClass(f.Key) == classNumbers && isIdentityKey(f.Key) {
				digitRuns(f.Value, func(n string) { slot(c.numbers, &t.numbers, n) })
			}
		}
	}
}

// isConfChannel reports whether a channel is a conference's own
// announcer or recorder, named after the conference.
func (c *compiler) isConfChannel(ch channelName) bool {
	if ch.tech != "CBAnn" && ch.tech != "CBRec" {
		return false
	}
	_, ok := c.confs[ch.resource]
	return ok
}

func (c *compiler) lit(s string) { c.pending = append(c.pending, s...) }

func (c *compiler) flush() {
	if len(c.pending) > 0 {
		c.segs = append(c.segs, seg{kind: segLit, lit: string(c.pending)})
		c.pending = c.pending[:0]
	}
}

func (c *compiler) put(k segKind, slot int32) {
	c.flush()
	c.segs = append(c.segs, seg{kind: k, slot: slot})
}

// event compiles one event into segments.
func (c *compiler) event(m *ami.Message) []seg {
	c.segs = nil
	variable := m.Get("Variable")
	app := m.Get("Application")
	for _, f := range m.Fields {
		c.lit(f.Key + ": ")
		c.value(f, variable, app)
		c.lit("\r\n")
	}
	c.lit("\r\n")
	c.flush()
	return c.segs
}

func (c *compiler) value(f ami.Field, variable, app string) {
	v := f.Value
	cls := fieldClass(f.Key)
	switch cls {
	case classTime:
		c.put(segTime, 0)
		return
	case classUID:
		if s, ok := c.uids[v]; ok {
			c.put(segUID, s)
			return
		}
	case classBridge:
		if s, ok := c.bridges[v]; ok {
			c.put(segBridge, s)
			return
		}
	case classConference:
		if s, ok := c.confs[v]; ok {
			c.put(segConf, s)
			return
		}
	case classClock:
		if sec, usec, ok := ami.ParseTimestamp(v); ok && sec > 0 {
			whole := !strings.Contains(v, ".")
			k := segClock
			if whole {
				k = segClockSec
			}
			c.flush()
			c.segs = append(c.segs, seg{kind: k, delta: sec*1e6 + usec - c.at})
			return
		}
	}
	if s, ok := c.confs[v]; ok && strings.EqualFold(f.Key, "BridgeName") {
		c.put(segConf, s)
		return
	}
	if strings.EqualFold(f.Key, "Value") && dialogVars[variable] && v != "" && len(c.uids) > 0 {
		// A SIP Call-ID names one dialog: each copy gets its own, or
		// copies of one capture would look like calls joined over a trunk.
		c.text(v, true)
		c.lit("~")
		c.put(segUID, 0)
		return
	}
	numbers := cls == classNumbers || (strings.EqualFold(f.Key, "Value") && numberVars[variable])
	if cls == classNumbers {
		// A conference's devices and its ConfBridge() arguments.
		for _, prefix := range [...]string{"confbridge:", "CBAnn/", "CBRec/"} {
			if name, ok := strings.CutPrefix(v, prefix); ok {
				if s, ok := c.confs[name]; ok {
					c.lit(prefix)
					c.put(segConf, s)
					return
				}
			}
		}
		if strings.EqualFold(app, "ConfBridge") && strings.EqualFold(f.Key, "AppData") {
			name, rest, _ := strings.Cut(v, ",")
			if s, ok := c.confs[name]; ok {
				c.put(segConf, s)
				if rest != "" {
					c.lit(",")
					c.text(rest, true)
				}
				return
			}
		}
	}
	c.text(v, numbers)
}

// text compiles free text: the template's channel names in it are
// renamed, and with numbers its phone numbers too.
func (c *compiler) text(v string, numbers bool) {
	for i := 0; i < len(v); {
		if b, ok := c.channelAt(v[i:]); ok {
			c.channel(b)
			i += len(b)
			continue
		}
		if n := numberAt(v, i); numbers && n > 0 {
			if s, ok := c.numbers[v[i:i+n]]; ok {
				c.put(segNumber, s)
			} else {
				c.lit(v[i : i+n])
			}
			i += n
			continue
		}
		j := i + 1
		for j < len(v) && !isHexOrDigit(v[j-1]) && !isDigit(v[j]) && !c.mayStartChannel(v[j]) {
			j++
		}
		c.lit(v[i:j])
		i = j
	}
}

// mayStartChannel reports whether a template channel name begins with b.
func (c *compiler) mayStartChannel(b byte) bool {
	for _, ch := range c.t.channels {
		if ch[0] == b {
			return true
		}
	}
	return false
}

// channelAt returns the template channel base that s starts with.
func (c *compiler) channelAt(s string) (string, bool) {
	for _, b := range c.t.channels {
		if strings.HasPrefix(s, b) {
			return b, true
		}
	}
	return "", false
}

// channel compiles a channel base: its resource's numbers (or conference
// name) and its counter become the instance's.
func (c *compiler) channel(b string) {
	ch, _ := parseChannel(b)
	c.lit(ch.tech + "/")
	if c.isConfChannel(ch) {
		c.put(segConf, c.confs[ch.resource])
	} else {
		c.text(ch.resource, true)
	}
	c.lit("-")
	c.put(segCounter, c.chans[b])
}

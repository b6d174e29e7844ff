package ami

import (
	"strconv"
	"strings"
)

// A Field is one "Key: Value" line of a message. Key keeps the case it
// had on the wire.
type Field struct {
	Key   string
	Value string
}

// A Message is one AMI packet: an action, a response or an event. Fields
// keep their wire order, and repeated keys (Variable, ChanVariable,
// Output) are all kept.
type Message struct {
	Fields []Field
}

// NewMessage builds a message from alternating keys and values.
// It panics if given an odd number of strings, like strings.NewReplacer.
func NewMessage(kv ...string) *Message {
	if len(kv)%2 != 0 {
		panic("ami: NewMessage: odd argument count")
	}
	m := &Message{Fields: make([]Field, 0, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		m.Fields = append(m.Fields, Field{kv[i], kv[i+1]})
	}
	return m
}

// Get returns the value of the first field whose key equals key, ignoring
// case, or "" when there is none.
func (m *Message) Get(key string) string {
	v, _ := m.Lookup(key)
	return v
}

// Lookup is like Get and also reports whether the field is present.
func (m *Message) Lookup(key string) (string, bool) {
	for i := range m.Fields {
		if equalFold(m.Fields[i].Key, key) {
			return m.Fields[i].Value, true
		}
	}
	return "", false
}

// Values returns the values of every field whose key equals key, ignoring
// case, in wire order.
func (m *Message) Values(key string) []string {
	var vs []string
	for i := range m.Fields {
		if equalFold(m.Fields[i].Key, key) {
			vs = append(vs, m.Fields[i].Value)
		}
	}
	return vs
}

// Add appends a field.
func (m *Message) Add(key, value string) { m.Fields = append(m.Fields, Field{key, value}) }

// Set replaces the value of the first field named key, or appends it.
func (m *Message) Set(key, value string) {
	for i := range m.Fields {
		if equalFold(m.Fields[i].Key, key) {
			m.Fields[i].Value = value
			return
		}
	}
	m.Add(key, value)
}

// Del removes every field named key.
func (m *Message) Del(key string) {
	out := m.Fields[:0]
	for _, f := range m.Fields {
		if !equalFold(f.Key, key) {
			out = append(out, f)
		}
	}
	m.Fields = out
}

// Event returns the Event field ("" for responses and actions).
func (m *Message) Event() string { return m.Get("Event") }

// Response returns the Response field ("" for events and actions).
func (m *Message) Response() string { return m.Get("Response") }

// Action returns the Action field.
func (m *Message) Action() string { return m.Get("Action") }

// ActionID returns the ActionID field.
func (m *Message) ActionID() string { return m.Get("ActionID") }

// IsEvent reports whether the message is an event.
func (m *Message) IsEvent() bool { _, ok := m.Lookup("Event"); return ok }

// IsResponse reports whether the message is a response to an action.
func (m *Message) IsResponse() bool { _, ok := m.Lookup("Response"); return ok }

// Variables returns the channel variables carried by the message: the
// `ChanVariable: name=value` lines (and their legacy form
// `ChanVariable(Channel): name=value`) and `Variable: name=value` lines of
// list items. Later values win.
func (m *Message) Variables() map[string]string {
	var vars map[string]string
	for _, f := range m.Fields {
		if !hasPrefixFold(f.Key, "ChanVariable") && !equalFold(f.Key, "Variable") {
			continue
		}
		name, value, ok := strings.Cut(f.Value, "=")
		if !ok {
			continue
		}
		if vars == nil {
			vars = make(map[string]string)
		}
		vars[name] = value
	}
	return vars
}

// Clone returns a deep copy of m.
func (m *Message) Clone() *Message {
	c := &Message{Fields: make([]Field, len(m.Fields))}
	copy(c.Fields, m.Fields)
	return c
}

// String formats the message as it appears on the wire, CRLF line ends
// and the closing blank line included.
func (m *Message) String() string { return string(m.AppendWire(nil)) }

// AppendWire appends the message as String formats it to b and returns
// the result: a caller that keeps a buffer (the journal's writers, once
// per event) formats messages without allocating.
func (m *Message) AppendWire(b []byte) []byte {
	for _, f := range m.Fields {
		b = append(b, f.Key...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// Timestamp returns the event's Timestamp header as seconds and
// microseconds since the epoch. ok is false when the message has no
// usable Timestamp (the default `timestampevents = no`).
func (m *Message) Timestamp() (sec, usec int64, ok bool) {
	v, found := m.Lookup("Timestamp")
	if !found {
		return 0, 0, false
	}
	return ParseTimestamp(v)
}

// ParseTimestamp parses an AMI timestamp "1795333546.437823" into whole
// seconds and microseconds, without going through a float.
func ParseTimestamp(v string) (sec, usec int64, ok bool) {
	whole, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || s < 0 {
		return 0, 0, false
	}
	if len(frac) > 6 {
		frac = frac[:6]
	}
	var u int64
	for i := 0; i < 6; i++ {
		u *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, 0, false
			}
			u += int64(c - '0')
		}
	}
	return s, u, true
}

// equalFold is an ASCII-only strings.EqualFold: AMI keys are ASCII and
// this is on the hot path of every lookup.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix)
}

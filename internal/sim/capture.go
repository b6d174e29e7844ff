package sim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/ami"
)

// A Capture is one recorded AMI connection, as the scenario captures in
// testdata hold it: the raw bytes Asterisk sent on an "Events: on"
// connection, banner and login response first.
type Capture struct {
	Name string
	// Banner is the capture's "Asterisk Call Manager/…" line, or "".
	Banner string
	// Events are the events after the login, as sent. The login's own
	// response and the FullyBooted and SuccessfulAuth events that
	// Asterisk sends at login are left out: the simulator sends its own
	// at each login.
	Events []Event
}

// An Event is one recorded event.
type Event struct {
	// Raw is the event exactly as Asterisk sent it, the blank line that
	// ends it included.
	Raw  []byte
	Name string // its Event header
	// Time is its Timestamp header; zero when it has none
	// (timestampevents = no).
	Time time.Time
}

// maxCaptureMessage bounds one recorded message.
const maxCaptureMessage = 1 << 20

// LoadCapture reads the capture file at path.
func LoadCapture(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	defer f.Close()
	return ReadCapture(path, f)
}

// ReadCapture reads a capture from r; name is used in errors.
func ReadCapture(name string, r io.Reader) (*Capture, error) {
	c := &Capture{Name: name}
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		msg      []byte
		lineNo   int
		startsAt int
		preamble = map[string]bool{"FullyBooted": true, "SuccessfulAuth": true} // the login's, not yet seen
	)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull && len(long) <= maxCaptureMessage {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("sim: %s: %w", name, err)
		}
		if len(line) > 0 {
			lineNo++
			if lineNo == 1 && bytes.HasPrefix(line, []byte("Asterisk Call Manager/")) {
				c.Banner = strings.TrimRight(string(line), "\r\n")
			} else if blank := len(bytes.TrimRight(line, "\r\n")) == 0; blank && len(msg) == 0 {
				// a stray blank line between messages
			} else {
				if len(msg) == 0 {
					startsAt = lineNo
				}
				msg = append(msg, line...)
				if len(msg) > maxCaptureMessage {
					return nil, fmt.Errorf("sim: %s:%d: message larger than %d bytes", name, startsAt, maxCaptureMessage)
				}
				if blank {
					if err := c.add(msg, preamble); err != nil {
						return nil, fmt.Errorf("sim: %s:%d: %w", name, startsAt, err)
					}
					msg = nil
				}
			}
		}
		if err == io.EOF {
			break
		}
	}
	if len(bytes.TrimSpace(msg)) > 0 {
		return nil, fmt.Errorf("sim: %s:%d: capture ends inside a message", name, startsAt)
	}
	return c, nil
}

// add files one raw message. preamble holds the login events not yet
// met: the first events of a capture, up to one untimed FullyBooted and
// one SuccessfulAuth, are the recorder's own login and are dropped.
func (c *Capture) add(raw []byte, preamble map[string]bool) error {
	m, err := ami.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMessage()
	if err != nil {
		return err
	}
	name, isEvent := m.Lookup("Event")
	if !isEvent {
		return nil // the login's response (or any response): not replayed
	}
	_, _, timed := m.Timestamp()
	if preamble[name] && (name == "SuccessfulAuth" || !timed) {
		delete(preamble, name)
		return nil
	}
	clear(preamble)
	e := Event{Raw: append([]byte(nil), raw...), Name: name}
	if sec, usec, ok := m.Timestamp(); ok {
		e.Time = time.Unix(sec, usec*1000).UTC()
	}
	c.Events = append(c.Events, e)
	return nil
}

// withTimestamp returns raw with its Timestamp header set to t, leaving
// every other byte alone.
func withTimestamp(raw []byte, t time.Time) []byte {
	i := 0
	for i < len(raw) {
		end := bytes.IndexByte(raw[i:], '\n')
		if end < 0 {
			break
		}
		line := raw[i : i+end+1]
		if k, _, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Timestamp") {
			eol := "\n"
			if bytes.HasSuffix(line, []byte("\r\n")) {
				eol = "\r\n"
			}
			out := make([]byte, 0, len(raw)+8)
			out = append(out, raw[:i]...)
			out = append(out, k...)
			out = append(out, ": "...)
			out = append(out, formatTimestamp(t)...)
			out = append(out, eol...)
			return append(out, raw[i+end+1:]...)
		}
		i += end + 1
	}
	return raw
}

// formatTimestamp writes t as AMI does: "1795333490.837918".
func formatTimestamp(t time.Time) string {
	us := t.UnixMicro()
	s := strconv.FormatInt(us/1_000_000, 10)
	frac := strconv.FormatInt(us%1_000_000, 10)
	return s + "." + strings.Repeat("0", 6-len(frac)) + frac
}

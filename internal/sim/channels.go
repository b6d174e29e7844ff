package sim

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/calltrail/calltrail/ami"
)

// channel is what CoreShowChannels reports of a live channel, kept up to
// date from the events sent so far.
type channel struct {
	fields  map[string]string
	created time.Time // the Newchannel's timestamp, or when it was sent
	bridge  string
	app     string
	appData string
}

// snapshotKeys are the channel snapshot fields every channel event
// carries unprefixed for its own channel, in CoreShowChannel's order.
var snapshotKeys = []string{
	"Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
	"ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode",
	"Context", "Exten", "Priority", "Uniqueid", "Linkedid",
}

// track updates the live channels with an event that has been sent; at
// is the stream's time then. s.mu is held.
func (s *Server) track(e Event, at time.Time) {
	m, err := ami.NewReader(bufio.NewReader(bytes.NewReader(e.Raw))).ReadMessage()
	if err != nil {
		return
	}
	uid := m.Get("Uniqueid")
	if uid == "" {
		return
	}
	if s.channels == nil {
		s.channels = make(map[string]*channel)
	}
	ch := s.channels[uid]
	switch e.Name {
	case "Newchannel":
		ch = &channel{fields: make(map[string]string), created: at}
		s.channels[uid] = ch
		s.order = append(s.order, uid)
	case "Hangup":
		delete(s.channels, uid)
		return
	}
	if ch == nil {
		return // a channel born before the captures began
	}
	if _, ok := m.Lookup("ChannelState"); ok {
		for _, k := range snapshotKeys {
			if v, ok := m.Lookup(k); ok {
				ch.fields[k] = v
			}
		}
	}
	switch e.Name {
	case "Newexten":
		ch.app, ch.appData = m.Get("Application"), m.Get("AppData")
	case "BridgeEnter":
		ch.bridge = m.Get("BridgeUniqueid")
	case "BridgeLeave":
		ch.bridge = ""
	}
}

// coreShowChannels writes the answer to CoreShowChannels: the live
// channels as Asterisk lists them, then the list's end.
func (c *conn) coreShowChannels(m *ami.Message) error {
	s := c.s
	id, hasID := m.Lookup("ActionID")
	idLine := ""
	if hasID {
		idLine = "ActionID: " + clean(id) + "\r\n"
	}
	var b strings.Builder
	b.WriteString("Response: Success\r\n" + idLine + "EventList: start\r\nMessage: Channels will follow\r\n\r\n")
	s.mu.Lock()
	live := s.order[:0:0]
	n := 0
	for _, uid := range s.order {
		ch, ok := s.channels[uid]
		if !ok {
			continue
		}
		live = append(live, uid)
		n++
		b.WriteString("Event: CoreShowChannel\r\n" + idLine)
		for _, k := range snapshotKeys {
			b.WriteString(k + ": " + ch.fields[k] + "\r\n")
		}
		d := time.Duration(0)
		if !ch.created.IsZero() && !s.now.IsZero() {
			d = s.now.Sub(ch.created)
		}
		fmt.Fprintf(&b, "Application: %s\r\nApplicationData: %s\r\nDuration: %s\r\nBridgeId: %s\r\n\r\n",
			ch.app, ch.appData, hms(d), ch.bridge)
	}
	s.order = live // forget the channels that are gone
	s.mu.Unlock()
	fmt.Fprintf(&b, "Event: CoreShowChannelsComplete\r\n%sEventList: Complete\r\nListItems: %d\r\n\r\n", idLine, n)
	return c.send([]byte(b.String()), s.writeTimeout())
}

func hms(d time.Duration) string {
	sec := int(d.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}

package sim

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/calltrail/calltrail/ami"
)

// Limits on what a client may send: a line, and a whole action.
const (
	maxActionLine = 8 << 10
	maxActionSize = 64 << 10
)

// conn is one client connection.
type conn struct {
	s  *Server
	nc net.Conn

	wmu sync.Mutex // one writer at a time: responses and events

	loggedIn  atomic.Bool
	challenge string
	info      *ConnInfo // set at login; guarded by s.mu
}

func (s *Server) newConn(nc net.Conn) *conn {
	if s.tap != nil {
		s.tap.note("CLIENT connected %s", nc.RemoteAddr())
		nc = tapConn{nc, s.tap}
	}
	return &conn{s: s, nc: nc}
}

// send writes b, dropping the connection when it cannot.
func (c *conn) send(b []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.nc.Write(b)
	if err != nil {
		c.nc.Close()
	}
	return err
}

func (c *conn) serve() {
	s := c.s
	var readErr error
	defer func() {
		c.nc.Close()
		if s.tap != nil {
			if readErr == io.EOF {
				s.tap.note("CLIENT closed")
			} else {
				s.tap.note("ASTERISK closed")
			}
		}
		s.mu.Lock()
		delete(s.conns, c)
		s.unsubscribe(c)
		if c.info != nil {
			c.info.Closed = true
		}
		s.changed()
		s.mu.Unlock()
	}()
	if c.send([]byte(s.banner()+"\r\n"), s.writeTimeout()) != nil {
		return
	}
	authTimeout := s.AuthTimeout
	if authTimeout <= 0 {
		authTimeout = 30 * time.Second
	}
	t := time.AfterFunc(authTimeout, func() {
		if !c.loggedIn.Load() {
			c.nc.Close() // as Asterisk: silently, no message
		}
	})
	defer t.Stop()

	r := ami.NewReader(bufio.NewReader(c.nc))
	r.MaxLineLength, r.MaxMessageSize = maxActionLine, maxActionSize
	for {
		m, err := r.ReadMessage()
		if errors.Is(err, ami.ErrLineTooLong) || errors.Is(err, ami.ErrMessageTooLarge) {
			c.reply(nil, "Error", "Message", "Request too large")
			continue
		}
		if err != nil {
			readErr = err
			return
		}
		if !c.handle(m) {
			return
		}
	}
}

func (s *Server) banner() string {
	if s.Banner != "" {
		return s.Banner
	}
	for _, c := range s.Captures {
		if c.Banner != "" {
			return c.Banner
		}
	}
	return DefaultBanner
}

// reply writes a response to action m: Response, m's ActionID if it had
// one (Asterisk echoes it on the second line), then kv. Extra messages
// (events) may follow in the same write.
func (c *conn) reply(m *ami.Message, response string, kv ...string) error {
	var b strings.Builder
	b.WriteString("Response: " + response + "\r\n")
	if m != nil {
		if id, ok := m.Lookup("ActionID"); ok {
			b.WriteString("ActionID: " + clean(id) + "\r\n")
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + ": " + clean(kv[i+1]) + "\r\n")
	}
	b.WriteString("\r\n")
	return c.send([]byte(b.String()), c.s.writeTimeout())
}

// clean keeps a value on one line.
func clean(v string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(v) }

// handle answers one action; false closes the connection.
func (c *conn) handle(m *ami.Message) bool {
	s := c.s
	action, ok := m.Lookup("Action")
	if !ok || action == "" {
		return c.reply(m, "Error", "Message", "Missing action in request") == nil
	}
	switch strings.ToLower(action) {
	case "login":
		return c.login(m)
	case "challenge":
		if !strings.EqualFold(m.Get("AuthType"), "MD5") {
			return c.reply(m, "Error", "Message", "Must specify AuthType") == nil
		}
		if c.challenge == "" {
			c.challenge = strconv.Itoa(100_000_000 + rand.IntN(900_000_000))
		}
		return c.reply(m, "Success", "Challenge", c.challenge) == nil
	case "logoff":
		c.reply(m, "Goodbye", "Message", "Thanks for all the fish.")
		return false
	}
	if !c.loggedIn.Load() {
		return c.reply(m, "Error", "Message", "Permission denied") == nil
	}
	switch strings.ToLower(action) {
	case "ping":
		return c.reply(m, "Success", "Ping", "Pong", "Timestamp", formatTimestamp(time.Now())) == nil
	case "events":
		on := !strings.EqualFold(strings.TrimSpace(m.Get("EventMask")), "off")
		s.mu.Lock()
		if on {
			s.subscribe(c)
		} else {
			s.unsubscribe(c)
		}
		s.mu.Unlock()
		state := "Off"
		if on {
			state = "On"
		}
		return c.reply(m, "Success", "Events", state) == nil
	case "coreshowchannels":
		return c.coreShowChannels(m) == nil
	}
	return c.reply(m, "Error", "Message",
		"Invalid/unknown command: "+action+". Use Action: ListCommands to show available commands.") == nil
}

func (c *conn) login(m *ami.Message) bool {
	s := c.s
	if c.loggedIn.Load() {
		return c.reply(m, "Success", "Message", "Already authenticated") == nil
	}
	user := m.Get("Username")
	ok := strings.EqualFold(user, s.User)
	if strings.EqualFold(m.Get("AuthType"), "MD5") {
		sum := md5.Sum([]byte(c.challenge + s.Secret))
		ok = ok && c.challenge != "" && strings.EqualFold(m.Get("Key"), hex.EncodeToString(sum[:]))
	} else {
		ok = ok && m.Get("Secret") == s.Secret
	}
	if !ok {
		delay := s.AuthFailDelay
		if delay <= 0 {
			delay = time.Second
		}
		select {
		case <-time.After(delay):
		case <-s.quit:
			return false
		}
		c.reply(m, "Error", "Message", "Authentication failed")
		s.log().Info("sim: authentication failed", "remote", c.nc.RemoteAddr().String(), "user", user)
		return false
	}
	c.loggedIn.Store(true)
	events := !strings.EqualFold(strings.TrimSpace(m.Get("Events")), "off")

	s.mu.Lock()
	c.info = &ConnInfo{Remote: c.nc.RemoteAddr().String(), User: user, LoggedIn: time.Now(), First: -1, Next: -1}
	s.infos = append(s.infos, c.info)
	s.mu.Unlock()

	var boot []string
	if events {
		// The FullyBooted Asterisk sends at login: no Timestamp, this
		// header order.
		up := strconv.Itoa(int(time.Since(s.started).Seconds()))
		boot = []string{"Event: FullyBooted", "Privilege: system,all", "Uptime: " + up, "LastReload: " + up, "Status: Fully Booted"}
	}
	if c.replyThen(m, boot) != nil {
		return false
	}
	s.log().Info("sim: logged in", "remote", c.info.Remote, "user", user, "events", events)
	if events {
		s.mu.Lock()
		s.subscribe(c)
		s.mu.Unlock()
	}
	return true
}

// replyThen writes the login's success response followed, in the same
// write as Asterisk does, by the event lines given.
func (c *conn) replyThen(m *ami.Message, event []string) error {
	var b strings.Builder
	b.WriteString("Response: Success\r\n")
	if id, ok := m.Lookup("ActionID"); ok {
		b.WriteString("ActionID: " + clean(id) + "\r\n")
	}
	b.WriteString("Message: Authentication accepted\r\n\r\n")
	if len(event) > 0 {
		b.WriteString(strings.Join(event, "\r\n") + "\r\n\r\n")
	}
	return c.send([]byte(b.String()), c.s.writeTimeout())
}

// subscribe and unsubscribe add c to and remove it from the connections
// that get events; s.mu is held.
func (s *Server) subscribe(c *conn) {
	for _, x := range s.subs {
		if x == c {
			return
		}
	}
	s.subs = append(s.subs, c)
	s.changed()
}

func (s *Server) unsubscribe(c *conn) {
	for i, x := range s.subs {
		if x == c {
			s.subs = append(s.subs[:i], s.subs[i+1:]...)
			s.changed()
			return
		}
	}
}

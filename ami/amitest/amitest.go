// Package amitest is a scripted fake Asterisk manager interface for
// tests, served on a real loopback socket like net/http/httptest.
//
// A Server greets with the banner, logs users in with a plain secret or
// the MD5 challenge (refusing a bad one after a delay, then closing, as
// Asterisk does), and answers Ping, Events, Filter, Challenge and Logoff
// itself. Other actions get Asterisk's "Invalid/unknown command" unless a
// handler is registered: Handle for any answer, HandleList for a list
// action with its items and closing event. Send pushes events to the
// sessions whose event mask and filters let them through, Play replays a
// captured ami.log, Drop cuts every connection, and Requests records what
// clients sent.
//
// The package imports only the standard library and ami.
package amitest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/calltrail/calltrail/ami"
)

// Config configures a Server. Every field may be left zero.
type Config struct {
	// Username and Secret are the one manager user; "admin" and "secret"
	// when empty.
	Username string
	Secret   string

	// Banner is the greeting; "Asterisk Call Manager/9.0.0" (Asterisk 20)
	// when empty. NoBanner greets with nothing, as an Asterisk that is
	// shutting down.
	Banner   string
	NoBanner bool

	// AuthDelay is the pause before a refused login is answered; Asterisk
	// sleeps one second. Zero means one second, negative none.
	AuthDelay time.Duration

	// AuthTimeout closes a session that has not logged in by then, as
	// Asterisk's authtimeout (30 s). Zero means never.
	AuthTimeout time.Duration

	// Challenge is the MD5 challenge handed out; nine random digits when
	// empty.
	Challenge string
}

// A HandlerFunc answers one action. The messages it returns are written
// in order; those without an ActionID get the action's, as their second
// line. It may also write with Session.Send, or return nothing to leave
// the action unanswered.
type HandlerFunc func(s *Session, action *ami.Message) []*ami.Message

// A Request is an action a client sent.
type Request struct {
	Session int          // the session's number, from 1 in connection order
	Action  *ami.Message // the action as received
}

// A Server is a fake Asterisk manager interface listening on 127.0.0.1.
type Server struct {
	cfg      Config
	ln       net.Listener
	tls      *tls.Config
	cert     *x509.Certificate
	wg       sync.WaitGroup
	mu       sync.Mutex
	handlers map[string]HandlerFunc
	sessions map[*Session]bool
	nsession int
	logins   int
	requests []Request
	changed  chan struct{} // closed and replaced on every login and request
	closed   bool
}

// NewServer starts a Server on a free port of 127.0.0.1. It panics if it
// cannot listen, as httptest.NewServer does.
func NewServer(cfg Config) *Server {
	return newServer(cfg, nil)
}

// NewTLSServer starts a Server that speaks TLS, with a self-signed
// certificate for 127.0.0.1 and localhost; ClientTLSConfig trusts it.
func NewTLSServer(cfg Config) *Server {
	cert, leaf, err := selfSigned()
	if err != nil {
		panic(fmt.Sprintf("amitest: certificate: %v", err))
	}
	s := newServer(cfg, &tls.Config{Certificates: []tls.Certificate{cert}})
	s.cert = leaf
	return s
}

func newServer(cfg Config, tc *tls.Config) *Server {
	if cfg.Username == "" {
		cfg.Username = "admin"
	}
	if cfg.Secret == "" {
		cfg.Secret = "secret"
	}
	if cfg.Banner == "" {
		cfg.Banner = "Asterisk Call Manager/9.0.0"
	}
	if cfg.AuthDelay == 0 {
		cfg.AuthDelay = time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("amitest: listen: %v", err))
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	s := &Server{
		cfg:      cfg,
		ln:       ln,
		tls:      tc,
		handlers: make(map[string]HandlerFunc),
		sessions: make(map[*Session]bool),
		changed:  make(chan struct{}),
	}
	s.wg.Add(1)
	go s.serve()
	return s
}

// Addr returns the address to dial, "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Certificate returns the certificate of a TLS server, or nil.
func (s *Server) Certificate() *x509.Certificate { return s.cert }

// ClientTLSConfig returns a TLS configuration that trusts the server's
// certificate, or nil for a server without TLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	return &tls.Config{RootCAs: pool}
}

// Close stops listening, closes every session and waits for the server's
// goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.ln.Close()
	s.Drop()
	s.wg.Wait()
}

// Handle registers h for the action named action (in any case),
// replacing the built-in answer if there is one.
func (s *Server) Handle(action string, h HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[strings.ToLower(action)] = h
}

// HandleList answers the list action named action the way Asterisk does:
// "Response: Success" with "EventList: start", the items, then the event
// action+"Complete" with "EventList: Complete" and "ListItems". Items
// without an ActionID get the action's as their second line; give one
// elsewhere to test a client, as Asterisk puts it last in QueueMember.
func (s *Server) HandleList(action string, items ...*ami.Message) {
	s.Handle(action, func(_ *Session, a *ami.Message) []*ami.Message {
		out := make([]*ami.Message, 0, len(items)+2)
		out = append(out, ami.NewMessage(
			"Response", "Success",
			"EventList", "start",
			"Message", a.Action()+" will follow"))
		out = append(out, items...)
		out = append(out, ami.NewMessage(
			"Event", a.Action()+"Complete",
			"EventList", "Complete",
			"ListItems", fmt.Sprint(len(items))))
		return out
	})
}

// Requests returns the actions received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Logins returns how many logins have been accepted.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// WaitLogins waits until n logins in all have been accepted.
func (s *Server) WaitLogins(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return s.logins >= n })
}

// WaitRequests waits until n actions in all have been received.
func (s *Server) WaitRequests(ctx context.Context, n int) error {
	return s.wait(ctx, func() bool { return len(s.requests) >= n })
}

func (s *Server) wait(ctx context.Context, done func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := done(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("amitest: %w", ctx.Err())
		}
	}
}

// notifyLocked wakes the waiters; s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Send writes events to every logged-in session whose event mask and
// filters let them through, and returns how many it wrote.
func (s *Server) Send(events ...*ami.Message) int {
	n := 0
	for _, ss := range s.live() {
		for _, e := range events {
			if ss.wants(e) && ss.Send(e) == nil {
				n++
			}
		}
	}
	return n
}

// SendRaw writes b as it is to every logged-in session that has events
// on: for bytes no Message can express.
func (s *Server) SendRaw(b []byte) {
	for _, ss := range s.live() {
		if ss.eventsOn() {
			ss.write(b)
		}
	}
}

// Play replays a captured event stream, a calltrail ami.log: it skips the
// banner and the responses (to the recorder's Login and Logoff) and sends
// every event, byte for byte, to the sessions that want it. It returns
// the number of events in the capture.
func (s *Server) Play(r io.Reader) (int, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, fmt.Errorf("amitest: play: %w", err)
	}
	raws := split(data)
	n := 0
	for i, raw := range raws {
		m, err := ami.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMessage()
		if err != nil {
			return n, fmt.Errorf("amitest: play: message %d: %w", i+1, err)
		}
		if !m.IsEvent() {
			continue // the recorder's login response, its Logoff's Goodbye
		}
		n++
		for _, ss := range s.live() {
			if ss.wants(m) {
				ss.write(raw)
			}
		}
	}
	return n, nil
}

// split cuts a stream into its messages' raw bytes, each with the blank
// line that ends it, leaving out the banner and stray blank lines.
func split(data []byte) [][]byte {
	var out [][]byte
	start := -1
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += pos + 1
		}
		line := bytes.TrimRight(data[pos:end], "\r\n")
		switch {
		case len(line) == 0 && start >= 0:
			out = append(out, data[start:end])
			start = -1
		case len(line) == 0:
		case start < 0 && bytes.HasPrefix(line, []byte("Asterisk Call Manager/")):
		case start < 0:
			start = pos
		}
		pos = end
	}
	return out
}

// Drop closes every session's connection at once, without a word, as a
// crashed Asterisk or a broken network would.
func (s *Server) Drop() {
	for _, ss := range s.all() {
		ss.Close()
	}
}

func (s *Server) all() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// live returns the logged-in sessions, in connection order.
func (s *Server) live() []*Session {
	var out []*Session
	for _, ss := range s.all() {
		if ss.loggedIn() {
			out = append(out, ss)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.nsession++
		ss := &Session{ID: s.nsession, srv: s, conn: c, mask: "on", done: make(chan struct{})}
		s.sessions[ss] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go ss.run()
	}
}

// A Session is one client connection to a Server.
type Session struct {
	ID   int // 1 for the first connection to the server, then 2, …
	srv  *Server
	conn net.Conn
	wmu  sync.Mutex
	done chan struct{}
	once sync.Once

	mu        sync.Mutex
	authed    bool
	user      string
	mask      string
	challenge string
	include   []*regexp.Regexp
	exclude   []*regexp.Regexp
}

// Send writes messages to the session as they are.
func (ss *Session) Send(msgs ...*ami.Message) error {
	var b bytes.Buffer
	for _, m := range msgs {
		if err := ami.WriteMessage(&b, m); err != nil {
			return err
		}
	}
	return ss.write(b.Bytes())
}

func (ss *Session) write(b []byte) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_, err := ss.conn.Write(b)
	return err
}

// Close cuts the session's connection.
func (ss *Session) Close() {
	ss.once.Do(func() {
		close(ss.done)
		ss.conn.Close()
	})
}

func (ss *Session) loggedIn() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.authed
}

func (ss *Session) eventsOn() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.authed && !isOff(ss.mask)
}

// wants reports whether the session's mask and filters let event e
// through. A class list in the mask lets through the events whose
// Privilege names one of the classes.
func (ss *Session) wants(e *ami.Message) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.authed || isOff(ss.mask) {
		return false
	}
	if !isOn(ss.mask) {
		ok := false
		for _, class := range strings.Split(e.Get("Privilege"), ",") {
			for _, want := range strings.Split(ss.mask, ",") {
				if class != "" && strings.EqualFold(strings.TrimSpace(want), class) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if len(ss.include) == 0 && len(ss.exclude) == 0 {
		return true
	}
	text := strings.TrimSuffix(e.String(), "\r\n")
	if len(ss.include) > 0 && !matchAny(ss.include, text) {
		return false
	}
	return !matchAny(ss.exclude, text)
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func isOn(mask string) bool {
	switch strings.ToLower(mask) {
	case "on", "yes", "true", "y", "t", "1", "all":
		return true
	}
	return false
}

func isOff(mask string) bool {
	switch strings.ToLower(mask) {
	case "off", "no", "false", "n", "f", "0":
		return true
	}
	return false
}

func (ss *Session) run() {
	defer ss.srv.wg.Done()
	defer func() {
		ss.Close()
		ss.srv.mu.Lock()
		delete(ss.srv.sessions, ss)
		ss.srv.mu.Unlock()
	}()
	if ss.srv.cfg.NoBanner {
		return
	}
	if t := ss.srv.cfg.AuthTimeout; t > 0 {
		timer := time.AfterFunc(t, func() {
			if !ss.loggedIn() {
				ss.Close()
			}
		})
		defer timer.Stop()
	}
	if ss.write([]byte(ss.srv.cfg.Banner+"\r\n")) != nil {
		return
	}
	r := ami.NewReader(bufio.NewReader(ss.conn))
	for {
		a, err := r.ReadMessage()
		if err != nil {
			return
		}
		ss.srv.mu.Lock()
		ss.srv.requests = append(ss.srv.requests, Request{Session: ss.ID, Action: a})
		ss.srv.notifyLocked()
		h := ss.srv.handlers[strings.ToLower(a.Action())]
		ss.srv.mu.Unlock()
		if !ss.handle(a, h) {
			return
		}
	}
}

// handle answers one action; it reports false when the session must end.
func (ss *Session) handle(a *ami.Message, h HandlerFunc) bool {
	name := strings.ToLower(a.Action())
	switch {
	case name == "":
		return ss.reply(a, errorResponse("Missing action in request"))
	case !ss.loggedIn() && name != "login" && name != "logoff" && name != "challenge":
		return ss.reply(a, errorResponse("Permission denied"))
	case h != nil:
		return ss.reply(a, h(ss, a)...)
	}
	switch name {
	case "login":
		return ss.login(a)
	case "challenge":
		if !strings.EqualFold(a.Get("AuthType"), "MD5") {
			return ss.reply(a, errorResponse("Must specify AuthType"))
		}
		ss.mu.Lock()
		if ss.challenge == "" {
			ss.challenge = ss.srv.cfg.Challenge
			if ss.challenge == "" {
				n, _ := rand.Int(rand.Reader, big.NewInt(900000000))
				ss.challenge = fmt.Sprint(n.Int64() + 100000000)
			}
		}
		c := ss.challenge
		ss.mu.Unlock()
		return ss.reply(a, ami.NewMessage("Response", "Success", "Challenge", c))
	case "logoff":
		ss.reply(a, ami.NewMessage("Response", "Goodbye", "Message", "Thanks for all the fish."))
		return false
	case "ping":
		now := time.Now()
		ts := fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
		return ss.reply(a, ami.NewMessage("Response", "Success", "Ping", "Pong", "Timestamp", ts))
	case "events":
		mask := a.Get("EventMask")
		ss.mu.Lock()
		ss.mask = mask
		ss.mu.Unlock()
		state := "On"
		if isOff(mask) {
			state = "Off"
		}
		return ss.reply(a, ami.NewMessage("Response", "Success", "Events", state))
	case "filter":
		return ss.reply(a, ss.filter(a))
	}
	return ss.reply(a, errorResponse(fmt.Sprintf(
		"Invalid/unknown command: %s. Use Action: ListCommands to show available commands.", a.Action())))
}

func (ss *Session) login(a *ami.Message) bool {
	cfg := ss.srv.cfg
	ss.mu.Lock()
	already, challenge := ss.authed, ss.challenge
	ss.mu.Unlock()
	if already {
		return ss.reply(a, ami.NewMessage("Response", "Success", "Message", "Already authenticated"))
	}
	ok := a.Get("Username") == cfg.Username
	if strings.EqualFold(a.Get("AuthType"), "MD5") {
		sum := md5.Sum([]byte(challenge + cfg.Secret))
		ok = ok && challenge != "" && a.Get("Key") == hex.EncodeToString(sum[:])
	} else {
		ok = ok && a.Get("Secret") == cfg.Secret
	}
	if !ok {
		if cfg.AuthDelay > 0 {
			select {
			case <-time.After(cfg.AuthDelay):
			case <-ss.done:
				return false
			}
		}
		ss.reply(a, errorResponse("Authentication failed"))
		return false
	}
	mask := "on"
	if v, ok := a.Lookup("Events"); ok {
		mask = v
	}
	ss.mu.Lock()
	ss.authed, ss.user, ss.mask = true, a.Get("Username"), mask
	ss.mu.Unlock()
	ss.srv.mu.Lock()
	ss.srv.logins++
	ss.srv.notifyLocked()
	ss.srv.mu.Unlock()
	// Like Asterisk, answer and announce FullyBooted (without the
	// ActionID) in one write.
	var b bytes.Buffer
	ss.encode(&b, a, ami.NewMessage("Response", "Success", "Message", "Authentication accepted"))
	booted := ami.NewMessage("Event", "FullyBooted", "Privilege", "system,all",
		"Uptime", "6", "LastReload", "6", "Status", "Fully Booted")
	if ss.wants(booted) {
		ami.WriteMessage(&b, booted)
	}
	return ss.write(b.Bytes()) == nil
}

func (ss *Session) filter(a *ami.Message) *ami.Message {
	if !strings.EqualFold(a.Get("Operation"), "Add") {
		return errorResponse("Unknown operation")
	}
	expr := a.Get("Filter")
	exclude := strings.HasPrefix(expr, "!")
	re, err := regexp.Compile(strings.TrimPrefix(expr, "!"))
	if err != nil || expr == "" {
		return errorResponse("Filter did not compile.  Check the syntax of the filter given.")
	}
	ss.mu.Lock()
	if exclude {
		ss.exclude = append(ss.exclude, re)
	} else {
		ss.include = append(ss.include, re)
	}
	ss.mu.Unlock()
	return ami.NewMessage("Response", "Success", "Message", "Success")
}

// reply writes msgs in one write, giving those without an ActionID the
// action's. It reports false when the write failed.
func (ss *Session) reply(a *ami.Message, msgs ...*ami.Message) bool {
	if len(msgs) == 0 {
		return true
	}
	var b bytes.Buffer
	ss.encode(&b, a, msgs...)
	return ss.write(b.Bytes()) == nil
}

// encode formats msgs as answers to a: those without an ActionID get a's
// as their second line.
func (ss *Session) encode(b *bytes.Buffer, a *ami.Message, msgs ...*ami.Message) {
	id, hasID := a.Lookup("ActionID")
	for _, m := range msgs {
		if _, ok := m.Lookup("ActionID"); hasID && !ok && len(m.Fields) > 0 {
			c := &ami.Message{Fields: make([]ami.Field, 0, len(m.Fields)+1)}
			c.Fields = append(c.Fields, m.Fields[0], ami.Field{Key: "ActionID", Value: id})
			c.Fields = append(c.Fields, m.Fields[1:]...)
			m = c
		}
		if err := ami.WriteMessage(b, m); err != nil {
			// A handler's mistake: tell the client rather than crash.
			b.Reset()
			ami.WriteMessage(b, errorResponse("amitest: invalid reply: "+err.Error()))
			return
		}
	}
}

func errorResponse(msg string) *ami.Message {
	return ami.NewMessage("Response", "Error", "Message", msg)
}

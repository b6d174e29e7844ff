package ami

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// readBufferSize is a connection's bufio buffer: large enough that nearly
// every message is parsed in place, see Reader.
const readBufferSize = 64 << 10

// aLongTimeAgo is a deadline in the past: setting it makes a blocked read
// or write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// A Conn is one logged-in AMI connection. Actions sent with Do and DoList
// are matched to their responses by ActionID while events keep flowing to
// Events; many goroutines may send actions at once.
//
// A Conn reads in a goroutine of its own, which never waits for the
// consumer of Events: see Config.EventBuffer. It ends when Asterisk closes
// it, when a read or a keepalive fails, or on Close; Done is then closed
// and Err tells why. A Conn does not reconnect: a Client does.
type Conn struct {
	addr   string
	cfg    Config
	nc     net.Conn
	r      *Reader
	log    *slog.Logger
	events chan *Message

	wmu     sync.Mutex // one action on the wire at a time
	wbuf    []byte
	dlmu    sync.Mutex // guards the write deadline against late cancellations
	writing uint64     // the write under way, 0 for none
	writes  uint64

	mu      sync.Mutex
	pending map[string]*call // actions waiting for their responses, by ActionID
	ids     uint64
	err     error         // why the connection ended
	ending  chan struct{} // closed when err is set

	kwg  sync.WaitGroup // the keepalive goroutine
	done chan struct{}  // closed by the reader when the connection has ended and the keepalive is gone
}

// A call is an action waiting for its response, or for its list.
type call struct {
	list     bool
	resp     *Message
	items    []*Message
	complete *Message
	err      error
	done     chan struct{}
}

// A List is the answer to a list action such as CoreShowChannels,
// BridgeList, QueueStatus or Status: a response announcing the list, the
// items, which are events carrying the action's ActionID, and the closing
// event, named after the action with "Complete" appended.
type List struct {
	Response *Message   // "Response: Success", "EventList: start"
	Items    []*Message // e.g. CoreShowChannel events, in Asterisk's order
	Complete *Message   // e.g. CoreShowChannelsComplete, with ListItems
}

// Dial connects to the manager interface at addr ("host:5038"), reads the
// banner, logs in as cfg says, adds the filters and turns events on. It
// returns once the connection is ready for actions. ctx bounds the whole
// handshake, as does cfg.DialTimeout.
//
// A login that Asterisk refuses gives an *AuthError, which matches
// ErrAuth.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()

	nc, err := dialNet(ctx, addr, cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("ami: %w", err)
	}
	var src io.Reader = nc
	if cfg.Debug != nil {
		src = &tap{r: nc, w: cfg.Debug}
	}
	r := NewReader(bufio.NewReaderSize(src, readBufferSize))
	r.MaxLineLength = cfg.MaxLineLength
	r.MaxMessageSize = cfg.MaxMessageSize
	c := &Conn{
		addr:    addr,
		cfg:     cfg,
		nc:      nc,
		r:       r,
		log:     cfg.Logger,
		events:  make(chan *Message, cfg.EventBuffer),
		pending: make(map[string]*call),
		ending:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := c.handshake(ctx); err != nil {
		nc.Close()
		return nil, err
	}

	if cfg.PingInterval > 0 {
		c.kwg.Add(1)
		go c.keepalive()
	}
	go c.readLoop()
	if err := c.setup(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func dialNet(ctx context.Context, addr string, tc *tls.Config) (net.Conn, error) {
	d := &net.Dialer{}
	if tc != nil {
		return (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", addr)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// handshake reads the banner and logs in, reading on the caller's
// goroutine: ctx interrupts a blocked read or write by setting a deadline
// in the past.
func (c *Conn) handshake(ctx context.Context) (err error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	defer func() {
		if !stop() {
			err = fmt.Errorf("ami: %s: %w", c.addr, ctx.Err())
			return
		}
		c.nc.SetDeadline(time.Time{})
	}()

	if _, err := c.r.ReadBanner(); err != nil {
		if err == io.EOF {
			// Asterisk does this to connections it accepts while it shuts
			// down.
			return &wrapError{prefix: "ami: " + c.addr, err: ErrClosedByPeer, suffix: " before the banner"}
		}
		return c.readError(err)
	}
	login := NewMessage("Action", "Login", "Username", c.cfg.Username)
	if strings.EqualFold(c.cfg.AuthType, "md5") {
		resp, err := c.handshakeAction(NewMessage("Action", "Challenge", "AuthType", "MD5"))
		if err != nil {
			return err
		}
		if !strings.EqualFold(resp.Response(), "Success") || resp.Get("Challenge") == "" {
			return &AuthError{Addr: c.addr, Username: c.cfg.Username, Err: responseError("Challenge", resp)}
		}
		sum := md5.Sum([]byte(resp.Get("Challenge") + c.cfg.Secret))
		login.Add("AuthType", "MD5")
		login.Add("Key", hex.EncodeToString(sum[:]))
	} else {
		login.Add("Secret", c.cfg.Secret)
	}
	if len(c.cfg.Filters) > 0 {
		login.Add("Events", "off") // on once the filters are in place
	} else {
		login.Add("Events", c.cfg.Events)
	}
	resp, err := c.handshakeAction(login)
	clear(c.wbuf[:cap(c.wbuf)]) // it held the secret
	if err != nil {
		return err
	}
	if isError(resp) {
		return &AuthError{Addr: c.addr, Username: c.cfg.Username, Err: responseError("Login", resp)}
	}
	return nil
}

// handshakeAction sends an action before the reader goroutine runs and
// reads up to its response.
func (c *Conn) handshakeAction(action *Message) (*Message, error) {
	id := c.nextID(action.Action())
	b, err := c.encode(action, id)
	if err != nil {
		return nil, err
	}
	if _, err := c.nc.Write(b); err != nil {
		return nil, fmt.Errorf("ami: %s: write: %w", c.addr, err)
	}
	for {
		m, err := c.r.ReadMessage()
		if err != nil {
			return nil, c.readError(err)
		}
		if !m.IsEvent() && m.IsResponse() && m.ActionID() == id {
			return m, nil
		}
		if m.IsEvent() {
			// An event can come before the login's response (the session
			// is authenticated a moment before the response is written):
			// keep it, in order, for Events. The reader has not started,
			// so nothing else sends on the channel yet.
			select {
			case c.events <- m:
			default:
				return nil, wrap(ErrSlowConsumer, "ami: "+c.addr)
			}
		}
	}
}

// setup adds the filters and, after them, turns events on.
func (c *Conn) setup(ctx context.Context) error {
	if len(c.cfg.Filters) == 0 {
		return nil
	}
	for _, f := range c.cfg.Filters {
		if err := c.AddFilter(ctx, f); err != nil {
			return err
		}
	}
	if strings.EqualFold(c.cfg.Events, "off") {
		return nil
	}
	return c.SetEvents(ctx, c.cfg.Events)
}

// Addr returns the address dialled.
func (c *Conn) Addr() string { return c.addr }

// Banner returns the banner Asterisk greeted with, such as "Asterisk Call
// Manager/9.0.0".
func (c *Conn) Banner() string { return c.r.Banner() }

// Events returns the connection's events, in the order Asterisk sent
// them. Responses and list items are not events: Do and DoList return
// them. The channel is closed when the connection ends.
func (c *Conn) Events() <-chan *Message { return c.events }

// Done returns a channel closed when the connection has ended and its
// goroutines have finished.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is up: ErrClosed
// after Close, ErrClosedByPeer when Asterisk closed it, ErrSlowConsumer,
// or the error that broke it.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection at once and waits for its goroutines. Use
// Logoff to leave politely.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	<-c.done
	return nil
}

// Logoff sends the Logoff action, which Asterisk answers with "Response:
// Goodbye", and closes the connection.
func (c *Conn) Logoff(ctx context.Context) error {
	_, err := c.Do(ctx, NewMessage("Action", "Logoff"))
	c.Close()
	return err
}

// Ping sends the Ping action.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.Do(ctx, NewMessage("Action", "Ping"))
	return err
}

// SetEvents changes the event mask: "on", "off" or a list of classes,
// as Config.Events.
func (c *Conn) SetEvents(ctx context.Context, mask string) error {
	_, err := c.Do(ctx, NewMessage("Action", "Events", "EventMask", mask))
	return err
}

// AddFilter adds an event filter to the session with the Filter action,
// as Config.Filters.
func (c *Conn) AddFilter(ctx context.Context, filter string) error {
	_, err := c.Do(ctx, NewMessage("Action", "Filter", "Operation", "Add", "Filter", filter))
	return err
}

// Do sends an action and returns its response. It gives a
// *ResponseError for "Response: Error". The action's ActionID is used when
// it has one; otherwise Do adds one, without changing action.
//
// When ctx ends first, Do returns ctx.Err() and the response is dropped
// when it comes. A write that ctx interrupts closes the connection, since
// half an action would corrupt the stream.
//
// Do returns when the response arrives: for a list action that is before
// the list's items, which then go to Events. Use DoList for those.
func (c *Conn) Do(ctx context.Context, action *Message) (*Message, error) {
	cl, err := c.roundTrip(ctx, action, false)
	if err != nil {
		return nil, err
	}
	return cl.resp, nil
}

// DoList sends a list action and collects its items up to the closing
// event, whatever the place of the ActionID in them. An action that
// answers without announcing a list gives a List with the response alone.
func (c *Conn) DoList(ctx context.Context, action *Message) (*List, error) {
	cl, err := c.roundTrip(ctx, action, true)
	if err != nil {
		return nil, err
	}
	return &List{Response: cl.resp, Items: cl.items, Complete: cl.complete}, nil
}

func (c *Conn) roundTrip(ctx context.Context, action *Message, list bool) (*call, error) {
	name := action.Action()
	if name == "" {
		return nil, errors.New("ami: action without an Action field")
	}
	cl := &call{list: list, done: make(chan struct{})}
	id, hasID := action.Lookup("ActionID")
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	if !hasID || id == "" {
		hasID = false
		id = c.nextIDLocked(name)
	}
	if _, dup := c.pending[id]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("ami: %s: ActionID %q already in use", name, id)
	}
	c.pending[id] = cl
	c.mu.Unlock()

	addID := ""
	if !hasID {
		addID = id
	}
	if err := c.write(ctx, action, addID); err != nil {
		c.forget(id)
		return nil, err
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		select {
		case <-cl.done: // it came anyway
		default:
			c.forget(id)
			return nil, ctx.Err()
		}
	}
	if cl.err != nil {
		return nil, cl.err
	}
	if isError(cl.resp) {
		return nil, responseError(name, cl.resp)
	}
	return cl, nil
}

func (c *Conn) nextID(action string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextIDLocked(action)
}

// nextIDLocked returns a new ActionID such as "coreshowchannels-7":
// readable in a wire capture, and unique on the connection.
func (c *Conn) nextIDLocked(action string) string {
	c.ids++
	return strings.ToLower(action) + "-" + strconv.FormatUint(c.ids, 10)
}

func (c *Conn) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// encode formats action for the wire into the connection's write buffer,
// adding "ActionID: id" after its first line when id is not empty.
func (c *Conn) encode(action *Message, id string) ([]byte, error) {
	for _, f := range action.Fields {
		if !validField(f) {
			return nil, wrap(fmt.Errorf("%w: %q", ErrInvalidField, f.Key), "ami: "+action.Action())
		}
	}
	b := c.wbuf[:0]
	for i, f := range action.Fields {
		b = appendField(b, f.Key, f.Value)
		if i == 0 && id != "" {
			b = appendField(b, "ActionID", id)
		}
	}
	b = append(b, '\r', '\n')
	if cap(b) <= 64<<10 {
		c.wbuf = b
	}
	return b, nil
}

func appendField(b []byte, key, value string) []byte {
	b = append(b, key...)
	b = append(b, ':', ' ')
	b = append(b, value...)
	return append(b, '\r', '\n')
}

// write sends one action. ctx interrupts a write that blocks by setting a
// write deadline in the past; the write that follows is protected from a
// cancellation that fires late by the writing sequence number.
func (c *Conn) write(ctx context.Context, action *Message, id string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := c.encode(action, id)
	if err != nil {
		return err
	}
	c.dlmu.Lock()
	c.writes++
	seq := c.writes
	c.writing = seq
	c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	c.dlmu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		c.dlmu.Lock()
		if c.writing == seq {
			c.nc.SetWriteDeadline(aLongTimeAgo)
		}
		c.dlmu.Unlock()
	})
	_, err = c.nc.Write(b)
	stop()
	c.dlmu.Lock()
	c.writing = 0
	c.dlmu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		err = wrap(err, "ami: "+action.Action()+": write")
		c.fail(err)
		return err
	}
	return nil
}

// readLoop reads until the connection ends, handing responses and list
// items to the actions waiting for them and events to Events.
func (c *Conn) readLoop() {
	defer func() {
		close(c.events)
		c.kwg.Wait()
		close(c.done)
	}()
	for {
		m := new(Message)
		if err := c.r.ReadMessageInto(m); err != nil {
			c.fail(c.readError(err))
			return
		}
		if !c.dispatch(m) {
			return
		}
	}
}

func (c *Conn) readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return wrap(ErrClosedByPeer, "ami: "+c.addr)
	}
	return wrap(err, "ami: "+c.addr+": read")
}

// dispatch routes one message. It reports false when the connection must
// end because the event buffer is full.
func (c *Conn) dispatch(m *Message) bool {
	if !m.IsEvent() {
		if m.IsResponse() {
			c.response(m)
			return true
		}
	} else if id, ok := m.Lookup("ActionID"); ok && c.listItem(id, m) {
		return true
	}
	select {
	case c.events <- m:
		return true
	default:
		c.fail(wrap(ErrSlowConsumer, "ami: "+c.addr))
		return false
	}
}

func (c *Conn) response(m *Message) {
	id := m.ActionID()
	c.mu.Lock()
	cl := c.pending[id]
	if cl == nil {
		c.mu.Unlock()
		if c.log != nil {
			c.log.Debug("ami: response to no pending action", "addr", c.addr, "actionid", id)
		}
		return
	}
	if cl.list && cl.resp == nil && isListStart(m) {
		cl.resp = m
		c.mu.Unlock()
		return
	}
	delete(c.pending, id)
	c.mu.Unlock()
	cl.resp = m
	close(cl.done)
}

// listItem takes m when it belongs to a list being collected.
func (c *Conn) listItem(id string, m *Message) bool {
	c.mu.Lock()
	cl := c.pending[id]
	if cl == nil || !cl.list {
		c.mu.Unlock()
		return false
	}
	if !isListEnd(m) {
		cl.items = append(cl.items, m)
		c.mu.Unlock()
		return true
	}
	delete(c.pending, id)
	c.mu.Unlock()
	cl.complete = m
	close(cl.done)
	return true
}

// fail ends the connection with err, unless it has ended already: it
// closes the socket, which stops the reader, and fails the actions
// waiting.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	close(c.ending)
	c.mu.Unlock()
	c.nc.Close()
	for _, cl := range pending {
		cl.err = err
		close(cl.done)
	}
	if c.log != nil && err != ErrClosed {
		c.log.Info("ami: connection ended", "addr", c.addr, "reason", err)
	}
}

// keepalive pings the connection and gives it up when a Ping goes
// unanswered.
func (c *Conn) keepalive() {
	defer c.kwg.Done()
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ending:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.PingTimeout)
		err := c.Ping(ctx)
		cancel()
		var re *ResponseError
		if err == nil || errors.As(err, &re) || c.Err() != nil {
			continue // an answer, even an error, shows the peer is alive
		}
		c.fail(wrap(err, "ami: "+c.addr+": keepalive"))
		return
	}
}

func isError(m *Message) bool { return strings.EqualFold(m.Response(), "Error") }

func responseError(action string, m *Message) *ResponseError {
	return &ResponseError{Action: action, Message: m.Get("Message"), Response: m}
}

// isListStart reports whether a response announces a list: "EventList:
// start", or for old versions a Message such as "Channel status will
// follow".
func isListStart(m *Message) bool {
	if isError(m) {
		return false
	}
	if v, ok := m.Lookup("EventList"); ok {
		return strings.EqualFold(v, "start")
	}
	return strings.Contains(strings.ToLower(m.Get("Message")), "will follow")
}

// isListEnd reports whether an event closes a list: "EventList: Complete",
// or for old versions an event named …Complete.
func isListEnd(m *Message) bool {
	if v, ok := m.Lookup("EventList"); ok {
		return strings.EqualFold(v, "Complete")
	}
	e := m.Event()
	return len(e) > len("Complete") && equalFold(e[len(e)-len("Complete"):], "Complete")
}

func validField(f Field) bool {
	return f.Key != "" && !strings.ContainsAny(f.Key, ":\r\n") && !strings.ContainsAny(f.Value, "\r\n")
}

// A tap copies what it reads to w: the wire tap of Config.Debug. A failing
// w is dropped rather than breaking the connection.
type tap struct {
	r io.Reader
	w io.Writer
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 && t.w != nil {
		if _, werr := t.w.Write(p[:n]); werr != nil {
			t.w = nil
		}
	}
	return n, err
}

package ami

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// Names of the marker events a Client puts in its event stream. They are
// not Asterisk's: the dot keeps them apart from every event Asterisk can
// send.
//
// An EventConnected marker comes first on every new connection, after the
// login and before the connection's first event. Its fields are Timestamp
// (the local clock, in Asterisk's "1795333546.437823" form), Address,
// Connection (1 for the first connection of the Client, then 2, …) and
// Banner.
//
// An EventDisconnected marker follows the connection's last event, with
// Timestamp, Address, Connection and Reason, the error that ended it.
// Events Asterisk sent while no connection was up are lost: on a new
// EventConnected, a consumer that keeps state should reconcile it, for
// example from the CoreShowChannels list.
const (
	EventConnected    = "ami.Connected"
	EventDisconnected = "ami.Disconnected"
)

// A Client keeps a logged-in connection to one Asterisk: Run connects,
// logs in, and when the connection is lost, reconnects with jittered
// exponential backoff and logs in again before any other action is sent.
// Events of every connection go to one channel, with markers at each
// connect and disconnect.
//
//	c := ami.NewClient("127.0.0.1:5038", cfg)
//	go func() { errc <- c.Run(ctx) }()
//	for m := range c.Events() {
//		// ...
//	}
type Client struct {
	addr   string
	cfg    Config
	events chan *Message

	mu      sync.Mutex
	conn    *Conn         // the connection up, or nil
	changed chan struct{} // closed when conn is set
	started bool
	stopped chan struct{} // closed when Run returns
}

// clientBuffer is the size of a Client's event channel, in front of the
// connection's own buffer (Config.EventBuffer).
const clientBuffer = 1024

// NewClient returns a Client for the manager interface at addr. Nothing
// happens until Run.
func NewClient(addr string, cfg Config) *Client {
	return &Client{
		addr:    addr,
		cfg:     cfg,
		events:  make(chan *Message, clientBuffer),
		changed: make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// Addr returns the address the Client connects to.
func (c *Client) Addr() string { return c.addr }

// Events returns the events of every connection, in order, with the
// EventConnected and EventDisconnected markers between connections. The
// channel is closed when Run returns.
//
// When the consumer falls behind by more than Config.EventBuffer events,
// the connection is dropped with ErrSlowConsumer rather than the reader
// blocked, and the Client reconnects: the markers show the gap.
func (c *Client) Events() <-chan *Message { return c.events }

// Run connects and keeps connecting until ctx ends; then it logs off,
// closes the Events channel and returns nil. It returns an error only for
// an invalid Config, or when the very first login is refused (a wrong
// secret will not fix itself; a refusal after a successful login, as
// during a reload of manager.conf, is retried).
//
// Run may be called once.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("ami: client already running")
	}
	c.started = true
	c.mu.Unlock()
	defer close(c.events)
	defer close(c.stopped)

	if err := c.cfg.Validate(); err != nil {
		return err
	}
	cfg := c.cfg.withDefaults()
	var (
		seq      int // connections made
		attempts int // failures since the last good connection
	)
	for {
		conn, err := Dial(ctx, c.addr, cfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if seq == 0 && errors.Is(err, ErrAuth) {
				return err
			}
			d := backoff(attempts, cfg.MinBackoff, cfg.MaxBackoff)
			attempts++
			c.logWarn("ami: connect failed", "addr", c.addr, "err", err, "retry_in", d)
			if !sleep(ctx, d) {
				return nil
			}
			continue
		}
		seq++
		up := time.Now()
		c.setConn(conn)
		c.logInfo("ami: connected", "addr", c.addr, "banner", conn.Banner(), "connection", seq)
		reason, stopped := c.serve(ctx, conn, seq)
		c.setConn(nil)
		if stopped {
			logoff(conn)
			c.tryEmit(marker(EventDisconnected, conn, seq, ErrClientStopped))
			return nil
		}
		<-conn.Done()
		c.logWarn("ami: connection lost", "addr", c.addr, "connection", seq, "reason", reason)
		if !c.emit(ctx, marker(EventDisconnected, conn, seq, reason)) {
			return nil
		}
		if time.Since(up) >= cfg.MaxBackoff {
			attempts = 0 // it was up long enough: start over from MinBackoff
		}
		d := backoff(attempts, cfg.MinBackoff, cfg.MaxBackoff)
		attempts++
		if !sleep(ctx, d) {
			return nil
		}
	}
}

// serve marks the connection up and forwards its events until it ends
// (reason) or ctx does (stopped).
func (c *Client) serve(ctx context.Context, conn *Conn, seq int) (reason error, stopped bool) {
	if !c.emit(ctx, marker(EventConnected, conn, seq, nil)) {
		return nil, true
	}
	for {
		select {
		case m, ok := <-conn.Events():
			if !ok {
				return conn.Err(), false
			}
			if !c.emit(ctx, m) {
				return nil, true
			}
		case <-ctx.Done():
			return nil, true
		}
	}
}

func (c *Client) emit(ctx context.Context, m *Message) bool {
	select {
	case c.events <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// tryEmit delivers the last marker if there is room: the consumer may
// have stopped reading.
func (c *Client) tryEmit(m *Message) {
	select {
	case c.events <- m:
	default:
	}
}

// logoff leaves politely, without waiting long for an Asterisk that may
// be gone.
func logoff(conn *Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Logoff(ctx)
}

func (c *Client) setConn(conn *Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = conn
	if conn != nil {
		close(c.changed)
		c.changed = make(chan struct{})
	}
}

// ready returns the connection up, waiting for one if need be.
func (c *Client) ready(ctx context.Context) (*Conn, error) {
	for {
		c.mu.Lock()
		conn, changed := c.conn, c.changed
		c.mu.Unlock()
		if conn != nil {
			return conn, nil
		}
		select {
		case <-changed:
		case <-c.stopped:
			return nil, ErrClientStopped
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Do sends an action on the current connection, waiting for one to be up
// (and logged in) if need be, and returns its response, as Conn.Do. An
// action is never resent: when the connection is lost before the
// response, Do returns the connection's error.
func (c *Client) Do(ctx context.Context, action *Message) (*Message, error) {
	conn, err := c.ready(ctx)
	if err != nil {
		return nil, err
	}
	return conn.Do(ctx, action)
}

// DoList sends a list action as Do, and collects the list as Conn.DoList.
func (c *Client) DoList(ctx context.Context, action *Message) (*List, error) {
	conn, err := c.ready(ctx)
	if err != nil {
		return nil, err
	}
	return conn.DoList(ctx, action)
}

// marker builds an EventConnected or EventDisconnected message.
func marker(event string, conn *Conn, seq int, reason error) *Message {
	now := time.Now()
	m := NewMessage(
		"Event", event,
		"Timestamp", fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000),
		"Address", conn.Addr(),
		"Connection", strconv.Itoa(seq),
	)
	if event == EventConnected {
		m.Add("Banner", conn.Banner())
	} else if reason != nil {
		m.Add("Reason", reason.Error())
	}
	return m
}

// backoff returns the wait before a connection attempt after attempts
// failures: min doubled that many times, at most max, with equal jitter
// (half fixed, half random) so that clients restarted together spread
// out.
func backoff(attempts int, min, max time.Duration) time.Duration {
	d := max
	if attempts < 32 {
		if x := min << attempts; x > 0 && x < max {
			d = x
		}
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or ctx, reporting false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Client) logInfo(msg string, args ...any) {
	if c.cfg.Logger != nil {
		c.cfg.Logger.Info(msg, args...)
	}
}

func (c *Client) logWarn(msg string, args ...any) {
	if c.cfg.Logger != nil {
		c.cfg.Logger.Warn(msg, args...)
	}
}

// Package sim is a fake Asterisk: it serves recorded AMI captures over a
// real AMI socket, so that the daemon and its tests can follow a call
// stream without a PBX.
//
// A Server answers like Asterisk 20/22 (banner, Login plain and MD5,
// Challenge, Ping, Events, Logoff, Permission denied before login, the
// one-second pause before "Authentication failed", unknown actions) and
// plays the captures' events one after another, with their timestamps
// shifted so that each capture follows on from the one before, at their
// recorded pace, N times faster, or as fast as the client reads.
//
// One player sends each event to every logged-in connection that wants
// events. While none is connected the player waits, so a client that
// reconnects carries on with the next event; tests can also stop the
// player before a given event (PauseAt), drop every connection
// (DropConnections) and watch what each connection received (Conns).
package sim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("sim: server closed")

// DefaultBanner is what the Server greets with when no capture has one.
const DefaultBanner = "Asterisk Call Manager/9.0.0"

// A Server is a fake Asterisk manager interface. Set its fields before
// Serve and do not change them after.
type Server struct {
	User, Secret string
	Captures     []*Capture

	// Speed plays the captures this many times faster than recorded;
	// 0 means 1. Fast sends every event as soon as the last one is
	// written.
	Speed float64
	Fast  bool
	// Lossy keeps playing while no client is connected, as a real
	// Asterisk does: the events of that time are lost to the client.
	// Without it the player waits for a client.
	Lossy bool
	// Gap separates the end of one capture from the start of the next
	// (1 s when zero).
	Gap time.Duration

	// Banner greets each connection; "" takes the first capture's, or
	// DefaultBanner.
	Banner string
	// AuthFailDelay is the pause before "Authentication failed" (1 s
	// when zero, as Asterisk); AuthTimeout closes a connection that has
	// not logged in (30 s when zero).
	AuthFailDelay time.Duration
	AuthTimeout   time.Duration
	// WriteTimeout drops a connection that does not take an event in
	// time (10 s when zero).
	WriteTimeout time.Duration

	Logger *slog.Logger // nil: silent
	// Debug, when set, receives every byte of every connection in the
	// format of testdata/ami-actions/*.log: a transcript of the session.
	Debug io.Writer

	tap       *tap
	startOnce sync.Once
	started   time.Time
	events    []Event // every capture's, in play order, timestamps shifted

	mu        sync.Mutex
	wake      chan struct{} // closed and replaced at every change of state
	closed    bool
	listeners map[net.Listener]bool
	conns     map[*conn]bool
	subs      []*conn // connections that get events, in login order
	infos     []*ConnInfo
	cursor    int // the next event to send
	pauseAt   int // -1: none
	pauseSet  bool
	paused    bool
	quit      chan struct{} // closed by Close

	// The channels alive after the events sent so far, for
	// CoreShowChannels, in creation order; now is the stream's time.
	channels map[string]*channel
	order    []string
	now      time.Time
	done     chan struct{}
	wg       sync.WaitGroup
}

// ConnInfo is what one connection got.
type ConnInfo struct {
	Remote   string
	User     string
	LoggedIn time.Time
	// First and Next delimit the events it was sent: [First, Next), as
	// indexes into Events(). First is -1 when it got none.
	First, Next int
	Closed      bool
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// init lays out the play list and starts the player, once.
func (s *Server) init() {
	s.startOnce.Do(func() {
		s.started = time.Now()
		if s.Debug != nil {
			s.tap = &tap{w: s.Debug}
		}
		s.events = playList(s.Captures, s.gap())
		s.mu.Lock()
		s.wake = make(chan struct{})
		s.done = make(chan struct{})
		s.listeners = make(map[net.Listener]bool)
		s.conns = make(map[*conn]bool)
		s.quit = make(chan struct{})
		if !s.pauseSet {
			s.pauseAt = -1
		}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.play()
	})
}

func (s *Server) gap() time.Duration {
	if s.Gap > 0 {
		return s.Gap
	}
	return time.Second
}

// playList concatenates the captures' events, shifting each capture's
// timestamps so that its first event comes gap after the previous
// capture's last one.
func playList(caps []*Capture, gap time.Duration) []Event {
	var (
		out  []Event
		last time.Time // the last timestamp played
	)
	for _, c := range caps {
		var first time.Time
		for _, e := range c.Events {
			if !e.Time.IsZero() {
				first = e.Time
				break
			}
		}
		var shift time.Duration
		if !first.IsZero() && !last.IsZero() {
			shift = last.Add(gap).Sub(first)
		}
		for _, e := range c.Events {
			if !e.Time.IsZero() && shift != 0 {
				e.Time = e.Time.Add(shift)
				e.Raw = withTimestamp(e.Raw, e.Time)
			}
			if !e.Time.IsZero() {
				last = e.Time
			}
			out = append(out, e)
		}
	}
	return out
}

// Events returns the events the Server plays, in order, as they go on
// the wire (timestamps shifted).
func (s *Server) Events() []Event {
	s.init()
	return s.events
}

// Serve accepts connections on l until Close; it always returns a
// non-nil error, ErrServerClosed after Close.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		c := s.newConn(nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// Close stops the listeners, the player and every connection, and waits
// for their goroutines.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	if !s.closed {
		close(s.quit)
	}
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.changed()
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// changed wakes whoever waits for a change of state; s.mu is held.
func (s *Server) changed() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// waitChange waits for the next change of state after the caller read
// it under s.mu (passed in as wake), or for ctx.
func waitChange(ctx context.Context, wake <-chan struct{}) error {
	select {
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PauseAt makes the player stop before sending event n (an index into
// Events()) until Resume. A negative n clears the pause point. It may
// be called before Serve.
func (s *Server) PauseAt(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pauseAt = n
	s.pauseSet = true
	if s.wake != nil {
		s.changed()
	}
}

// Resume lets a paused player go on.
func (s *Server) Resume() { s.PauseAt(-1) }

// WaitPaused waits until the player stands at its pause point, and
// returns the index of the event it will send next.
func (s *Server) WaitPaused(ctx context.Context) (int, error) {
	s.init()
	for {
		s.mu.Lock()
		paused, at, wake := s.paused, s.cursor, s.wake
		s.mu.Unlock()
		if paused {
			return at, nil
		}
		if err := waitChange(ctx, wake); err != nil {
			return 0, err
		}
	}
}

// WaitSent waits until n events have been sent.
func (s *Server) WaitSent(ctx context.Context, n int) error {
	s.init()
	for {
		s.mu.Lock()
		sent, wake := s.cursor, s.wake
		s.mu.Unlock()
		if sent >= n {
			return nil
		}
		if err := waitChange(ctx, wake); err != nil {
			return err
		}
	}
}

// Sent returns how many events have been sent.
func (s *Server) Sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor
}

// Done is closed once every event has been sent.
func (s *Server) Done() <-chan struct{} {
	s.init()
	return s.done
}

// DropConnections closes every client connection at once, as a network
// failure would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
}

// Conns returns what every connection that logged in got, in login
// order.
func (s *Server) Conns() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConnInfo, len(s.infos))
	for i, in := range s.infos {
		out[i] = *in
	}
	return out
}

package agi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultAddr is where ListenAndServe listens when Server.Addr is empty:
// FastAGI's port on loopback, so that only a local Asterisk reaches it
// unless the operator says otherwise.
const DefaultAddr = "127.0.0.1:4573"

// Defaults a Server uses for zero fields.
const (
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxConns     = 1024
)

// A Server accepts FastAGI connections from Asterisk and runs a Handler
// for each. The zero value, with a Handler, is ready to use; its fields
// must not change once it serves.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; empty means
	// DefaultAddr.
	Addr string

	// Handler runs each session; a ServeMux routes by script path.
	Handler Handler

	// ReadTimeout bounds reading the environment Asterisk sends on
	// connect, from the moment the connection is accepted, and reading
	// a reply once its first byte has arrived. It does not bound how
	// long a command runs: EXEC Dial may take an hour. Zero means
	// DefaultReadTimeout; negative means no limit.
	ReadTimeout time.Duration

	// WriteTimeout bounds writing one command. Zero means
	// DefaultWriteTimeout; negative means no limit.
	WriteTimeout time.Duration

	// IdleTimeout is how long a session may go with no command in
	// flight before the server ends it, so that a stuck handler does
	// not hold a call: the connection closes, Asterisk goes on with the
	// dialplan, and the handler's context is cancelled with cause
	// ErrIdleTimeout. Zero means no limit.
	IdleTimeout time.Duration

	// MaxConns bounds the number of connections served at once; more are
	// closed at once, with a logged reason, and Asterisk goes on with the
	// dialplan. Zero means DefaultMaxConns; negative means no limit.
	MaxConns int

	// MaxLineLength bounds one line Asterisk sends, and MaxMessageSize
	// the environment block or one multi-line reply, in bytes. Zero
	// means DefaultMaxLineLength and DefaultMaxMessageSize.
	MaxLineLength  int
	MaxMessageSize int

	// AllowedNets, if not empty, lists the networks connections may come
	// from; others are closed at once. Write IPv4 networks in IPv4 form
	// (10.0.0.0/8): IPv4-mapped IPv6 peers are matched as IPv4.
	AllowedNets []netip.Prefix

	// Logger receives refused connections, bad peers, and handler errors
	// and panics. Nil means no logging.
	Logger *slog.Logger

	// Tap, if not nil, is called for each connection the server admits;
	// every byte read and written on it is then copied to the writer it
	// returns, as a transcript in the format of calltrail's captures
	// ("##### <time> ASTERISK->AGI <n> bytes" markers), which
	// agitest.ReadTranscript reads and Transcript.Replay plays back: a
	// record for an operator, and a fixture for a test. A nil writer
	// taps nothing. The server closes the writer when the connection
	// ends if it is an io.Closer. Write errors are ignored; a slow writer
	// slows the session.
	Tap func(remote net.Addr) io.Writer

	inShutdown atomic.Bool
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	done       chan struct{} // closed by Shutdown and Close
	stats      serverStats
}

// conn is one accepted connection.
type conn struct {
	nc     net.Conn
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// ListenAndServe listens on srv.Addr and serves connections from it. It
// returns ErrServerClosed after Shutdown or Close.
func (srv *Server) ListenAndServe() error {
	if srv.inShutdown.Load() {
		return ErrServerClosed
	}
	addr := srv.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("agi: %w", err)
	}
	return srv.Serve(l)
}

// Serve accepts connections on l and serves each in its own goroutine.
// It closes l when it returns, and returns ErrServerClosed after Shutdown
// or Close.
func (srv *Server) Serve(l net.Listener) error {
	if srv.Handler == nil {
		l.Close()
		return errors.New("agi: Server.Handler is nil")
	}
	if !srv.trackListener(&l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer srv.trackListener(&l, false)
	defer l.Close()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if srv.inShutdown.Load() {
				return ErrServerClosed
			}
			if te, ok := err.(interface{ Temporary() bool }); !ok || !te.Temporary() {
				return fmt.Errorf("agi: accept: %w", err)
			}
			// Out of file descriptors, most likely: wait and retry.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			srv.logger().LogAttrs(context.Background(), slog.LevelWarn, "accept error",
				slog.Any("err", err), slog.Duration("retry_in", delay))
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-srv.doneChan():
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		if c := srv.admit(nc); c != nil {
			go srv.serveConn(c)
		}
	}
}

// Shutdown stops the server gracefully: it closes the listeners, then
// waits for every session to end by itself. If ctx ends first, Shutdown
// returns its error; Close then ends the sessions left.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.inShutdown.Store(true)
	srv.mu.Lock()
	err := srv.closeListenersLocked()
	srv.closeDoneLocked()
	srv.mu.Unlock()

	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if srv.activeConns() == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			wait = min(2*wait, 100*time.Millisecond)
			t.Reset(wait)
		}
	}
}

// Close stops the server at once: it closes the listeners and every
// connection, and cancels every session's context with cause
// ErrServerClosed. It does not wait for handlers to return.
func (srv *Server) Close() error {
	srv.inShutdown.Store(true)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	err := srv.closeListenersLocked()
	srv.closeDoneLocked()
	for c := range srv.conns {
		c.cancel(ErrServerClosed)
		c.nc.Close()
	}
	return err
}

func (srv *Server) trackListener(l *net.Listener, add bool) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !add {
		delete(srv.listeners, l)
		return true
	}
	if srv.inShutdown.Load() {
		return false
	}
	if srv.listeners == nil {
		srv.listeners = make(map[*net.Listener]struct{})
	}
	srv.listeners[l] = struct{}{}
	return true
}

func (srv *Server) closeListenersLocked() error {
	var err error
	for l := range srv.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	return err
}

func (srv *Server) doneChan() <-chan struct{} {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.done == nil {
		srv.done = make(chan struct{})
	}
	return srv.done
}

func (srv *Server) closeDoneLocked() {
	if srv.done == nil {
		srv.done = make(chan struct{})
	}
	select {
	case <-srv.done:
	default:
		close(srv.done)
	}
}

func (srv *Server) activeConns() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// admit checks a new connection against AllowedNets and MaxConns and
// tracks it, or closes it with a logged reason.
func (srv *Server) admit(nc net.Conn) *conn {
	remote := nc.RemoteAddr()
	if len(srv.AllowedNets) > 0 && !srv.allowed(remote) {
		srv.refuse(nc, "address not allowed")
		return nil
	}
	srv.mu.Lock()
	if srv.inShutdown.Load() {
		srv.mu.Unlock()
		nc.Close()
		return nil
	}
	limit := srv.MaxConns
	if limit == 0 {
		limit = DefaultMaxConns
	}
	if limit > 0 && len(srv.conns) >= limit {
		srv.mu.Unlock()
		srv.refuse(nc, "too many connections", slog.Int("max_conns", limit))
		return nil
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &conn{nc: nc, ctx: ctx, cancel: cancel}
	if srv.conns == nil {
		srv.conns = make(map[*conn]struct{})
	}
	srv.conns[c] = struct{}{}
	srv.mu.Unlock()
	return c
}

func (srv *Server) refuse(nc net.Conn, reason string, attrs ...slog.Attr) {
	srv.stats.refused.Add(1)
	nc.Close()
	attrs = append([]slog.Attr{
		slog.String("remote", nc.RemoteAddr().String()),
		slog.String("reason", reason),
	}, attrs...)
	srv.logger().LogAttrs(context.Background(), slog.LevelWarn, "connection refused", attrs...)
}

func (srv *Server) allowed(a net.Addr) bool {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip = ta.AddrPort().Addr()
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	} else {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range srv.AllowedNets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// serveConn reads the environment, runs the handler, and logs what went
// wrong: this is the one place where the server logs a session.
func (srv *Server) serveConn(c *conn) {
	defer func() {
		c.nc.Close()
		c.cancel(context.Canceled)
		srv.mu.Lock()
		delete(srv.conns, c)
		srv.mu.Unlock()
	}()
	log := srv.logger()
	remote := slog.String("remote", c.nc.RemoteAddr().String())
	if srv.Tap != nil {
		if w := srv.Tap(c.nc.RemoteAddr()); w != nil {
			srv.mu.Lock()
			c.nc = newTapConn(c.nc, w)
			srv.mu.Unlock()
		}
	}

	br := bufio.NewReaderSize(c.nc, 4096)
	readTimeout := timeout(srv.ReadTimeout, DefaultReadTimeout)
	if readTimeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(readTimeout))
	}
	maxLine := orDefault(srv.MaxLineLength, DefaultMaxLineLength)
	maxSize := orDefault(srv.MaxMessageSize, DefaultMaxMessageSize)
	req, err := readRequest(br, maxLine, maxSize)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			srv.stats.bad.Add(1)
		}
		level := slog.LevelWarn
		if errors.Is(err, io.EOF) {
			level = slog.LevelDebug // closed without a byte: a port probe
		}
		if c.ctx.Err() == nil {
			log.LogAttrs(c.ctx, level, "bad environment, connection closed", remote, slog.Any("err", err))
		}
		return
	}
	req.RemoteAddr = c.nc.RemoteAddr().String()

	s := newSession(c.ctx, c.cancel, c.nc, br, req, sessionConfig{
		maxLine:      maxLine,
		maxSize:      maxSize,
		readTimeout:  readTimeout,
		writeTimeout: timeout(srv.WriteTimeout, DefaultWriteTimeout),
		idleTimeout:  max(srv.IdleTimeout, 0),
	})
	srv.stats.sessions.Add(1)
	srv.stats.active.Add(1)
	err = srv.runHandler(c.ctx, s)
	srv.stats.active.Add(-1)
	early := s.finish()
	if err != nil {
		srv.stats.failed.Add(1)
	}

	attrs := []slog.Attr{
		remote,
		slog.String("script", req.Script),
		slog.String("channel", req.Channel()),
		slog.String("uniqueid", req.UniqueID()),
	}
	ctx := context.Background()
	var p *panicError
	switch {
	case errors.As(err, &p):
		log.LogAttrs(ctx, slog.LevelError, "handler panic",
			append(attrs, slog.Any("panic", p.value), slog.String("stack", string(p.stack)))...)
	case err != nil:
		log.LogAttrs(ctx, slog.LevelError, "handler error", append(attrs, slog.Any("err", err))...)
	}
	if early != nil && (err == nil || !errors.Is(err, early)) {
		level := slog.LevelWarn
		if errors.Is(early, io.EOF) || errors.Is(early, ErrServerClosed) {
			level = slog.LevelDebug
		}
		log.LogAttrs(ctx, level, "session ended before its handler", append(attrs, slog.Any("err", early))...)
	}
}

// Stats counts what a Server did since it started.
type Stats struct {
	Sessions int64 // sessions whose environment was read and handed to a handler
	Active   int64 // sessions in a handler now
	Failed   int64 // sessions whose handler returned an error or panicked
	Refused  int64 // connections refused: not allowed, too many
	Bad      int64 // connections closed for a bad or late environment
}

type serverStats struct {
	sessions, active, failed, refused, bad atomic.Int64
}

// Stats returns the server's counters; safe from any goroutine.
func (srv *Server) Stats() Stats {
	return Stats{
		Sessions: srv.stats.sessions.Load(), Active: srv.stats.active.Load(), Failed: srv.stats.failed.Load(),
		Refused: srv.stats.refused.Load(), Bad: srv.stats.bad.Load(),
	}
}

// runHandler runs the handler, turning a panic into a *panicError so
// that one bad session does not take the server down.
func (srv *Server) runHandler(ctx context.Context, s *Session) (err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := make([]byte, 16<<10)
			err = &panicError{value: p, stack: stack[:runtime.Stack(stack, false)]}
		}
	}()
	return srv.Handler.ServeAGI(ctx, s)
}

type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("agi: handler panic: %v", e.value) }

var discard = slog.New(slog.DiscardHandler)

func (srv *Server) logger() *slog.Logger {
	if srv.Logger == nil {
		return discard
	}
	return srv.Logger
}

// timeout returns d, or def if d is zero, or 0 (no limit) if d is
// negative.
func timeout(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

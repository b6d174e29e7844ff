package agi_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

// pipeListener hands out the server ends of net.Pipe connections. A pipe
// has no buffer: a write blocks until the peer reads, which a loopback
// socket's megabytes of buffer cannot show in a test.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client end of a new pipe connection.
func (l *pipeListener) dial() net.Conn {
	server, client := net.Pipe()
	l.conns <- server
	return client
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// TestWriteBlocked: Asterisk does not read the command. The write gives
// up at WriteTimeout, or when the command's context ends, and the
// session ends: half a command may have been written.
func TestWriteBlocked(t *testing.T) {
	tests := []struct {
		name         string
		writeTimeout time.Duration
		ctxTimeout   time.Duration
		want         error
	}{
		{"write timeout", 100 * time.Millisecond, time.Minute, os.ErrDeadlineExceeded},
		{"context", time.Minute, 100 * time.Millisecond, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			type seen struct{ cmdErr, sessErr error }
			got := make(chan seen, 1)
			srv := &agi.Server{
				Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
					cctx, cancel := context.WithTimeout(ctx, tt.ctxTimeout)
					defer cancel()
					_, err := s.Command(cctx, "VERBOSE", strings.Repeat("x", 100))
					got <- seen{err, s.Err()}
					return nil
				}),
				WriteTimeout: tt.writeTimeout,
			}
			l := newPipeListener()
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()
			defer func() {
				srv.Close()
				<-served
			}()

			c := l.dial()
			defer c.Close()
			env := agitest.Env(billingURL, nil)
			var b strings.Builder
			for _, v := range env {
				b.WriteString(v.Name + ": " + v.Value + "\n")
			}
			b.WriteString("\n")
			if _, err := c.Write([]byte(b.String())); err != nil {
				t.Fatal(err)
			}
			// ... and never read.
			select {
			case g := <-got:
				if !errors.Is(g.cmdErr, tt.want) || g.sessErr == nil {
					t.Errorf("command: %v, session: %v; want %v and an ended session", g.cmdErr, g.sessErr, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the write never gave up")
			}
		})
	}
}

// tempErr is an accept error the server should retry.
type tempErr struct{}

func (tempErr) Error() string   { return "too many open files" }
func (tempErr) Timeout() bool   { return false }
func (tempErr) Temporary() bool { return true }

// flakyListener fails Accept with the errors in errs, then accepts from
// the real listener.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func TestAcceptErrors(t *testing.T) {
	checkGoroutines(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := newLogger()
	srv := &agi.Server{Handler: agi.HandlerFunc(channelHandler), Logger: logger}
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(&flakyListener{Listener: inner, errs: []error{tempErr{}, tempErr{}}})
	}()
	// Temporary errors are retried: the server still serves.
	goodCall(t, inner.Addr().String())
	rec := logs.wait(t, "accept error")
	errAttr(t, rec, "too many open files")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, agi.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}

	// Other errors end Serve.
	inner2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("listener broken")
	srv2 := &agi.Server{Handler: agi.HandlerFunc(channelHandler)}
	if err := srv2.Serve(&flakyListener{Listener: inner2, errs: []error{broken}}); !errors.Is(err, broken) {
		t.Errorf("Serve: %v, want the listener's error", err)
	}
}

package agi_test

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

func TestServeMux(t *testing.T) {
	ran := make(chan string, 1)
	mux := agi.NewServeMux()
	mux.HandleFunc("billing", func(ctx context.Context, s *agi.Session) error {
		ran <- "billing account=" + s.Request.Query.Get("account") + " args=" + strings.Join(s.Request.Args, ",")
		return nil
	})
	mux.HandleFunc("/tag/v2/", func(ctx context.Context, s *agi.Session) error {
		ran <- "tag/v2"
		return nil
	})
	mux.HandleFunc("", func(ctx context.Context, s *agi.Session) error {
		ran <- "root"
		return nil
	})
	logger, logs := newLogger()
	addr := serve(t, &agi.Server{Handler: mux, Logger: logger})

	tests := []struct {
		url  string
		args []string
		want string
	}{
		{"agi://127.0.0.1:4573/billing?account=acme", []string{"a", "b c"}, "billing account=acme args=a,b c"},
		{"agi://127.0.0.1/billing", nil, "billing account= args="},
		{"agi://127.0.0.1:4573/tag/v2?x=1", nil, "tag/v2"},
		{"agi://127.0.0.1:4573/", nil, "root"},
		{"agi://127.0.0.1:4573", nil, "root"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if err := agitest.Run(t.Context(), addr, agitest.Env(tt.url, tt.args)); err != nil {
				t.Fatal(err)
			}
			if got := <-ran; got != tt.want {
				t.Errorf("ran %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		err := agitest.Run(t.Context(), addr, agitest.Env("agi://127.0.0.1:4573/nope?x=1", nil),
			agitest.Step{Command: `VERBOSE "agi: no handler for script \"nope\"" 1`, Reply: "200 result=1"})
		if err != nil {
			t.Fatal(err)
		}
		rec := logs.wait(t, "handler error")
		errAttr(t, rec, `agi: no handler for script "nope"`)
		if rec.Attrs["script"] != "nope" || rec.Attrs["channel"] != "SIP/1001-00000024" || rec.Attrs["uniqueid"] != "1795333717.38" {
			t.Errorf("log attributes %v, want script, channel and uniqueid", rec.Attrs)
		}
	})
}

func TestServeMuxHandler(t *testing.T) {
	mux := agi.NewServeMux()
	h := agi.HandlerFunc(func(context.Context, *agi.Session) error { return nil })
	mux.Handle("billing", h)
	if _, path := mux.Handler(agi.NewRequest([]agi.Var{{Name: "agi_network_script", Value: "billing?x=1"}})); path != "billing" {
		t.Errorf("path %q, want billing", path)
	}
	if _, path := mux.Handler(agi.NewRequest([]agi.Var{{Name: "agi_network_script", Value: "other"}})); path != "" {
		t.Errorf("path %q for an unknown script, want \"\"", path)
	}
	for name, f := range map[string]func(){
		"duplicate":   func() { mux.Handle("/billing", h) },
		"nil handler": func() { mux.Handle("x", nil) },
		"nil func":    func() { mux.HandleFunc("y", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestBadPeers: each peer breaks the protocol in its own way; the server
// closes it with a logged reason and goes on serving.
func TestBadPeers(t *testing.T) {
	tests := []struct {
		name string
		// play misbehaves on an open connection.
		play    func(c *agitest.Call) error
		log     string // the message logged
		err     string // in the record's err attribute
		handler bool   // whether the handler runs (and must see an error)
		// timeout is the read timeout the case needs: short when the
		// case waits for it, long otherwise, so that a loaded machine
		// does not turn another error into a timeout.
		timeout time.Duration
	}{
		{
			name: "garbage",
			play: func(c *agitest.Call) error { return c.Send("GET / HTTP/1.1\r\nHost: pbx\r\n\r\n") },
			log:  "bad environment, connection closed",
			err:  "agi: protocol error",
		},
		{
			name: "binary",
			play: func(c *agitest.Call) error { return c.Send("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n") },
			log:  "bad environment, connection closed",
			err:  "agi: protocol error",
		},
		{
			name: "megabyte line",
			play: func(c *agitest.Call) error {
				c.Send("agi_network: yes\nagi_request: " + strings.Repeat("x", 1<<20) + "\n\n")
				return nil // the server may close before it is all written
			},
			log: "bad environment, connection closed",
			err: "agi: line too long",
		},
		{
			name:    "no blank line after the environment",
			play:    func(c *agitest.Call) error { return c.Send("agi_network: yes\nagi_request: agi://x/billing\n") },
			log:     "bad environment, connection closed",
			err:     "i/o timeout",
			timeout: 300 * time.Millisecond,
		},
		{
			name:    "silence",
			play:    func(c *agitest.Call) error { return nil },
			log:     "bad environment, connection closed",
			err:     "i/o timeout",
			timeout: 300 * time.Millisecond,
		},
		{
			name: "environment too large",
			play: func(c *agitest.Call) error {
				c.Send(strings.Repeat("agi_x: "+strings.Repeat("y", 1000)+"\n", 100))
				return nil
			},
			log: "bad environment, connection closed",
			err: "agi: message too large",
		},
		{
			name: "megabyte reply",
			play: func(c *agitest.Call) error {
				if err := c.SendEnv(agitest.Env(billingURL, nil)); err != nil {
					return err
				}
				if _, err := c.ReadCommand(); err != nil {
					return err
				}
				c.Send("200 result=1 (" + strings.Repeat("x", 1<<20) + ")\n")
				return nil
			},
			log:     "handler error",
			err:     "agi: line too long",
			handler: true,
		},
		{
			name: "reply cut short",
			play: func(c *agitest.Call) error {
				if err := c.SendEnv(agitest.Env(billingURL, nil)); err != nil {
					return err
				}
				if _, err := c.ReadCommand(); err != nil {
					return err
				}
				return c.Send("200 result=1 (SIP/1001")
			},
			log:     "handler error",
			err:     "i/o timeout",
			handler: true,
			timeout: 300 * time.Millisecond,
		},
		{
			name: "reply without a status",
			play: func(c *agitest.Call) error {
				if err := c.SendEnv(agitest.Env(billingURL, nil)); err != nil {
					return err
				}
				if _, err := c.ReadCommand(); err != nil {
					return err
				}
				return c.Send("hello\n")
			},
			log:     "handler error",
			err:     "agi: protocol error",
			handler: true,
		},
		{
			name: "reply nobody asked for",
			play: func(c *agitest.Call) error {
				if err := c.SendEnv(agitest.Env(billingURL, nil)); err != nil {
					return err
				}
				if err := c.Send("200 result=1\n"); err != nil {
					return err
				}
				_, err := c.ReadCommand()
				if err == nil {
					return errors.New("the server sent a command after an unexpected reply")
				}
				return nil
			},
			log:     "session ended before its handler",
			err:     "unexpected reply",
			handler: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handlerErrs := make(chan error, 1)
			logger, logs := newLogger()
			addr := serve(t, &agi.Server{
				Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
					if s.Request.Script != "billing" {
						return channelHandler(ctx, s)
					}
					if tt.name == "reply nobody asked for" {
						<-s.Hungup()
						handlerErrs <- s.Err()
						if _, err := s.Command(ctx, "ANSWER"); err == nil {
							return errors.New("a command worked after a protocol error")
						}
						return nil
					}
					_, _, err := s.GetVariable(ctx, "CHANNEL")
					handlerErrs <- err
					return err
				}),
				ReadTimeout:    cmp.Or(tt.timeout, time.Minute),
				MaxMessageSize: 32 << 10,
				Logger:         logger,
			})
			c, err := agitest.Dial(t.Context(), addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := tt.play(c); err != nil {
				t.Fatal(err)
			}
			rec := logs.wait(t, tt.log)
			errAttr(t, rec, tt.err)
			if tt.handler {
				if err := <-handlerErrs; err == nil {
					t.Errorf("the handler saw no error")
				}
			}
			// The server closed the connection.
			c.Timeout = 2 * time.Second
			if _, err := io.ReadAll(readerOf(c)); err != nil && !isReset(err) {
				t.Errorf("connection not closed: %v", err)
			}
			goodCallScript(t, addr)
		})
	}
}

// goodCallScript is goodCall for a server whose billing handler
// misbehaves on purpose: it uses another script.
func goodCallScript(t *testing.T, addr string) {
	t.Helper()
	err := agitest.Run(context.Background(), addr, agitest.Env("agi://127.0.0.1/good", nil),
		agitest.Step{Command: "GET VARIABLE CHANNEL", Reply: "200 result=1 (SIP/1001-00000024)"})
	if err != nil {
		t.Fatalf("a good call after that: %v", err)
	}
}

// readerOf reads what is left on the call's connection until it closes.
func readerOf(c *agitest.Call) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		b, err := c.ReadFull(1)
		if len(b) == 1 {
			p[0] = b[0]
			return 1, nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, io.EOF
		}
		return 0, err
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// isReset reports a connection reset: closing a socket with unread data
// resets it, which is also a close.
func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

func TestAllowedNets(t *testing.T) {
	tests := []struct {
		nets  []string
		allow bool
	}{
		{nil, true},
		{[]string{"10.0.0.0/8"}, false},
		{[]string{"10.0.0.0/8", "127.0.0.0/8"}, true},
		{[]string{"127.0.0.1/32"}, true},
		{[]string{"::1/128"}, false},
		{[]string{"192.168.1.0/24", "::/0"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.nets, ","), func(t *testing.T) {
			var nets []netip.Prefix
			for _, n := range tt.nets {
				nets = append(nets, netip.MustParsePrefix(n))
			}
			logger, logs := newLogger()
			addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(channelHandler), AllowedNets: nets, Logger: logger})
			if tt.allow {
				goodCall(t, addr)
				return
			}
			err := agitest.Run(t.Context(), addr, agitest.Env(billingURL, nil))
			if err != nil && !isReset(err) {
				t.Fatalf("refused call: %v, want the server to close", err)
			}
			rec := logs.wait(t, "connection refused")
			if rec.Attrs["reason"] != "address not allowed" || !strings.HasPrefix(rec.Attrs["remote"], "127.0.0.1:") {
				t.Errorf("log attributes %v", rec.Attrs)
			}
		})
	}
}

func TestMaxConns(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	logger, logs := newLogger()
	addr := serve(t, &agi.Server{
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
			if s.Request.Script == "hold" {
				started <- struct{}{}
				<-release
				return nil
			}
			return channelHandler(ctx, s)
		}),
		MaxConns: 1,
		Logger:   logger,
	})

	held := make(chan error, 1)
	go func() { held <- agitest.Run(context.Background(), addr, agitest.Env("agi://127.0.0.1/hold", nil)) }()
	<-started

	// One connection too many is closed at once.
	c, err := agitest.Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ExpectClose(); err != nil {
		t.Errorf("second connection: %v", err)
	}
	c.Close()
	rec := logs.wait(t, "connection refused")
	if rec.Attrs["reason"] != "too many connections" || rec.Attrs["max_conns"] != "1" {
		t.Errorf("log attributes %v", rec.Attrs)
	}

	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	// The slot is free again once the first session has ended.
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := agitest.Run(context.Background(), addr, agitest.Env(billingURL, nil),
			agitest.Step{Command: "GET VARIABLE CHANNEL", Reply: "200 result=1 (SIP/1001-00000024)"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no call served after the first ended: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIdleTimeout(t *testing.T) {
	type seen struct {
		cmdErr, cause error
	}
	got := make(chan seen, 1)
	logger, logs := newLogger()
	addr := serve(t, &agi.Server{
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
			// A command that runs longer than IdleTimeout is not idle.
			_, err := s.Exec(ctx, "Wait", "1")
			<-ctx.Done() // a stuck handler
			got <- seen{err, context.Cause(ctx)}
			return nil
		}),
		IdleTimeout: 150 * time.Millisecond,
		Logger:      logger,
	})
	c, err := agitest.Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendEnv(agitest.Env(billingURL, nil)); err != nil {
		t.Fatal(err)
	}
	if err := c.Play(agitest.Step{Command: "EXEC Wait 1"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := c.Play(agitest.Step{Reply: "200 result=0"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.ExpectClose(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v, want about the idle timeout", d)
	}
	g := <-got
	if g.cmdErr != nil || g.cause != agi.ErrIdleTimeout {
		t.Errorf("EXEC: %v, cause %v; want nil, ErrIdleTimeout", g.cmdErr, g.cause)
	}
	errAttr(t, logs.wait(t, "session ended before its handler"), "agi: session idle timeout")
}

func TestHandlerErrorAndPanic(t *testing.T) {
	logger, logs := newLogger()
	addr := serve(t, &agi.Server{
		Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
			switch s.Request.Script {
			case "fail":
				return errors.New("billing: no such account")
			case "panic":
				panic("billing: nil map")
			}
			return channelHandler(ctx, s)
		}),
		Logger: logger,
	})
	if err := agitest.Run(t.Context(), addr, agitest.Env("agi://127.0.0.1/fail", nil)); err != nil {
		t.Fatal(err)
	}
	rec := logs.wait(t, "handler error")
	errAttr(t, rec, "billing: no such account")
	if rec.Attrs["script"] != "fail" || rec.Level.String() != "ERROR" {
		t.Errorf("log record %v", rec)
	}

	if err := agitest.Run(t.Context(), addr, agitest.Env("agi://127.0.0.1/panic", nil)); err != nil {
		t.Fatal(err)
	}
	rec = logs.wait(t, "handler panic")
	if rec.Attrs["panic"] != "billing: nil map" || !strings.Contains(rec.Attrs["stack"], "server_test.go") {
		t.Errorf("log record %v", rec)
	}
	goodCall(t, addr)
}

func TestShutdownWaitsForSessions(t *testing.T) {
	checkGoroutines(t)
	release := make(chan struct{})
	started := make(chan struct{})
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		close(started)
		<-release
		return s.Verbose(ctx, "done", 1)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	call := make(chan error, 1)
	go func() {
		call <- agitest.Run(context.Background(), addr, agitest.Env(billingURL, nil),
			agitest.Step{Command: `VERBOSE "done" 1`, Reply: "200 result=1"})
	}()
	<-started

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()

	// Serve returns at once; Shutdown waits for the session.
	if err := <-served; !errors.Is(err, agi.ErrServerClosed) {
		t.Errorf("Serve: %v, want ErrServerClosed", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a session ran", err)
	case <-time.After(100 * time.Millisecond):
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("a new connection was accepted during Shutdown")
	}

	close(release)
	if err := <-call; err != nil {
		t.Errorf("the running session: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := srv.Serve(l); !errors.Is(err, agi.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if err := srv.ListenAndServe(); !errors.Is(err, agi.ErrServerClosed) {
		t.Errorf("ListenAndServe after Shutdown: %v", err)
	}
}

func TestShutdownTimeoutThenClose(t *testing.T) {
	checkGoroutines(t)
	type seen struct{ cause, cmdErr error }
	got := make(chan seen, 1)
	started := make(chan struct{})
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		close(started)
		<-ctx.Done()
		_, err := s.Command(context.Background(), "ANSWER")
		got <- seen{context.Cause(ctx), err}
		return nil
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	c, err := agitest.Dial(t.Context(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendEnv(agitest.Env(billingURL, nil)); err != nil {
		t.Fatal(err)
	}
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want DeadlineExceeded", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	g := <-got
	if g.cause != agi.ErrServerClosed || !errors.Is(g.cmdErr, agi.ErrServerClosed) {
		t.Errorf("after Close: cause %v, command %v; want ErrServerClosed", g.cause, g.cmdErr)
	}
	if err := c.ExpectClose(); err != nil {
		t.Error(err)
	}
	if err := <-served; !errors.Is(err, agi.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func TestServeNilHandler(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := new(agi.Server).Serve(l); err == nil || errors.Is(err, agi.ErrServerClosed) {
		t.Errorf("Serve without a handler: %v", err)
	}
}

func TestListenAndServeDefaultAddr(t *testing.T) {
	checkGoroutines(t)
	srv := &agi.Server{Handler: agi.HandlerFunc(channelHandler)}
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	deadline := time.Now().Add(2 * time.Second)
	for {
		select {
		case err := <-served:
			t.Skipf("cannot listen on %s: %v", agi.DefaultAddr, err)
		default:
		}
		err := agitest.Run(t.Context(), agi.DefaultAddr, agitest.Env(billingURL, nil),
			agitest.Step{Command: "GET VARIABLE CHANNEL", Reply: "200 result=1 (SIP/1001-00000024)"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server on %s: %v", agi.DefaultAddr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, agi.ErrServerClosed) {
		t.Errorf("ListenAndServe: %v", err)
	}
}

// Stats count what a server did: the sessions served, those whose handler
// failed, the connections refused and the bad environments.
func TestStats(t *testing.T) {
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		if len(s.Request.Args) > 0 && s.Request.Args[0] == "fail" {
			return errors.New("no such account")
		}
		return nil
	})}
	addr := serve(t, srv)
	for _, arg := range []string{"ok", "ok", "fail"} {
		if err := agitest.Run(t.Context(), addr, agitest.Env(billingURL, []string{arg})); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
	io.Copy(io.Discard, c)
	c.Close()

	want := agi.Stats{Sessions: 3, Failed: 1, Bad: 1}
	deadline := time.Now().Add(2 * time.Second)
	for srv.Stats() != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := srv.Stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}

	refusing := &agi.Server{Handler: srv.Handler, AllowedNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	raddr := serve(t, refusing)
	agitest.Run(t.Context(), raddr, agitest.Env(billingURL, nil))
	for refusing.Stats().Refused != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := refusing.Stats(); got != (agi.Stats{Refused: 1}) {
		t.Fatalf("refusing server's stats %+v", got)
	}
}

package agi_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

// serve runs srv on a loopback port until the test ends, and checks then
// that Serve returned ErrServerClosed and that no goroutine was left.
func serve(t *testing.T, srv *agi.Server) string {
	t.Helper()
	checkGoroutines(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			srv.Close()
		}
		if err := <-done; !errors.Is(err, agi.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// checkGoroutines fails the test if it ends with more goroutines than it
// started with. Cleanups run last-in first-out: call it before anything
// that starts goroutines registers its own cleanup.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines left running, %d before the test:\n%s", n, before, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// logRecorder is a slog.Handler that keeps every record, with its
// attributes as strings, for tests to look for.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
	changed chan struct{}
}

type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func newLogger() (*slog.Logger, *logRecorder) {
	r := &logRecorder{changed: make(chan struct{})}
	return slog.New(r), r
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { panic("not used") }
func (r *logRecorder) WithGroup(string) slog.Handler            { panic("not used") }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	lr := logRecord{Level: rec.Level, Msg: rec.Message, Attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		lr.Attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, lr)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// wait returns the first record with message msg, waiting for it.
func (r *logRecorder) wait(t *testing.T, msg string) logRecord {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		for _, rec := range r.records {
			if rec.Msg == msg {
				r.mu.Unlock()
				return rec
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("no log record %q; have %v", msg, r.all())
		}
	}
}

func (r *logRecorder) all() []logRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logRecord(nil), r.records...)
}

// errAttr checks that rec has an err attribute that contains want.
func errAttr(t *testing.T, rec logRecord, want string) {
	t.Helper()
	if got := rec.Attrs["err"]; !strings.Contains(got, want) {
		t.Errorf("log %q: err = %q, want it to contain %q", rec.Msg, got, want)
	}
}

const billingURL = "agi://127.0.0.1:4573/billing?account=acme"

// goodCall plays a one-command session, to show that a server still
// serves after a bad peer.
func goodCall(t *testing.T, addr string) {
	t.Helper()
	err := agitest.Run(context.Background(), addr, agitest.Env(billingURL, nil),
		agitest.Step{Command: "GET VARIABLE CHANNEL", Reply: "200 result=1 (SIP/1001-00000024)"})
	if err != nil {
		t.Fatalf("a good call after that: %v", err)
	}
}

// channelHandler answers GET VARIABLE CHANNEL and returns, the handler
// goodCall expects.
func channelHandler(ctx context.Context, s *agi.Session) error {
	v, ok, err := s.GetVariable(ctx, "CHANNEL")
	if err != nil {
		return err
	}
	if !ok || v != "SIP/1001-00000024" {
		return fmt.Errorf("GET VARIABLE CHANNEL = %q, %v", v, ok)
	}
	return nil
}

package agi

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// A Handler runs one FastAGI session: it reads s.Request and sends
// commands on s until it is done, then returns. The server closes the
// connection when ServeAGI returns, and Asterisk goes on with the
// dialplan.
//
// A Handler returns an error instead of logging it: the Server logs every
// handler error in one place, with the session's channel and script.
//
// ctx is cancelled when the connection ends, when Server.Close is called
// or when the session is idle for Server.IdleTimeout; context.Cause tells
// which. It is not cancelled when the caller hangs up, because Asterisk
// still answers commands then: a billing handler usually wants to read
// the CDR after the hangup. Watch s.Hungup for that.
type Handler interface {
	ServeAGI(ctx context.Context, s *Session) error
}

// The HandlerFunc type is an adapter to use an ordinary function as a
// Handler.
type HandlerFunc func(ctx context.Context, s *Session) error

// ServeAGI calls f(ctx, s).
func (f HandlerFunc) ServeAGI(ctx context.Context, s *Session) error { return f(ctx, s) }

// NotFound tells Asterisk, in its verbose log, that no handler serves the
// requested script, and returns an error wrapping ErrNoHandler, which the
// server logs. The session then ends and Asterisk goes on with the
// dialplan.
func NotFound(ctx context.Context, s *Session) error {
	err := fmt.Errorf("%w %q", ErrNoHandler, s.Request.Script)
	if verr := s.Verbose(ctx, err.Error(), 1); verr != nil {
		return fmt.Errorf("%w (%w)", err, verr)
	}
	return err
}

// NotFoundHandler returns a Handler that runs NotFound.
func NotFoundHandler() Handler { return HandlerFunc(NotFound) }

// ServeMux routes a session to the Handler registered for its script
// path, Request.Script: "billing" for AGI(agi://host/billing?account=x).
// Paths match exactly, without their leading and trailing slashes. A
// session whose script has no handler gets NotFound.
type ServeMux struct {
	mu sync.RWMutex
	m  map[string]Handler
}

// NewServeMux returns an empty ServeMux.
func NewServeMux() *ServeMux { return &ServeMux{m: make(map[string]Handler)} }

// Handle registers h for the script path. It panics if h is nil or the
// path already has a handler.
func (mux *ServeMux) Handle(path string, h Handler) {
	if h == nil {
		panic("agi: nil handler")
	}
	path = strings.Trim(path, "/")
	mux.mu.Lock()
	defer mux.mu.Unlock()
	if mux.m == nil {
		mux.m = make(map[string]Handler)
	}
	if _, dup := mux.m[path]; dup {
		panic("agi: multiple registrations for script " + path)
	}
	mux.m[path] = h
}

// HandleFunc registers f for the script path.
func (mux *ServeMux) HandleFunc(path string, f func(ctx context.Context, s *Session) error) {
	if f == nil {
		panic("agi: nil handler")
	}
	mux.Handle(path, HandlerFunc(f))
}

// Handler returns the handler for r and the path it is registered for,
// or NotFoundHandler and "".
func (mux *ServeMux) Handler(r *Request) (h Handler, path string) {
	mux.mu.RLock()
	defer mux.mu.RUnlock()
	if h, ok := mux.m[r.Script]; ok {
		return h, r.Script
	}
	return NotFoundHandler(), ""
}

// ServeAGI runs the handler registered for s.Request.Script.
func (mux *ServeMux) ServeAGI(ctx context.Context, s *Session) error {
	h, _ := mux.Handler(s.Request)
	return h.ServeAGI(ctx, s)
}

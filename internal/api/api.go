// Package api serves calltrail's records over HTTP: a JSON API under
// /api/v1 (calls, diagrams, timelines, reports, prepaid accounts, the
// daemon's status and its calls in progress as server-sent events),
// Prometheus metrics at /metrics, and the /healthz and /readyz probes. It
// is a plain http.Handler; the caller owns the http.Server.
//
// Everything but the probes needs a bearer token: the read token for
// reads, the admin token for top-ups (the admin token reads too). The
// routes are described in docs/api.md and in the OpenAPI document served at
// /api/v1/openapi.json.
package api

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/daemon"
	"github.com/calltrail/calltrail/internal/store"
	"github.com/shopspring/decimal"
)

// A Store is what the API reads and tops up: a *store.Store, or a fake in
// tests.
type Store interface {
	Call(ctx context.Context, server, id string) (*callgraph.Call, error)
	Calls(ctx context.Context, f store.Filter) ([]*callgraph.Call, error)
	Iterate(ctx context.Context, f store.Filter) iter.Seq2[*callgraph.Call, error]
	Accounts(ctx context.Context) ([]store.Account, error)
	Funds(ctx context.Context, name string) (store.Funds, error)
	TopUp(ctx context.Context, name string, amount decimal.Decimal, note string) (store.Account, error)
	Rerate(ctx context.Context, f store.Filter, opts store.RerateOptions, rate func(*callgraph.Call) []callgraph.Billing) (store.RerateRun, error)
	Ping(ctx context.Context) error
}

// Options configure the handler. Store is required.
type Options struct {
	Store Store
	// Status, when not nil, reports the daemon's state: the API runs
	// inside calltrail serve. Without it /api/v1/status answers 404 and
	// /metrics has no daemon metrics.
	Status func() daemon.Status
	// ReadToken and AdminToken are the bearer tokens. The admin token
	// also reads. With neither set, reads need no token (see CheckAddr)
	// and top-ups are refused.
	ReadToken, AdminToken string
	// Live, when not nil, returns the calls in progress (records with
	// Complete false and the legs so far), for /api/v1/live; without it
	// that route answers 404.
	Live func() []*callgraph.Call
	// LivePeriod is how often /api/v1/live sends a snapshot; 1 s when
	// zero.
	LivePeriod time.Duration
	// Shutdown, when closed, ends the live streams. Close it when the
	// server shuts down (http.Server.RegisterOnShutdown): Shutdown waits
	// for every request to end, and a stream would not.
	Shutdown <-chan struct{}
	// Billing is who pays when POST /api/v1/rerate prices calls again
	// (serve's billing settings); billing.DefaultConfig() when zero. A
	// request may override each setting.
	Billing billing.Config
	// PingTimeout bounds the database ping of /readyz; 2 s when zero.
	PingTimeout time.Duration
	// Logger receives internal errors. Nil means silent.
	Logger *slog.Logger
}

// Limits of GET /api/v1/calls.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ErrNoToken is returned by CheckAddr for an address other hosts can reach
// when no token is set.
var ErrNoToken = errors.New("api: listening beyond loopback needs a token")

// CheckAddr reports whether the API may listen on addr (host:port) with
// the tokens of o: any address with a token, only a loopback one without.
func (o Options) CheckAddr(addr string) error {
	if o.ReadToken != "" || o.AdminToken != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("api: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w (%s): give a token file or listen on 127.0.0.1", ErrNoToken, addr)
}

//go:embed openapi.json
var openAPI []byte

type server struct {
	o   Options
	mux *http.ServeMux
}

// New returns the handler of every route.
func New(o Options) (http.Handler, error) {
	if o.Store == nil {
		return nil, errors.New("api: no store")
	}
	if o.PingTimeout == 0 {
		o.PingTimeout = 2 * time.Second
	}
	if o.LivePeriod == 0 {
		o.LivePeriod = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{o: o, mux: http.NewServeMux()}
	s.handle("GET /healthz", none, s.healthz)
	s.handle("GET /readyz", none, s.readyz)
	s.mux.Handle("GET /metrics", s.auth(read, newMetricsHandler(o)))
	s.handle("GET /api/v1/openapi.json", read, s.openapi)
	s.handle("GET /api/v1/calls", read, s.calls)
	s.handle("GET /api/v1/calls/{server}/{id}", read, s.call)
	s.handle("GET /api/v1/calls/{server}/{id}/diagram", read, s.diagram)
	s.handle("GET /api/v1/calls/{server}/{id}/timeline", read, s.timeline)
	s.handle("GET /api/v1/causes", read, s.causes)
	s.handle("GET /api/v1/reports/{name}", read, s.report)
	s.handle("GET /api/v1/accounts", read, s.accounts)
	s.handle("GET /api/v1/accounts/{name}", read, s.account)
	s.handle("POST /api/v1/accounts/{name}/topup", admin, s.topUp)
	s.handle("POST /api/v1/rerate", admin, s.rerate)
	s.handle("GET /api/v1/status", read, s.status)
	s.handle("GET /api/v1/live", read, s.live)
	return s, nil
}

// ServeHTTP answers unmatched paths and methods in JSON too.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r) // sets the path values
		return
	}
	// The mux's own 404 or 405 (with its Allow header): keep the status,
	// answer in JSON.
	sw := &statusWriter{header: w.Header()}
	h.ServeHTTP(sw, r)
	w.Header().Del("X-Content-Type-Options")
	msg := "no such route"
	if sw.status == http.StatusMethodNotAllowed {
		msg = "method " + r.Method + " not allowed"
	}
	writeError(w, &Error{Status: sw.status, Msg: msg})
}

type statusWriter struct {
	header http.Header
	status int
}

func (w *statusWriter) Header() http.Header         { return w.header }
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(status int)      { w.status = status }

// An Error is an answer other than 200: its status and a message for the
// client.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func badParam(name, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Msg: name + ": " + fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Msg: fmt.Sprintf(format, args...)}
}

// A handlerFunc answers a request or returns an error, which handle
// writes (and logs when it is not an *Error).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type access int

const (
	none access = iota
	read
	admin
)

func (s *server) handle(pattern string, a access, h handlerFunc) {
	s.mux.Handle(pattern, s.auth(a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				s.o.Logger.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
				e = &Error{Status: http.StatusInternalServerError, Msg: "internal error"}
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					e = &Error{Status: http.StatusServiceUnavailable, Msg: "request cancelled or timed out"}
				}
			}
			writeError(w, e)
		}
	})))
}

// auth checks the bearer token a route needs.
func (s *server) auth(a access, h http.Handler) http.Handler {
	if a == none {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.check(a, r); err != nil {
			if err.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="calltrail"`)
			}
			writeError(w, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *server) check(a access, r *http.Request) *Error {
	open := s.o.ReadToken == "" && s.o.AdminToken == ""
	if open && a == read {
		return nil
	}
	got, ok := bearer(r)
	if !ok {
		return &Error{Status: http.StatusUnauthorized, Msg: "missing bearer token"}
	}
	isAdmin := equal(got, s.o.AdminToken)
	isRead := equal(got, s.o.ReadToken)
	switch {
	case isAdmin:
		return nil
	case !isRead:
		return &Error{Status: http.StatusUnauthorized, Msg: "bad token"}
	case a == admin:
		return &Error{Status: http.StatusForbidden, Msg: "this needs the admin token"}
	}
	return nil
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// equal compares a token in constant time; an unset token matches nothing.
func equal(got, want string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	return enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, struct {
		Error string `json:"error"`
	}{e.Msg})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database answers a ping and every Asterisk
// is connected.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) error {
	var reasons []string
	ctx, cancel := context.WithTimeout(r.Context(), s.o.PingTimeout)
	defer cancel()
	if err := s.o.Store.Ping(ctx); err != nil {
		reasons = append(reasons, "database does not answer")
	}
	if s.o.Status != nil {
		for _, src := range s.o.Status().Sources {
			if !src.Connected {
				reasons = append(reasons, "asterisk "+src.ID+" not connected")
			}
		}
	}
	if len(reasons) > 0 {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"status": "unready", "reason": strings.Join(reasons, "; "),
		})
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

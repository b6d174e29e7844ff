package agi

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxCommandLength bounds a command line without its "\n". Asterisk reads
// a command with fgets into an 8 KiB buffer: a longer line would be cut,
// and its tail run as a second command.
const maxCommandLength = 8190

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked
// read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// A Session is one FastAGI connection from Asterisk: the Request it
// started with, and the commands a Handler sends on the channel.
//
// Commands are sent one at a time; a Session is safe for concurrent use,
// but concurrent commands wait for each other. A command whose context
// ends before its reply arrives returns at once; the session stays usable
// and drops that reply when it comes.
//
// Asterisk sends HANGUP, unasked, when the channel hangs up. The session
// reads it at any moment, also while no command is in flight, and closes
// Hungup. Commands still work after that as far as Asterisk allows:
// GET VARIABLE and VERBOSE still get their replies, while commands that
// need a live channel fail with ErrDeadChannel.
type Session struct {
	// Request is the environment Asterisk sent.
	Request *Request

	conn         net.Conn
	br           *bufio.Reader // the connection's only reader, owned by readLoop
	maxLine      int
	maxSize      int
	readTimeout  time.Duration
	writeTimeout time.Duration
	idleTimeout  time.Duration
	ctx          context.Context
	cancel       context.CancelCauseFunc

	sem     chan struct{} // held by the command in flight
	replies chan *Reply   // readLoop → the command waiting
	done    chan struct{} // closed when readLoop returns

	mu        sync.Mutex
	inflight  int  // commands sent whose replies have not arrived
	abandoned int  // of those, the ones whose callers went away
	hangup    bool // Asterisk sent HANGUP
	hungup    chan struct{}
	err       error // why the session ended; nil while it runs
	idle      *time.Timer
}

type sessionConfig struct {
	maxLine, maxSize                       int
	readTimeout, writeTimeout, idleTimeout time.Duration
}

func newSession(ctx context.Context, cancel context.CancelCauseFunc, conn net.Conn, br *bufio.Reader, req *Request, cfg sessionConfig) *Session {
	s := &Session{
		Request:      req,
		conn:         conn,
		br:           br,
		maxLine:      cfg.maxLine,
		maxSize:      cfg.maxSize,
		readTimeout:  cfg.readTimeout,
		writeTimeout: cfg.writeTimeout,
		idleTimeout:  cfg.idleTimeout,
		ctx:          ctx,
		cancel:       cancel,
		sem:          make(chan struct{}, 1),
		replies:      make(chan *Reply, 1),
		done:         make(chan struct{}),
		hungup:       make(chan struct{}),
	}
	if s.idleTimeout > 0 {
		s.idle = time.AfterFunc(s.idleTimeout, func() { s.abort(ErrIdleTimeout) })
	}
	// Close ends the session by cancelling its context.
	context.AfterFunc(ctx, func() { s.abort(context.Cause(ctx)) })
	go s.readLoop()
	return s
}

// Hungup returns a channel that is closed when Asterisk reports that the
// channel hung up, or when the connection ends. Err tells which.
func (s *Session) Hungup() <-chan struct{} { return s.hungup }

// Err returns nil while the channel is up, ErrHangup once Asterisk has
// sent HANGUP, and otherwise why the connection ended.
func (s *Session) Err() error {
	s.mu.Lock()
	hangup := s.hangup
	s.mu.Unlock()
	if hangup {
		return ErrHangup
	}
	return s.failure()
}

// readLoop reads every line Asterisk sends for the life of the session:
// HANGUP whenever it comes, and replies, which it hands to the command
// waiting for them.
func (s *Session) readLoop() {
	defer close(s.done)
	for {
		// Between replies the connection may stay quiet for as long as
		// a command runs (EXEC Dial can take an hour); once a reply has
		// started, it must arrive within the read timeout.
		s.conn.SetReadDeadline(time.Time{})
		if _, err := s.br.Peek(1); err != nil {
			s.readFailed(err)
			return
		}
		if s.readTimeout > 0 {
			s.conn.SetReadDeadline(time.Now().Add(s.readTimeout))
		}
		r, hangup, err := readReply(s.br, s.maxLine, s.maxSize)
		if err != nil {
			s.readFailed(err)
			return
		}
		if hangup {
			s.markHangup()
			continue
		}
		if r.Code < 200 {
			continue // "100 result=0 Trying..." before GOSUB's final reply
		}
		if !s.deliver(r) {
			s.abort(fmt.Errorf("%w: unexpected reply %q", ErrProtocol, quoteForLog([]byte(r.Raw))))
			return
		}
	}
}

// readFailed ends the session after a read error. If the session's
// context was cancelled first (Server.Close), the read failed because of
// it: the cause is the reason.
func (s *Session) readFailed(err error) {
	if cause := context.Cause(s.ctx); cause != nil {
		err = cause
	} else {
		err = fmt.Errorf("agi: read reply: %w", err)
	}
	s.abort(err)
}

// deliver hands r to the command waiting for it, or drops it if that
// command has gone. It reports false when no command was sent.
func (s *Session) deliver(r *Reply) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == 0 {
		return false
	}
	s.inflight--
	if s.abandoned > 0 {
		s.abandoned--
		return true
	}
	select {
	case s.replies <- r:
		return true
	default:
		return false
	}
}

func (s *Session) markHangup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hangup && s.err == nil {
		close(s.hungup)
	}
	s.hangup = true
}

// fail records why the session ended, the first reason only, and
// cancels its context with it.
func (s *Session) fail(err error) {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = err
		if !s.hangup {
			close(s.hungup)
		}
		if s.idle != nil {
			s.idle.Stop()
		}
	}
	s.mu.Unlock()
	if first {
		s.cancel(err)
	}
}

// failure returns why the session ended, or nil. A session whose context
// was cancelled (by Server.Close) has ended even if its read loop has
// not noticed yet.
func (s *Session) failure() error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err == nil && s.ctx.Err() != nil {
		s.abort(context.Cause(s.ctx))
		s.mu.Lock()
		err = s.err
		s.mu.Unlock()
	}
	return err
}

// abort ends the session from outside the read loop.
func (s *Session) abort(err error) {
	s.fail(err)
	s.conn.Close()
}

// finish ends the session after its handler returned and waits for the
// read loop. It returns why the session had ended before, if it had.
func (s *Session) finish() error {
	s.mu.Lock()
	early := s.err
	s.mu.Unlock()
	s.abort(ErrSessionClosed)
	<-s.done
	return early
}

// Command sends the command cmd, such as "GET VARIABLE", with args, and
// returns Asterisk's reply. Each argument is quoted if it is empty or
// holds a space, a tab, a double quote or a backslash, the way
// Asterisk's parser undoes it. An argument may not hold a line break or
// a NUL byte, and the line may not be longer than Asterisk reads.
//
// A final reply other than 2xx is returned with a *ReplyError. Interim
// replies ("100 result=0 Trying..." from GOSUB) are skipped.
func (s *Session) Command(ctx context.Context, cmd string, args ...string) (*Reply, error) {
	line, err := commandLine(cmd, args, false)
	if err != nil {
		return nil, err
	}
	return s.roundTrip(ctx, cmd, line)
}

func commandLine(cmd string, args []string, quoteAll bool) ([]byte, error) {
	if cmd == "" || strings.ContainsAny(cmd, "\r\n\x00") {
		return nil, fmt.Errorf("agi: invalid command name %q", cmd)
	}
	b := make([]byte, 0, 64)
	b = append(b, cmd...)
	for i, a := range args {
		if strings.ContainsAny(a, "\n\x00") {
			return nil, fmt.Errorf("agi: %s: argument %d holds a line break or NUL byte", cmd, i+1)
		}
		b = append(b, ' ')
		b = appendArg(b, a, quoteAll)
	}
	if len(b) > maxCommandLength {
		return nil, fmt.Errorf("agi: %s: command is %d bytes, more than Asterisk reads (%d)", cmd, len(b), maxCommandLength)
	}
	return append(b, '\n'), nil
}

// appendArg appends a as one argument of Asterisk's AGI parser, which
// splits on spaces and tabs outside double quotes and takes the byte
// after a backslash literally.
func appendArg(b []byte, a string, quote bool) []byte {
	if !quote && a != "" && !strings.ContainsAny(a, " \t\"\\") {
		return append(b, a...)
	}
	b = append(b, '"')
	for i := 0; i < len(a); i++ {
		if a[i] == '"' || a[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, a[i])
	}
	return append(b, '"')
}

func (s *Session) roundTrip(ctx context.Context, name string, line []byte) (*Reply, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("agi: %s: %w", name, ctx.Err())
	}
	defer func() { <-s.sem }()

	if err := s.failure(); err != nil {
		return nil, fmt.Errorf("agi: %s: %w", name, err)
	}
	s.mu.Lock()
	s.inflight++
	if s.idle != nil {
		s.idle.Stop()
	}
	s.mu.Unlock()
	defer s.resetIdle()

	if err := s.write(ctx, line); err != nil {
		if ended := s.failure(); ended != nil {
			return nil, fmt.Errorf("agi: %s: %w", name, ended)
		}
		// Asterisk may hold half a command: nothing can follow it.
		err = fmt.Errorf("agi: %s: %w", name, err)
		s.abort(err)
		return nil, err
	}

	select {
	case r := <-s.replies:
		return replyResult(name, r)
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-s.replies: // it came after all; nobody wants it
		default:
			s.abandoned++
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			// The session ended, which may be why ctx did: say why.
			return nil, fmt.Errorf("agi: %s: %w", name, err)
		}
		return nil, fmt.Errorf("agi: %s: %w", name, ctx.Err())
	case <-s.done:
		select {
		case r := <-s.replies:
			return replyResult(name, r)
		default:
		}
		return nil, fmt.Errorf("agi: %s: %w", name, s.failure())
	}
}

func replyResult(name string, r *Reply) (*Reply, error) {
	if r.Code < 200 || r.Code > 299 {
		return r, &ReplyError{Command: name, Code: r.Code, Reply: r}
	}
	return r, nil
}

// write writes one command line within the write timeout and ctx.
func (s *Session) write(ctx context.Context, line []byte) error {
	var deadline time.Time
	if s.writeTimeout > 0 {
		deadline = time.Now().Add(s.writeTimeout)
	}
	s.conn.SetWriteDeadline(deadline)
	// ctx's end, deadline or not, wakes the write through AfterFunc.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		s.conn.SetWriteDeadline(aLongTimeAgo)
		close(fired)
	})
	_, err := s.conn.Write(line)
	if !stop() {
		<-fired
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (s *Session) resetIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle != nil && s.err == nil {
		s.idle.Reset(s.idleTimeout)
	}
}

// GetVariable returns the value of the channel variable or function
// name, such as "CDR(accountcode)", and whether it is set.
func (s *Session) GetVariable(ctx context.Context, name string) (string, bool, error) {
	r, err := s.Command(ctx, "GET VARIABLE", name)
	if err != nil {
		return "", false, err
	}
	return r.Data, r.Result == 1, nil
}

// GetFullVariable evaluates expr, which may hold several ${…}
// expressions: "${CALLERID(num)}/${CDR(start)}". It reports false if
// Asterisk could not evaluate it.
func (s *Session) GetFullVariable(ctx context.Context, expr string) (string, bool, error) {
	r, err := s.Command(ctx, "GET FULL VARIABLE", expr)
	if err != nil {
		return "", false, err
	}
	return r.Data, r.Result == 1, nil
}

// SetVariable sets the channel variable or function name to value:
// SetVariable(ctx, "CDR(accountcode)", "acme").
func (s *Session) SetVariable(ctx context.Context, name, value string) error {
	r, err := s.Command(ctx, "SET VARIABLE", name, value)
	if err != nil {
		return err
	}
	if r.Result != 1 {
		return fmt.Errorf("agi: SET VARIABLE %s: result %s", name, r.ResultText)
	}
	return nil
}

// Verbose logs msg in Asterisk's console and full log at verbosity level
// (1 to 4).
func (s *Session) Verbose(ctx context.Context, msg string, level int) error {
	// Quoted even when it need not be, as other AGI libraries do.
	line, err := commandLine("VERBOSE", []string{msg}, true)
	if err != nil {
		return err
	}
	line = append(line[:len(line)-1], " "+strconv.Itoa(level)+"\n"...)
	if len(line)-1 > maxCommandLength {
		return fmt.Errorf("agi: VERBOSE: command is %d bytes, more than Asterisk reads (%d)", len(line)-1, maxCommandLength)
	}
	_, err = s.roundTrip(ctx, "VERBOSE", line)
	return err
}

// Exec runs the dialplan application app with args, which Asterisk
// receives joined by commas as the dialplan writes them:
// Exec(ctx, "Wait", "5"). It returns the application's result: 0 to go
// on, -1 when the application wants the channel hung up, which is also
// what most return when the caller has gone. An unknown application is
// an error.
func (s *Session) Exec(ctx context.Context, app string, args ...string) (int, error) {
	cmdArgs := []string{app}
	if len(args) > 0 {
		cmdArgs = append(cmdArgs, strings.Join(args, ","))
	}
	r, err := s.Command(ctx, "EXEC", cmdArgs...)
	if err != nil {
		return 0, err
	}
	if r.Result == -2 {
		return r.Result, fmt.Errorf("agi: EXEC %s: no such application", app)
	}
	return r.Result, nil
}

// Answer answers the channel if it is not up yet. Asterisk answers -1
// when the channel has gone; Answer then returns an error matching
// ErrHangup.
func (s *Session) Answer(ctx context.Context) error {
	r, err := s.Command(ctx, "ANSWER")
	if err != nil {
		return err
	}
	if r.Result < 0 {
		return fmt.Errorf("agi: ANSWER: result %d: %w", r.Result, ErrHangup)
	}
	return nil
}

// Hangup hangs up the channel. Asterisk then sends HANGUP, and commands
// that need a live channel fail with ErrDeadChannel.
func (s *Session) Hangup(ctx context.Context) error {
	r, err := s.Command(ctx, "HANGUP")
	if err != nil {
		return err
	}
	if r.Result != 1 {
		return fmt.Errorf("agi: HANGUP: result %s", r.ResultText)
	}
	return nil
}

// ChannelStatus returns the state of the channel.
func (s *Session) ChannelStatus(ctx context.Context) (ChannelState, error) {
	r, err := s.Command(ctx, "CHANNEL STATUS")
	if err != nil {
		return 0, err
	}
	if r.Result < 0 {
		return 0, fmt.Errorf("agi: CHANNEL STATUS: result %d: no such channel", r.Result)
	}
	return ChannelState(r.Result), nil
}

// A ChannelState is the state of a channel as CHANNEL STATUS reports it
// (Asterisk's enum ast_channel_state).
type ChannelState int

// Channel states.
const (
	StateDown           ChannelState = iota // down and available
	StateReserved                           // down, but reserved
	StateOffHook                            // off hook
	StateDialing                            // digits have been dialed
	StateRing                               // the line is ringing: an incoming call not answered yet
	StateRinging                            // the remote end is ringing
	StateUp                                 // answered
	StateBusy                               // the line is busy
	StateDialingOffHook                     // digits dialed while off hook
	StatePreRing                            // channel has detected an incoming call and is waiting for ring
)

var stateNames = [...]string{"Down", "Reserved", "OffHook", "Dialing", "Ring", "Ringing", "Up", "Busy", "DialingOffHook", "PreRing"}

func (st ChannelState) String() string {
	if st >= 0 && int(st) < len(stateNames) {
		return stateNames[st]
	}
	return "ChannelState(" + strconv.Itoa(int(st)) + ")"
}

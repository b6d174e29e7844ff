package agi

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of the package. Compare with errors.Is: the package wraps them
// with the command or the line that caused them.
var (
	// ErrServerClosed is returned by Serve and ListenAndServe after
	// Shutdown or Close, and is the cause of a session's context when
	// Close ends it.
	ErrServerClosed = errors.New("agi: server closed")

	// ErrHangup reports that Asterisk sent HANGUP: the channel is gone,
	// though Asterisk still answers commands (see Session.Hungup).
	ErrHangup = errors.New("agi: channel hung up")

	// ErrInvalidCommand matches a 510 reply: Asterisk does not know the
	// command.
	ErrInvalidCommand = errors.New("agi: invalid or unknown command")

	// ErrDeadChannel matches a 511 reply: the command is not permitted
	// on a channel that has hung up.
	ErrDeadChannel = errors.New("agi: command not permitted on a dead channel")

	// ErrUsage matches a 520 reply: the command's arguments are wrong.
	ErrUsage = errors.New("agi: invalid command syntax")

	// ErrProtocol reports bytes that are not FastAGI: a malformed
	// environment line, a reply without a status code, a reply nobody
	// asked for.
	ErrProtocol = errors.New("agi: protocol error")

	// ErrLineTooLong and ErrMessageTooLarge report a peer that exceeded
	// Server.MaxLineLength or Server.MaxMessageSize.
	ErrLineTooLong     = errors.New("agi: line too long")
	ErrMessageTooLarge = errors.New("agi: message too large")

	// ErrIdleTimeout is the cause of a session's context when the
	// handler sent no command for Server.IdleTimeout.
	ErrIdleTimeout = errors.New("agi: session idle timeout")

	// ErrNoHandler is returned by NotFound: no handler is registered for
	// the script path Asterisk asked for.
	ErrNoHandler = errors.New("agi: no handler for script")

	// ErrSessionClosed is returned by a Session's commands once its
	// handler has returned.
	ErrSessionClosed = errors.New("agi: session closed")
)

// A ReplyError is a final reply whose code is not 2xx: 510, 511, 520 or
// another code Asterisk or a module uses (app_stack sends 503 when out of
// memory). It matches ErrInvalidCommand, ErrDeadChannel and ErrUsage
// under errors.Is according to its code.
type ReplyError struct {
	Command string // the command's name, without its arguments
	Code    int
	Reply   *Reply
}

// Error returns the command, the code and the first line of the text:
// "agi: GET VARIABLE: 511 Command Not Permitted on a dead channel or
// intercept routine".
func (e *ReplyError) Error() string {
	text, _, _ := strings.Cut(e.Reply.Text, "\n")
	return strings.TrimSuffix(fmt.Sprintf("agi: %s: %d %s", e.Command, e.Code, text), " ")
}

// Is reports whether target is the sentinel error for e's code.
func (e *ReplyError) Is(target error) bool {
	switch e.Code {
	case 510:
		return target == ErrInvalidCommand
	case 511:
		return target == ErrDeadChannel
	case 520:
		return target == ErrUsage
	}
	return false
}

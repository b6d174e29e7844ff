package ami

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrAuth matches, with errors.Is, every error of a login that
	// Asterisk refused; errors.As with an *AuthError gives the details.
	ErrAuth = errors.New("ami: authentication failed")

	// ErrClosed is the reason a connection gives when it was closed by
	// Close, and the error of actions sent on it afterwards.
	ErrClosed = errors.New("ami: connection closed")

	// ErrClosedByPeer is the reason a connection gives when Asterisk
	// closed it (a restart, a Logoff, a write timeout on its side).
	ErrClosedByPeer = errors.New("ami: connection closed by asterisk")

	// ErrSlowConsumer is the reason a connection gives when it dropped
	// itself because its event buffer was full, see Config.EventBuffer.
	ErrSlowConsumer = errors.New("ami: event buffer full, consumer too slow")

	// ErrClientStopped is returned by a Client's actions once Run has
	// returned.
	ErrClientStopped = errors.New("ami: client stopped")
)

// A ResponseError is a "Response: Error" to an action.
type ResponseError struct {
	Action   string   // the action's name, e.g. "BridgeInfo"
	Message  string   // Asterisk's Message, e.g. "Specified BridgeUniqueid not found"
	Response *Message // the whole response
}

func (e *ResponseError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("ami: %s: error response", e.Action)
	}
	return fmt.Sprintf("ami: %s: %s", e.Action, e.Message)
}

// An AuthError reports that Asterisk refused a login: a wrong username or
// secret, an ACL, or an MD5 challenge it would not grant. It matches
// ErrAuth with errors.Is, and unwraps to the *ResponseError.
type AuthError struct {
	Addr     string // the address dialled
	Username string
	Err      *ResponseError
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("ami: %s: login as %q refused: %s", e.Addr, e.Username, e.Err.Message)
}

// Is reports whether target is ErrAuth.
func (e *AuthError) Is(target error) bool { return target == ErrAuth }

// Unwrap returns the response error.
func (e *AuthError) Unwrap() error { return e.Err }

// A wrapError puts context in front of an error, dropping the error's own
// "ami: " so that the prefix appears once: "ami: 127.0.0.1:5038:
// connection closed by asterisk", not "ami: 127.0.0.1:5038: ami: …".
type wrapError struct {
	prefix, suffix string
	err            error
}

func (e *wrapError) Error() string {
	return e.prefix + ": " + strings.TrimPrefix(e.err.Error(), "ami: ") + e.suffix
}

func (e *wrapError) Unwrap() error { return e.err }

// wrap returns err with the context prefix (which starts with "ami: ").
func wrap(err error, prefix string) error { return &wrapError{prefix: prefix, err: err} }

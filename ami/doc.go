// Package ami is a client for the Asterisk Manager Interface, the
// line-based TCP protocol (port 5038, 5039 with TLS) through which
// Asterisk reports every channel, bridge, dial, transfer and queue event
// and accepts actions.
//
// The package is layered like net/textproto and pgx: a Reader and
// WriteMessage frame messages on any byte stream; a Conn is one logged-in
// connection that matches responses to actions by ActionID while events
// keep flowing; a Client keeps a Conn alive across failures, with
// jittered backoff, and marks every connect and disconnect in its event
// stream so that a consumer knows events may be missing.
//
// AMI messages look like MIME headers but are not: keys repeat
// (Variable, ChanVariable, Output), keep their case, and some lines
// (ChanVariable(PJSIP/100-0001): foo=bar) are not valid MIME. A Message is
// therefore an ordered list of fields with case-insensitive lookups.
//
// The package imports only the standard library.
package ami

// Package ami is a client for the Asterisk Manager Interface, the
// line-based TCP protocol (port 5038, 5039 with TLS) through which
// Asterisk reports every channel, bridge, dial, transfer and queue event
// and accepts actions.
//
// The package is layered like net/textproto and pgx, each layer usable
// and tested without the one above it:
//
//   - Reader and WriteMessage frame messages on any byte stream, such as
//     a capture file. No network.
//   - A Conn, from Dial, is one logged-in connection: it matches
//     responses to actions by ActionID (Do, DoList) while events keep
//     flowing to a channel (Events).
//   - A Client keeps a Conn alive across failures: Run reconnects with
//     jittered exponential backoff, logs in again before any other
//     action, and marks every connect and disconnect in its event stream.
//
// Package amitest provides a fake Asterisk, on a real loopback socket,
// to test code that uses this package.
//
// # Messages
//
// AMI messages look like MIME headers but are not: keys repeat
// (Variable, ChanVariable, Output), keep their case, and some lines
// (ChanVariable(PJSIP/100-0001): foo=bar) are not valid MIME. A Message is
// therefore an ordered list of fields with case-insensitive lookups. The
// Reader accepts CRLF and bare LF, the banner, the legacy "Response:
// Follows" command output, and bounds line length and message size
// (ErrLineTooLong, ErrMessageTooLarge), so that a peer cannot make it
// allocate without limit.
//
// # Events and slow consumers
//
// A connection's reader never waits for the consumer of its events: it
// would then stop reading responses too, and a consumer that sends an
// action while handling an event would deadlock. Events wait in a buffer
// of Config.EventBuffer events (16384 by default); when it is full, the
// connection is closed with ErrSlowConsumer. A Client then reconnects, so
// the loss is bounded and visible in the markers below, and memory stays
// bounded.
//
// # Reconnects
//
// A Client's event stream carries two marker events that Asterisk never
// sends: EventConnected ("ami.Connected") before the first event of each
// connection and EventDisconnected ("ami.Disconnected") after its last,
// with the time, the address and the reason. Events between the two
// connections are lost; a consumer that keeps state should rebuild it on
// EventConnected, for example from DoList with CoreShowChannels. Markers
// are ordinary Messages with a Timestamp field, so they can be stored and
// replayed along with the events.
//
// # Errors
//
// A "Response: Error" is a *ResponseError, with Asterisk's Message. A
// refused login is an *AuthError, which matches ErrAuth: a wrong secret
// gives one line naming the user and the address, never the secret. A
// connection ends with ErrClosed (Close), ErrClosedByPeer (Asterisk
// closed it), ErrSlowConsumer, or the error that broke it; Conn.Err
// tells which. A context ends a blocking handshake by setting a deadline
// in the past on the socket, and ends a wait for a response at once.
//
// # Wire tap
//
// Config.Debug receives every byte read from Asterisk exactly as received,
// which is the format of calltrail's ami.log captures: a Reader reads a
// tap back, and amitest's Server.Play replays it. The bytes sent are not
// tapped, since they hold the secret.
//
// # Memory
//
// A Reader keeps the keys it has seen (Asterisk sends a few hundred
// distinct ones) and each key's last value, so that a message's fields
// share those strings and one allocation holding the values that
// changed. Strings taken from a Message stay valid for good; one that is
// kept keeps that allocation alive, about a hundred bytes for a typical
// event. See docs/performance.md for figures.
//
// The package imports only the standard library.
package ami

// Package agi is a FastAGI server: the TCP service (port 4573) that
// Asterisk's AGI(agi://host/script?query,args…) connects to, so that a
// program can drive a channel from the dialplan. calltrail uses it to
// tag calls for billing: set CDR(accountcode) and CDR(userfield), read
// channel variables.
//
// The package speaks net/http's vocabulary. A Server accepts
// connections and runs a Handler for each; a ServeMux routes by the
// script path of the AGI URL; Shutdown stops gracefully and Close at
// once. A Handler gets a Session, which holds the Request (the agi_*
// environment Asterisk sends, the script path, the query and the
// arguments) and sends commands: Command in general, and helpers for the
// ones a billing dialplan needs (GetVariable, GetFullVariable,
// SetVariable, Verbose, Exec, Answer, Hangup, ChannelStatus). Unlike
// net/http, a Handler returns an error, and the Server logs it.
//
// # The protocol
//
// Asterisk sends "agi_name: value" lines ending with a blank line, then
// waits for commands, one line each, and answers each with a reply:
//
//	GET VARIABLE CHANNEL
//	200 result=1 (SIP/1001-00000024)
//
// A Reply holds the code, the result, the data in parentheses and any
// key=value fields. Replies other than 2xx come back as a *ReplyError
// that errors.Is matches with ErrInvalidCommand (510), ErrDeadChannel
// (511) or ErrUsage (520, whose text spans several lines). GOSUB sends
// "100 result=0 Trying..." before its final reply; Command waits for the
// final one.
//
// When the caller hangs up, Asterisk sends HANGUP on the socket at any
// moment, even between a command and its reply. It keeps the session
// open and still answers commands: in a capture from Asterisk 20 (see
// testdata/S13b.agi.log), EXEC Wait 5 got "200 result=-1", then HANGUP
// came, then GET VARIABLE CHANNEL still got "200 result=1 (…)". So a
// hangup does not cancel the handler's context, which a billing handler
// needs to read the CDR afterwards: Session.Hungup is closed instead, and
// Session.Err returns ErrHangup.
//
// # Limits
//
// Every size a peer controls is bounded (Server.MaxLineLength,
// MaxMessageSize, MaxConns); reading the environment, reading a reply
// once it has started, and every write have timeouts (a command itself
// may run as long as the call does); IdleTimeout ends sessions whose
// handler is stuck; and AllowedNets restricts which hosts may connect. A peer that breaks the
// rules is disconnected with a logged reason; the server goes on serving
// the others. Each connection has one buffered reader for its whole
// life, owned by a goroutine that reads replies and HANGUP.
//
// Server.Tap copies every byte of a session to a writer in the format of
// calltrail's captures, which agitest replays: an operator's transcript,
// and a test's fixture.
//
// Package agitest, beside this one, is a fake Asterisk for tests: it
// dials a server, plays an environment and scripted replies, and replays
// captured sessions byte for byte.
//
// The package imports only the standard library.
package agi

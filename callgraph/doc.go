// Package callgraph turns a stream of Asterisk Manager Interface events
// into one record per call: the legs (channels) of every party, the
// connections between them (dials, queue attempts, blind and attended
// transfers, pickups, forwards, parking, conference joins) and the talk
// segments, with each leg's ring, billable and talk time defined by
// docs/billing.md.
//
// An Engine is a deterministic state machine: it does no I/O and reads no
// clock, so a captured stream replays to the same records every time. One
// goroutine owns it and feeds it events in the order Asterisk sent them.
package callgraph

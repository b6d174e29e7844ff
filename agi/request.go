package agi

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// A Var is one variable of the environment Asterisk sends when a FastAGI
// session starts, such as {Name: "agi_channel", Value: "SIP/1001-00000024"}.
type Var struct {
	Name  string
	Value string
}

// A Request is what Asterisk sends before the first command: the agi_*
// environment of the channel that ran AGI(), in the order sent, and what
// the server derives from it.
//
// For AGI(agi://127.0.0.1:4573/billing?account=acme,first,second) the
// Script is "billing", the Query holds account=acme and the Args are
// ["first", "second"].
type Request struct {
	// Env is every variable in the order Asterisk sent it.
	Env []Var

	// Args are the values of agi_arg_1, agi_arg_2, … : the arguments
	// after the URL in AGI().
	Args []string

	// Script is the path of the AGI URL without its leading slash, as
	// ServeMux matches it: "billing" for agi://host/billing?x=1.
	Script string

	// Query is the URL's query string, parsed: account=acme.
	Query url.Values

	// RemoteAddr is the address of the Asterisk that connected.
	RemoteAddr string

	index map[string]int
}

// NewRequest returns a Request for the environment env: it fills Args,
// Script and Query from the agi_* variables. The server builds its
// Requests this way; tests and tools may, too.
func NewRequest(env []Var) *Request {
	r := &Request{Env: env, index: make(map[string]int, len(env))}
	for i, v := range env {
		if _, dup := r.index[v.Name]; !dup {
			r.index[v.Name] = i
		}
	}
	for n := 1; ; n++ {
		v, ok := r.Lookup("agi_arg_" + strconv.Itoa(n))
		if !ok {
			break
		}
		r.Args = append(r.Args, v)
	}
	r.Script, r.Query = parseScript(r.scriptSource())
	return r
}

// Lookup returns the value of the environment variable name, such as
// "agi_channel", and whether Asterisk sent it. If a name was sent twice,
// the first value counts.
func (r *Request) Lookup(name string) (string, bool) {
	if r.index == nil {
		for _, v := range r.Env {
			if v.Name == name {
				return v.Value, true
			}
		}
		return "", false
	}
	i, ok := r.index[name]
	if !ok {
		return "", false
	}
	return r.Env[i].Value, true
}

// Get returns the value of the environment variable name, or "".
func (r *Request) Get(name string) string {
	v, _ := r.Lookup(name)
	return v
}

// Accessors for the variables Asterisk always sends.

// Request returns agi_request, the AGI URL as the dialplan wrote it.
func (r *Request) Request() string { return r.Get("agi_request") }

// Channel returns agi_channel, the channel's name ("SIP/1001-00000024").
func (r *Request) Channel() string { return r.Get("agi_channel") }

// UniqueID returns agi_uniqueid, the channel's Uniqueid.
func (r *Request) UniqueID() string { return r.Get("agi_uniqueid") }

// CallerID returns agi_callerid, the caller's number ("unknown" if none).
func (r *Request) CallerID() string { return r.Get("agi_callerid") }

// CallerIDName returns agi_calleridname, the caller's name.
func (r *Request) CallerIDName() string { return r.Get("agi_calleridname") }

// DNID returns agi_dnid, the dialed number.
func (r *Request) DNID() string { return r.Get("agi_dnid") }

// Context returns agi_context, the dialplan context of AGI().
func (r *Request) Context() string { return r.Get("agi_context") }

// Extension returns agi_extension, the dialplan extension of AGI().
func (r *Request) Extension() string { return r.Get("agi_extension") }

// Priority returns agi_priority, the dialplan priority of AGI().
func (r *Request) Priority() string { return r.Get("agi_priority") }

// AccountCode returns agi_accountcode, the channel's account code when
// AGI() started.
func (r *Request) AccountCode() string { return r.Get("agi_accountcode") }

// Language returns agi_language.
func (r *Request) Language() string { return r.Get("agi_language") }

// Type returns agi_type, the channel technology ("SIP", "PJSIP").
func (r *Request) Type() string { return r.Get("agi_type") }

// Version returns agi_version, the Asterisk version.
func (r *Request) Version() string { return r.Get("agi_version") }

func (r *Request) scriptSource() string {
	if s, ok := r.Lookup("agi_network_script"); ok {
		return s
	}
	// Asterisk leaves agi_network_script out when the URL has no path.
	req := r.Request()
	if _, rest, ok := strings.Cut(req, "://"); ok {
		if _, path, ok := strings.Cut(rest, "/"); ok {
			return path
		}
		return ""
	}
	return req
}

// parseScript splits "billing?account=acme" into its path and its query.
// A malformed query keeps the pairs that parse.
func parseScript(s string) (string, url.Values) {
	path, rawQuery, _ := strings.Cut(s, "?")
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	q, _ := url.ParseQuery(rawQuery)
	return strings.Trim(path, "/"), q
}

// ReadRequest reads the environment block Asterisk sends when a FastAGI
// session starts: "agi_name: value" lines up to a blank line. It applies
// DefaultMaxLineLength and DefaultMaxMessageSize.
func ReadRequest(br *bufio.Reader) (*Request, error) {
	return readRequest(br, DefaultMaxLineLength, DefaultMaxMessageSize)
}

func readRequest(br *bufio.Reader, maxLine, maxSize int) (*Request, error) {
	var env []Var
	size := 0
	for {
		line, err := readLine(br, maxLine)
		if err != nil {
			if err == io.EOF && len(env) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("agi: read environment: %w", err)
		}
		if len(line) == 0 {
			if len(env) == 0 {
				return nil, fmt.Errorf("%w: empty environment", ErrProtocol)
			}
			return NewRequest(env), nil
		}
		size += len(line) + 1
		if size > maxSize {
			return nil, fmt.Errorf("agi: read environment: %w", ErrMessageTooLarge)
		}
		name, value, ok := splitVar(line)
		if !ok {
			return nil, fmt.Errorf("%w: environment line %q is not \"agi_name: value\"", ErrProtocol, quoteForLog(line))
		}
		env = append(env, Var{Name: name, Value: value})
	}
}

// splitVar splits "agi_name: value". The name must start with "agi_" and
// hold only letters, digits and underscores; this is what turns away
// an HTTP request or a port scanner on the FastAGI port.
func splitVar(line []byte) (name, value string, ok bool) {
	i := 0
	for i < len(line) && isNameByte(line[i]) {
		i++
	}
	if i == len(line) || line[i] != ':' || i <= len("agi_") || string(line[:4]) != "agi_" {
		return "", "", false
	}
	value = string(line[i+1:])
	return string(line[:i]), strings.TrimPrefix(value, " "), true
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

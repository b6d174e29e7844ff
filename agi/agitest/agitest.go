// Package agitest is a fake Asterisk for testing FastAGI servers. A Call
// dials the server over a real socket, as Asterisk's AGI() does, sends an
// environment, then answers the commands it reads with scripted replies.
// A Transcript replays a session captured on the wire, byte for byte,
// and checks that the server sends the same commands.
package agitest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/agi"
)

// DefaultTimeout bounds each read of a Call whose Timeout is zero.
const DefaultTimeout = 5 * time.Second

// maxCommand bounds a command line a Call reads; Asterisk's own buffer
// is 8 KiB.
const maxCommand = 8 << 10

// A Call is the Asterisk end of one FastAGI connection.
type Call struct {
	// Timeout bounds each read; zero means DefaultTimeout.
	Timeout time.Duration

	conn net.Conn
	br   *bufio.Reader
}

// Dial connects to the FastAGI server at addr, as AGI(agi://addr/…)
// does.
func Dial(ctx context.Context, addr string) (*Call, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agitest: %w", err)
	}
	return &Call{conn: conn, br: bufio.NewReader(conn)}, nil
}

// Close closes the connection.
func (c *Call) Close() error { return c.conn.Close() }

// LocalAddr returns the address the call dialled from.
func (c *Call) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// SendEnv sends env as Asterisk does, "name: value" lines and a blank
// line.
func (c *Call) SendEnv(env []agi.Var) error {
	var b strings.Builder
	for _, v := range env {
		b.WriteString(v.Name + ": " + v.Value + "\n")
	}
	b.WriteString("\n")
	return c.Send(b.String())
}

// Send writes s as it is.
func (c *Call) Send(s string) error {
	if _, err := io.WriteString(c.conn, s); err != nil {
		return fmt.Errorf("agitest: %w", err)
	}
	return nil
}

// Hangup sends the line Asterisk sends when the channel hangs up.
func (c *Call) Hangup() error { return c.Send("HANGUP\n") }

// ReadCommand reads the next command line the server sends, without its
// "\n".
func (c *Call) ReadCommand() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout()))
	var line []byte
	for {
		frag, err := c.br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > maxCommand {
			return "", fmt.Errorf("agitest: command longer than %d bytes", maxCommand)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", fmt.Errorf("agitest: read command: %w", err)
		}
		return string(line[:len(line)-1]), nil
	}
}

// ReadFull reads exactly n bytes the server sends.
func (c *Call) ReadFull(n int) ([]byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout()))
	b := make([]byte, n)
	m, err := io.ReadFull(c.br, b)
	if err != nil {
		return b[:m], fmt.Errorf("agitest: read: %w", err)
	}
	return b, nil
}

// ExpectClose waits for the server to close the connection, and fails if
// it sends anything first.
func (c *Call) ExpectClose() error {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout()))
	b, err := c.br.ReadByte()
	switch {
	case err == nil:
		rest, _ := c.br.Peek(c.br.Buffered())
		return fmt.Errorf("agitest: server sent %q, want it to close the connection", string(b)+string(rest))
	case errors.Is(err, io.EOF):
		return nil
	}
	return fmt.Errorf("agitest: waiting for close: %w", err)
}

func (c *Call) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// A Step is one exchange of a scripted call.
type Step struct {
	// Command is the command line the server must send, without "\n".
	// Empty means the step reads nothing.
	Command string

	// Reply is what the fake Asterisk sends then: a reply, HANGUP, or
	// several lines ("HANGUP\n200 result=1 (x)"). A final "\n" is added
	// if missing. Empty means nothing is sent.
	Reply string
}

// Play runs steps: it reads each step's command, checks it, and sends the
// step's reply.
func (c *Call) Play(steps ...Step) error {
	for i, st := range steps {
		if st.Command != "" {
			got, err := c.ReadCommand()
			if err != nil {
				return fmt.Errorf("agitest: step %d: want command %q: %w", i+1, st.Command, err)
			}
			if got != st.Command {
				return fmt.Errorf("agitest: step %d: server sent %q, want %q", i+1, got, st.Command)
			}
		}
		if st.Reply != "" {
			r := st.Reply
			if !strings.HasSuffix(r, "\n") {
				r += "\n"
			}
			if err := c.Send(r); err != nil {
				return fmt.Errorf("agitest: step %d: %w", i+1, err)
			}
		}
	}
	return nil
}

// Run plays a whole call against the server at addr: it dials, sends
// env, plays steps, and waits for the server to close the connection.
func Run(ctx context.Context, addr string, env []agi.Var, steps ...Step) error {
	c, err := Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendEnv(env); err != nil {
		return err
	}
	if err := c.Play(steps...); err != nil {
		return err
	}
	return c.ExpectClose()
}

// Env returns the environment Asterisk 20 sends for
// AGI(request,args…), with the channel of the S13 capture: a SIP call
// from 1001 to 7000 in context lab. Replace values with agi.Var entries
// of the same name in over.
func Env(request string, args []string, over ...agi.Var) []agi.Var {
	env := []agi.Var{{Name: "agi_network", Value: "yes"}}
	if _, rest, ok := strings.Cut(request, "://"); ok {
		if _, script, ok := strings.Cut(rest, "/"); ok && script != "" {
			env = append(env, agi.Var{Name: "agi_network_script", Value: script})
		}
	}
	env = append(env,
		agi.Var{Name: "agi_request", Value: request},
		agi.Var{Name: "agi_channel", Value: "SIP/1001-00000024"},
		agi.Var{Name: "agi_language", Value: "en"},
		agi.Var{Name: "agi_type", Value: "SIP"},
		agi.Var{Name: "agi_uniqueid", Value: "1795333717.38"},
		agi.Var{Name: "agi_version", Value: "20.20.1"},
		agi.Var{Name: "agi_callerid", Value: "1001"},
		agi.Var{Name: "agi_calleridname", Value: "Ext 1001"},
		agi.Var{Name: "agi_callingpres", Value: "0"},
		agi.Var{Name: "agi_callingani2", Value: "0"},
		agi.Var{Name: "agi_callington", Value: "0"},
		agi.Var{Name: "agi_callingtns", Value: "0"},
		agi.Var{Name: "agi_dnid", Value: "7000"},
		agi.Var{Name: "agi_rdnis", Value: "unknown"},
		agi.Var{Name: "agi_context", Value: "lab"},
		agi.Var{Name: "agi_extension", Value: "7000"},
		agi.Var{Name: "agi_priority", Value: "2"},
		agi.Var{Name: "agi_enhanced", Value: "0.0"},
		agi.Var{Name: "agi_accountcode", Value: ""},
		agi.Var{Name: "agi_threadid", Value: "140421469640384"},
	)
	for i, a := range args {
		env = append(env, agi.Var{Name: "agi_arg_" + strconv.Itoa(i+1), Value: a})
	}
	for _, o := range over {
		replaced := false
		for i := range env {
			if env[i].Name == o.Name {
				env[i].Value, replaced = o.Value, true
			}
		}
		if !replaced {
			env = append(env, o)
		}
	}
	return env
}

package sim

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// A tap writes every byte of every connection to Server.Debug in the
// format of testdata/ami-actions/*.log:
//
//	##### <epoch.usec> CLIENT connected <addr>
//	##### <epoch.usec> CLIENT->ASTERISK <n> bytes   then the n bytes
//	##### <epoch.usec> ASTERISK->CLIENT <n> bytes   then the n bytes
//	##### <epoch.usec> ASTERISK closed
type tap struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *tap) note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "##### %s "+format+"\n", append([]any{formatTimestamp(time.Now())}, args...)...)
}

func (t *tap) chunk(dir string, b []byte) {
	if len(b) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "##### %s %s %d bytes\n", formatTimestamp(time.Now()), dir, len(b))
	t.w.Write(b)
	if b[len(b)-1] != '\n' {
		io.WriteString(t.w, "\n##### (no trailing newline)\n")
	}
}

// tapConn is a net.Conn whose traffic goes to a tap too.
type tapConn struct {
	net.Conn
	t *tap
}

func (c tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.t.chunk("CLIENT->ASTERISK", b[:n])
	return n, err
}

func (c tapConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.t.chunk("ASTERISK->CLIENT", b[:n])
	return n, err
}

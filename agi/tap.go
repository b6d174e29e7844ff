package agi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// tapConn copies every byte read and written on a connection to w, as a
// transcript in the capture format of calltrail's testdata (agi.log):
//
//	##### 1795333717.036484 ASTERISK->AGI 17 bytes
//	agi_network: yes
//
// each record a marker line, giving the time, the direction and the
// byte count, then the bytes.
type tapConn struct {
	net.Conn
	mu     sync.Mutex
	w      io.Writer
	closed bool
	buf    []byte
}

func newTapConn(c net.Conn, w io.Writer) *tapConn {
	t := &tapConn{Conn: c, w: w}
	t.record("CONNECT from "+c.RemoteAddr().String(), nil)
	return t
}

func (t *tapConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		t.record("ASTERISK->AGI", p[:n])
	}
	if errors.Is(err, io.EOF) {
		t.closeRecord("ASTERISK closes socket")
	}
	return n, err
}

// Write records p before writing it: Asterisk may answer before Write
// returns, and the transcript must have the command before the reply.
func (t *tapConn) Write(p []byte) (int, error) {
	if len(p) > 0 {
		t.record("AGI->ASTERISK", p)
	}
	return t.Conn.Write(p)
}

func (t *tapConn) Close() error {
	err := t.Conn.Close()
	t.closeRecord("AGI closes socket")
	return err
}

// closeRecord records the first close, and closes the tap's writer if it
// is an io.Closer.
func (t *tapConn) closeRecord(what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.recordLocked(what, nil)
	t.closed = true
	if c, ok := t.w.(io.Closer); ok {
		c.Close()
	}
}

func (t *tapConn) record(what string, data []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.recordLocked(what, data)
	}
}

// recordLocked writes one record with one Write, so that records of
// several connections sharing a writer do not mix within a record.
func (t *tapConn) recordLocked(what string, data []byte) {
	us := time.Now().UnixMicro()
	t.buf = fmt.Appendf(t.buf[:0], "##### %d.%06d %s %d bytes\n", us/1e6, us%1e6, what, len(data))
	t.buf = append(t.buf, data...)
	t.w.Write(t.buf) // a tap must not break the session
}

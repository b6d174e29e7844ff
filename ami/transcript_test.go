package ami_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/calltrail/calltrail/ami"
)

// This file reads the "#####" transcripts of testdata/ami-actions (every
// byte of an AMI session in both directions, see its README) and replays
// them as a fake Asterisk.

// A chunk is one recv() or send() of a transcript.
type chunk struct {
	fromAsterisk bool
	data         []byte
}

// A session is one TCP connection of a transcript.
type session struct {
	chunks []chunk
	closed bool // "ASTERISK closed": Asterisk closed the socket after the last chunk
}

// received returns every byte Asterisk sent on the connection.
func (s *session) received() []byte {
	var b []byte
	for _, c := range s.chunks {
		if c.fromAsterisk {
			b = append(b, c.data...)
		}
	}
	return b
}

// sent returns every byte the client sent on the connection.
func (s *session) sent() []byte {
	var b []byte
	for _, c := range s.chunks {
		if !c.fromAsterisk {
			b = append(b, c.data...)
		}
	}
	return b
}

// parseTranscript parses the "#####" format. The byte count of a chunk is
// authoritative: the chunk's bytes are taken by count, not by line.
func parseTranscript(data []byte) ([]*session, error) {
	var (
		out []*session
		cur *session
	)
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			return nil, fmt.Errorf("offset %d: marker without line end", pos)
		}
		line := string(data[pos : pos+end])
		pos += end + 1
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "#####" {
			return nil, fmt.Errorf("offset %d: not a marker: %q", pos, line)
		}
		switch {
		case f[2] == "CLIENT" && len(f) >= 4 && f[3] == "connected":
			cur = &session{}
			out = append(out, cur)
		case f[2] == "ASTERISK->CLIENT" || f[2] == "CLIENT->ASTERISK":
			if cur == nil || len(f) != 5 || f[4] != "bytes" {
				return nil, fmt.Errorf("bad chunk marker %q", line)
			}
			n, err := strconv.Atoi(f[3])
			if err != nil || n < 0 || pos+n > len(data) {
				return nil, fmt.Errorf("bad chunk size in %q", line)
			}
			cur.chunks = append(cur.chunks, chunk{fromAsterisk: f[2] == "ASTERISK->CLIENT", data: data[pos : pos+n]})
			pos += n
			const noNL = "\n##### (no trailing newline)\n"
			if bytes.HasPrefix(data[pos:], []byte(noNL)) {
				pos += len(noNL)
			}
		case f[2] == "ASTERISK" && len(f) == 4 && f[3] == "closed":
			cur.closed = true
		case f[2] == "CLIENT" && len(f) == 4 && f[3] == "closed", f[2] == "NOTE":
		default:
			return nil, fmt.Errorf("unknown marker %q", line)
		}
	}
	return out, nil
}

func readTranscript(t testing.TB, path string) []*session {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := parseTranscript(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ss
}

// transcripts returns the transcript files of both versions.
func transcripts(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../testdata/ami-actions/*/*.log")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".ami.log") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("no transcripts")
	}
	return out
}

// readAll reads every message of a stream, failing the test on any error.
func readAll(t testing.TB, data []byte) (msgs []*ami.Message, banner string) {
	t.Helper()
	r := ami.NewReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			return msgs, r.Banner()
		}
		if err != nil {
			t.Fatalf("message %d: %v", len(msgs)+1, err)
		}
		msgs = append(msgs, m)
	}
}

// A replayer is a fake Asterisk that plays a transcript: its k-th
// accepted connection plays the transcript's k-th session. It reads one
// action from the client for each action the recorder sent, then writes
// what Asterisk answered, in the recorded chunks. The ActionIDs the
// recorder used are rewritten to the client's.
type replayer struct {
	t        testing.TB
	ln       net.Listener
	sessions []*session
	wg       sync.WaitGroup

	mu       sync.Mutex
	received [][]*ami.Message // per connection, what the client sent
	errs     []error
}

func newReplayer(t testing.TB, sessions []*session) *replayer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rp := &replayer{t: t, ln: ln, sessions: sessions}
	rp.wg.Add(1)
	go rp.serve()
	t.Cleanup(rp.close)
	return rp
}

func (rp *replayer) addr() string { return rp.ln.Addr().String() }

func (rp *replayer) close() {
	rp.ln.Close()
	rp.wg.Wait()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for _, err := range rp.errs {
		rp.t.Errorf("replayer: %v", err)
	}
	rp.errs = nil
}

// sent returns what the client sent on the k-th connection.
func (rp *replayer) sent(k int) []*ami.Message {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if k >= len(rp.received) {
		return nil
	}
	return append([]*ami.Message(nil), rp.received[k]...)
}

func (rp *replayer) fail(err error) {
	rp.mu.Lock()
	rp.errs = append(rp.errs, err)
	rp.mu.Unlock()
}

func (rp *replayer) serve() {
	defer rp.wg.Done()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for k := 0; ; k++ {
		c, err := rp.ln.Accept()
		if err != nil {
			return
		}
		if k >= len(rp.sessions) {
			c.Close() // refused, as during a restart
			continue
		}
		conns = append(conns, c)
		rp.mu.Lock()
		rp.received = append(rp.received, nil)
		rp.mu.Unlock()
		rp.wg.Add(1)
		go rp.play(k, c)
	}
}

func (rp *replayer) play(k int, c net.Conn) {
	defer rp.wg.Done()
	defer c.Close()
	s := rp.sessions[k]
	r := ami.NewReader(bufio.NewReader(c))
	ids := map[string]string{} // recorded ActionID -> the client's
	var pending [][]byte       // Asterisk's chunks not yet written
	flush := func() bool {
		for _, b := range rewrite(pending, ids) {
			if _, err := c.Write(b); err != nil {
				return false
			}
		}
		pending = nil
		return true
	}
	for _, ch := range s.chunks {
		if ch.fromAsterisk {
			pending = append(pending, ch.data)
			continue
		}
		if !flush() {
			return
		}
		recorded, _ := readAllQuiet(ch.data)
		for _, want := range recorded {
			got, err := r.ReadMessage()
			if err != nil {
				return // the client went away
			}
			rp.mu.Lock()
			rp.received[k] = append(rp.received[k], got)
			rp.mu.Unlock()
			if !strings.EqualFold(got.Action(), want.Action()) {
				rp.fail(fmt.Errorf("connection %d: got action %q, the transcript has %q", k+1, got.Action(), want.Action()))
				return
			}
			if old, ok := want.Lookup("ActionID"); ok {
				ids[old] = got.ActionID()
			}
		}
	}
	if !flush() {
		return
	}
	if s.closed {
		return
	}
	io.Copy(io.Discard, c) // until the client closes
}

func readAllQuiet(data []byte) ([]*ami.Message, error) {
	r := ami.NewReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*ami.Message
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// rewrite replaces whole "ActionID: old" lines in the chunks with the
// client's ActionIDs, keeping the chunk boundaries; a rewritten line that
// a boundary cut goes whole into the chunk where it starts.
func rewrite(chunks [][]byte, ids map[string]string) [][]byte {
	var (
		all    []byte
		bounds []int // where each chunk ends in all
	)
	for _, c := range chunks {
		all = append(all, c...)
		bounds = append(bounds, len(all))
	}
	var (
		out  [][]byte
		cur  []byte
		next int // the next boundary
	)
	emit := func(upTo int) {
		for next < len(bounds) && bounds[next] <= upTo {
			out = append(out, cur)
			cur = nil
			next++
		}
	}
	for pos := 0; pos < len(all); {
		end := bytes.IndexByte(all[pos:], '\n')
		if end < 0 {
			end = len(all)
		} else {
			end += pos + 1
		}
		line := all[pos:end]
		if v, ok := bytes.CutPrefix(line, []byte("ActionID: ")); ok {
			old := string(bytes.TrimRight(v, "\r\n"))
			if id, ok := ids[old]; ok && id != old {
				cur = append(cur, "ActionID: "+id+string(v[len(old):])...)
				pos = end
				emit(pos)
				continue
			}
		}
		for next < len(bounds) && bounds[next] < end {
			cur = append(cur, all[pos:bounds[next]]...)
			pos = bounds[next]
			emit(pos)
		}
		cur = append(cur, all[pos:end]...)
		pos = end
		emit(pos)
	}
	return out
}

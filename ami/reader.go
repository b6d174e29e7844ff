package ami

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"
)

// Default limits of a Reader. Asterisk's own lines are short, but command
// output and ListCommands responses can be many kilobytes, and some
// ChanVariable values are long.
const (
	DefaultMaxLineLength  = 64 << 10
	DefaultMaxMessageSize = 1 << 20
)

// Errors a Reader returns for input it will not accept. After either of
// them the Reader has skipped the offending message and can go on.
var (
	ErrLineTooLong     = errors.New("ami: line too long")
	ErrMessageTooLarge = errors.New("ami: message too large")
)

// ErrNoBanner is returned by ReadBanner when the first line is not an
// "Asterisk Call Manager/…" banner.
var ErrNoBanner = errors.New("ami: no Asterisk Call Manager banner")

const (
	bannerPrefix = "Asterisk Call Manager/"
	endCommand   = "--END COMMAND--"
)

// A Reader reads AMI messages from a buffered stream. Lines may end in
// CRLF or a bare LF; a blank line ends a message. The banner Asterisk
// sends on connect ("Asterisk Call Manager/9.0.0") is not a message: the
// Reader keeps it, see Banner. A banner is also accepted in front of any
// later message, as in a capture that spans a reconnect.
//
// A line that is not "Key: Value" is kept whole as the value of a field
// with an empty key, so nothing is dropped. The legacy command response
// ("Response: Follows", raw output lines, "--END COMMAND--") is turned
// into the modern form: one Output field per output line.
//
// Messages that fit in the bufio.Reader's buffer are parsed in place and
// copied once; a buffer of 64 KiB (bufio.NewReaderSize) is a good size.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	// MaxLineLength bounds one line, MaxMessageSize one message, both in
	// bytes. Zero means the defaults above; more than 1 GiB means 1 GiB.
	MaxLineLength  int
	MaxMessageSize int

	r      *bufio.Reader
	banner string

	spans []span            // the current message's fields
	buf   []byte            // the current message's values (and keys not interned), back to back
	long  []byte            // slow path: a line longer than the bufio buffer
	names [internSlots]name // keys seen before, see lookup
}

// NewReader returns a Reader that reads from r.
func NewReader(r *bufio.Reader) *Reader {
	return &Reader{r: r}
}

// Banner returns the last "Asterisk Call Manager/…" banner read, or "".
func (r *Reader) Banner() string { return r.banner }

// ReadBanner reads the first line of a connection, which must be the
// banner, and returns it. Asterisk sends the banner alone, with no blank
// line after it, so a client that wants to check it before logging in
// calls ReadBanner rather than ReadMessage. A line that is not a banner is
// consumed and reported with ErrNoBanner.
func (r *Reader) ReadBanner() (string, error) {
	line, err := r.readLine(r.maxLine())
	if err != nil {
		if errors.Is(err, ErrLineTooLong) {
			return "", fmt.Errorf("%w: first line too long", ErrNoBanner)
		}
		return "", err
	}
	if !bytes.HasPrefix(line, []byte(bannerPrefix)) {
		const show = 40
		if len(line) > show {
			line = line[:show]
		}
		return "", fmt.Errorf("%w: first line %q", ErrNoBanner, line)
	}
	r.banner = string(line)
	return r.banner, nil
}

// ReadMessage reads the next message.
func (r *Reader) ReadMessage() (*Message, error) {
	m := new(Message)
	if err := r.ReadMessageInto(m); err != nil {
		return nil, err
	}
	return m, nil
}

// ReadMessageInto reads the next message into m, reusing m.Fields'
// storage. Strings already taken from m stay valid: the Reader never
// writes to memory it has handed out.
//
// At the end of the stream it returns io.EOF, or io.ErrUnexpectedEOF when
// the stream ended inside a message. After ErrLineTooLong or
// ErrMessageTooLarge the offending message has been skipped and reading
// can go on; after any other error the Reader should not be used again.
func (r *Reader) ReadMessageInto(m *Message) error {
	if done, err := r.readBuffered(m); done {
		return err
	}
	return r.readLines(m)
}

// maxLimit caps both limits, so that offsets within a message fit in an
// int32.
const maxLimit = 1 << 30

func (r *Reader) maxLine() int {
	if r.MaxLineLength > 0 {
		return min(r.MaxLineLength, maxLimit)
	}
	return DefaultMaxLineLength
}

func (r *Reader) maxMessage() int {
	if r.MaxMessageSize > 0 {
		return min(r.MaxMessageSize, maxLimit)
	}
	return DefaultMaxMessageSize
}

// readBuffered is the fast path: it parses a message that lies whole in
// the bufio.Reader's buffer without consuming anything until the closing
// blank line is found, copying aside only the values that changed. It reports
// done == false, having consumed nothing, when the message needs the
// line-by-line path: it does not fit in the buffer, breaks a limit, or is
// a legacy "Response: Follows".
func (r *Reader) readBuffered(m *Message) (done bool, err error) {
	br := r.r
	maxLine, maxMsg := r.maxLine(), r.maxMessage()
	if br.Size() > maxLimit {
		return false, nil
	}
	buf, _ := br.Peek(br.Buffered())
	// A local slice: appending to r.spans would store a pointer into r,
	// with a write barrier, for every field.
	spans := r.spans[:0]
	out := r.buf[:0] // the values, and keys not interned, back to back
	var (
		pos  int // start of the next line to scan
		size int // the message's size as the slow path counts it
	)
	for {
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			if len(buf) >= br.Size() {
				return false, nil // the message does not fit: go line by line
			}
			// The message is incomplete: wait for more bytes. Peek keeps
			// the unread bytes, so offsets into them stay valid.
			if _, err := br.Peek(len(buf) + 1); err != nil {
				if err == bufio.ErrBufferFull {
					return false, nil
				}
				if err != io.EOF {
					return true, err
				}
				// End of stream: a partial message is lost.
				br.Discard(br.Buffered())
				if len(spans) > 0 || pos < len(buf) {
					return true, io.ErrUnexpectedEOF
				}
				return true, io.EOF
			}
			buf, _ = br.Peek(br.Buffered())
			continue
		}
		line := buf[pos : pos+i]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > maxLine {
			return false, nil
		}
		if len(line) == 0 {
			if len(spans) == 0 { // a stray blank line between messages
				pos += i + 1
				continue
			}
			r.spans, r.buf = spans, out
			r.fill(m, string(out))
			br.Discard(pos + i + 1)
			return true, nil
		}
		if len(spans) == 0 && bytes.HasPrefix(line, []byte(bannerPrefix)) {
			r.banner = string(line)
			pos += i + 1
			continue
		}
		size += len(line) + 2
		if size > maxMsg {
			return false, nil
		}
		c := colon(line)
		if c < 0 {
			spans = append(spans, span{name: noName, miss: noName, v0: int32(len(out)), v1: int32(len(out) + len(line))})
			out = append(out, line...)
			pos += i + 1
			continue
		}
		vs := c + 1
		if vs < len(line) && line[vs] == ' ' {
			vs++
		}
		if len(spans) == 0 && isFollows(line[:c], line[vs:]) {
			return false, nil
		}
		spans = append(spans, span{})
		sp := &spans[len(spans)-1]
		sp.name, sp.miss = r.lookup(line[:c])
		if sp.name < 0 {
			sp.k0 = int32(len(out))
			out = append(out, line[:c]...)
			sp.k1 = int32(len(out))
		} else if r.names[sp.name].last == string(line[vs:]) {
			sp.same = true
			pos += i + 1
			continue
		}
		sp.v0 = int32(len(out))
		out = append(out, line[vs:]...)
		sp.v1 = int32(len(out))
		pos += i + 1
	}
}

// readLines is the slow path: it consumes the message line by line,
// copying it aside into r.buf, and enforces the limits.
func (r *Reader) readLines(m *Message) error {
	maxLine, maxMsg := r.maxLine(), r.maxMessage()
	r.spans = r.spans[:0]
	if cap(r.buf) > 64<<10 {
		r.buf = nil // a large message made it big: do not keep that
	}
	r.buf = r.buf[:0]
	var (
		follows  bool // inside a legacy "Response: Follows" command body
		body     bool // a body line of it has been seen
		size     int
		overflow error // a limit was hit: skip to the end of the message
	)
	for {
		line, err := r.readLine(maxLine)
		if err != nil {
			if errors.Is(err, ErrLineTooLong) {
				overflow = ErrLineTooLong
				continue
			}
			if err == io.EOF && (len(r.spans) > 0 || overflow != nil) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if overflow != nil {
			if len(line) == 0 && !follows {
				return overflow
			}
			if follows && bytes.HasSuffix(line, []byte(endCommand)) {
				follows = false
			}
			continue
		}
		if len(line) == 0 {
			if follows {
				if body {
					r.add([]byte("Output"), nil)
				}
				continue
			}
			if len(r.spans) == 0 {
				continue // a stray blank line between messages
			}
			break
		}
		if len(r.spans) == 0 && bytes.HasPrefix(line, []byte(bannerPrefix)) {
			r.banner = string(line)
			continue
		}
		size += len(line) + 2
		if size > maxMsg {
			overflow = ErrMessageTooLarge
			continue
		}
		if follows {
			if out, ok := bytes.CutSuffix(line, []byte(endCommand)); ok {
				// Old versions glue the marker to output that did not
				// end in a newline.
				if len(out) > 0 {
					r.add([]byte("Output"), out)
				}
				follows = false
				continue
			}
			if !body {
				if c := colon(line); c > 0 && isFollowsHeader(line[:c]) {
					r.add(line[:c], value(line[c+1:]))
					continue
				}
			}
			body = true
			r.add([]byte("Output"), line)
			continue
		}
		c := colon(line)
		if c < 0 {
			r.add(nil, line)
			continue
		}
		k, v := line[:c], value(line[c+1:])
		if len(r.spans) == 0 && isFollows(k, v) {
			follows = true
		}
		r.add(k, v)
	}
	r.fill(m, string(r.buf))
	return nil
}

// readLine returns the next line without its line end. The slice is valid
// until the next read. A line longer than maxLine is consumed and reported
// with ErrLineTooLong; memory use stays bounded by maxLine plus the
// bufio.Reader's buffer.
func (r *Reader) readLine(maxLine int) ([]byte, error) {
	line, err := r.r.ReadSlice('\n')
	tooLong := false
	if err == bufio.ErrBufferFull {
		// A line longer than the bufio buffer: collect it, bounded. With
		// its CRLF, an acceptable line is at most maxLine+2 bytes.
		long := append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = r.r.ReadSlice('\n')
			if len(long)+len(line) <= maxLine+2 {
				long = append(long, line...)
			} else {
				tooLong = true
			}
		}
		if cap(long) <= 64<<10 {
			r.long = long // reuse it, unless a rare long line made it big
		}
		line = long
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if tooLong || len(line) > maxLine {
		return nil, ErrLineTooLong
	}
	return line, nil
}

// colon returns the index of the colon that ends a line's key, or -1 when
// the line is not "Key: Value". In the legacy
// "ChanVariable(IAX2/host:4569-1): name=value" the channel name inside
// the parentheses may itself hold a colon.
func colon(line []byte) int {
	// Keys are short: a plain loop beats the setup of bytes.IndexByte.
	i := 0
	for i < len(line) && line[i] != ':' {
		i++
	}
	if i == 0 || i == len(line) {
		return -1
	}
	const legacy = "ChanVariable("
	if line[i-1] != ')' && i > len(legacy) && hasPrefixFoldBytes(line, legacy) {
		if j := bytes.Index(line[i:], []byte("):")); j >= 0 {
			return i + j + 1
		}
	}
	return i
}

// value strips the one space that follows the colon.
func value(v []byte) []byte {
	if len(v) > 0 && v[0] == ' ' {
		return v[1:]
	}
	return v
}

func isFollows(k, v []byte) bool {
	return equalFoldBytes(k, "Response") && equalFoldBytes(v, "Follows")
}

func isFollowsHeader(k []byte) bool {
	return equalFoldBytes(k, "ActionID") || equalFoldBytes(k, "Privilege") || equalFoldBytes(k, "Message")
}

// add appends a field to the slow path's message, copying the key unless
// it is interned. A nil key makes a field with an empty key.
func (r *Reader) add(key, value []byte) {
	sp := span{name: noName, miss: noName}
	if key != nil {
		sp.name, sp.miss = r.lookup(key)
		if sp.name < 0 {
			sp.k0 = int32(len(r.buf))
			r.buf = append(r.buf, key...)
			sp.k1 = int32(len(r.buf))
		} else if r.names[sp.name].last == string(value) {
			sp.same = true
		}
	}
	if !sp.same {
		sp.v0 = int32(len(r.buf))
		r.buf = append(r.buf, value...)
		sp.v1 = int32(len(r.buf))
	}
	r.spans = append(r.spans, sp)
}

// A span locates one field of the message being read. It holds no
// pointers, so that filling r.spans costs no GC write barriers.
type span struct {
	name   int32 // the key's slot in r.names, or noName: the key is k0:k1
	miss   int32 // a slot to remember the key in once read, or noName
	k0, k1 int32 // the key, when not interned
	v0, v1 int32 // the value, unless same
	same   bool  // the value is the key's last value, r.names[name].last
}

const noName = -1

// fill sets m's fields from r.spans, which index s, the message's one
// allocation, and remembers the keys that were not yet interned.
func (r *Reader) fill(m *Message, s string) {
	n := len(r.spans)
	if cap(m.Fields) < n {
		m.Fields = make([]Field, n)
	}
	m.Fields = m.Fields[:n]
	for i := range r.spans {
		sp := &r.spans[i]
		switch {
		case sp.same:
			e := &r.names[sp.name]
			m.Fields[i] = Field{Key: e.s, Value: e.last}
		case sp.name >= 0:
			m.Fields[i] = Field{Key: r.names[sp.name].s, Value: s[sp.v0:sp.v1]}
		default:
			m.Fields[i] = Field{Key: s[sp.k0:sp.k1], Value: s[sp.v0:sp.v1]}
		}
	}
	// Remember the keys not yet interned and, unless the message is large
	// (the table would keep it alive), the values that changed.
	keep := len(s) <= maxKeptMessage
	for i := range r.spans {
		sp := &r.spans[i]
		switch {
		case sp.miss >= 0:
			r.names[sp.miss] = newName(s[sp.k0:sp.k1])
		case sp.name >= 0 && !sp.same && keep:
			r.names[sp.name].last = s[sp.v0:sp.v1]
		}
	}
}

// maxKeptMessage bounds the messages whose values the key table keeps, so
// that it keeps at most internSlots times this much memory alive.
const maxKeptMessage = 4 << 10

// internBits sizes a Reader's key table: a few times the ~300 distinct
// keys a busy Asterisk sends.
const (
	internBits   = 10
	internSlots  = 1 << internBits
	internMaxLen = 40
)

// A name is an interned key. a and b are its first and last 8 bytes (a
// holds the whole key when it is shorter), so that most lookups compare
// two words instead of calling memequal.
type name struct {
	a, b uint64
	s    string
	last string // the key's value in the last message that had it
}

func newName(key string) name {
	a, b := words([]byte(key))
	return name{a: a, b: b, s: strings.Clone(key)}
}

// lookup finds key among the interned keys: Asterisk sends a few hundred
// distinct keys, and they are nearly half of a message's bytes, so a
// Reader keeps them and the message's allocation holds only the values.
// On a miss it returns noName and the slot where fill should remember the
// key. The table is direct-mapped: a collision costs a copy, never a
// wrong key. Slots only change in fill, so a slot returned here stays
// valid for the whole message.
func (r *Reader) lookup(key []byte) (slot, miss int32) {
	if len(key) > internMaxLen {
		return noName, noName
	}
	a, b := words(key)
	h := int32(((a ^ bits.RotateLeft64(b, 29) ^ uint64(len(key))) * 0x9e3779b97f4a7c15) >> (64 - internBits))
	e := &r.names[h]
	if e.a == a && e.b == b && len(e.s) == len(key) && (len(key) <= 16 || e.s == string(key)) {
		return h, noName
	}
	return noName, h
}

// words returns the first and last 8 bytes of k as little-endian words,
// or k packed into a when it is shorter than 8 bytes. For a key of up to
// 16 bytes, a, b and its length identify it.
func words(k []byte) (a, b uint64) {
	n := len(k)
	if n >= 8 {
		return binary.LittleEndian.Uint64(k), binary.LittleEndian.Uint64(k[n-8:])
	}
	for i := 0; i < n; i++ {
		a = a<<8 | uint64(k[i])
	}
	return a, 0
}

func hasPrefixFoldBytes(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && equalFoldBytes(b[:len(prefix)], prefix)
}

func equalFoldBytes(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ErrInvalidField is returned by WriteMessage for a key or value that
// would break the framing (a line end, or a key with a colon).
var ErrInvalidField = errors.New("ami: invalid field")

// WriteMessage writes m to w in wire format, CRLF line ends, followed by
// the blank line that ends it. It refuses fields that would split the
// message (a CR or LF in a value, a colon or line end in a key), so a
// value taken from a user cannot inject an action.
func WriteMessage(w io.Writer, m *Message) error {
	var b strings.Builder
	for _, f := range m.Fields {
		if f.Key == "" || strings.ContainsAny(f.Key, ":\r\n") || strings.ContainsAny(f.Value, "\r\n") {
			return fmt.Errorf("%w: %q", ErrInvalidField, f.Key)
		}
		b.WriteString(f.Key)
		b.WriteString(": ")
		b.WriteString(f.Value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(w, b.String())
	return err
}

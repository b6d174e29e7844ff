package ami

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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

const bannerPrefix = "Asterisk Call Manager/"

// A Reader reads AMI messages from a buffered stream. Lines may end in
// CRLF or a bare LF; a blank line ends a message. The banner Asterisk
// sends on connect ("Asterisk Call Manager/9.0.0") is not a message: the
// Reader keeps it, see Banner.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	// MaxLineLength bounds one line, MaxMessageSize one message, both in
	// bytes. Zero means the defaults above.
	MaxLineLength  int
	MaxMessageSize int

	r      *bufio.Reader
	banner string

	buf  []byte // the current message's keys and values, back to back
	offs []int  // per field: key start, key end, value start, value end
}

// NewReader returns a Reader that reads from r.
func NewReader(r *bufio.Reader) *Reader {
	return &Reader{r: r}
}

// Banner returns the last "Asterisk Call Manager/…" banner read, or "".
func (r *Reader) Banner() string { return r.banner }

// ReadMessage reads the next message.
func (r *Reader) ReadMessage() (*Message, error) {
	m := new(Message)
	if err := r.ReadMessageInto(m); err != nil {
		return nil, err
	}
	return m, nil
}

// ReadMessageInto reads the next message into m, reusing m.Fields'
// storage. Strings already taken from m stay valid.
//
// At the end of the stream it returns io.EOF, or io.ErrUnexpectedEOF when
// the stream ended inside a message.
func (r *Reader) ReadMessageInto(m *Message) error {
	maxLine := r.MaxLineLength
	if maxLine <= 0 {
		maxLine = DefaultMaxLineLength
	}
	maxMsg := r.MaxMessageSize
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageSize
	}
	r.buf = r.buf[:0]
	r.offs = r.offs[:0]
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
			if err == io.EOF && (len(r.offs) > 0 || overflow != nil) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if overflow != nil {
			if len(line) == 0 && !follows {
				return overflow
			}
			if follows && bytes.Equal(line, []byte("--END COMMAND--")) {
				follows = false
			}
			continue
		}
		if len(line) == 0 {
			if follows {
				if body {
					r.addField("Output", line)
				}
				continue
			}
			if len(r.offs) == 0 {
				continue // stray blank line between messages
			}
			break
		}
		size += len(line) + 2
		if size > maxMsg {
			overflow = ErrMessageTooLarge
			continue
		}
		if len(r.offs) == 0 && bytes.HasPrefix(line, []byte(bannerPrefix)) {
			r.banner = string(line)
			continue
		}
		if follows {
			if bytes.Equal(line, []byte("--END COMMAND--")) {
				follows = false
				continue
			}
			if !body {
				if k, v, ok := splitField(line); ok && isFollowsHeader(k) {
					r.addKV(k, v)
					continue
				}
			}
			body = true
			r.addField("Output", line)
			continue
		}
		k, v, ok := splitField(line)
		if !ok {
			// A line that is not "Key: Value" is kept whole as a value
			// with an empty key: nothing is dropped.
			r.addKV(nil, line)
			continue
		}
		r.addKV(k, v)
		if len(r.offs) == 4 && equalFoldBytes(k, "Response") && equalFoldBytes(v, "Follows") {
			follows = true
		}
	}
	r.fill(m)
	return nil
}

// readLine returns the next line without its line end. The slice is valid
// until the next read.
func (r *Reader) readLine(maxLine int) ([]byte, error) {
	line, err := r.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A line longer than the bufio buffer: collect it, bounded.
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = r.r.ReadSlice('\n')
			if len(long) <= maxLine {
				long = append(long, line...)
			}
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
	if len(line) > maxLine {
		return nil, ErrLineTooLong
	}
	return line, nil
}

func splitField(line []byte) (key, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	key, value = line[:i], line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return key, value, true
}

func isFollowsHeader(k []byte) bool {
	return equalFoldBytes(k, "ActionID") || equalFoldBytes(k, "Privilege") || equalFoldBytes(k, "Message")
}

func (r *Reader) addField(key string, value []byte) { r.addKV([]byte(key), value) }

func (r *Reader) addKV(key, value []byte) {
	ks := len(r.buf)
	r.buf = append(r.buf, key...)
	vs := len(r.buf)
	r.buf = append(r.buf, value...)
	r.offs = append(r.offs, ks, vs, vs, len(r.buf))
}

// fill turns the collected bytes into m's fields with one string
// allocation for the whole message.
func (r *Reader) fill(m *Message) {
	s := string(r.buf)
	n := len(r.offs) / 4
	if cap(m.Fields) < n {
		m.Fields = make([]Field, n)
	}
	m.Fields = m.Fields[:n]
	for i := 0; i < n; i++ {
		o := r.offs[4*i:]
		m.Fields[i] = Field{Key: s[o[0]:o[1]], Value: s[o[2]:o[3]]}
	}
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

package agitest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Limits of ReadTranscript: a capture is a test fixture, but it is read
// with the same care as the wire.
const (
	maxMarkerLine = 1 << 10
	maxRecord     = 1 << 20
)

// A Direction says what a Record of a Transcript is.
type Direction int

// Directions, named after the capture's markers.
const (
	Connect       Direction = iota // "CONNECT from …": Asterisk connected
	FromAsterisk                   // "ASTERISK->AGI": bytes Asterisk sent
	ToAsterisk                     // "AGI->ASTERISK": bytes the AGI server sent
	ServerClose                    // "AGI closes socket"
	AsteriskClose                  // "ASTERISK closes socket"
)

var directionNames = [...]string{"CONNECT", "ASTERISK->AGI", "AGI->ASTERISK", "AGI closes socket", "ASTERISK closes socket"}

func (d Direction) String() string {
	if d >= 0 && int(d) < len(directionNames) {
		return directionNames[d]
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// A Record is one marker of a Transcript and the bytes after it.
type Record struct {
	Time   time.Time
	Dir    Direction
	Marker string // the marker's text between the time and the byte count
	Data   []byte
}

// A Transcript is a FastAGI session captured on the wire, in the format
// of calltrail's captures (testdata/asterisk20/S13/agi.log): every chunk
// read or written follows a marker line
//
//	##### 1795333717.036484 ASTERISK->AGI 17 bytes
//
// giving the time, the direction and the number of bytes that follow.
// The byte count is authoritative: data may hold anything, "#####" and
// line breaks included, and need not end in a line break.
type Transcript struct {
	Records []Record
}

// ReadTranscript parses a capture.
func ReadTranscript(r io.Reader) (*Transcript, error) {
	br := bufio.NewReader(r)
	t := new(Transcript)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			return t, nil
		}
		if err != nil {
			if err == bufio.ErrBufferFull || err == io.EOF {
				return nil, fmt.Errorf("agitest: record %d: marker line is not a line", n)
			}
			return nil, fmt.Errorf("agitest: record %d: %w", n, err)
		}
		rec, size, err := parseMarker(string(line[:len(line)-1]))
		if err != nil {
			return nil, fmt.Errorf("agitest: record %d: %w", n, err)
		}
		rec.Data = make([]byte, size)
		if _, err := io.ReadFull(br, rec.Data); err != nil {
			return nil, fmt.Errorf("agitest: record %d: %d bytes announced: %w", n, size, err)
		}
		t.Records = append(t.Records, rec)
	}
}

// parseMarker parses "##### <time> <what> <n> bytes".
func parseMarker(line string) (Record, int, error) {
	if len(line) > maxMarkerLine {
		return Record{}, 0, errors.New("marker line too long")
	}
	rest, ok := strings.CutPrefix(line, "##### ")
	if !ok {
		return Record{}, 0, fmt.Errorf("want a ##### marker, got %q", line)
	}
	f := strings.Fields(rest)
	if len(f) < 4 || f[len(f)-1] != "bytes" {
		return Record{}, 0, fmt.Errorf("malformed marker %q", line)
	}
	when, err := parseTime(f[0])
	if err != nil {
		return Record{}, 0, fmt.Errorf("malformed time in marker %q", line)
	}
	size, err := strconv.Atoi(f[len(f)-2])
	if err != nil || size < 0 || size > maxRecord {
		return Record{}, 0, fmt.Errorf("byte count in marker %q out of range", line)
	}
	what := strings.Join(f[1:len(f)-2], " ")
	rec := Record{
		Time:   when,
		Marker: what,
	}
	switch {
	case strings.HasPrefix(what, "CONNECT"):
		rec.Dir = Connect
	case what == "ASTERISK->AGI":
		rec.Dir = FromAsterisk
	case what == "AGI->ASTERISK":
		rec.Dir = ToAsterisk
	case what == "AGI closes socket":
		rec.Dir = ServerClose
	case what == "ASTERISK closes socket":
		rec.Dir = AsteriskClose
	default:
		return Record{}, 0, fmt.Errorf("unknown marker %q", what)
	}
	return rec, size, nil
}

// parseTime parses "1795333717.036415", seconds since 1970 with up to
// nine decimals, exactly: a float64 would lose the last microsecond.
func parseTime(s string) (time.Time, error) {
	secs, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec < 0 || sec > 1<<40 || len(frac) > 9 {
		return time.Time{}, errors.New("malformed time")
	}
	var nsec int64
	if frac != "" {
		n, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return time.Time{}, errors.New("malformed time")
		}
		nsec = int64(n)
		for range 9 - len(frac) {
			nsec *= 10
		}
	}
	return time.Unix(sec, nsec), nil
}

// WriteTo writes t in the capture format; ReadTranscript reads it back.
// A record without a Marker gets its Direction's.
func (t *Transcript) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	for _, r := range t.Records {
		marker := r.Marker
		if marker == "" {
			marker = r.Dir.String()
		}
		us := r.Time.UnixMicro()
		fmt.Fprintf(&b, "##### %d.%06d %s %d bytes\n", us/1e6, us%1e6, marker, len(r.Data))
		b.Write(r.Data)
	}
	return b.WriteTo(w)
}

// Env returns the environment block Asterisk sent, from the first
// ASTERISK->AGI byte through the blank line that ends it.
func (t *Transcript) Env() []byte {
	var b []byte
	for _, r := range t.Records {
		if r.Dir != FromAsterisk {
			continue
		}
		b = append(b, r.Data...)
		if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
			return b[:i+2]
		}
		if bytes.Equal(b, []byte("\n")) {
			return b
		}
	}
	return b
}

// Replay plays the Asterisk side of t against the FastAGI server at addr,
// byte for byte: it sends what Asterisk sent, in the same order, and
// reads what the server sends in turn, failing if it differs from the
// capture. An "AGI closes socket" record expects the server to close the
// connection. Times are not replayed: the fake Asterisk sends as soon as
// the capture says it may.
func (t *Transcript) Replay(ctx context.Context, addr string) error {
	c, err := Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	for i, r := range t.Records {
		switch r.Dir {
		case Connect:
			if i != 0 {
				return fmt.Errorf("agitest: record %d: a second CONNECT", i+1)
			}
		case FromAsterisk:
			if err := c.Send(string(r.Data)); err != nil {
				return fmt.Errorf("agitest: record %d: %w", i+1, err)
			}
		case ToAsterisk:
			got, err := c.ReadFull(len(r.Data))
			if !bytes.Equal(got, r.Data) {
				if len(got) == 0 && errors.Is(err, io.EOF) {
					return fmt.Errorf("agitest: record %d: server closed the connection, capture has %q", i+1, r.Data)
				}
				if err != nil {
					return fmt.Errorf("agitest: record %d: server sent %q, capture has %q: %w", i+1, got, r.Data, err)
				}
				return fmt.Errorf("agitest: record %d: server sent %q, capture has %q", i+1, got, r.Data)
			}
		case ServerClose:
			if err := c.ExpectClose(); err != nil {
				return fmt.Errorf("agitest: record %d: %w", i+1, err)
			}
			return nil
		case AsteriskClose:
			return nil
		}
	}
	return nil
}

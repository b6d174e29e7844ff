package agi

import (
	"bufio"
	"bytes"
	"io"
)

// Default limits of a Server. Asterisk reads a command into an 8 KiB
// buffer and its own lines are short; a GET FULL VARIABLE reply can be
// long, so a line may be twice that.
const (
	DefaultMaxLineLength  = 16 << 10
	DefaultMaxMessageSize = 64 << 10
)

// readLine returns the next line without its "\n" and any "\r" before it.
// The slice is valid until the next read from br. A line longer than max
// bytes gives ErrLineTooLong as soon as that is known; the rest of the
// line is left unread, so the stream cannot be read further.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		switch err {
		case nil:
			line := frag
			if long != nil {
				line = append(long, frag...)
			}
			line = bytes.TrimRight(line[:len(line)-1], "\r")
			if len(line) > max {
				return nil, ErrLineTooLong
			}
			return line, nil
		case bufio.ErrBufferFull:
			// Room for one "\r" before the "\n".
			if len(long)+len(frag) > max+1 {
				return nil, ErrLineTooLong
			}
			long = append(long, frag...)
		default:
			if err == io.EOF && (len(frag) > 0 || len(long) > 0) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// quoteForLog shortens a line a peer sent for an error message.
func quoteForLog(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

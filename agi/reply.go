package agi

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A Reply is Asterisk's answer to one command.
//
//	200 result=1 (SIP/1001-00000024)       Code 200, Result 1, Data "SIP/1001-00000024"
//	200 result=1 (timeout) endpos=8000     Data "timeout", Fields [{endpos 8000}]
//	200 result=0 Gosub complete            Text "Gosub complete"
//	510 Invalid or unknown command         Code 510, Text "Invalid or unknown command"
//
// A multi-line reply (520-… up to 520 …) has every line's text in Text,
// joined by "\n", as net/textproto's ReadResponse does.
type Reply struct {
	Code int

	// Result is the value of result= as an integer; 0 if the reply has
	// none or it is not a number (GET DATA answers with the digits
	// pressed, "123#": see ResultText).
	Result int

	// ResultText is the value of result= as sent.
	ResultText string

	// Data is the text in parentheses after the result, without them.
	// It may contain parentheses, spaces, and line breaks when a
	// variable's value does.
	Data string

	// Fields are the key=value pairs after the result and data, such as
	// endpos=8000, in the order sent.
	Fields []Field

	// Text is the rest of the reply: the message of an error reply, or
	// words like "Trying..." or "Gosub complete".
	Text string

	// Raw is the reply as received, lines joined by "\n", without the
	// final line end.
	Raw string
}

// A Field is a key=value pair of a Reply.
type Field struct {
	Key   string
	Value string
}

// Lookup returns the value of the field key and whether the reply has it.
func (r *Reply) Lookup(key string) (string, bool) {
	for _, f := range r.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// EndPos returns the endpos= field of a playback or recording command:
// the sample offset where it stopped.
func (r *Reply) EndPos() (int64, bool) {
	v, ok := r.Lookup("endpos")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// String returns the reply as received.
func (r *Reply) String() string { return r.Raw }

// hangupLine is what Asterisk sends, unasked, when the channel hangs up
// (unless the dialplan set AGISIGHUP=no).
const hangupLine = "HANGUP"

// readReply reads the next reply, or reports a HANGUP line. It reads a
// multi-line reply to its end, and a reply whose parenthesised data was
// cut by a line break in a variable's value up to the closing
// parenthesis. A reply that does not start with a status code is an
// error wrapping ErrProtocol.
func readReply(br *bufio.Reader, maxLine, maxSize int) (reply *Reply, hangup bool, err error) {
	line, err := readLine(br, maxLine)
	if err != nil {
		return nil, false, err
	}
	if string(line) == hangupLine {
		return nil, true, nil
	}
	code, multi, rest, ok := parseCodeLine(line)
	if !ok {
		return nil, false, fmt.Errorf("%w: reply %q has no status code", ErrProtocol, quoteForLog(line))
	}
	r := &Reply{Code: code}
	raw := []string{string(line)}
	size := len(line) + 1
	more := func() (string, error) {
		l, err := readLine(br, maxLine)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return "", err
		}
		size += len(l) + 1
		if size > maxSize {
			return "", ErrMessageTooLarge
		}
		raw = append(raw, string(l))
		return string(l), nil
	}

	if multi {
		r.Text = rest
		prefix := string(line[:3])
		for {
			l, err := more()
			if err != nil {
				return nil, false, err
			}
			if l == prefix {
				r.Text += "\n"
				break
			}
			if last, ok := strings.CutPrefix(l, prefix+" "); ok {
				r.Text += "\n" + last
				break
			}
			if next, ok := strings.CutPrefix(l, prefix+"-"); ok {
				l = next
			}
			r.Text += "\n" + l
		}
		r.Raw = strings.Join(raw, "\n")
		return r, false, nil
	}

	for openData(rest) {
		l, err := more()
		if err != nil {
			return nil, false, err
		}
		rest += "\n" + l
	}
	parseBody(r, rest)
	r.Raw = strings.Join(raw, "\n")
	return r, false, nil
}

// parseCodeLine splits "200 result=1" or "520-Invalid…" into the code,
// whether more lines follow, and the text after the code.
func parseCodeLine(line []byte) (code int, multi bool, rest string, ok bool) {
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) || line[0] == '0' {
		return 0, false, "", false
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, false, "", true
	}
	switch line[3] {
	case ' ':
		return code, false, string(line[4:]), true
	case '-':
		return code, true, string(line[4:]), true
	}
	return 0, false, "", false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// openData reports whether rest, the text after a reply's code, has
// parenthesised data that no line so far has closed.
func openData(rest string) bool {
	v, ok := strings.CutPrefix(rest, "result=")
	if !ok {
		return false
	}
	_, tail, _ := strings.Cut(v, " ")
	tail = strings.TrimLeft(tail, " ")
	return strings.HasPrefix(tail, "(") && !strings.Contains(tail, ")")
}

// parseBody fills r from the text after the code of a one-line reply.
func parseBody(r *Reply, rest string) {
	v, ok := strings.CutPrefix(rest, "result=")
	if !ok {
		r.Text = rest
		return
	}
	r.ResultText, rest, _ = strings.Cut(v, " ")
	if n, err := strconv.Atoi(r.ResultText); err == nil {
		r.Result = n
	}
	rest = strings.TrimLeft(rest, " ")
	if strings.HasPrefix(rest, "(") {
		switch {
		case strings.HasSuffix(rest, ")"):
			// GET VARIABLE: the value runs to the last parenthesis, and
			// may hold more of them.
			r.Data, rest = rest[1:len(rest)-1], ""
		case strings.Contains(rest, ") "):
			// "(timeout) endpos=8000"
			i := strings.Index(rest, ") ")
			r.Data, rest = rest[1:i], strings.TrimLeft(rest[i+2:], " ")
		default:
			// Unclosed: keep it all as data.
			r.Data, rest = rest[1:], ""
		}
	}
	r.Fields, r.Text = parseFields(rest)
}

// parseFields reads key=value pairs, a value possibly in double quotes
// (speech results send text0="hello world"), up to the first word that
// is not a pair; that word and the rest are the text.
func parseFields(s string) ([]Field, string) {
	var fields []Field
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return fields, ""
		}
		word := s
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexByte(s, ' ')
		if eq <= 0 || (sp >= 0 && sp < eq) || strings.IndexByte(s[:eq], '"') >= 0 {
			return fields, s
		}
		key, v := s[:eq], s[eq+1:]
		var value string
		if strings.HasPrefix(v, `"`) {
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				return fields, s
			}
			value, s = v[1:1+end], v[2+end:]
			if s != "" && s[0] != ' ' {
				return fields, word
			}
		} else {
			value, s, _ = strings.Cut(v, " ")
		}
		fields = append(fields, Field{Key: key, Value: value})
	}
}

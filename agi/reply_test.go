package agi

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Reply
	}{
		{
			name: "value",
			in:   "200 result=1 (SIP/1001-00000024)\n",
			want: &Reply{Code: 200, Result: 1, ResultText: "1", Data: "SIP/1001-00000024", Raw: "200 result=1 (SIP/1001-00000024)"},
		},
		{
			name: "value with spaces and parentheses",
			in:   "200 result=1 (1001/2026-11-22 07:48:37/(x) y)\n",
			want: &Reply{Code: 200, Result: 1, ResultText: "1", Data: "1001/2026-11-22 07:48:37/(x) y", Raw: "200 result=1 (1001/2026-11-22 07:48:37/(x) y)"},
		},
		{
			name: "empty value",
			in:   "200 result=1 ()\n",
			want: &Reply{Code: 200, Result: 1, ResultText: "1", Raw: "200 result=1 ()"},
		},
		{
			name: "value with a line break",
			in:   "200 result=1 (first\nsecond)\n",
			want: &Reply{Code: 200, Result: 1, ResultText: "1", Data: "first\nsecond", Raw: "200 result=1 (first\nsecond)"},
		},
		{
			name: "plain",
			in:   "200 result=1\n",
			want: &Reply{Code: 200, Result: 1, ResultText: "1", Raw: "200 result=1"},
		},
		{
			name: "negative",
			in:   "200 result=-1\n",
			want: &Reply{Code: 200, Result: -1, ResultText: "-1", Raw: "200 result=-1"},
		},
		{
			name: "crlf",
			in:   "200 result=4\r\n",
			want: &Reply{Code: 200, Result: 4, ResultText: "4", Raw: "200 result=4"},
		},
		{
			name: "data and endpos",
			in:   "200 result=0 (timeout) endpos=8000\n",
			want: &Reply{Code: 200, ResultText: "0", Data: "timeout", Fields: []Field{{"endpos", "8000"}}, Raw: "200 result=0 (timeout) endpos=8000"},
		},
		{
			name: "endpos only",
			in:   "200 result=0 endpos=12345\n",
			want: &Reply{Code: 200, ResultText: "0", Fields: []Field{{"endpos", "12345"}}, Raw: "200 result=0 endpos=12345"},
		},
		{
			name: "dtmf",
			in:   "200 result=1 (digit) digit=5 endpos=160\n",
			want: &Reply{Code: 200, Result: 1, ResultText: "1", Data: "digit", Fields: []Field{{"digit", "5"}, {"endpos", "160"}}, Raw: "200 result=1 (digit) digit=5 endpos=160"},
		},
		{
			name: "speech with a quoted value",
			in:   "200 result=1 (speech) endpos=0 results=1 score0=900 text0=\"hello world\" grammar0=yesno\n",
			want: &Reply{Code: 200, Result: 1, ResultText: "1", Data: "speech", Fields: []Field{
				{"endpos", "0"}, {"results", "1"}, {"score0", "900"}, {"text0", "hello world"}, {"grammar0", "yesno"},
			}, Raw: "200 result=1 (speech) endpos=0 results=1 score0=900 text0=\"hello world\" grammar0=yesno"},
		},
		{
			name: "get data digits",
			in:   "200 result=123# (timeout)\n",
			want: &Reply{Code: 200, ResultText: "123#", Data: "timeout", Raw: "200 result=123# (timeout)"},
		},
		{
			name: "get data nothing pressed",
			in:   "200 result= (timeout)\n",
			want: &Reply{Code: 200, Data: "timeout", Raw: "200 result= (timeout)"},
		},
		{
			name: "gosub trying",
			in:   "100 result=0 Trying...\n",
			want: &Reply{Code: 100, ResultText: "0", Text: "Trying...", Raw: "100 result=0 Trying..."},
		},
		{
			name: "gosub complete abnormal",
			in:   "200 result=0 Gosub complete (abnormal exit)\n",
			want: &Reply{Code: 200, ResultText: "0", Text: "Gosub complete (abnormal exit)", Raw: "200 result=0 Gosub complete (abnormal exit)"},
		},
		{
			name: "invalid command",
			in:   "510 Invalid or unknown command\n",
			want: &Reply{Code: 510, Text: "Invalid or unknown command", Raw: "510 Invalid or unknown command"},
		},
		{
			name: "dead channel",
			in:   "511 Command Not Permitted on a dead channel or intercept routine\n",
			want: &Reply{Code: 511, Text: "Command Not Permitted on a dead channel or intercept routine", Raw: "511 Command Not Permitted on a dead channel or intercept routine"},
		},
		{
			name: "usage, one line",
			in:   "520 Invalid command syntax.  Proper usage not available.\n",
			want: &Reply{Code: 520, Text: "Invalid command syntax.  Proper usage not available.", Raw: "520 Invalid command syntax.  Proper usage not available."},
		},
		{
			name: "usage, several lines",
			in: "520-Invalid command syntax.  Proper usage follows:\n" +
				" Usage: GET VARIABLE <variablename>\n" +
				"\tReturns 0 if <variablename> is not set.\n" +
				"520 End of proper usage.\n",
			want: &Reply{
				Code: 520,
				Text: "Invalid command syntax.  Proper usage follows:\n Usage: GET VARIABLE <variablename>\n\tReturns 0 if <variablename> is not set.\nEnd of proper usage.",
				Raw:  "520-Invalid command syntax.  Proper usage follows:\n Usage: GET VARIABLE <variablename>\n\tReturns 0 if <variablename> is not set.\n520 End of proper usage.",
			},
		},
		{
			name: "memory",
			in:   "503 result=-2 Memory allocation failure\n",
			want: &Reply{Code: 503, Result: -2, ResultText: "-2", Text: "Memory allocation failure", Raw: "503 result=-2 Memory allocation failure"},
		},
		{
			name: "code only",
			in:   "200\n",
			want: &Reply{Code: 200, Raw: "200"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			got, hangup, err := readReply(br, DefaultMaxLineLength, DefaultMaxMessageSize)
			if err != nil || hangup {
				t.Fatalf("readReply: hangup %v, err %v", hangup, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("bytes left after the reply")
			}
		})
	}
}

func TestReadReplyHangup(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("HANGUP\n200 result=1 (SIP/1001-00000026)\n"))
	r, hangup, err := readReply(br, DefaultMaxLineLength, DefaultMaxMessageSize)
	if r != nil || !hangup || err != nil {
		t.Fatalf("got %v, %v, %v; want nil, true, nil", r, hangup, err)
	}
	r, hangup, err = readReply(br, DefaultMaxLineLength, DefaultMaxMessageSize)
	if err != nil || hangup || r.Data != "SIP/1001-00000026" {
		t.Fatalf("got %v, %v, %v; want the reply after HANGUP", r, hangup, err)
	}
}

func TestReadReplyErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		maxLine int
		maxSize int
		want    error
	}{
		{"no code", "hello\n", 0, 0, ErrProtocol},
		{"short code", "20 result=1\n", 0, 0, ErrProtocol},
		{"bad separator", "200:result=1\n", 0, 0, ErrProtocol},
		{"leading zero", "020 result=1\n", 0, 0, ErrProtocol},
		{"empty line", "\n", 0, 0, ErrProtocol},
		{"line too long", "200 result=1 (" + strings.Repeat("x", 100) + ")\n", 64, 0, ErrLineTooLong},
		{"unclosed multi-line", "520-usage\n" + strings.Repeat("more usage\n", 20), 0, 100, ErrMessageTooLarge},
		{"unclosed data", "200 result=1 (a\n" + strings.Repeat("b\n", 200), 0, 100, ErrMessageTooLarge},
		{"eof inside a line", "200 result=1", 0, 0, io.ErrUnexpectedEOF},
		{"eof inside multi-line", "520-usage\n", 0, 0, io.ErrUnexpectedEOF},
		{"eof", "", 0, 0, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			_, _, err := readReply(br, orDefault(tt.maxLine, DefaultMaxLineLength), orDefault(tt.maxSize, DefaultMaxMessageSize))
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReplyError(t *testing.T) {
	tests := []struct {
		code    int
		text    string
		is      error
		message string
	}{
		{510, "Invalid or unknown command", ErrInvalidCommand, "agi: FOO: 510 Invalid or unknown command"},
		{511, "Command Not Permitted on a dead channel or intercept routine", ErrDeadChannel, "agi: FOO: 511 Command Not Permitted on a dead channel or intercept routine"},
		{520, "Invalid command syntax.  Proper usage follows:\nUsage: …\nEnd of proper usage.", ErrUsage, "agi: FOO: 520 Invalid command syntax.  Proper usage follows:"},
		{503, "Memory allocation failure", nil, "agi: FOO: 503 Memory allocation failure"},
	}
	sentinels := []error{ErrInvalidCommand, ErrDeadChannel, ErrUsage, ErrHangup}
	for _, tt := range tests {
		err := error(&ReplyError{Command: "FOO", Code: tt.code, Reply: &Reply{Code: tt.code, Text: tt.text}})
		if got := err.Error(); got != tt.message {
			t.Errorf("%d: Error() = %q, want %q", tt.code, got, tt.message)
		}
		for _, s := range sentinels {
			if got, want := errors.Is(err, s), s == tt.is; got != want {
				t.Errorf("%d: errors.Is(err, %v) = %v, want %v", tt.code, s, got, want)
			}
		}
	}
}

func TestReplyLookup(t *testing.T) {
	r := &Reply{Fields: []Field{{"digit", "5"}, {"endpos", "160"}}}
	if v, ok := r.Lookup("digit"); !ok || v != "5" {
		t.Errorf("Lookup(digit) = %q, %v", v, ok)
	}
	if _, ok := r.Lookup("results"); ok {
		t.Errorf("Lookup(results) found a field that is not there")
	}
	if n, ok := r.EndPos(); !ok || n != 160 {
		t.Errorf("EndPos() = %d, %v; want 160, true", n, ok)
	}
	if _, ok := (&Reply{}).EndPos(); ok {
		t.Errorf("EndPos() of a reply without endpos reports one")
	}
}

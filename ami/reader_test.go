package ami_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/calltrail/calltrail/ami"
)

// bufSizes are the bufio sizes every framing test runs with: 16 (the
// smallest bufio allows) makes nearly every message take the line-by-line
// path, 4096 most take the in-place path.
var bufSizes = []int{16, 64, 4096}

func fields(kv ...string) []ami.Field { return ami.NewMessage(kv...).Fields }

func TestReadMessage(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   [][]ami.Field
		banner string
		err    error // after the messages; io.EOF when nil
	}{
		{
			name: "crlf",
			in:   "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-00000001\r\n\r\n",
			want: [][]ami.Field{fields("Event", "Newchannel", "Privilege", "call,all", "Channel", "PJSIP/1001-00000001")},
		},
		{
			name: "bare lf",
			in:   "Event: Hangup\nCause: 16\n\nEvent: Newstate\n\n",
			want: [][]ami.Field{fields("Event", "Hangup", "Cause", "16"), fields("Event", "Newstate")},
		},
		{
			name: "mixed line ends",
			in:   "Event: A\r\nX: 1\n\r\nEvent: B\n\r\n",
			want: [][]ami.Field{fields("Event", "A", "X", "1"), fields("Event", "B")},
		},
		{
			name: "keys keep their case and order",
			in:   "Response: Success\r\nActionID: 1\r\nactionid: 2\r\nAMIversion: 9.0.0\r\n\r\n",
			want: [][]ami.Field{fields("Response", "Success", "ActionID", "1", "actionid", "2", "AMIversion", "9.0.0")},
		},
		{
			name: "repeated keys",
			in: "Event: Status\r\nVariable: a=1\r\nChanVariable: b=2\r\nVariable: a=3\r\n" +
				"ChanVariable: c=4\r\nOutput: x\r\nOutput: y\r\n\r\n",
			want: [][]ami.Field{fields("Event", "Status", "Variable", "a=1", "ChanVariable", "b=2",
				"Variable", "a=3", "ChanVariable", "c=4", "Output", "x", "Output", "y")},
		},
		{
			name: "legacy ChanVariable",
			in:   "Event: Hangup\r\nChanVariable(PJSIP/100-0001): foo=bar\r\nChanVariable(IAX2/10.0.0.1:4569-123): a=b:c\r\n\r\n",
			want: [][]ami.Field{fields("Event", "Hangup", "ChanVariable(PJSIP/100-0001)", "foo=bar",
				"ChanVariable(IAX2/10.0.0.1:4569-123)", "a=b:c")},
		},
		{
			name: "values",
			in:   "A:tight\r\nB:  two spaces\r\nC:\r\nD: \r\nE: a: b\r\nF: trailing  \r\nG: tab\there\r\n\r\n",
			want: [][]ami.Field{fields("A", "tight", "B", " two spaces", "C", "", "D", "", "E", "a: b",
				"F", "trailing  ", "G", "tab\there")},
		},
		{
			name: "lines that are not fields",
			in:   "Response: Success\r\nno colon here\r\n: starts with a colon\r\n\r\n",
			want: [][]ami.Field{fields("Response", "Success", "", "no colon here", "", ": starts with a colon")},
		},
		{
			name:   "banner",
			in:     "Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nMessage: Authentication accepted\r\n\r\n",
			want:   [][]ami.Field{fields("Response", "Success", "Message", "Authentication accepted")},
			banner: "Asterisk Call Manager/9.0.0",
		},
		{
			name: "banner again after a reconnect",
			in: "Asterisk Call Manager/9.0.0\r\nEvent: Shutdown\r\n\r\n" +
				"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\n",
			want:   [][]ami.Field{fields("Event", "Shutdown"), fields("Response", "Success")},
			banner: "Asterisk Call Manager/11.0.0",
		},
		{
			name: "stray blank lines",
			in:   "\r\n\r\nEvent: A\r\n\r\n\r\n\nEvent: B\r\n\r\n\r\n",
			want: [][]ami.Field{fields("Event", "A"), fields("Event", "B")},
		},
		{
			name: "command output",
			in: "Response: Success\r\nActionID: c1\r\nMessage: Command output follows\r\n" +
				"Output: Channel   Location\r\nOutput: \r\nOutput: 0 active calls\r\n\r\n",
			want: [][]ami.Field{fields("Response", "Success", "ActionID", "c1", "Message", "Command output follows",
				"Output", "Channel   Location", "Output", "", "Output", "0 active calls")},
		},
		{
			name: "legacy Response: Follows",
			in: "Response: Follows\r\nPrivilege: Command\r\nActionID: c2\r\n" +
				"Channel (Context Extension Pri ) State Appl. Data\r\n\r\nsip.conf: reloaded\r\n--END COMMAND--\r\n\r\n" +
				"Event: After\r\n\r\n",
			want: [][]ami.Field{
				fields("Response", "Follows", "Privilege", "Command", "ActionID", "c2",
					"Output", "Channel (Context Extension Pri ) State Appl. Data", "Output", "", "Output", "sip.conf: reloaded"),
				fields("Event", "After"),
			},
		},
		{
			name: "legacy end marker glued to output",
			in:   "Response: Follows\r\nActionID: c3\r\n1 active channel--END COMMAND--\r\n\r\n",
			want: [][]ami.Field{fields("Response", "Follows", "ActionID", "c3", "Output", "1 active channel")},
		},
		{
			name: "empty",
			in:   "",
		},
		{
			name:   "banner only",
			in:     "Asterisk Call Manager/11.0.0\r\n",
			banner: "Asterisk Call Manager/11.0.0",
		},
		{
			name: "end inside a message",
			in:   "Event: A\r\n\r\nEvent: B\r\nChannel: x\r\n",
			want: [][]ami.Field{fields("Event", "A")},
			err:  io.ErrUnexpectedEOF,
		},
		{
			name: "end inside a line",
			in:   "Event: A\r\n\r\nEvent: B",
			want: [][]ami.Field{fields("Event", "A")},
			err:  io.ErrUnexpectedEOF,
		},
		{
			name: "end after a lone CR",
			in:   "\r",
			err:  io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		for _, size := range bufSizes {
			t.Run(fmt.Sprintf("%s/%d", tt.name, size), func(t *testing.T) {
				r := ami.NewReader(bufio.NewReaderSize(strings.NewReader(tt.in), size))
				var got [][]ami.Field
				var err error
				for {
					var m *ami.Message
					if m, err = r.ReadMessage(); err != nil {
						break
					}
					got = append(got, m.Fields)
				}
				wantErr := tt.err
				if wantErr == nil {
					wantErr = io.EOF
				}
				if err != wantErr {
					t.Errorf("error %v, want %v", err, wantErr)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("messages\ngot  %q\nwant %q", got, tt.want)
				}
				if r.Banner() != tt.banner {
					t.Errorf("banner %q, want %q", r.Banner(), tt.banner)
				}
			})
		}
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name    string
		maxLine int
		maxMsg  int
		in      string
		want    []error // per read: nil for a message
	}{
		{
			name:    "line at the limit",
			maxLine: 20,
			in:      "Event: " + strings.Repeat("x", 13) + "\r\n\r\n",
			want:    []error{nil, io.EOF},
		},
		{
			name:    "line over the limit",
			maxLine: 20,
			in:      "Event: A\r\nLong: " + strings.Repeat("x", 15) + "\r\nMore: 1\r\n\r\nEvent: B\r\n\r\n",
			want:    []error{ami.ErrLineTooLong, nil, io.EOF},
		},
		{
			name:    "line far over the limit",
			maxLine: 20,
			in:      "Event: A\r\nLong: " + strings.Repeat("x", 5000) + "\nMore: 1\r\n\r\nEvent: B\r\n\r\n",
			want:    []error{ami.ErrLineTooLong, nil, io.EOF},
		},
		{
			name:    "line over the limit by its CR",
			maxLine: 20,
			in:      "Event: " + strings.Repeat("x", 13) + "\r\r\n\r\nEvent: B\r\n\r\n",
			want:    []error{ami.ErrLineTooLong, nil, io.EOF},
		},
		{
			name:   "message at the limit",
			maxMsg: 40,
			in:     "Event: A\r\nKey1: 123456\r\nKey2: 1234567\r\n\r\n",
			want:   []error{nil, io.EOF},
		},
		{
			name:   "message over the limit",
			maxMsg: 40,
			in:     "Event: A\r\nKey1: 123456\r\nKey2: 12345678\r\nKey3: x\r\n\r\nEvent: B\r\n\r\n",
			want:   []error{ami.ErrMessageTooLarge, nil, io.EOF},
		},
		{
			name:   "legacy command over the limit",
			maxMsg: 40,
			in: "Response: Follows\r\nActionID: 1\r\n" + strings.Repeat("output line\r\n", 5) +
				"\r\nstill output\r\n--END COMMAND--\r\n\r\nEvent: B\r\n\r\n",
			want: []error{ami.ErrMessageTooLarge, nil, io.EOF},
		},
		{
			name:    "too long then end of stream",
			maxLine: 20,
			in:      "Event: A\r\nLong: " + strings.Repeat("x", 30) + "\r\n",
			want:    []error{io.ErrUnexpectedEOF},
		},
	}
	for _, tt := range tests {
		for _, size := range bufSizes {
			t.Run(fmt.Sprintf("%s/%d", tt.name, size), func(t *testing.T) {
				r := ami.NewReader(bufio.NewReaderSize(strings.NewReader(tt.in), size))
				r.MaxLineLength, r.MaxMessageSize = tt.maxLine, tt.maxMsg
				for i, want := range tt.want {
					m, err := r.ReadMessage()
					if err != want {
						t.Fatalf("read %d: %v (%q), want %v", i+1, err, m, want)
					}
					if err == nil && m.Event() == "" {
						t.Fatalf("read %d: %q", i+1, m)
					}
				}
			})
		}
	}
}

// TestBoundedMemory: a peer that sends an endless line or an endless
// message costs a bounded amount of memory, not what it sends.
func TestBoundedMemory(t *testing.T) {
	const sent = 12 << 20 // a multiple of len("Key: value\r\n")
	tests := []struct {
		name string
		in   io.Reader
		want error
	}{
		{"endless line", io.MultiReader(strings.NewReader("Event: A\r\nKey: "),
			io.LimitReader(repeat('x'), sent), strings.NewReader("\r\n\r\nEvent: B\r\n\r\n")), ami.ErrLineTooLong},
		{"endless message", io.MultiReader(strings.NewReader("Event: A\r\n"),
			io.LimitReader(repeatString("Key: value\r\n"), sent), strings.NewReader("\r\nEvent: B\r\n\r\n")), ami.ErrMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ami.NewReader(bufio.NewReaderSize(tt.in, 4096))
			r.MaxLineLength, r.MaxMessageSize = 1<<10, 64<<10
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := r.ReadMessage()
			runtime.ReadMemStats(&after)
			if err != tt.want {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Errorf("allocated %d bytes to refuse %d", alloc, sent)
			}
			if m, err := r.ReadMessage(); err != nil || m.Event() != "B" {
				t.Errorf("next message %q, %v; want Event B", m, err)
			}
		})
	}
}

// repeatReader repeats s forever.
type repeatReader struct {
	s   string
	pos int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.pos:])
		n += c
		r.pos = (r.pos + c) % len(r.s)
	}
	return n, nil
}

func repeat(c byte) io.Reader         { return &repeatReader{s: string(c)} }
func repeatString(s string) io.Reader { return &repeatReader{s: s} }

func lines(msgs ...string) *bufio.Reader {
	return bufio.NewReader(strings.NewReader(strings.Join(msgs, "")))
}

// TestStringsStayValid: the engine keeps strings of past messages while
// the Reader, and the Message it fills, move on.
func TestStringsStayValid(t *testing.T) {
	for _, size := range bufSizes {
		r := ami.NewReader(bufio.NewReaderSize(strings.NewReader(
			"Event: Newchannel\r\nChannel: PJSIP/1001-00000001\r\nUniqueid: 1795333546.0\r\n\r\n"+
				"Event: Hangup\r\nChannel: PJSIP/2002-00000002\r\nUniqueid: 1795333547.1\r\n\r\n"), size))
		var m ami.Message
		if err := r.ReadMessageInto(&m); err != nil {
			t.Fatal(err)
		}
		ch, id, key := m.Get("Channel"), m.Get("Uniqueid"), m.Fields[2].Key
		if err := r.ReadMessageInto(&m); err != nil {
			t.Fatal(err)
		}
		if ch != "PJSIP/1001-00000001" || id != "1795333546.0" || key != "Uniqueid" {
			t.Errorf("size %d: kept %q %q %q, changed by the next read", size, ch, id, key)
		}
		if m.Get("Channel") != "PJSIP/2002-00000002" {
			t.Errorf("size %d: second message %q", size, m.String())
		}
	}
}

// TestReadMessageIntoAllocs: with a reused Message, a message costs one
// allocation, its values.
func TestReadMessageIntoAllocs(t *testing.T) {
	msg := "Event: Newstate\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-00000001\r\nChannelState: 6\r\n" +
		"ChannelStateDesc: Up\r\nUniqueid: 1795333546.0\r\nLinkedid: 1795333546.0\r\n\r\n"
	src := strings.NewReader(strings.Repeat(msg, 300))
	br := bufio.NewReaderSize(src, 64<<10)
	r := ami.NewReader(br)
	var m ami.Message
	if err := r.ReadMessageInto(&m); err != nil { // warm up: keys interned
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if err := r.ReadMessageInto(&m); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%.1f allocations per message, want at most 1", allocs)
	}
}

// TestManyKeys: keys that collide in the Reader's key table, or are too
// long for it, still come out right.
func TestManyKeys(t *testing.T) {
	var in strings.Builder
	const n = 5000
	for i := range n {
		fmt.Fprintf(&in, "Event: E%d\r\nKey%d: v%d\r\nSame: s\r\nK%sy%d: long\r\n\r\n", i, i, i, strings.Repeat("e", 50), i)
	}
	for _, size := range bufSizes {
		r := ami.NewReader(bufio.NewReaderSize(strings.NewReader(in.String()), size))
		var m ami.Message
		for i := range n {
			if err := r.ReadMessageInto(&m); err != nil {
				t.Fatal(err)
			}
			want := fields("Event", fmt.Sprint("E", i), fmt.Sprint("Key", i), fmt.Sprint("v", i), "Same", "s",
				fmt.Sprintf("K%sy%d", strings.Repeat("e", 50), i), "long")
			if !reflect.DeepEqual(m.Fields, want) {
				t.Fatalf("size %d, message %d: %q, want %q", size, i, m.Fields, want)
			}
		}
	}
}

func TestReadBanner(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\n", "Asterisk Call Manager/11.0.0", nil},
		{"Asterisk Call Manager/9.0.0\n", "Asterisk Call Manager/9.0.0", nil},
		{"HTTP/1.1 400 Bad Request\r\n", "", ami.ErrNoBanner},
		{"", "", io.EOF},
		{strings.Repeat("A", 100<<10) + "\r\n", "", ami.ErrNoBanner},
	}
	for _, tt := range tests {
		r := ami.NewReader(bufio.NewReader(strings.NewReader(tt.in)))
		got, err := r.ReadBanner()
		if got != tt.want || !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
			t.Errorf("ReadBanner(%.40q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil && r.Banner() != tt.want {
			t.Errorf("Banner() = %q", r.Banner())
		}
	}
	// After the banner, the login response reads as a message.
	r := ami.NewReader(lines("Asterisk Call Manager/9.0.0\r\n", "Response: Success\r\n\r\n"))
	r.ReadBanner()
	if m, err := r.ReadMessage(); err != nil || m.Response() != "Success" {
		t.Errorf("after the banner: %q, %v", m, err)
	}
}

func TestWriteMessage(t *testing.T) {
	var b bytes.Buffer
	m := ami.NewMessage("Action", "Originate", "ActionID", "o1", "Channel", "PJSIP/1001", "Variable", "A=1", "Variable", "B=")
	if err := ami.WriteMessage(&b, m); err != nil {
		t.Fatal(err)
	}
	want := "Action: Originate\r\nActionID: o1\r\nChannel: PJSIP/1001\r\nVariable: A=1\r\nVariable: B=\r\n\r\n"
	if b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
	got, err := ami.NewReader(bufio.NewReader(&b)).ReadMessage()
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("read back %q, %v", got, err)
	}

	for _, bad := range []*ami.Message{
		ami.NewMessage("Action", "Hangup", "Channel", "x\r\nAction: Originate"),
		ami.NewMessage("Action", "Hangup", "Channel", "x\nAction: Originate"),
		ami.NewMessage("Action", "Hangup", "Bad:Key", "x"),
		ami.NewMessage("Action", "Hangup", "Bad\nKey", "x"),
		ami.NewMessage("Action", "Hangup", "", "x"),
	} {
		var b bytes.Buffer
		if err := ami.WriteMessage(&b, bad); !errors.Is(err, ami.ErrInvalidField) || b.Len() > 0 {
			t.Errorf("WriteMessage(%q) = %v, wrote %q; want ErrInvalidField and nothing", bad.Fields, err, b.String())
		}
	}
}

// TestReadAfterError: a read error that is not the end of the stream is
// returned as it is.
func TestReadAfterError(t *testing.T) {
	boom := errors.New("boom")
	for _, size := range bufSizes {
		r := ami.NewReader(bufio.NewReaderSize(io.MultiReader(strings.NewReader("Event: A\r\n"), errReader{boom}), size))
		if _, err := r.ReadMessage(); err != boom {
			t.Errorf("size %d: %v, want boom", size, err)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

package ami_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/calltrail/calltrail/ami"
)

// captureStreams returns the raw event streams: every scenario's ami.log
// and the notimestamp-*.ami.log of testdata/ami-actions.
func captureStreams(t testing.TB) []string {
	t.Helper()
	a, _ := filepath.Glob("../testdata/*/*/ami.log")
	b, _ := filepath.Glob("../testdata/ami-actions/*/*.ami.log")
	files := append(a, b...)
	if len(files) < 40 {
		t.Fatalf("found %d captures, want the 40 shipped", len(files))
	}
	return files
}

// TestCaptureStreams reads every captured event stream to the end: the
// banner once, the login response, then events only, as many as the
// stream has blank-line terminators.
func TestCaptureStreams(t *testing.T) {
	total := 0
	for _, path := range captureStreams(t) {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			msgs, banner := readAll(t, data)
			if want := bytes.Count(data, []byte("\r\n\r\n")); len(msgs) != want {
				t.Errorf("read %d messages, the stream has %d terminators", len(msgs), want)
			}
			total += len(msgs)
			if !strings.HasPrefix(banner, "Asterisk Call Manager/") {
				t.Errorf("banner %q", banner)
			}
			if got := msgs[0].Get("Message"); msgs[0].Response() != "Success" || got != "Authentication accepted" {
				t.Errorf("first message %q, want the login response", msgs[0].String())
			}
			noTimestamp := strings.Contains(path, "notimestamp")
			if last := msgs[len(msgs)-1]; last.Response() == "Goodbye" {
				msgs = msgs[:len(msgs)-1] // the recorder's Logoff
			}
			for i, m := range msgs[1:] {
				if m.Event() == "" || m.Get("Privilege") == "" {
					t.Fatalf("message %d is not an event: %q", i+2, m.String())
				}
				_, _, hasTS := m.Timestamp()
				// The FullyBooted sent at login never has a Timestamp.
				if login := i == 0 && m.Event() == "FullyBooted"; !login && hasTS == noTimestamp {
					t.Fatalf("message %d (%s): Timestamp present %v in %s", i+2, m.Event(), hasTS, filepath.Base(path))
				}
			}
			msgs, _ = readAll(t, data)
			// The same stream through small bufio buffers, which force the
			// line-by-line path, gives the same messages.
			for _, size := range []int{16, 100, 4096} {
				r := ami.NewReader(bufio.NewReaderSize(bytes.NewReader(data), size))
				for i, want := range msgs {
					got, err := r.ReadMessage()
					if err != nil {
						t.Fatalf("buffer %d, message %d: %v", size, i+1, err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("buffer %d, message %d:\ngot  %q\nwant %q", size, i+1, got, want)
					}
				}
				if _, err := r.ReadMessage(); err != io.EOF {
					t.Fatalf("buffer %d: after the last message: %v, want EOF", size, err)
				}
			}
		})
	}
	if want := 7184; total != want {
		t.Errorf("read %d messages in all captures, want %d", total, want)
	}
}

// TestTranscripts reads both directions of every session of the
// testdata/ami-actions transcripts. The counts are the transcripts' blank
// line terminators, counted by hand.
func TestTranscripts(t *testing.T) {
	// per session: messages from Asterisk, actions from the client
	want := map[string][][2]int{
		"actions-misc":          {{22, 19}},
		"command-output":        {{6, 6}},
		"login-md5-bad":         {{2, 2}},
		"login-md5-ok":          {{5, 3}},
		"login-plain-bad":       {{1, 1}},
		"login-plain-ok":        {{4, 2}},
		"no-login":              {{4, 4}},
		"originate":             {{114, 6}},
		"restart":               {{4, 1}, {0, 0}, {4, 2}},
		"snapshot-during-calls": {{82, 17}},
	}
	want22 := map[string][][2]int{
		"originate":             {{111, 6}},
		"snapshot-during-calls": {{103, 17}},
	}
	for _, path := range transcripts(t) {
		t.Run(path, func(t *testing.T) {
			name := strings.TrimSuffix(filepath.Base(path), ".log")
			counts := want[name]
			if w, ok := want22[name]; ok && strings.Contains(path, "asterisk22") {
				counts = w
			}
			sessions := readTranscript(t, path)
			if len(sessions) != len(counts) {
				t.Fatalf("%d sessions, want %d", len(sessions), len(counts))
			}
			for i, s := range sessions {
				in, banner := readAll(t, s.received())
				out, _ := readAll(t, s.sent())
				if got := [2]int{len(in), len(out)}; got != counts[i] {
					t.Errorf("session %d: %v messages (received, sent), want %v", i+1, got, counts[i])
				}
				if len(s.received()) > 0 && !strings.HasPrefix(banner, "Asterisk Call Manager/") {
					t.Errorf("session %d: banner %q", i+1, banner)
				}
				for _, a := range out {
					if a.Action() == "" {
						t.Errorf("session %d: an action without Action: %q", i+1, a)
					}
				}
			}
		})
	}
}

// received returns the messages Asterisk sent in the first session of a
// transcript of both versions.
func receivedMessages(t *testing.T, name string) map[string][]*ami.Message {
	t.Helper()
	out := map[string][]*ami.Message{}
	for _, v := range []string{"asterisk20", "asterisk22"} {
		s := readTranscript(t, filepath.Join("../testdata/ami-actions", v, name+".log"))
		out[v], _ = readAll(t, s[0].received())
	}
	return out
}

func byActionID(msgs []*ami.Message, id string) *ami.Message {
	for _, m := range msgs {
		if !m.IsEvent() && m.ActionID() == id {
			return m
		}
	}
	return nil
}

func TestCommandOutput(t *testing.T) {
	for v, msgs := range receivedMessages(t, "command-output") {
		t.Run(v, func(t *testing.T) {
			m := byActionID(msgs, "command-5")
			if m == nil {
				t.Fatal("no response to command-5")
			}
			out := m.Values("Output")
			want := []string{"", "  -= Info about Manager Command 'Ping' =- ", "", "[Synopsis]", "Keepalive command. "}
			if len(out) < len(want) || !reflect.DeepEqual(out[:len(want)], want) {
				t.Errorf("Output starts %q, want %q", out[:min(len(out), len(want))], want)
			}
			if got, want := len(out), 41; got != want {
				t.Errorf("%d Output lines, want %d", got, want)
			}
			if got := m.Get("Message"); got != "Command output follows" {
				t.Errorf("Message %q", got)
			}
			// The response was split across reads after its ActionID line.
			m = byActionID(msgs, "command-2")
			if out := m.Values("Output"); len(out) != 4 || out[1] != "0 active channels" {
				t.Errorf("command-2 Output %q", out)
			}
			m = byActionID(msgs, "command-4")
			if m.Response() != "Error" || !strings.HasPrefix(m.Get("Output"), "No such command 'frobnicate the thing'") {
				t.Errorf("command-4: %q", m)
			}
		})
	}
}

func TestListCommands(t *testing.T) {
	wantFields := map[string]int{"asterisk20": 105, "asterisk22": 117}
	for v, msgs := range receivedMessages(t, "actions-misc") {
		t.Run(v, func(t *testing.T) {
			m := byActionID(msgs, "listcommands-12")
			if m == nil {
				t.Fatal("no ListCommands response")
			}
			if got := len(m.Fields); got != wantFields[v] {
				t.Errorf("%d fields, want %d", got, wantFields[v])
			}
			if got, want := m.Get("Ping"), "Keepalive command.  (Priv: <none>)"; got != want {
				t.Errorf("Ping: %q, want %q", got, want)
			}
			if got := m.Get("SendText"); !strings.Contains(got, "content type\tcan be") {
				t.Errorf("SendText: %q, want its tab kept", got)
			}
			// The UserEvent passed the filter and arrived before the
			// response to the next action.
			var i int
			for i = range msgs {
				if msgs[i].Event() == "UserEvent" {
					break
				}
			}
			if msgs[i].Get("UserEvent") != "LabFilterCheck" || msgs[i+1].ActionID() != "filter-10" {
				t.Errorf("UserEvent at %d: %q then %q", i, msgs[i], msgs[i+1])
			}
		})
	}
}

// TestNoLogin: before Login, Asterisk denies every action but Challenge.
func TestNoLogin(t *testing.T) {
	for v, msgs := range receivedMessages(t, "no-login") {
		var got []string
		for _, m := range msgs {
			got = append(got, m.Response()+": "+m.Get("Message"))
		}
		want := []string{"Error: Permission denied", "Error: Permission denied", "Error: Permission denied", "Success: "}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q, want %q", v, got, want)
		}
	}
}

// TestTranscriptActions: the actions calltrail's recorder sent parse, and
// WriteMessage gives back their exact bytes.
func TestTranscriptActions(t *testing.T) {
	for _, path := range transcripts(t) {
		for i, s := range readTranscript(t, path) {
			msgs, _ := readAll(t, s.sent())
			var b bytes.Buffer
			for _, m := range msgs {
				if err := ami.WriteMessage(&b, m); err != nil {
					t.Fatalf("%s session %d: %v", path, i+1, err)
				}
			}
			if !bytes.Equal(b.Bytes(), s.sent()) {
				t.Errorf("%s session %d: written\n%q\nwant\n%q", path, i+1, b.Bytes(), s.sent())
			}
		}
	}
}

func TestParseTranscript(t *testing.T) {
	data := "##### 1.0 CLIENT connected 127.0.0.1:5038\n" +
		"##### 1.1 ASTERISK->CLIENT 5 bytes\nab\ncd" +
		"\n##### (no trailing newline)\n" +
		"##### 1.2 CLIENT->ASTERISK 3 bytes\n###" +
		"##### 1.3 NOTE whatever\n" +
		"##### 1.4 ASTERISK closed\n"
	ss, err := parseTranscript([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || len(ss[0].chunks) != 2 || !ss[0].closed ||
		string(ss[0].received()) != "ab\ncd" || string(ss[0].sent()) != "###" {
		t.Errorf("parsed %+v", ss[0])
	}
	for _, bad := range []string{
		"##### 1.0 CLIENT connected x\n##### 1.1 ASTERISK->CLIENT 50 bytes\nshort",
		"garbage\n",
		"##### 1.0 CLIENT connected x\n##### 1.1 SOMETHING\n",
	} {
		if _, err := parseTranscript([]byte(bad)); err == nil {
			t.Errorf("parseTranscript(%q): no error", bad)
		}
	}
}

func TestRewrite(t *testing.T) {
	chunks := [][]byte{
		[]byte("Response: Success\r\nActionID: lo"),
		[]byte("gin-1\r\nMessage: x\r\n"),
		[]byte("\r\nEvent: E\r\nActionID: other\r\n\r\n"),
	}
	got := rewrite(chunks, map[string]string{"login-1": "login-7"})
	want := []string{
		"Response: Success\r\nActionID: login-7\r\n",
		"Message: x\r\n",
		"\r\nEvent: E\r\nActionID: other\r\n\r\n",
	}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("rewrite:\ngot  %q\nwant %q", got, want)
	}
}

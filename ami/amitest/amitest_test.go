package amitest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
)

// A raw client speaks to the server byte by byte, as the recorder did.
type raw struct {
	t  *testing.T
	c  net.Conn
	r  *ami.Reader
	bn string
}

func connect(t *testing.T, srv *amitest.Server) *raw {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := ami.NewReader(bufio.NewReader(c))
	bn, err := r.ReadBanner()
	if err != nil {
		t.Fatalf("banner: %v", err)
	}
	return &raw{t: t, c: c, r: r, bn: bn}
}

func (rc *raw) send(b []byte) {
	rc.t.Helper()
	if _, err := rc.c.Write(b); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *raw) do(kv ...string) *ami.Message {
	rc.t.Helper()
	var b bytes.Buffer
	ami.WriteMessage(&b, ami.NewMessage(kv...))
	rc.send(b.Bytes())
	return rc.read()
}

func (rc *raw) read() *ami.Message {
	rc.t.Helper()
	m, err := rc.r.ReadMessage()
	if err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	return m
}

func newServer(t *testing.T, cfg amitest.Config) *amitest.Server {
	if cfg.Username == "" {
		cfg.Username, cfg.Secret = "lab", "labpass"
	}
	srv := amitest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// session is one connection of a testdata/ami-actions transcript: what
// the recorder sent and what Asterisk answered.
type session struct{ sent, received []byte }

func transcript(t *testing.T, version, name string) []session {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../testdata/ami-actions", version, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []session
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		f := strings.Fields(string(data[pos : pos+end]))
		pos += end + 1
		switch {
		case f[2] == "CLIENT" && f[3] == "connected":
			out = append(out, session{})
		case f[2] == "CLIENT->ASTERISK" || f[2] == "ASTERISK->CLIENT":
			n, _ := strconv.Atoi(f[3])
			s := &out[len(out)-1]
			if f[2] == "CLIENT->ASTERISK" {
				s.sent = append(s.sent, data[pos:pos+n]...)
			} else {
				s.received = append(s.received, data[pos:pos+n]...)
			}
			pos += n
		}
	}
	return out
}

func messages(t *testing.T, b []byte) []*ami.Message {
	t.Helper()
	r := ami.NewReader(bufio.NewReader(bytes.NewReader(b)))
	var out []*ami.Message
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

// TestLikeAsterisk sends the recorder's actions to the fake and compares
// its answers with Asterisk's, for the actions the fake knows, leaving
// out values that change (times, challenges).
func TestLikeAsterisk(t *testing.T) {
	for _, v := range []string{"asterisk20", "asterisk22"} {
		for _, name := range []string{"no-login", "actions-misc", "login-plain-ok", "login-md5-ok"} {
			t.Run(v+"/"+name, func(t *testing.T) {
				s := transcript(t, v, name)[0]
				srv := newServer(t, amitest.Config{Challenge: "104911690"})
				rc := connect(t, srv)
				actions := messages(t, s.sent)
				answers := messages(t, s.received)
				known := map[string]bool{"login": true, "challenge": true, "ping": true, "events": true,
					"filter": true, "frobnicate": true, "logoff": true}
				compared := 0
				for _, a := range actions {
					want := byID(answers, a.ActionID())
					if want == nil || !known[strings.ToLower(a.Action())] {
						continue
					}
					if strings.EqualFold(a.Get("AuthType"), "MD5") && a.Action() == "Login" {
						// The recorded key answers the recorded challenge.
						a.Set("Key", md5hex("104911690labpass"))
					}
					var b bytes.Buffer
					ami.WriteMessage(&b, a)
					rc.send(b.Bytes())
					got := rc.read()
					for got.IsEvent() { // FullyBooted after the login, events after the filter
						got = rc.read()
					}
					if g, w := comparable(got), comparable(want); !reflect.DeepEqual(g, w) {
						t.Errorf("%s %s:\ngot  %q\nwant %q", a.Action(), a.ActionID(), g, w)
					}
					compared++
				}
				if compared == 0 {
					t.Fatal("nothing compared")
				}
			})
		}
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func byID(msgs []*ami.Message, id string) *ami.Message {
	for _, m := range msgs {
		if !m.IsEvent() && m.ActionID() == id {
			return m
		}
	}
	return nil
}

// comparable drops the values that differ from run to run.
func comparable(m *ami.Message) []ami.Field {
	var out []ami.Field
	for _, f := range m.Fields {
		switch f.Key {
		case "Timestamp", "Challenge":
			f.Value = "…"
		}
		out = append(out, f)
	}
	return out
}

// TestBadLogin: like Asterisk, a wrong secret is answered after a pause,
// then the connection is closed.
func TestBadLogin(t *testing.T) {
	srv := newServer(t, amitest.Config{AuthDelay: 200 * time.Millisecond})
	for _, name := range []string{"login-plain-bad", "login-md5-bad"} {
		s := transcript(t, "asterisk22", name)[0]
		rc := connect(t, srv)
		start := time.Now()
		rc.send(s.sent)
		var got *ami.Message
		for got == nil || got.ActionID() != "login-1" && got.ActionID() != "login-md5-1" {
			got = rc.read()
		}
		if took := time.Since(start); took < 200*time.Millisecond {
			t.Errorf("%s: refused after %v", name, took)
		}
		want := messages(t, s.received)
		if !reflect.DeepEqual(comparable(got), comparable(want[len(want)-1])) {
			t.Errorf("%s: %q, want %q", name, got, want[len(want)-1])
		}
		if _, err := rc.r.ReadMessage(); err != io.EOF {
			t.Errorf("%s: after the refusal: %v, want the connection closed", name, err)
		}
	}
	if srv.Logins() != 0 {
		t.Errorf("%d logins accepted", srv.Logins())
	}
}

func TestAuthTimeout(t *testing.T) {
	srv := newServer(t, amitest.Config{AuthTimeout: 100 * time.Millisecond})
	rc := connect(t, srv)
	if _, err := rc.r.ReadMessage(); err != io.EOF {
		t.Errorf("an idle session without login: %v, want closed", err)
	}
}

func TestHandleList(t *testing.T) {
	srv := newServer(t, amitest.Config{})
	srv.HandleList("QueueStatus",
		ami.NewMessage("Event", "QueueParams", "Queue", "support"),
		ami.NewMessage("Event", "QueueMember", "Queue", "support", "Name", "Agent1004", "ActionID", "q1"),
	)
	rc := connect(t, srv)
	rc.do("Action", "Login", "Username", "lab", "Secret", "labpass", "Events", "off")
	resp := rc.do("Action", "QueueStatus", "ActionID", "q1")
	want := [][]ami.Field{
		ami.NewMessage("Response", "Success", "ActionID", "q1", "EventList", "start", "Message", "QueueStatus will follow").Fields,
		ami.NewMessage("Event", "QueueParams", "ActionID", "q1", "Queue", "support").Fields,
		ami.NewMessage("Event", "QueueMember", "Queue", "support", "Name", "Agent1004", "ActionID", "q1").Fields,
		ami.NewMessage("Event", "QueueStatusComplete", "ActionID", "q1", "EventList", "Complete", "ListItems", "2").Fields,
	}
	got := [][]ami.Field{resp.Fields, rc.read().Fields, rc.read().Fields, rc.read().Fields}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list\n%q\nwant\n%q", got, want)
	}
}

// TestSend: events go to logged-in sessions whose mask and filters want
// them.
func TestSend(t *testing.T) {
	srv := newServer(t, amitest.Config{})
	all := connect(t, srv)
	all.do("Action", "Login", "Username", "lab", "Secret", "labpass")
	all.read() // FullyBooted
	calls := connect(t, srv)
	calls.do("Action", "Login", "Username", "lab", "Secret", "labpass", "Events", "call")
	off := connect(t, srv)
	off.do("Action", "Login", "Username", "lab", "Secret", "labpass", "Events", "off")
	filtered := connect(t, srv)
	filtered.do("Action", "Login", "Username", "lab", "Secret", "labpass", "Events", "off")
	filtered.do("Action", "Filter", "Operation", "Add", "Filter", "!Event: Newchannel")
	filtered.do("Action", "Events", "EventMask", "on")
	connect(t, srv) // not logged in

	agent := ami.NewMessage("Event", "QueueCallerJoin", "Privilege", "agent,all")
	call := ami.NewMessage("Event", "Newchannel", "Privilege", "call,all")
	hangup := ami.NewMessage("Event", "Hangup", "Privilege", "call,all")
	if n := srv.Send(agent, call, hangup); n != 3+2+2 {
		t.Errorf("Send wrote %d events, want 7", n)
	}
	for _, tt := range []struct {
		rc   *raw
		want []string
	}{
		{all, []string{"QueueCallerJoin", "Newchannel", "Hangup"}},
		{calls, []string{"Newchannel", "Hangup"}},
		{filtered, []string{"QueueCallerJoin", "Hangup"}},
	} {
		var got []string
		for range tt.want {
			got = append(got, tt.rc.read().Event())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if got := off.do("Action", "Ping"); got.Get("Ping") != "Pong" {
		t.Errorf("the session with events off got %q", got)
	}
}

// TestPlay replays a capture's events byte for byte.
func TestPlay(t *testing.T) {
	capture, err := os.ReadFile("../../testdata/asterisk20/S01/ami.log")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, amitest.Config{})
	rc := connect(t, srv)
	rc.do("Action", "Login", "Username", "lab", "Secret", "labpass")
	rc.read() // FullyBooted
	var tap bytes.Buffer
	rc.r = ami.NewReader(bufio.NewReader(io.TeeReader(rc.c, &tap)))
	n, err := srv.Play(bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	recorded := messages(t, capture)
	events := recorded[1 : len(recorded)-1] // without the login response and the Goodbye
	if n != len(events) {
		t.Errorf("Play sent %d events, the capture has %d", n, len(events))
	}
	for i := range events {
		if got := rc.read(); !reflect.DeepEqual(got, events[i]) {
			t.Fatalf("event %d: %q, want %q", i, got, events[i])
		}
	}
	start := bytes.Index(capture, []byte("Event: FullyBooted"))
	end := bytes.LastIndex(capture, []byte("Response: Goodbye"))
	if !bytes.Equal(tap.Bytes(), capture[start:end]) {
		t.Error("the bytes played differ from the capture's")
	}
}

func TestDropAndRequests(t *testing.T) {
	srv := newServer(t, amitest.Config{})
	a := connect(t, srv)
	a.do("Action", "Login", "Username", "lab", "Secret", "labpass", "Events", "off")
	b := connect(t, srv)
	b.do("Action", "Ping")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.WaitLogins(ctx, 1); err != nil {
		t.Fatal(err)
	}
	srv.Drop()
	for _, rc := range []*raw{a, b} {
		if _, err := rc.r.ReadMessage(); err == nil {
			t.Error("a session outlived Drop")
		}
	}
	var got []string
	for _, r := range srv.Requests() {
		got = append(got, fmt.Sprint(r.Session, " ", r.Action.Action()))
	}
	if want := []string{"1 Login", "2 Ping"}; !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.WaitLogins(ctx, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitLogins for a login that does not come: %v", err)
	}
}

func TestHandlerMistake(t *testing.T) {
	srv := newServer(t, amitest.Config{})
	srv.Handle("Bad", func(*amitest.Session, *ami.Message) []*ami.Message {
		return []*ami.Message{ami.NewMessage("Response", "Success", "Injected", "x\r\nEvent: Fake")}
	})
	rc := connect(t, srv)
	rc.do("Action", "Login", "Username", "lab", "Secret", "labpass", "Events", "off")
	if got := rc.do("Action", "Bad"); got.Response() != "Error" || !strings.Contains(got.Get("Message"), "invalid reply") {
		t.Errorf("a handler's invalid message: %q", got)
	}
}

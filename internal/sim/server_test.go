package sim

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
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
)

// start serves s on a loopback port and returns its address; the test's
// cleanup closes it and checks that Serve ended as it should.
func start(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// client is the test's side of one AMI connection.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	r  *ami.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	br := bufio.NewReader(nc)
	return &client{t: t, nc: nc, br: br, r: ami.NewReader(br)}
}

func (c *client) send(kv ...string) {
	c.t.Helper()
	if err := ami.WriteMessage(c.nc, ami.NewMessage(kv...)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) read() *ami.Message {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := c.r.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// expectEOF checks that the server closes the connection with nothing
// more to say.
func (c *client) expectEOF() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if m, err := c.r.ReadMessage(); err != io.EOF {
		c.t.Fatalf("got %v, %v; want the connection closed", m, err)
	}
}

func (c *client) login(user, secret string, extra ...string) {
	c.t.Helper()
	c.send(append([]string{"Action", "Login", "ActionID", "l1", "Username", user, "Secret", secret}, extra...)...)
	m := c.read()
	if m.Response() != "Success" || m.Get("Message") != "Authentication accepted" || m.ActionID() != "l1" {
		c.t.Fatalf("login: %q", m.String())
	}
}

func load(t *testing.T, paths ...string) []*Capture {
	t.Helper()
	var cs []*Capture
	for _, p := range paths {
		c, err := LoadCapture(p)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// TestServeBytes checks the wire byte for byte: banner, login response
// and FullyBooted, then exactly the capture's events.
func TestServeBytes(t *testing.T) {
	caps := load(t, "../../testdata/asterisk20/S05/ami.log")
	s := &Server{User: "lab", Secret: "labpass", Captures: caps, Fast: true}
	c := dial(t, start(t, s))
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	banner, err := c.br.ReadString('\n')
	if err != nil || banner != "Asterisk Call Manager/9.0.0\r\n" {
		t.Fatalf("banner %q, %v", banner, err)
	}
	c.send("Action", "Login", "ActionID", "l1", "Username", "lab", "Secret", "labpass")
	var head strings.Builder
	for blank := 0; blank < 2; {
		line, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		head.WriteString(line)
		if line == "\r\n" {
			blank++
		}
	}
	want := "Response: Success\r\nActionID: l1\r\nMessage: Authentication accepted\r\n\r\n" +
		"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 0\r\nLastReload: 0\r\nStatus: Fully Booted\r\n\r\n"
	if head.String() != want {
		t.Errorf("login answer:\n%q\nwant\n%q", head.String(), want)
	}
	var all []byte
	for _, e := range caps[0].Events {
		all = append(all, e.Raw...)
	}
	got := make([]byte, len(all))
	if _, err := io.ReadFull(c.br, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all) {
		t.Fatal("events differ from the capture's bytes")
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed")
	}
	// The connection stays open and answers once the captures are over.
	c.send("Action", "Ping", "ActionID", "p")
	if m := c.read(); m.Get("Ping") != "Pong" {
		t.Errorf("ping after the end: %q", m.String())
	}
}

// TestServeCaptures plays several captures back to back and reads them
// with ami.Reader: every event, in order, the first capture untouched and
// the later ones with their timestamps shifted to follow on.
func TestServeCaptures(t *testing.T) {
	paths := []string{
		"../../testdata/asterisk20/S01/ami.log",
		"../../testdata/asterisk22/P04/ami.log",
		"../../testdata/ami-actions/asterisk20/notimestamp-basic.ami.log",
		"../../testdata/asterisk20/S14/ami.log",
	}
	caps := load(t, paths...)
	s := &Server{User: "lab", Secret: "labpass", Captures: caps, Fast: true, Gap: 500 * time.Millisecond}
	c := dial(t, start(t, s))
	c.login("lab", "labpass")
	if m := c.read(); m.Event() != "FullyBooted" {
		t.Fatalf("after login: %q", m.String())
	}
	var prev time.Time
	for ci, capt := range caps {
		for i, e := range capt.Events {
			m := c.read()
			want := s.Events()[indexOf(caps, ci, i)]
			if m.String() != string(want.Raw) {
				t.Fatalf("%s event %d:\n%q\nwant\n%q", paths[ci], i, m.String(), want.Raw)
			}
			if ci == 0 && m.String() != string(e.Raw) {
				t.Fatalf("first capture's event %d was changed", i)
			}
			sans := func(raw []byte) string { return timestampLine.ReplaceAllString(string(raw), "") }
			if sans(want.Raw) != sans(e.Raw) {
				t.Fatalf("%s event %d changed beyond its Timestamp", paths[ci], i)
			}
			if sec, usec, ok := m.Timestamp(); ok {
				ts := time.Unix(sec, usec*1000)
				if ts.Before(prev) {
					t.Fatalf("%s event %d at %v, before the previous event's %v", paths[ci], i, ts, prev)
				}
				prev = ts
			}
		}
	}
	if got := s.Conns(); len(got) != 1 || got[0].First != 0 || got[0].Next != len(s.Events()) {
		t.Errorf("conns = %+v", got)
	}
}

var timestampLine = regexp.MustCompile("(?m)^Timestamp: [0-9.]+\r\n")

func indexOf(caps []*Capture, ci, i int) int {
	for _, c := range caps[:ci] {
		i += len(c.Events)
	}
	return i
}

func TestLogin(t *testing.T) {
	caps := load(t, "../../testdata/asterisk20/S01/ami.log")
	const delay = 100 * time.Millisecond
	s := &Server{User: "lab", Secret: "labpass", Captures: caps, Fast: true, AuthFailDelay: delay,
		AuthTimeout: time.Second}
	s.PauseAt(0) // no events in this test
	addr := start(t, s)

	t.Run("plain, wrong secret", func(t *testing.T) {
		c := dial(t, addr)
		start := time.Now()
		c.send("Action", "Login", "ActionID", "l1", "Username", "lab", "Secret", "wrong")
		m := c.read()
		if m.Response() != "Error" || m.Get("Message") != "Authentication failed" || m.ActionID() != "l1" {
			t.Errorf("got %q", m.String())
		}
		if el := time.Since(start); el < delay {
			t.Errorf("answered after %v, before the %v delay", el, delay)
		}
		c.expectEOF()
	})
	t.Run("md5", func(t *testing.T) {
		c := dial(t, addr)
		c.send("Action", "Challenge", "ActionID", "c1", "AuthType", "MD5")
		m := c.read()
		ch := m.Get("Challenge")
		if m.Response() != "Success" || len(ch) != 9 {
			t.Fatalf("challenge: %q", m.String())
		}
		sum := md5.Sum([]byte(ch + "labpass"))
		c.send("Action", "Login", "ActionID", "l1", "AuthType", "MD5", "Username", "lab", "Key", hex.EncodeToString(sum[:]))
		if m := c.read(); m.Get("Message") != "Authentication accepted" {
			t.Fatalf("login: %q", m.String())
		}
		if m := c.read(); m.Event() != "FullyBooted" || m.Get("Status") != "Fully Booted" {
			t.Errorf("after login: %q", m.String())
		}
		c.send("Action", "Login", "ActionID", "l2", "Username", "lab", "Secret", "labpass")
		if m := c.read(); m.Response() != "Success" || m.Get("Message") != "Already authenticated" {
			t.Errorf("second login: %q", m.String())
		}
	})
	t.Run("md5, wrong key", func(t *testing.T) {
		c := dial(t, addr)
		c.send("Action", "Challenge", "AuthType", "MD5")
		c.read()
		c.send("Action", "Login", "AuthType", "MD5", "Username", "lab", "Key", "00000000000000000000000000000000")
		if m := c.read(); m.Get("Message") != "Authentication failed" {
			t.Errorf("got %q", m.String())
		}
		c.expectEOF()
	})
	t.Run("md5 without a challenge", func(t *testing.T) {
		c := dial(t, addr)
		sum := md5.Sum([]byte("labpass"))
		c.send("Action", "Login", "AuthType", "MD5", "Username", "lab", "Key", hex.EncodeToString(sum[:]))
		if m := c.read(); m.Get("Message") != "Authentication failed" {
			t.Errorf("got %q", m.String())
		}
		c.expectEOF()
	})
	t.Run("before login", func(t *testing.T) {
		c := dial(t, addr)
		for _, action := range []string{"Ping", "CoreStatus", "Frobnicate", "Events"} {
			c.send("Action", action, "ActionID", "x-"+action)
			if m := c.read(); m.Response() != "Error" || m.Get("Message") != "Permission denied" || m.ActionID() != "x-"+action {
				t.Errorf("%s: %q", action, m.String())
			}
		}
		c.send("Action", "Challenge", "ActionID", "c", "AuthType", "plain")
		if m := c.read(); m.Response() != "Error" || m.Get("Message") != "Must specify AuthType" {
			t.Errorf("challenge plain: %q", m.String())
		}
		c.expectEOF() // the auth timeout, without a word
	})
	t.Run("events off", func(t *testing.T) {
		c := dial(t, addr)
		c.login("LAB", "labpass", "Events", "off")
		c.send("Action", "Ping", "ActionID", "p")
		if m := c.read(); m.Get("Ping") != "Pong" { // no FullyBooted before it
			t.Errorf("got %q", m.String())
		}
	})
}

func TestActions(t *testing.T) {
	s := &Server{User: "lab", Secret: "labpass", Captures: load(t, "../../testdata/asterisk20/S01/ami.log"), Fast: true}
	s.PauseAt(0)
	c := dial(t, start(t, s))
	c.login("lab", "labpass")
	c.read() // FullyBooted
	tests := []struct {
		kv   []string
		want []string // fields of the answer, in order
	}{
		{[]string{"Action", "Frobnicate", "ActionID", "f"}, []string{"Response", "Error", "ActionID", "f", "Message",
			"Invalid/unknown command: Frobnicate. Use Action: ListCommands to show available commands."}},
		{[]string{"Action", "Events", "ActionID", "e1", "EventMask", "off"}, []string{"Response", "Success", "ActionID", "e1", "Events", "Off"}},
		{[]string{"Action", "events", "ActionID", "e2", "EventMask", "on"}, []string{"Response", "Success", "ActionID", "e2", "Events", "On"}},
		{[]string{"Action", "Ping"}, []string{"Response", "Success", "Ping", "Pong", "Timestamp", "*"}},
		{[]string{"ActionID", "n"}, []string{"Response", "Error", "ActionID", "n", "Message", "Missing action in request"}},
		{[]string{"Action", "Logoff", "ActionID", "bye"}, []string{"Response", "Goodbye", "ActionID", "bye", "Message", "Thanks for all the fish."}},
	}
	for _, tt := range tests {
		c.send(tt.kv...)
		m := c.read()
		var got []string
		for _, f := range m.Fields {
			got = append(got, f.Key, f.Value)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%v: got %q", tt.kv, m.String())
			continue
		}
		for i := range got {
			if tt.want[i] != "*" && got[i] != tt.want[i] {
				t.Errorf("%v: got %q", tt.kv, m.String())
				break
			}
		}
	}
	c.expectEOF() // after Logoff
}

// TestPauseDropReconnect is how tests of serve use the simulator: stop at
// an event, cut the connection, and see the next client carry on with
// the next event.
func TestPauseDropReconnect(t *testing.T) {
	caps := load(t, "../../testdata/asterisk20/S08/ami.log")
	s := &Server{User: "lab", Secret: "labpass", Captures: caps, Fast: true}
	const stop = 40
	s.PauseAt(stop)
	addr := start(t, s)
	events := s.Events()

	c1 := dial(t, addr)
	c1.login("lab", "labpass")
	c1.read() // FullyBooted
	for i := range stop {
		if m := c1.read(); m.String() != string(events[i].Raw) {
			t.Fatalf("event %d differs", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if at, err := s.WaitPaused(ctx); err != nil || at != stop {
		t.Fatalf("WaitPaused = %d, %v; want %d", at, err, stop)
	}
	s.DropConnections()
	c1.expectEOF()

	s.Resume() // nobody listens: the player waits for the next client
	time.Sleep(20 * time.Millisecond)
	if n := s.Sent(); n != stop {
		t.Fatalf("sent %d events with nobody connected, want %d", n, stop)
	}
	c2 := dial(t, addr)
	c2.login("lab", "labpass")
	c2.read() // FullyBooted
	for i := stop; i < len(events); i++ {
		if m := c2.read(); m.String() != string(events[i].Raw) {
			t.Fatalf("event %d differs: %q", i, m.String())
		}
	}
	if err := s.WaitSent(ctx, len(events)); err != nil {
		t.Fatal(err)
	}
	conns := s.Conns()
	if len(conns) != 2 || conns[0].First != 0 || conns[0].Next != stop || !conns[0].Closed ||
		conns[1].First != stop || conns[1].Next != len(events) || conns[1].Closed {
		t.Errorf("conns = %+v", conns)
	}
}

func TestPacing(t *testing.T) {
	// Three events 1 s apart, played 20 times faster: 100 ms in all.
	in := "Asterisk Call Manager/9.0.0\r\n" +
		"Event: A\r\nTimestamp: 1795333490.000000\r\n\r\n" +
		"Event: B\r\nTimestamp: 1795333491.000000\r\n\r\n" +
		"Event: NoTime\r\n\r\n" +
		"Event: C\r\nTimestamp: 1795333492.000000\r\n\r\n"
	tests := []struct {
		name     string
		speed    float64
		fast     bool
		min, max time.Duration
	}{
		{"speed 20", 20, false, 90 * time.Millisecond, 900 * time.Millisecond},
		{"fast", 1, true, 0, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capt, err := ReadCapture("pace", strings.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			s := &Server{User: "u", Secret: "s", Captures: []*Capture{capt}, Speed: tt.speed, Fast: tt.fast}
			c := dial(t, start(t, s))
			c.login("u", "s")
			c.read() // FullyBooted
			begin := time.Now()
			var names []string
			var at []time.Duration
			for range 4 {
				names = append(names, c.read().Event())
				at = append(at, time.Since(begin))
			}
			if got := strings.Join(names, " "); got != "A B NoTime C" {
				t.Errorf("events %s", got)
			}
			if el := at[3]; el < tt.min || el > tt.max {
				t.Errorf("took %v, want %v to %v", el, tt.min, tt.max)
			}
			if !tt.fast && at[1] < 45*time.Millisecond {
				t.Errorf("B came %v after A, want about 50ms", at[1])
			}
		})
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s := &Server{User: "u", Secret: "s", Captures: load(t, "../../testdata/asterisk20/S01/ami.log")}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c := dial(t, l.Addr().String())
	c.login("u", "s")
	c.read()
	s.Close()
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for { // events already under way may come first
		if _, err := c.r.ReadMessage(); err != nil {
			if err != io.EOF {
				t.Errorf("read after Close: %v, want EOF", err)
			}
			break
		}
	}
	c.nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close = %v", err)
	}
}

func TestCoreShowChannels(t *testing.T) {
	caps := load(t, "../../testdata/asterisk20/S01/ami.log")
	s := &Server{User: "lab", Secret: "labpass", Captures: caps, Fast: true}
	events := s.Events()
	bridged := -1
	for i, e := range events {
		if e.Name == "BridgeEnter" {
			bridged = i + 1 // stop after the second one
		}
		if e.Name == "BridgeLeave" {
			break
		}
	}
	s.PauseAt(bridged)
	c := dial(t, start(t, s))
	c.login("lab", "labpass")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.WaitPaused(ctx); err != nil {
		t.Fatal(err)
	}
	for range bridged + 1 { // FullyBooted and the events so far
		c.read()
	}

	list := func(id string) (items []*ami.Message) {
		t.Helper()
		c.send("Action", "CoreShowChannels", "ActionID", id)
		if m := c.read(); m.Response() != "Success" || m.Get("EventList") != "start" || m.ActionID() != id {
			t.Fatalf("list start: %q", m.String())
		}
		for {
			m := c.read()
			if m.Event() == "CoreShowChannelsComplete" {
				if m.Get("ListItems") != strconv.Itoa(len(items)) || m.ActionID() != id {
					t.Errorf("list end: %q with %d items", m.String(), len(items))
				}
				return items
			}
			if m.Event() != "CoreShowChannel" || m.ActionID() != id {
				t.Fatalf("list item: %q", m.String())
			}
			items = append(items, m)
		}
	}
	items := list("c1")
	var got []string
	for _, it := range items {
		got = append(got, it.Get("Channel")+" "+it.Get("ChannelStateDesc")+" "+it.Get("Uniqueid")+" "+it.Get("Linkedid"))
		if it.Get("BridgeId") == "" || it.Get("Duration") == "" {
			t.Errorf("item without bridge or duration: %q", it.String())
		}
	}
	want := []string{"SIP/1001-00000000 Up 1795333490.0 1795333490.0", "SIP/1002-00000001 Up 1795333490.1 1795333490.0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("channels:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var keys []string
	for _, f := range items[0].Fields {
		keys = append(keys, f.Key)
	}
	if got, want := strings.Join(keys, ","), "Event,ActionID,Channel,ChannelState,ChannelStateDesc,CallerIDNum,CallerIDName,"+
		"ConnectedLineNum,ConnectedLineName,Language,AccountCode,Context,Exten,Priority,Uniqueid,Linkedid,"+
		"Application,ApplicationData,Duration,BridgeId"; got != want {
		t.Errorf("item fields %s, want Asterisk's %s", got, want)
	}

	s.Resume()
	if err := s.WaitSent(ctx, len(events)); err != nil {
		t.Fatal(err)
	}
	for range len(events) - bridged {
		c.read()
	}
	if items := list("c2"); len(items) != 0 {
		t.Errorf("%d channels alive after the last hangup", len(items))
	}
}

// TestDebugTap checks the transcript: the server's chunks, put together,
// are exactly what the client read, and the client's are its actions.
func TestDebugTap(t *testing.T) {
	var tr syncBuffer
	s := &Server{User: "lab", Secret: "labpass", Captures: load(t, "../../testdata/asterisk20/S03/ami.log"), Fast: true, Debug: &tr}
	c := dial(t, start(t, s))
	login := "Action: Login\r\nUsername: lab\r\nSecret: labpass\r\n\r\n"
	io.WriteString(c.nc, login)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitSent(ctx, 20); err != nil {
		t.Fatal(err)
	}
	logoff := "Action: Logoff\r\n\r\n"
	io.WriteString(c.nc, logoff)
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(cond func() bool) {
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("transcript:\n%s", tr.String())
			}
		}
	}
	waitFor(func() bool { return strings.Contains(tr.String(), "ASTERISK closed") })

	var fromServer, fromClient []byte
	lines := tr.String()
	chunk := regexp.MustCompile(`(?m)^##### \d+\.\d{6} (ASTERISK->CLIENT|CLIENT->ASTERISK) (\d+) bytes\n`)
	for {
		loc := chunk.FindStringSubmatchIndex(lines)
		if loc == nil {
			break
		}
		n, _ := strconv.Atoi(lines[loc[4]:loc[5]])
		body := lines[loc[1] : loc[1]+n]
		if lines[loc[2]:loc[3]] == "ASTERISK->CLIENT" {
			fromServer = append(fromServer, body...)
		} else {
			fromClient = append(fromClient, body...)
		}
		lines = lines[loc[1]+n:]
	}
	if string(fromServer) != string(got) || !strings.HasPrefix(string(got), "Asterisk Call Manager/9.0.0\r\n") {
		t.Errorf("server chunks differ from what the client read")
	}
	if string(fromClient) != login+logoff {
		t.Errorf("client chunks %q", fromClient)
	}
	if !regexp.MustCompile(`^##### \d+\.\d{6} CLIENT connected 127\.0\.0\.1:\d+\n`).MatchString(tr.String()) {
		t.Errorf("transcript starts %q", tr.String()[:60])
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A long stream keeps the pace it is asked for: waits do not add up.
// 1,000 events 10 ms apart played 10 times faster take 1 s, not 1 s plus
// the overshoot of a thousand timers.
func TestPacingHoldsOverManyEvents(t *testing.T) {
	var in strings.Builder
	in.WriteString("Asterisk Call Manager/9.0.0\r\n")
	const n = 1000
	t0 := time.Unix(1795333490, 0)
	for i := range n {
		ts := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		fmt.Fprintf(&in, "Event: E\r\nTimestamp: %d.%06d\r\n\r\n", ts.Unix(), ts.Nanosecond()/1000)
	}
	capt, err := ReadCapture("pace", strings.NewReader(in.String()))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{User: "u", Secret: "s", Captures: []*Capture{capt}, Speed: 10}
	c := dial(t, start(t, s))
	c.login("u", "s")
	c.read() // FullyBooted
	c.read()
	begin := time.Now()
	for range n - 1 {
		c.read()
	}
	const want = (n - 1) * time.Millisecond
	if el := time.Since(begin); el < want*95/100 || el > want*115/100 {
		t.Errorf("%d events took %v, want %v (±5%%/15%%)", n, el, want)
	}
}

package ami_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
)

func clientConfig() ami.Config {
	cfg := testConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.MinBackoff = 10 * time.Millisecond
	cfg.MaxBackoff = 50 * time.Millisecond
	return cfg
}

// run starts c.Run and returns a function that stops it and returns its
// error.
func run(t *testing.T, c *ami.Client) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// expectMarker reads the next message and checks that it is the marker
// named for connection n.
func expectMarker(t *testing.T, ch <-chan *ami.Message, event string, n int) *ami.Message {
	t.Helper()
	m := next(t, ch)
	if m.Event() != event || m.Get("Connection") != fmt.Sprint(n) {
		t.Fatalf("got %q, want %s of connection %d", m, event, n)
	}
	sec, _, ok := m.Timestamp()
	if now := time.Now().Unix(); !ok || sec < now-5 || sec > now+1 {
		t.Errorf("marker Timestamp %q", m.Get("Timestamp"))
	}
	return m
}

// TestClientReconnect: when Asterisk drops the connection, the client
// reconnects and logs in again before any other action; markers frame
// the events of each connection.
func TestClientReconnect(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	c := ami.NewClient(srv.Addr(), clientConfig())

	// An action sent before the client runs waits for the login.
	early := make(chan error, 1)
	go func() {
		_, err := c.Do(ctxTimeout(t, 5*time.Second), ami.NewMessage("Action", "Ping"))
		early <- err
	}()
	stop := run(t, c)
	ev := c.Events()

	m := expectMarker(t, ev, ami.EventConnected, 1)
	if m.Get("Address") != srv.Addr() || m.Get("Banner") != "Asterisk Call Manager/9.0.0" {
		t.Errorf("Connected marker %q", m)
	}
	if m := next(t, ev); m.Event() != "FullyBooted" {
		t.Fatalf("got %q, want FullyBooted", m)
	}
	if err := <-early; err != nil {
		t.Errorf("early action: %v", err)
	}
	srv.Send(event("Newchannel", "Channel", "PJSIP/1001-00000001"))
	if m := next(t, ev); m.Event() != "Newchannel" {
		t.Fatalf("got %q", m)
	}

	srv.Drop()
	m = expectMarker(t, ev, ami.EventDisconnected, 1)
	if want := "ami: " + srv.Addr() + ": connection closed by asterisk"; m.Get("Reason") != want {
		t.Errorf("Disconnected reason %q, want %q", m.Get("Reason"), want)
	}
	expectMarker(t, ev, ami.EventConnected, 2)
	if m := next(t, ev); m.Event() != "FullyBooted" {
		t.Fatalf("got %q, want FullyBooted", m)
	}
	if _, err := c.Do(ctxTimeout(t, 5*time.Second), ami.NewMessage("Action", "Ping")); err != nil {
		t.Errorf("Ping after the reconnect: %v", err)
	}
	srv.Send(event("Hangup", "Channel", "PJSIP/1001-00000001"))
	if m := next(t, ev); m.Event() != "Hangup" {
		t.Fatalf("got %q", m)
	}

	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	expectMarker(t, ev, ami.EventDisconnected, 2)
	if _, ok := <-ev; ok {
		t.Error("Events open after Run returned")
	}
	if _, err := c.Do(context.Background(), ami.NewMessage("Action", "Ping")); !errors.Is(err, ami.ErrClientStopped) {
		t.Errorf("Do after Run: %v, want ErrClientStopped", err)
	}

	// Each session logged in before anything else, and the client
	// logged off at the end.
	sessions := actionNames(srv.Requests())
	want := map[int][]string{1: {"Login", "Ping"}, 2: {"Login", "Ping", "Logoff"}}
	if !reflect.DeepEqual(sessions, want) {
		t.Errorf("actions per session %v, want %v", sessions, want)
	}
}

// TestClientRestart replays a recorded Asterisk restart: the Shutdown
// event and the close, a connection accepted and closed without a banner,
// refused connections, then a new Asterisk that accepts the login before
// it is fully booted.
func TestClientRestart(t *testing.T) {
	for _, v := range []string{"asterisk20", "asterisk22"} {
		t.Run(v, func(t *testing.T) {
			checkLeaks(t)
			sessions := readTranscript(t, filepath.Join("../testdata/ami-actions", v, "restart.log"))
			rp := newReplayer(t, sessions)
			c := ami.NewClient(rp.addr(), clientConfig())
			stop := run(t, c)
			var got []string
			for m := range c.Events() {
				got = append(got, m.Event()+m.Get("Connection"))
				if m.Event() == "FullyBooted" && m.Get("Uptime") == "0" {
					stop() // the new Asterisk is up: log off
				}
			}
			want := []string{
				"ami.Connected1", "FullyBooted", "SuccessfulAuth", "Shutdown", "ami.Disconnected1",
				"ami.Connected2", "SuccessfulAuth", "FullyBooted", "ami.Disconnected2",
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("events %q,\nwant %q", got, want)
			}
			if got := rp.sent(2); len(got) != 2 || got[0].Action() != "Login" || got[1].Action() != "Logoff" {
				t.Errorf("third connection: sent %q, want Login then Logoff", got)
			}
		})
	}
}

// TestClientSnapshot replays the snapshot taken during live calls and
// checks the lists against what the phones saw (snapshot-during-calls.md).
func TestClientSnapshot(t *testing.T) {
	type channel struct{ name, state, app, bridge, linkedid string }
	truth := map[string]struct {
		channels                                       []channel
		bridge                                         string
		queueAll, summary, devices                     int
		queueChannel, queueUniqueid, bridged, linkedid string
	}{
		"asterisk20": {
			channels: []channel{
				{"SIP/1004-00000005", "5", "AppQueue", "", "1795335393.4"},
				{"SIP/1003-00000002", "4", "Dial", "", "1795335393.2"},
				{"SIP/1006-00000003", "5", "AppDial", "", "1795335393.2"},
				{"SIP/1001-00000000", "6", "Dial", "cf799cb5-7fd7-448f-95ac-32f325b82694", "1795335392.0"},
				{"SIP/1002-00000001", "6", "AppDial", "cf799cb5-7fd7-448f-95ac-32f325b82694", "1795335392.0"},
				{"SIP/1007-00000004", "6", "Queue", "", "1795335393.4"},
			},
			bridge:   "cf799cb5-7fd7-448f-95ac-32f325b82694",
			queueAll: 10, summary: 3, devices: 16,
			queueChannel: "SIP/1007-00000004", queueUniqueid: "1795335393.4",
			bridged: "SIP/1001-00000000 SIP/1002-00000001", linkedid: "1795335392.0",
		},
		"asterisk22": {
			channels: []channel{
				{"PJSIP/1001-00000000", "6", "Dial", "cbaa4862-c84d-4e67-897f-4e97983462f6", "1795335761.0"},
				{"PJSIP/1002-00000001", "6", "AppDial", "cbaa4862-c84d-4e67-897f-4e97983462f6", "1795335761.0"},
				{"PJSIP/1003-00000002", "4", "Dial", "", "1795335762.2"},
				{"PJSIP/1006-00000004", "5", "AppDial", "", "1795335762.2"},
				{"PJSIP/1007-00000003", "6", "Queue", "", "1795335763.3"},
				{"PJSIP/1004-00000005", "5", "AppQueue", "", "1795335763.3"},
			},
			bridge:   "cbaa4862-c84d-4e67-897f-4e97983462f6",
			queueAll: 4, summary: 1, devices: 45,
			queueChannel: "PJSIP/1007-00000003", queueUniqueid: "1795335763.3",
			bridged: "PJSIP/1001-00000000 PJSIP/1002-00000001", linkedid: "1795335761.0",
		},
	}
	for v, want := range truth {
		t.Run(v, func(t *testing.T) {
			checkLeaks(t)
			sessions := readTranscript(t, filepath.Join("../testdata/ami-actions", v, "snapshot-during-calls.log"))
			rp := newReplayer(t, sessions)
			cfg := clientConfig()
			cfg.Events = "off"
			c := ami.NewClient(rp.addr(), cfg)
			stop := run(t, c)
			actions, _ := readAllQuiet(sessions[0].sent())
			lists := map[string]*ami.List{}
			errs := map[string]error{}
			for _, a := range actions[1 : len(actions)-1] { // between Login and Logoff
				l, err := c.DoList(ctxTimeout(t, 5*time.Second), a)
				lists[a.ActionID()], errs[a.ActionID()] = l, err
				if err == nil && l.Complete.Get("ListItems") != fmt.Sprint(len(l.Items)) {
					t.Errorf("%s: %d items, ListItems says %s", a.ActionID(), len(l.Items), l.Complete.Get("ListItems"))
				}
			}
			stop()

			var chans []channel
			for _, m := range lists["coreshowchannels-2"].Items {
				chans = append(chans, channel{m.Get("Channel"), m.Get("ChannelState"), m.Get("Application"), m.Get("BridgeId"), m.Get("Linkedid")})
			}
			// Asterisk lists in container order, not creation order.
			byName := func(cs []channel) func(i, j int) bool { return func(i, j int) bool { return cs[i].name < cs[j].name } }
			sort.Slice(chans, byName(chans))
			sort.Slice(want.channels, byName(want.channels))
			if !reflect.DeepEqual(chans, want.channels) {
				t.Errorf("channels\n%v\nwant\n%v", chans, want.channels)
			}
			if l := lists["bridgelist-3"]; len(l.Items) != 1 || l.Items[0].Get("BridgeUniqueid") != want.bridge ||
				l.Items[0].Get("BridgeTechnology") != "native_rtp" || l.Items[0].Get("BridgeNumChannels") != "2" {
				t.Errorf("bridges %q", l.Items)
			}
			if l := lists["bridgeinfo-4"]; len(l.Items) != 2 || l.Complete.Get("BridgeUniqueid") != want.bridge ||
				l.Items[0].Get("Channel")+" "+l.Items[1].Get("Channel") != want.bridged {
				t.Errorf("bridge info %q / %q", l.Items, l.Complete)
			}
			var re *ami.ResponseError
			if err := errs["bridgeinfo-5"]; !errors.As(err, &re) || re.Message != "Specified BridgeUniqueid not found" {
				t.Errorf("unknown bridge: %v", err)
			}
			if l := lists["queuestatus-6"]; len(l.Items) != want.queueAll {
				t.Errorf("QueueStatus: %d items, want %d", len(l.Items), want.queueAll)
			}
			var entries, members []string
			for _, m := range lists["queuestatus-8"].Items {
				switch m.Event() {
				case "QueueEntry":
					entries = append(entries, m.Get("Queue")+" "+m.Get("Position")+" "+m.Get("Channel")+" "+m.Get("Uniqueid"))
				case "QueueMember":
					members = append(members, m.Get("Name")+" "+m.Get("Status"))
				}
				if m.Fields[len(m.Fields)-1].Key != "ActionID" {
					t.Errorf("%s: the ActionID is not last, as the capture has it", m.Event())
				}
			}
			if w := []string{"support 1 " + want.queueChannel + " " + want.queueUniqueid}; !reflect.DeepEqual(entries, w) {
				t.Errorf("queue callers %q, want %q", entries, w)
			}
			if w := []string{"Agent1004 6", "Agent1005 1"}; !reflect.DeepEqual(members, w) {
				t.Errorf("queue members %q, want %q", members, w)
			}
			if l := lists["queuesummary-7"]; len(l.Items) != want.summary {
				t.Errorf("QueueSummary: %d items", len(l.Items))
			}
			if l := lists["status-9"]; len(l.Items) != 6 {
				t.Errorf("Status: %d items", len(l.Items))
			}
			if l := lists["status-11"]; len(l.Items) != 1 ||
				!reflect.DeepEqual(l.Items[0].Variables(), map[string]string{"CHANNEL(linkedid)": want.linkedid, "DIALSTATUS": "ANSWER"}) {
				t.Errorf("Status with Variables: %v", l.Items[0].Variables())
			}
			if l := lists["devicestatelist-12"]; len(l.Items) != want.devices {
				t.Errorf("DeviceStateList: %d items, want %d", len(l.Items), want.devices)
			}
			if l := lists["extensionstatelist-13"]; len(l.Items) != 0 || l.Complete == nil {
				t.Errorf("ExtensionStateList: %+v", l)
			}
			if l := lists["coreshowchannelmap-14"]; len(l.Items) != 1 || !strings.Contains(l.Items[0].Get("ConnectedChannel"), "1002-00000001") {
				t.Errorf("CoreShowChannelMap: %q", l.Items)
			}
			if l := lists["queuestatus-15"]; len(l.Items) != 0 || l.Complete == nil {
				t.Errorf("QueueStatus of a missing queue: %+v", l)
			}
			if l := lists["coreshowchannels-16"]; len(l.Items) != 0 {
				t.Errorf("channels after the calls: %d", len(l.Items))
			}
		})
	}
}

// TestClientFirstLoginRefused: a wrong secret is a configuration error:
// Run returns it at once rather than retrying forever.
func TestClientFirstLoginRefused(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	cfg := clientConfig()
	cfg.Secret = "wrong"
	c := ami.NewClient(srv.Addr(), cfg)
	err := c.Run(ctxTimeout(t, 5*time.Second))
	if !errors.Is(err, ami.ErrAuth) {
		t.Errorf("Run: %v, want ErrAuth", err)
	}
	if _, ok := <-c.Events(); ok {
		t.Error("Events open after Run returned")
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d actions sent, want a single Login", n)
	}
	if err := c.Run(context.Background()); err == nil {
		t.Error("a second Run did not fail")
	}
}

// TestClientLoginRefusedLater: once connected, a refused login (say,
// during a reload of manager.conf) is retried.
func TestClientLoginRefusedLater(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	c := ami.NewClient(srv.Addr(), clientConfig())
	run(t, c)
	expectMarker(t, c.Events(), ami.EventConnected, 1)
	refuse := func(*amitest.Session, *ami.Message) []*ami.Message {
		return []*ami.Message{ami.NewMessage("Response", "Error", "Message", "Authentication failed")}
	}
	srv.Handle("Login", refuse)
	srv.Drop()
	if err := srv.WaitRequests(ctxTimeout(t, 5*time.Second), 4); err != nil { // Login, then 3 refused
		t.Fatal(err)
	}
	srv.Handle("Login", nil)
	next(t, c.Events()) // FullyBooted
	expectMarker(t, c.Events(), ami.EventDisconnected, 1)
	expectMarker(t, c.Events(), ami.EventConnected, 2)
}

// TestClientBackoffStops: with no Asterisk to connect to, Run retries
// until its context ends, then returns at once.
func TestClientBackoffStops(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	addr := srv.Addr()
	srv.Close()
	cfg := clientConfig()
	cfg.MinBackoff, cfg.MaxBackoff = 50*time.Millisecond, time.Hour
	c := ami.NewClient(addr, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Run(ctx); err != nil {
		t.Errorf("Run: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Run returned %v after its context ended", took-300*time.Millisecond)
	}
	if _, ok := <-c.Events(); ok {
		t.Error("an event without a connection")
	}
}

// TestClientSlowConsumer: a consumer that falls behind loses the
// connection, not the reader's liveness; the markers show the gap.
func TestClientSlowConsumer(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	cfg := clientConfig()
	cfg.EventBuffer = 4
	c := ami.NewClient(srv.Addr(), cfg)
	run(t, c)
	expectMarker(t, c.Events(), ami.EventConnected, 1)
	next(t, c.Events()) // FullyBooted
	const sent = 3000   // more than the client's channel and the buffer
	for i := range sent {
		srv.Send(event("Newstate", "Seq", fmt.Sprint(i)))
	}
	n := 0
	for {
		m := next(t, c.Events())
		if m.Event() == ami.EventDisconnected {
			if !strings.HasSuffix(m.Get("Reason"), ": event buffer full, consumer too slow") || strings.Count(m.Get("Reason"), "ami: ") != 1 {
				t.Errorf("reason %q", m.Get("Reason"))
			}
			break
		}
		if m.Get("Seq") != fmt.Sprint(n) {
			t.Fatalf("event %d: %q", n, m)
		}
		n++
	}
	if n >= sent {
		t.Errorf("all %d events arrived", n)
	}
	expectMarker(t, c.Events(), ami.EventConnected, 2)
}

// TestSecretNeverLogged: neither the log nor the errors of a client that
// reconnects and is refused show the secret.
func TestSecretNeverLogged(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	var logs strings.Builder
	cfg := clientConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.AuthType = "plain"
	c := ami.NewClient(srv.Addr(), cfg)
	stop := run(t, c)
	expectMarker(t, c.Events(), ami.EventConnected, 1)
	srv.Handle("Login", func(*amitest.Session, *ami.Message) []*ami.Message {
		return []*ami.Message{ami.NewMessage("Response", "Error", "Message", "Authentication failed")}
	})
	srv.Drop()
	srv.WaitRequests(ctxTimeout(t, 5*time.Second), 3)
	stop()
	var reasons []string
	for m := range c.Events() {
		reasons = append(reasons, m.Get("Reason"))
	}
	if !strings.Contains(logs.String(), "refused") {
		t.Errorf("the log does not show the refusal:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(strings.Join(reasons, " "), secret) {
		t.Errorf("the secret shows:\n%s", logs.String())
	}
}

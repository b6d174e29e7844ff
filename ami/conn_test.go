package ami_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
)

func TestDialPlain(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{Banner: "Asterisk Call Manager/11.0.0"})
	c := dial(t, srv.Addr(), testConfig())
	if got := c.Banner(); got != "Asterisk Call Manager/11.0.0" {
		t.Errorf("Banner() = %q", got)
	}
	if m := next(t, c.Events()); m.Event() != "FullyBooted" {
		t.Errorf("first event %q, want FullyBooted", m)
	}
	reqs := srv.Requests()
	want := ami.NewMessage("Action", "Login", "ActionID", "login-1", "Username", user, "Secret", secret, "Events", "on")
	if len(reqs) != 1 || !reflect.DeepEqual(reqs[0].Action, want) {
		t.Errorf("sent %v, want only %q", reqs, want)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !errors.Is(c.Err(), ami.ErrClosed) {
		t.Errorf("Err() after Close = %v, want ErrClosed", c.Err())
	}
	if _, ok := <-c.Events(); ok {
		t.Error("Events still open after Close")
	}
	if _, err := c.Do(context.Background(), ami.NewMessage("Action", "Ping")); !errors.Is(err, ami.ErrClosed) {
		t.Errorf("Do after Close: %v, want ErrClosed", err)
	}
}

func TestDialMD5(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{Challenge: "104911690"})
	cfg := testConfig()
	cfg.AuthType = "MD5"
	dial(t, srv.Addr(), cfg)
	reqs := srv.Requests()
	if got := actionNames(reqs)[1]; !reflect.DeepEqual(got, []string{"Challenge", "Login"}) {
		t.Fatalf("sent %q, want Challenge then Login", got)
	}
	sum := md5.Sum([]byte("104911690" + secret))
	login := reqs[1].Action
	if got, want := login.Get("Key"), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Key %q, want %q", got, want)
	}
	if _, ok := login.Lookup("Secret"); ok || login.Get("AuthType") != "MD5" || reqs[0].Action.Get("AuthType") != "MD5" {
		t.Errorf("MD5 login %q after %q", login, reqs[0].Action)
	}
}

// TestBadSecret: a refused login is one clear line that matches ErrAuth,
// holds Asterisk's words and never the secret, after Asterisk's delay.
func TestBadSecret(t *testing.T) {
	for _, authType := range []string{"plain", "md5"} {
		t.Run(authType, func(t *testing.T) {
			checkLeaks(t)
			const delay = 300 * time.Millisecond
			srv := newServer(t, amitest.Config{AuthDelay: delay})
			cfg := testConfig()
			cfg.AuthType = authType
			cfg.Secret = "wrong-s3cret"
			start := time.Now()
			c, err := ami.Dial(context.Background(), srv.Addr(), cfg)
			if took := time.Since(start); took < delay {
				t.Errorf("refused after %v, before Asterisk's delay", took)
			}
			if c != nil || err == nil {
				t.Fatalf("Dial with a wrong secret: %v, %v", c, err)
			}
			if !errors.Is(err, ami.ErrAuth) {
				t.Errorf("errors.Is(%v, ErrAuth) = false", err)
			}
			var ae *ami.AuthError
			var re *ami.ResponseError
			if !errors.As(err, &ae) || ae.Username != user || !errors.As(err, &re) || re.Message != "Authentication failed" {
				t.Errorf("error %#v does not unwrap to the details", err)
			}
			want := fmt.Sprintf(`ami: %s: login as "lab" refused: Authentication failed`, srv.Addr())
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if strings.Contains(err.Error(), cfg.Secret) {
				t.Error("the error shows the secret")
			}
		})
	}
}

// TestTranscriptLogins replays Asterisk's side of the recorded logins:
// the client must compute the recorded MD5 key from the recorded
// challenge, and read the refusals as auth errors.
func TestTranscriptLogins(t *testing.T) {
	for _, v := range []string{"asterisk20", "asterisk22"} {
		for _, tt := range []struct {
			file, authType string
			refused        bool
		}{
			{"login-plain-ok", "plain", false},
			{"login-md5-ok", "md5", false},
			{"login-plain-bad", "plain", true},
			{"login-md5-bad", "md5", true},
		} {
			t.Run(v+"/"+tt.file, func(t *testing.T) {
				checkLeaks(t)
				sessions := readTranscript(t, filepath.Join("../testdata/ami-actions", v, tt.file+".log"))
				rp := newReplayer(t, sessions)
				cfg := testConfig()
				cfg.AuthType = tt.authType
				c, err := ami.Dial(ctxTimeout(t, 5*time.Second), rp.addr(), cfg)
				if tt.refused {
					if !errors.Is(err, ami.ErrAuth) {
						t.Fatalf("Dial: %v, want an auth error", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				wantBanner := map[string]string{"asterisk20": "Asterisk Call Manager/9.0.0", "asterisk22": "Asterisk Call Manager/11.0.0"}[v]
				if c.Banner() != wantBanner {
					t.Errorf("banner %q, want %q", c.Banner(), wantBanner)
				}
				for _, want := range []string{"FullyBooted", "SuccessfulAuth"} {
					if m := next(t, c.Events()); m.Event() != want {
						t.Errorf("event %q, want %s", m.Event(), want)
					}
				}
				if err := c.Logoff(ctxTimeout(t, 5*time.Second)); err != nil {
					t.Errorf("Logoff: %v", err)
				}
				recorded, _ := readAllQuiet(sessions[0].sent())
				sent := rp.sent(0)
				if len(sent) != len(recorded) {
					t.Fatalf("sent %d actions, the recorder %d", len(sent), len(recorded))
				}
				if tt.authType == "md5" {
					login := sent[1]
					if got, want := login.Get("Key"), recorded[1].Get("Key"); got != want {
						t.Errorf("Key %q, the transcript has %q", got, want)
					}
				}
			})
		}
	}
}

func TestDialWithoutBanner(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{NoBanner: true})
	_, err := ami.Dial(context.Background(), srv.Addr(), testConfig())
	if want := "ami: " + srv.Addr() + ": connection closed by asterisk before the banner"; !errors.Is(err, ami.ErrClosedByPeer) || err.Error() != want {
		t.Errorf("Dial: %v, want %q", err, want)
	}

	// Something that is not Asterisk.
	ln := listen(t, func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n")) })
	_, err = ami.Dial(context.Background(), ln.Addr().String(), testConfig())
	if !errors.Is(err, ami.ErrNoBanner) || !strings.Contains(err.Error(), "SSH-2.0") {
		t.Errorf("Dial: %v, want ErrNoBanner", err)
	}
}

// listen serves each connection with f on 127.0.0.1, until the test ends.
func listen(t *testing.T, f func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(c)
			}()
		}
	}()
	return ln
}

// TestDialCancel: a peer that accepts and says nothing holds Dial only
// until ctx ends, by a deadline set in the past.
func TestDialCancel(t *testing.T) {
	checkLeaks(t)
	silent := listen(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	for _, tt := range []struct {
		name    string
		ctx     func() context.Context
		timeout time.Duration
		want    error
	}{
		{"context deadline", func() context.Context { return ctxTimeout(t, 100*time.Millisecond) }, 0, context.DeadlineExceeded},
		{"dial timeout", context.Background, 100 * time.Millisecond, context.DeadlineExceeded},
		{"cancelled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx
		}, 0, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.DialTimeout = tt.timeout
			start := time.Now()
			_, err := ami.Dial(tt.ctx(), silent.Addr().String(), cfg)
			if !errors.Is(err, tt.want) {
				t.Errorf("Dial: %v, want %v", err, tt.want)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Dial returned after %v", took)
			}
		})
	}
}

func TestDialRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err := ami.Dial(context.Background(), addr, testConfig())
	var op *net.OpError
	if !errors.As(err, &op) || !strings.HasPrefix(err.Error(), "ami: dial tcp") {
		t.Errorf("Dial to a closed port: %v", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*ami.Config)
	}{
		{"no username", func(c *ami.Config) { c.Username = "" }},
		{"line break in secret", func(c *ami.Config) { c.Secret = "a\r\nAction: Originate" }},
		{"unknown auth type", func(c *ami.Config) { c.AuthType = "sha1" }},
		{"empty filter", func(c *ami.Config) { c.Filters = []string{""} }},
		{"negative buffer", func(c *ami.Config) { c.EventBuffer = -1 }},
		{"backoff upside down", func(c *ami.Config) { c.MinBackoff, c.MaxBackoff = time.Minute, time.Second }},
	} {
		cfg := testConfig()
		tt.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "ami: config: ") {
			t.Errorf("%s: Validate() = %v", tt.name, err)
			continue
		}
		if strings.Contains(err.Error(), "Originate") {
			t.Errorf("%s: the error shows the secret: %v", tt.name, err)
		}
		if _, err := ami.Dial(context.Background(), "127.0.0.1:1", cfg); err == nil {
			t.Errorf("%s: Dial accepted the config", tt.name)
		}
	}
	if cfg := testConfig(); cfg.Validate() != nil {
		t.Errorf("Validate() of a good config: %v", cfg.Validate())
	}
}

func TestTLS(t *testing.T) {
	checkLeaks(t)
	srv := amitest.NewTLSServer(amitest.Config{Username: user, Secret: secret})
	t.Cleanup(srv.Close)

	cfg := testConfig()
	cfg.TLS = srv.ClientTLSConfig()
	c := dial(t, srv.Addr(), cfg)
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("Ping over TLS: %v", err)
	}
	c.Close()

	// Certificates are verified unless told otherwise.
	cfg.TLS = &tls.Config{}
	_, err := ami.Dial(context.Background(), srv.Addr(), cfg)
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Errorf("Dial to an unknown certificate: %v, want a verification error", err)
	}
	cfg.TLS = &tls.Config{InsecureSkipVerify: true}
	dial(t, srv.Addr(), cfg).Close()
}

// TestDo: concurrent actions get their own responses, answered out of
// order, while events keep flowing in order.
func TestDo(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	srv.Handle("Echo", func(s *amitest.Session, a *ami.Message) []*ami.Message {
		go func() {
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			s.Send(ami.NewMessage("Response", "Success", "ActionID", a.ActionID(), "Echo", a.Get("Value")))
		}()
		return nil
	})
	c := dial(t, srv.Addr(), testConfig())
	next(t, c.Events()) // FullyBooted

	const actions, events = 50, 500
	var wg sync.WaitGroup
	errs := make(chan error, actions)
	for i := range actions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprint("value-", i)
			resp, err := c.Do(context.Background(), ami.NewMessage("Action", "Echo", "Value", want))
			if err != nil {
				errs <- err
			} else if got := resp.Get("Echo"); got != want {
				errs <- fmt.Errorf("action %d got %q", i, got)
			}
		}()
	}
	go func() {
		for i := range events {
			srv.Send(event("Newstate", "Seq", fmt.Sprint(i)))
		}
	}()
	for i := range events {
		if got := next(t, c.Events()).Get("Seq"); got != fmt.Sprint(i) {
			t.Fatalf("event %d has Seq %q", i, got)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every action had its own ActionID.
	ids := map[string]bool{}
	for _, r := range srv.Requests() {
		if ids[r.Action.ActionID()] {
			t.Errorf("ActionID %q used twice", r.Action.ActionID())
		}
		ids[r.Action.ActionID()] = true
	}
}

func TestDoKeepsActionAndActionID(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	c := dial(t, srv.Addr(), testConfig())
	a := ami.NewMessage("Action", "Ping")
	if _, err := c.Do(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if len(a.Fields) != 1 {
		t.Errorf("Do changed the action: %q", a)
	}
	mine := ami.NewMessage("Action", "Ping", "ActionID", "my-ping")
	resp, err := c.Do(context.Background(), mine)
	if err != nil || resp.ActionID() != "my-ping" {
		t.Errorf("Do with an ActionID: %q, %v", resp, err)
	}
	if _, err := c.Do(context.Background(), ami.NewMessage("Ping", "no Action")); err == nil {
		t.Error("Do accepted a message without Action")
	}
	bad := ami.NewMessage("Action", "Hangup", "Channel", "x\r\nAction: Originate")
	if _, err := c.Do(context.Background(), bad); !errors.Is(err, ami.ErrInvalidField) || err.Error() != `ami: Hangup: invalid field: "Channel"` {
		t.Errorf("Do with a line break in a value: %v, want ErrInvalidField", err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("the connection broke after a refused action: %v", err)
	}
}

func TestResponseError(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	c := dial(t, srv.Addr(), testConfig())
	_, err := c.Do(context.Background(), ami.NewMessage("Action", "Frobnicate"))
	var re *ami.ResponseError
	if !errors.As(err, &re) || re.Action != "Frobnicate" || re.Response == nil {
		t.Fatalf("Do(Frobnicate): %#v, want a *ResponseError", err)
	}
	want := "ami: Frobnicate: Invalid/unknown command: Frobnicate. Use Action: ListCommands to show available commands."
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if errors.Is(err, ami.ErrAuth) {
		t.Error("an action's error matches ErrAuth")
	}
}

// TestDoList: list items are taken by their ActionID wherever it sits,
// while a live event of the same name goes to Events.
func TestDoList(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	srv.Handle("DeviceStateList", func(s *amitest.Session, a *ami.Message) []*ami.Message {
		id := a.ActionID()
		s.Send(
			ami.NewMessage("Response", "Success", "ActionID", id, "EventList", "start", "Message", "Device State Changes will follow"),
			ami.NewMessage("Event", "DeviceStateChange", "Device", "PJSIP/1001", "State", "INUSE", "ActionID", id),
			event("DeviceStateChange", "Device", "PJSIP/1002", "State", "RINGING"), // live
			ami.NewMessage("Event", "DeviceStateChange", "ActionID", id, "Device", "PJSIP/1003", "State", "NOT_INUSE"),
			ami.NewMessage("Event", "DeviceStateListComplete", "ActionID", id, "EventList", "Complete", "ListItems", "2"),
		)
		return nil
	})
	srv.HandleList("BridgeList")
	cfg := testConfig()
	c := dial(t, srv.Addr(), cfg)
	next(t, c.Events()) // FullyBooted

	l, err := c.DoList(context.Background(), ami.NewMessage("Action", "DeviceStateList"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range l.Items {
		got = append(got, m.Get("Device"))
	}
	if !reflect.DeepEqual(got, []string{"PJSIP/1001", "PJSIP/1003"}) || l.Complete.Get("ListItems") != "2" ||
		l.Response.Get("EventList") != "start" {
		t.Errorf("list %q, complete %q", got, l.Complete)
	}
	if m := next(t, c.Events()); m.Get("Device") != "PJSIP/1002" {
		t.Errorf("live event %q, want PJSIP/1002", m)
	}

	l, err = c.DoList(context.Background(), ami.NewMessage("Action", "BridgeList"))
	if err != nil || len(l.Items) != 0 || l.Complete.Event() != "BridgeListComplete" {
		t.Errorf("empty list: %+v, %v", l, err)
	}
	// An action that answers without a list.
	l, err = c.DoList(context.Background(), ami.NewMessage("Action", "Ping"))
	if err != nil || l.Response.Get("Ping") != "Pong" || l.Items != nil || l.Complete != nil {
		t.Errorf("DoList(Ping): %+v, %v", l, err)
	}
	// An error instead of a list.
	if _, err := c.DoList(context.Background(), ami.NewMessage("Action", "QueueStatus")); err == nil {
		t.Error("DoList of an unknown action: no error")
	}
}

// TestDoCancel: an action whose response does not come returns at the
// context's end, and the connection goes on.
func TestDoCancel(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	late := make(chan *amitest.Session, 1)
	var lateID string
	srv.Handle("Slow", func(s *amitest.Session, a *ami.Message) []*ami.Message {
		lateID = a.ActionID()
		late <- s
		return nil
	})
	cfg := testConfig()
	cfg.Events = "off"
	c := dial(t, srv.Addr(), cfg)
	start := time.Now()
	_, err := c.Do(ctxTimeout(t, 100*time.Millisecond), ami.NewMessage("Action", "Slow"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Do: %v after %v, want DeadlineExceeded", err, time.Since(start))
	}
	s := <-late
	s.Send(ami.NewMessage("Response", "Success", "ActionID", lateID)) // dropped
	if err := c.Ping(context.Background()); err != nil {
		t.Errorf("Ping after a cancelled action: %v", err)
	}
	select {
	case m := <-c.Events():
		t.Errorf("the late response went to Events: %q", m)
	default:
	}
}

func TestKeepalive(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	cfg := testConfig()
	cfg.PingInterval = 20 * time.Millisecond
	cfg.PingTimeout = 100 * time.Millisecond
	c := dial(t, srv.Addr(), cfg)
	if err := srv.WaitRequests(ctxTimeout(t, 5*time.Second), 4); err != nil {
		t.Fatal(err)
	}
	if names := actionNames(srv.Requests())[1]; names[1] != "Ping" || names[2] != "Ping" {
		t.Errorf("sent %q, want Pings after the Login", names)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection ended: %v", err)
	}

	// Asterisk stops answering: the connection is given up.
	srv.Handle("Ping", func(*amitest.Session, *ami.Message) []*ami.Message { return nil })
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection outlived unanswered Pings")
	}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) || err.Error() != "ami: "+srv.Addr()+": keepalive: context deadline exceeded" {
		t.Errorf("Err() = %v, want a keepalive timeout", err)
	}
}

// TestSlowConsumer: the reader never waits for the consumer; it drops the
// connection when the buffer is full, and pending actions fail at once.
func TestSlowConsumer(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	srv.Handle("Never", func(*amitest.Session, *ami.Message) []*ami.Message { return nil })
	cfg := testConfig()
	cfg.EventBuffer = 4
	c := dial(t, srv.Addr(), cfg)
	done := make(chan error)
	go func() {
		_, err := c.Do(context.Background(), ami.NewMessage("Action", "Never"))
		done <- err
	}()
	srv.WaitRequests(ctxTimeout(t, 5*time.Second), 2)
	for i := range 10 {
		srv.Send(event("Newstate", "Seq", fmt.Sprint(i)))
	}
	select {
	case err := <-done:
		if !errors.Is(err, ami.ErrSlowConsumer) {
			t.Errorf("pending action: %v, want ErrSlowConsumer", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the pending action hangs")
	}
	<-c.Done()
	if !errors.Is(c.Err(), ami.ErrSlowConsumer) {
		t.Errorf("Err() = %v", c.Err())
	}
	n := 0
	for range c.Events() {
		n++
	}
	if n != cfg.EventBuffer {
		t.Errorf("%d events kept, want the buffer's %d", n, cfg.EventBuffer)
	}
}

// TestFilters: with filters, the login asks for no events, the filters go
// in, and only then events are turned on.
func TestFilters(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	cfg := testConfig()
	cfg.Filters = []string{"Event: UserEvent", "!UserEvent: Noise"}
	cfg.Events = "call,user"
	c := dial(t, srv.Addr(), cfg)
	reqs := srv.Requests()
	want := []*ami.Message{
		ami.NewMessage("Action", "Login", "ActionID", "login-1", "Username", user, "Secret", secret, "Events", "off"),
		ami.NewMessage("Action", "Filter", "ActionID", "filter-2", "Operation", "Add", "Filter", "Event: UserEvent"),
		ami.NewMessage("Action", "Filter", "ActionID", "filter-3", "Operation", "Add", "Filter", "!UserEvent: Noise"),
		ami.NewMessage("Action", "Events", "ActionID", "events-4", "EventMask", "call,user"),
	}
	for i := range want {
		if i >= len(reqs) || !reflect.DeepEqual(reqs[i].Action, want[i]) {
			t.Fatalf("sent %v,\nwant %q", reqs, want)
		}
	}
	srv.Send(
		event("Newchannel"),
		ami.NewMessage("Event", "UserEvent", "Privilege", "user,all", "UserEvent", "Noise"),
		ami.NewMessage("Event", "UserEvent", "Privilege", "user,all", "UserEvent", "Tag"),
	)
	if m := next(t, c.Events()); m.Get("UserEvent") != "Tag" {
		t.Errorf("event %q, want only the UserEvent Tag", m)
	}

	// A filter Asterisk refuses fails Dial.
	cfg.Filters = []string{"(unclosed"}
	if _, err := ami.Dial(context.Background(), srv.Addr(), cfg); err == nil || !strings.Contains(err.Error(), "Filter") {
		t.Errorf("Dial with a bad filter: %v", err)
	}
}

func TestEventsOff(t *testing.T) {
	checkLeaks(t)
	srv := newServer(t, amitest.Config{})
	cfg := testConfig()
	cfg.Events = "off"
	c := dial(t, srv.Addr(), cfg)
	srv.Send(event("Newchannel"))
	if err := c.SetEvents(context.Background(), "on"); err != nil {
		t.Fatal(err)
	}
	srv.Send(event("Hangup"))
	if m := next(t, c.Events()); m.Event() != "Hangup" {
		t.Errorf("event %q, want only the Hangup sent after Events on", m)
	}
}

// TestDebugTap: the tap holds every byte received, in the format of the
// ami.log captures, so that a session can be replayed.
func TestDebugTap(t *testing.T) {
	checkLeaks(t)
	capture, err := os.ReadFile("../testdata/asterisk22/P01/ami.log")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, amitest.Config{})
	var tap bytes.Buffer
	cfg := testConfig()
	cfg.Debug = &tap
	c := dial(t, srv.Addr(), cfg)
	n, err := srv.Play(bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	var got []*ami.Message
	for range n + 1 { // the fake's FullyBooted, then the capture's events
		got = append(got, next(t, c.Events()))
	}
	c.Close()

	// What the capture holds after its login response.
	recorded, _ := readAll(t, capture)
	recorded = recorded[:len(recorded)-1] // the recorder's Goodbye, not played
	i := bytes.Index(capture, []byte("Authentication accepted\r\n\r\n")) + len("Authentication accepted\r\n\r\n")
	capture = capture[:bytes.LastIndex(capture, []byte("Response: Goodbye"))]
	want := "Asterisk Call Manager/9.0.0\r\n" +
		"Response: Success\r\nActionID: login-1\r\nMessage: Authentication accepted\r\n\r\n" +
		"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 6\r\nLastReload: 6\r\nStatus: Fully Booted\r\n\r\n" +
		string(capture[i:])
	if tap.String() != want {
		t.Errorf("the tap holds %d bytes, want %d: %.300q", tap.Len(), len(want), tap.String())
	}
	if !reflect.DeepEqual(got[1:], recorded[1:]) {
		t.Errorf("received %d events, the capture has %d", len(got)-1, len(recorded)-1)
	}
	if bytes.Contains(tap.Bytes(), []byte(secret)) {
		t.Error("the tap holds the secret")
	}
	replayed, banner := readAll(t, tap.Bytes())
	if banner != "Asterisk Call Manager/9.0.0" || !reflect.DeepEqual(replayed[1:], got) {
		t.Error("reading the tap back does not give the events received")
	}
}

// TestTranscriptOriginate replays a recorded Originate session: responses
// go to the actions, OriginateResponse events (which carry the
// Originate's ActionID and a Response field) go to Events.
func TestTranscriptOriginate(t *testing.T) {
	for _, v := range []string{"asterisk20", "asterisk22"} {
		t.Run(v, func(t *testing.T) {
			checkLeaks(t)
			sessions := readTranscript(t, filepath.Join("../testdata/ami-actions", v, "originate.log"))
			rp := newReplayer(t, sessions)
			c := dial(t, rp.addr(), testConfig())
			actions, _ := readAllQuiet(sessions[0].sent())
			var results []string
			for _, a := range actions[1 : len(actions)-1] { // between Login and Logoff
				resp, err := c.Do(ctxTimeout(t, 5*time.Second), a)
				if err != nil {
					results = append(results, a.ActionID()+": "+err.Error())
				} else {
					results = append(results, a.ActionID()+": "+resp.Get("Message"))
				}
			}
			if err := c.Logoff(ctxTimeout(t, 5*time.Second)); err != nil {
				t.Errorf("Logoff: %v", err)
			}
			want := []string{
				"orig-ok: Originate successfully queued",
				"orig-fail-async: Originate successfully queued",
				"orig-fail-sync: ami: Originate: Originate failed",
				"orig-bad-args: ami: Originate: Originate with 'Exten' requires 'Context' and 'Priority'",
			}
			if !reflect.DeepEqual(results, want) {
				t.Errorf("results\n%q\nwant\n%q", results, want)
			}
			var events, originates []string
			for m := range c.Events() {
				events = append(events, m.Event())
				if m.Event() == "OriginateResponse" {
					originates = append(originates, m.ActionID()+" "+m.Response()+" "+m.Get("Reason"))
				}
			}
			if want := []string{"orig-ok Success 4", "orig-fail-async Failure 0"}; !reflect.DeepEqual(originates, want) {
				t.Errorf("OriginateResponse events %q, want %q", originates, want)
			}
			received, _ := readAll(t, sessions[0].received())
			responses := len(actions) // every action got one response
			if len(events) != len(received)-responses {
				t.Errorf("%d events, the transcript has %d", len(events), len(received)-responses)
			}
		})
	}
}

package ami

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// An event written before the login's response (the session is
// authenticated a moment before the response goes out) reaches Events,
// in order, instead of being dropped by the handshake.
func TestEventBeforeLoginResponse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.Write([]byte("Asterisk Call Manager/9.0.0\r\n"))
		r := NewReader(bufio.NewReader(nc))
		login, err := r.ReadMessage()
		if err != nil {
			return
		}
		nc.Write([]byte("Event: Newchannel\r\nUniqueid: 1.1\r\n\r\n" +
			"Response: Success\r\nActionID: " + login.ActionID() + "\r\nMessage: Authentication accepted\r\n\r\n" +
			"Event: Hangup\r\nUniqueid: 1.1\r\n\r\n"))
		time.Sleep(time.Second)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := DefaultConfig()
	cfg.Username, cfg.Secret = "lab", "labpass"
	c, err := Dial(ctx, l.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string
	for len(got) < 2 {
		select {
		case m := <-c.Events():
			got = append(got, m.Event())
		case <-ctx.Done():
			t.Fatalf("events %v, want Newchannel then Hangup", got)
		}
	}
	if strings.Join(got, ",") != "Newchannel,Hangup" {
		t.Fatalf("events %v, want Newchannel then Hangup", got)
	}
}

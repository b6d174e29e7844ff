package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
)

// syncBuffer is a bytes.Buffer that a command may write while the test
// reads it.
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

// TestSim runs "calltrail sim" on a capture and follows it as a client
// would, then stops it as Ctrl-C does.
func TestSim(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sim", "--listen", "127.0.0.1:0", "--user", "lab", "--secret", "labpass", "--fast",
			"../../testdata/asterisk20/S01/ami.log", "../../testdata/asterisk20/S03/ami.log"}, &out, &errb)
	}()
	addrRE := regexp.MustCompile(`sim: serving (\d+) events from 2 captures on (127\.0\.0\.1:\d+)`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("no address announced:\n%s", errb.String())
		}
		select {
		case err := <-done:
			t.Fatalf("sim ended: %v\n%s", err, errb.String())
		case <-time.After(5 * time.Millisecond):
		}
		m = addrRE.FindStringSubmatch(errb.String())
	}
	nc, err := net.Dial("tcp", m[2])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := ami.NewReader(bufio.NewReader(nc))
	if err := ami.WriteMessage(nc, ami.NewMessage("Action", "Login", "Username", "lab", "Secret", "labpass")); err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		msg, err := r.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, msg.Event()+msg.Response())
		if strings.Join(names, " ") == "Success FullyBooted Newchannel" {
			break
		}
		if len(names) == 3 {
			t.Fatalf("first messages: %v", names)
		}
	}
	if r.Banner() != "Asterisk Call Manager/9.0.0" {
		t.Errorf("banner %q", r.Banner())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sim after interrupt: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
}

func TestSimUsage(t *testing.T) {
	t.Setenv("CALLTRAIL_SIM_SECRET", "")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sim", "--user", "u", "--secret", "s"}, "sim: no capture file given"},
		{[]string{"sim", "x.log"}, "sim: --user and --secret are required"},
		{[]string{"sim", "--user", "u", "--secret", "s", "--speed", "0", "x.log"}, "sim: --speed 0: want a positive number"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errb)
		if err == nil || err.Error() != tt.want || exitCode(err) != 2 {
			t.Errorf("%v: error %v, want %q with exit code 2", tt.args, err, tt.want)
		}
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"sim", "--user", "u", "--secret", "s", "no/such.log"}, &out, &errb)
	if err == nil || err.Error() != "sim: open no/such.log: no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}

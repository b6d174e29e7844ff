package agitest_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

func TestReadTranscript(t *testing.T) {
	raw, err := os.ReadFile("../testdata/S13b.agi.log")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := agitest.ReadTranscript(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []agitest.Direction
	count := map[agitest.Direction]int{}
	for _, r := range tr.Records {
		dirs = append(dirs, r.Dir)
		count[r.Dir]++
	}
	if got, want := len(tr.Records), 50; got != want {
		t.Errorf("%d records, want %d", got, want)
	}
	if dirs[0] != agitest.Connect || dirs[len(dirs)-1] != agitest.ServerClose {
		t.Errorf("first record %v, last %v; want CONNECT and AGI closes socket", dirs[0], dirs[len(dirs)-1])
	}
	if count[agitest.ToAsterisk] != 12 {
		t.Errorf("%d commands, want 12", count[agitest.ToAsterisk])
	}
	first := tr.Records[0]
	if got, want := first.Time, time.Unix(1795333733, 570731000); !got.Equal(want) {
		t.Errorf("first time %v, want %v", got, want)
	}
	if first.Marker != "CONNECT from ('127.0.0.1', 50152)" {
		t.Errorf("first marker %q", first.Marker)
	}
	hangup := tr.Records[45]
	if hangup.Dir != agitest.FromAsterisk || string(hangup.Data) != "HANGUP\n" {
		t.Errorf("record 46: %v %q, want ASTERISK->AGI \"HANGUP\\n\"", hangup.Dir, hangup.Data)
	}
	env := string(tr.Env())
	if !strings.HasPrefix(env, "agi_network: yes\n") || !strings.HasSuffix(env, "agi_threadid: 140422480619200\n\n") {
		t.Errorf("Env() = %q", env)
	}

	// Written back, it is the same file.
	var b bytes.Buffer
	if _, err := tr.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), raw) {
		t.Errorf("WriteTo does not give the capture back")
	}
}

func TestReadTranscriptData(t *testing.T) {
	// The byte count decides: data may hold a marker and need not end
	// with a line break.
	in := "##### 1.5 ASTERISK->AGI 23 bytes\n##### 2 AGI->ASTERISK 3##### 2 AGI->ASTERISK 0 bytes\n"
	tr, err := agitest.ReadTranscript(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Records) != 2 || string(tr.Records[0].Data) != "##### 2 AGI->ASTERISK 3" || len(tr.Records[1].Data) != 0 {
		t.Errorf("records %+v", tr.Records)
	}
	if !tr.Records[0].Time.Equal(time.Unix(1, 5e8)) {
		t.Errorf("time %v, want 1.5 s", tr.Records[0].Time)
	}
}

func TestReadTranscriptErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"no marker", "agi_network: yes\n"},
		{"short data", "##### 1.0 ASTERISK->AGI 10 bytes\nabc"},
		{"long data", "##### 1.0 ASTERISK->AGI 1 bytes\nabc"},
		{"no count", "##### 1.0 ASTERISK->AGI bytes\n"},
		{"negative count", "##### 1.0 ASTERISK->AGI -1 bytes\n"},
		{"huge count", "##### 1.0 ASTERISK->AGI 99999999999 bytes\n"},
		{"bad time", "##### yesterday ASTERISK->AGI 0 bytes\n"},
		{"unknown direction", "##### 1.0 SIDEWAYS 0 bytes\n"},
		{"no line end", "##### 1.0 ASTERISK->AGI 0 bytes"},
	}
	for _, tt := range tests {
		if _, err := agitest.ReadTranscript(strings.NewReader(tt.in)); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// fakeServer accepts one connection on loopback and runs serve on it.
func fakeServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c, bufio.NewReader(c))
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

func TestCallPlay(t *testing.T) {
	gotEnv := make(chan string, 1)
	addr := fakeServer(t, func(c net.Conn, br *bufio.Reader) {
		var env strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			env.WriteString(line)
			if line == "\n" {
				break
			}
		}
		gotEnv <- env.String()
		c.Write([]byte("GET VARIABLE CHANNEL\n"))
		reply, _ := br.ReadString('\n')
		if reply == "200 result=1 (x)\n" {
			c.Write([]byte("VERBOSE wrong 1\n"))
		}
		br.ReadString('\n')
	})
	c, err := agitest.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env := agitest.Env("agi://127.0.0.1/billing?account=acme", []string{"one"}, agi.Var{Name: "agi_channel", Value: "PJSIP/1-1"}, agi.Var{Name: "agi_x", Value: "y"})
	if err := c.SendEnv(env); err != nil {
		t.Fatal(err)
	}
	err = c.Play(
		agitest.Step{Command: "GET VARIABLE CHANNEL", Reply: "200 result=1 (x)"},
		agitest.Step{Command: "VERBOSE right 1", Reply: "200 result=1"},
	)
	if err == nil || !strings.Contains(err.Error(), `step 2: server sent "VERBOSE wrong 1", want "VERBOSE right 1"`) {
		t.Errorf("Play: %v, want a mismatch at step 2", err)
	}
	e := <-gotEnv
	for _, want := range []string{
		"agi_network: yes\nagi_network_script: billing?account=acme\nagi_request: agi://127.0.0.1/billing?account=acme\nagi_channel: PJSIP/1-1\n",
		"agi_arg_1: one\nagi_x: y\n\n",
	} {
		if !strings.Contains(e, want) {
			t.Errorf("environment %q lacks %q", e, want)
		}
	}
}

func TestCallExpectClose(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn, br *bufio.Reader) {
		c.Write([]byte("ANSWER\n"))
		br.ReadString('\n')
	})
	c, err := agitest.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.ExpectClose(); err == nil || !strings.Contains(err.Error(), `server sent "ANSWER\n"`) {
		t.Errorf("ExpectClose: %v, want the bytes the server sent", err)
	}
}

func TestCallTimeout(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn, br *bufio.Reader) { br.ReadString('\n') })
	c, err := agitest.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Timeout = 50 * time.Millisecond
	if _, err := c.ReadCommand(); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("ReadCommand from a silent server: %v, want a timeout", err)
	}
}

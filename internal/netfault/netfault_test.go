package netfault

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echo serves lines back on a loopback port.
func echo(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return l.Addr().String()
}

func roundTrip(c net.Conn, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestProxyCutAndRestore(t *testing.T) {
	p := New(t, echo(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := roundTrip(c, "one"); err != nil || got != "one\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}

	p.SetUp(false)
	if _, err := roundTrip(c, "two"); err == nil {
		t.Fatal("a connection open at the cut still works")
	}
	if d, err := net.Dial("tcp", p.Addr()); err == nil {
		if _, err := roundTrip(d, "three"); err == nil {
			t.Fatal("a new connection works while cut")
		}
		d.Close()
	}

	p.SetUp(true)
	d, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := roundTrip(d, "four"); err != nil || got != "four\n" {
		t.Fatalf("after the restore: %q, %v", got, err)
	}
}

package ami_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/ami/amitest"
)

const (
	user   = "lab"
	secret = "labpass"
)

// checkLeaks fails the test if a goroutine of package ami or amitest is
// still running once the test and its cleanups are done. Call it first,
// so that its cleanup runs last.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			leaked := ourGoroutines()
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "calltrail/ami.") || strings.Contains(g, "calltrail/ami/amitest.") {
			out = append(out, g)
		}
	}
	return out
}

// newServer starts a fake Asterisk with the lab's user, closed when the
// test ends.
func newServer(t *testing.T, cfg amitest.Config) *amitest.Server {
	t.Helper()
	if cfg.Username == "" {
		cfg.Username, cfg.Secret = user, secret
	}
	if cfg.AuthDelay == 0 {
		cfg.AuthDelay = -1
	}
	srv := amitest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// testConfig is the lab's user without keepalives, which would add Pings
// to what the fake Asterisk records.
func testConfig() ami.Config {
	cfg := ami.DefaultConfig()
	cfg.Username, cfg.Secret = user, secret
	cfg.PingInterval = -1
	cfg.DialTimeout = 5 * time.Second
	return cfg
}

func dial(t *testing.T, addr string, cfg ami.Config) *ami.Conn {
	t.Helper()
	c, err := ami.Dial(context.Background(), addr, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next returns the next message of ch, failing the test after a while.
func next(t *testing.T, ch <-chan *ami.Message) *ami.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return nil
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// actionNames lists the actions a fake Asterisk received, per session.
func actionNames(reqs []amitest.Request) map[int][]string {
	out := map[int][]string{}
	for _, r := range reqs {
		out[r.Session] = append(out[r.Session], r.Action.Action())
	}
	return out
}

func event(name string, kv ...string) *ami.Message {
	return ami.NewMessage(append([]string{"Event", name, "Privilege", "call,all"}, kv...)...)
}

package daemon

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/calltrail/calltrail/internal/bus"
)

// NATS away when serve starts holds up only the servers that come through
// it: an AMI server's calls are stored meanwhile.
func TestFeedWaitingForNATSHoldsNothingElse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens here
	nc, js, err := bus.Connect("nats://"+dead, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	feed, err := bus.NewFeed(&bus.Bus{JS: js, Config: bus.StreamConfig{Name: "CALLTRAIL_NOWHERE"}, Prefix: bus.SubjectPrefix}, "pbx9", "", nil)
	if err != nil {
		t.Fatal(err)
	}

	g := startWith(t, t.TempDir(), true, false, func(o *Options) { o.Feeds = []*bus.Feed{feed} })
	defer g.stop(t)
	g.asterisk.Send(readCapture(t, filepath.Join("..", "..", "testdata", "asterisk20", "S01", "ami.log"))...)
	if calls := waitCalls(t, g.st, 1); len(calls) != 1 {
		t.Fatal("pbx1's call was not stored while pbx9's feed waited for NATS")
	}
	if st := g.d.Status(); len(st.Sources) != 2 {
		t.Errorf("status lists %d servers, want pbx1 and pbx9", len(st.Sources))
	}
}

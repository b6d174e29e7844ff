package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// liveJSON is one snapshot of the calls in progress.
type liveJSON struct {
	// At is when the snapshot was taken, on this host's clock.
	At    callgraph.Time    `json:"at"`
	Calls []*callgraph.Call `json:"calls"`
}

// live streams the calls in progress as server-sent events: a "snapshot"
// event at once, then one every LivePeriod, until the client goes away or
// the server shuts down. A snapshot that cannot be encoded is an "error"
// event instead.
func (s *server) live(w http.ResponseWriter, r *http.Request) error {
	if s.o.Live == nil {
		return notFound("no daemon: the calls in progress are only known to calltrail serve")
	}
	rc := http.NewResponseController(w)
	// A server's write timeout is for answers, not for a stream, which it
	// would cut. (A writer without deadlines, such as a test's, says so;
	// no matter.)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	// retry tells an EventSource to reconnect after 2 s.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return nil
	}
	tick := time.NewTicker(s.o.LivePeriod)
	defer tick.Stop()
	for {
		if err := s.snapshot(w, rc); err != nil {
			return nil // the client is gone; nobody to answer
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-s.o.Shutdown:
			return nil
		case <-tick.C:
		}
	}
}

// snapshot writes one snapshot event and flushes it to the client.
func (s *server) snapshot(w http.ResponseWriter, rc *http.ResponseController) error {
	calls := s.o.Live()
	if calls == nil {
		calls = []*callgraph.Call{}
	}
	event := "snapshot"
	b, err := json.Marshal(liveJSON{At: callgraph.Time{Time: time.Now()}, Calls: calls})
	if err != nil {
		s.o.Logger.Error("api: live snapshot", "err", err)
		event, b = "error", []byte(`{"error":"internal error"}`)
	}
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return err
	}
	return rc.Flush()
}

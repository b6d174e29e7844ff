package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/journal"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A Collector follows one Asterisk and publishes its events. Every event
// goes to the spool (a journal on local disk) before it is published, and
// the spool's checkpoint is where publishing resumes: NATS may be away
// for as long as the disk lasts, and a collector killed at any moment
// republishes only what JetStream then drops as a duplicate.
type Collector struct {
	Server string
	Client *ami.Client
	Bus    *Bus
	Spool  *journal.Journal
	// Batch is how many events are published before waiting for their
	// acknowledgements (4096 when 0).
	Batch int
	// Retention keeps published spool segments this long (0: delete them
	// once published).
	Retention time.Duration
	Log       *slog.Logger

	published atomic.Int64
	spooled   atomic.Int64
	resyncs   atomic.Int64
	epoch     string
}

// Stats counts what a collector did.
type Stats struct {
	Spooled, Published int64
}

// Stats returns the collector's counters; safe from any goroutine.
func (c *Collector) Stats() Stats {
	return Stats{Spooled: c.spooled.Load(), Published: c.published.Load()}
}

// Run follows Asterisk and publishes until ctx ends. It returns the error
// that stopped it; nil when ctx ended.
func (c *Collector) Run(ctx context.Context) error {
	subject, err := c.Bus.Subject(c.Server)
	if err != nil {
		return err
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Batch <= 0 {
		c.Batch = 4096
	}
	if nc := c.Bus.JS.Conn(); nc != nil && nc.Opts.ReconnectBufSize >= 0 {
		return errors.New("bus: collector: the NATS connection buffers while reconnecting, which reorders events: connect with nats.ReconnectBufSize(-1), as Connect does")
	}
	if c.epoch, err = spoolEpoch(c.Spool.Dir()); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- c.Client.Run(ctx) }()
	ready := make(chan struct{}, 1)
	fwdDone := make(chan struct{})
	go func() {
		defer close(fwdDone)
		c.forward(ctx, subject, ready)
	}()
	defer func() { cancel(); <-fwdDone }()

	events := c.Client.Events()
	var wire []byte // the event being spooled (the spool copies it)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("collector %s: %w", c.Server, err)
			}
			return nil
		case m, ok := <-events:
			if !ok {
				return nil
			}
			if m.Event() == ami.EventConnected {
				go c.resync(ctx)
			}
			wire = m.AppendWire(wire[:0])
			if _, err := c.Spool.Append(journal.Record{Server: c.Server, Arrival: time.Now(), Data: wire}); err != nil {
				// Publishing goes on from the spool: an event that could not
				// be spooled is lost, and the engine's gap marking must say
				// so. Stop rather than publish around a hole.
				return fmt.Errorf("collector %s: spool: %w", c.Server, err)
			}
			// Hand the spool to the publisher when the input pauses, and
			// every 256 events under a steady stream.
			if n := c.spooled.Add(1); len(events) == 0 || n%256 == 0 {
				if err := c.Spool.Flush(); err != nil {
					return fmt.Errorf("collector %s: spool: %w", c.Server, err)
				}
				select {
				case ready <- struct{}{}:
				default:
				}
			}
		}
	}
}

// resync asks Asterisk which channels are alive after every connect: the
// answer's items follow in the event stream, and the engine reconciles
// what changed while nobody listened.
func (c *Collector) resync(ctx context.Context) {
	if err := callgraph.Resync(ctx, c.Client, c.resyncs.Add(1)); err != nil && ctx.Err() == nil {
		c.Log.Warn("resync: CoreShowChannels", "server", c.Server, "err", err)
	}
}

// forward publishes the spool from its checkpoint on, batch by batch,
// moving the checkpoint only past what JetStream acknowledged.
func (c *Collector) forward(ctx context.Context, subject string, ready <-chan struct{}) {
	pos, _, err := journal.LoadCheckpoint(c.Spool.Dir())
	if err != nil {
		c.Log.Error("spool checkpoint unreadable: publishing from the start", "err", err)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	failures := 0
	for {
		next, n, err := c.publishBatch(ctx, subject, pos)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			failures++
			if failures == 1 || failures%20 == 0 {
				c.Log.Warn("publishing waits for NATS; events stay in the spool", "server", c.Server, "err", err, "failures", failures)
			}
			if !sleep(ctx, min(time.Duration(failures)*250*time.Millisecond, 5*time.Second)) {
				return
			}
			continue
		case n > 0:
			if failures > 0 {
				c.Log.Info("publishing resumed", "server", c.Server, "after_failures", failures)
				failures = 0
			}
			pos = next
			if err := c.Spool.SaveCheckpoint(pos, time.Now().UTC().Format(time.RFC3339)); err != nil {
				c.Log.Error("spool checkpoint", "err", err)
			}
			c.prune(pos)
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-ready:
		case <-tick.C:
		}
	}
}

// publishBatch publishes up to Batch records from pos, waits for their
// acknowledgements and returns the position after them.
func (c *Collector) publishBatch(ctx context.Context, subject string, pos journal.Position) (journal.Position, int, error) {
	end := c.Spool.End()
	if !pos.Less(end) {
		return pos, 0, nil
	}
	rd, err := journal.NewReader(c.Spool.Dir(), pos)
	if err != nil {
		return pos, 0, err
	}
	defer rd.Close()
	var futures []jetstream.PubAckFuture
	// next is where the next batch starts: after the last record sent. The
	// end of what is on disk may come before end (the spool's writer has
	// not flushed yet): the rest goes in a later batch.
	next := pos
	for len(futures) < c.Batch {
		rec, at, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return pos, 0, err
		}
		if !at.Less(end) {
			break
		}
		msg := &nats.Msg{Subject: subject, Data: append([]byte(nil), rec.Data...), Header: nats.Header{}}
		msg.Header.Set(HeaderArrival, rec.Arrival.UTC().Format(time.RFC3339Nano))
		f, err := c.Bus.JS.PublishMsgAsync(msg, jetstream.WithMsgID(fmt.Sprintf("%s/%s/%s", c.Server, c.epoch, at)))
		if err != nil {
			return pos, 0, err
		}
		futures = append(futures, f)
		next = rd.Pos()
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return pos, 0, err
		case <-wait.Done():
			return pos, 0, fmt.Errorf("no acknowledgement from JetStream: %w", wait.Err())
		}
	}
	c.published.Add(int64(len(futures)))
	return next, len(futures), nil
}

func (c *Collector) prune(keep journal.Position) {
	cutoff := time.Now().Add(-c.Retention).UnixNano()
	if _, err := c.Spool.Prune(keep, func(mod int64) bool { return mod <= cutoff }); err != nil {
		c.Log.Warn("spool prune", "err", err)
	}
}

// spoolEpoch names a spool for message ids: a spool deleted and begun
// again must not reuse the ids of the old one within the duplicate window.
func spoolEpoch(dir string) (string, error) {
	path := filepath.Join(dir, "epoch")
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("bus: spool epoch: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	s := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("bus: spool epoch: %w", err)
	}
	return s, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

package daemon

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/bus"
	"github.com/calltrail/calltrail/internal/journal"
)

// A pipeline owns the engine of one Asterisk server: it journals each
// event, feeds it to the engine and sends completed calls on.
type pipeline struct {
	d       *Daemon
	id      string
	eng     *callgraph.Engine
	client  *ami.Client
	tags    chan *ami.Message
	live    chan chan []*callgraph.Call // asks for the calls in progress
	resyncs atomic.Int64

	mu         sync.Mutex // guards checkpoint and stats, read by others
	checkpoint int64      // the engine's last checkpoint, as a journal sequence
	stats      callgraph.Stats
	connected  atomic.Bool
	connects   atomic.Int64
	// byType and byDisp are the owner's counts; the snapshots, taken at
	// each note, are what others read (under mu).
	byType, byDisp         map[string]int64
	byTypeSnap, byDispSnap map[string]int64
	running                atomic.Bool // run is reading events: it answers live

	lastSeq int64  // the journal sequence of the last event handled
	wire    []byte // the event being journaled, in its wire form (reused)

	// feed, when not nil, is where the events come from (NATS JetStream);
	// busSeq is the stream sequence of the last event journaled.
	feed   *bus.Feed
	busSeq uint64
}

// seqOf turns a journal position into the increasing sequence number the
// engine keys its checkpoints by.
func seqOf(p journal.Position) int64 { return int64(p.Segment)<<40 | p.Offset }

func posOf(seq int64) journal.Position {
	return journal.Position{Segment: uint64(seq >> 40), Offset: seq & (1<<40 - 1)}
}

func (p *pipeline) run(ctx context.Context, events <-chan *ami.Message) {
	p.running.Store(true)
	defer p.running.Store(false)
	tick := time.NewTicker(p.d.opts.CheckpointEvery)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-events:
			if !ok {
				p.note()
				return
			}
			p.handle(m, p.arrival(m))
			switch m.Event() {
			case ami.EventConnected:
				p.connected.Store(true)
				p.connects.Add(1)
				// Reconcile only what may have changed unseen: calls open
				// across the reconnect (or recovered from the journal).
				// Calls that were already up when calltrail started are
				// adopted from their next events anyway.
				if p.eng.Stats().OpenLegs > 0 {
					go p.snapshot(ctx)
				}
			case ami.EventDisconnected:
				p.connected.Store(false)
			}
			if len(events) == 0 {
				p.flushJournal()
			}
		case m := <-p.tags:
			p.handle(m, time.Now())
			p.flushJournal()
		case reply := <-p.live:
			reply <- p.eng.InProgress(p.eng.Clock(time.Now()))

		case <-tick.C:
			if p.feed != nil {
				p.flushJournal() // acknowledges what a busy feed delivered
			}
			p.note()
		case <-ctx.Done():
			// Take what the client already read: it is journaled and
			// handled so that nothing it said is dropped.
			for {
				select {
				case m, ok := <-events:
					if !ok {
						p.note()
						return
					}
					p.handle(m, p.arrival(m))
				default:
					p.flushJournal()
					p.note()
					return
				}
			}
		}
	}
}

// flushJournal hands what the journal buffered to the operating system
// once the input is idle: a crash of calltrail (kill -9) then loses no
// event it read, and under load the writes stay batched. When the data
// reaches the disk is the sync policy's business.
func (p *pipeline) flushJournal() {
	if j := p.d.opts.Journal; j != nil {
		if err := j.Flush(); err != nil {
			p.d.log.Error("journal flush", "server", p.id, "err", err)
			return // nothing is acknowledged that may not be kept
		}
	}
	if p.feed != nil && p.busSeq > 0 {
		p.feed.Ack(p.busSeq)
	}
}

// arrival is when the event reached calltrail: the collector's clock for
// an event from the bus, this host's for one read here.
func (p *pipeline) arrival(m *ami.Message) time.Time {
	if p.feed != nil {
		if t, ok := bus.Arrival(m); ok {
			return t
		}
	}
	return time.Now()
}

// handle journals one message, then feeds it to the engine.
func (p *pipeline) handle(m *ami.Message, arrival time.Time) {
	var seq int64
	if j := p.d.opts.Journal; j != nil {
		p.wire = m.AppendWire(p.wire[:0])
		pos, err := j.Append(journal.Record{Server: p.id, Arrival: arrival, Data: p.wire})
		if err != nil {
			// The event still reaches the engine: a full disk must not stop
			// billing. Recovery after a crash will miss it, and says so.
			if p.d.journalErrs.Add(1) == 1 || p.d.journalErrs.Load()%1000 == 0 {
				p.d.log.Error("journal append", "server", p.id, "err", err, "failures", p.d.journalErrs.Load())
			}
		} else {
			seq = seqOf(pos)
		}
	}
	if p.feed != nil {
		if s, ok := bus.Seq(m); ok {
			p.busSeq = s
		}
	}
	p.count(m)
	var done []*callgraph.Call
	if seq > 0 {
		p.lastSeq = seq
		done = p.eng.HandleSeq(m, arrival, seq)
	} else {
		done = p.eng.Handle(m, arrival)
	}
	for _, c := range done {
		if p.byDisp == nil {
			p.byDisp = make(map[string]int64)
		}
		p.byDisp[c.Disposition]++
		p.d.send(p.d.hardStop, p, c)
	}
}

// maxEventTypes bounds the event names counted apart: a peer cannot grow
// the metrics without end.
const maxEventTypes = 256

// count counts an event by its name.
func (p *pipeline) count(m *ami.Message) {
	if p.byType == nil {
		p.byType = make(map[string]int64)
	}
	name := m.Event()
	if name == "" {
		name = "(response)"
	}
	if _, ok := p.byType[name]; !ok {
		if len(p.byType) >= maxEventTypes {
			name = "other"
		} else {
			name = strings.Clone(name) // not the message's memory
		}
	}
	p.byType[name]++
}

// note publishes the engine's checkpoint and counters for other goroutines.
func (p *pipeline) note() {
	cp := p.eng.Checkpoint()
	st := p.eng.Stats()
	if j := p.d.opts.Journal; j != nil && (p.lastSeq == 0 || cp > p.lastSeq) {
		// Nothing of this server is open: a restart need replay none of
		// what is journaled so far. (Another pipeline's records before the
		// end are covered by its own checkpoint.)
		cp = seqOf(j.End())
	}
	byType, byDisp := maps.Clone(p.byType), maps.Clone(p.byDisp)
	p.mu.Lock()
	p.checkpoint, p.stats = cp, st
	p.byTypeSnap, p.byDispSnap = byType, byDisp
	p.mu.Unlock()
}

// snapshot asks Asterisk, after a (re)connect, which channels are alive.
// The answer's items come through the event stream in wire order (they
// carry the resync ActionID), so the engine reconciles exactly where
// Asterisk took the snapshot: it closes the legs that ended while nobody
// listened and adopts the calls it did not know. A snapshot that fails
// leaves the calls flagged by the reconnect marker.
func (p *pipeline) snapshot(ctx context.Context) {
	if p.client == nil {
		return
	}
	if err := callgraph.Resync(ctx, p.client, p.resyncs.Add(1)); err != nil {
		p.d.log.Warn("resync: CoreShowChannels", "server", p.id, "err", err)
	}
}

// Tag asks the pipeline's engine to tag a leg; it goes through the journal
// like any event.
func (p *pipeline) Tag(ctx context.Context, m *ami.Message) error {
	select {
	case p.tags <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recover replays the journal from the saved checkpoint into fresh
// engines, completing the calls that were in flight when the last run
// stopped. Calls completed again are rewritten identically (the store
// replaces a call it already has).
func (d *Daemon) recover(ctx context.Context) error {
	j := d.opts.Journal
	from, ok, err := journal.LoadCheckpoint(j.Dir())
	if err != nil {
		return err
	}
	if err := j.Flush(); err != nil {
		return err
	}
	n, skipped := 0, 0
	for x, err := range readJournal(j.Dir(), from, &skipped) {
		if err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		p := d.pipeline(x.rec.Server)
		p.lastSeq = x.seq
		if s, ok := bus.Seq(x.m); ok {
			p.busSeq = max(p.busSeq, s) // journaled: a redelivery is dropped
		}
		for _, c := range p.eng.HandleSeq(x.m, x.rec.Arrival, x.seq) {
			if !d.send(ctx, p, c) {
				return ctx.Err()
			}
		}
		n++
	}
	if skipped > 0 {
		d.log.Warn("journal records that are not AMI messages were skipped", "records", skipped)
	}
	for _, p := range d.order {
		p.note()
	}
	if n > 0 || ok {
		d.log.Info("recovered from journal", "from", from.String(), "events", n, "calls_in_flight", d.openCalls())
	}
	return nil
}

func (d *Daemon) openCalls() int {
	n := 0
	for _, p := range d.order {
		n += p.eng.Stats().OpenCalls
	}
	return n
}

// checkpoints saves, every CheckpointEvery, the earliest checkpoint of all
// engines — once every call completed before it is in the database.
func (d *Daemon) checkpoints(ctx context.Context) {
	if d.opts.Journal == nil {
		return
	}
	tick := time.NewTicker(d.opts.CheckpointEvery)
	defer tick.Stop()
	type candidate struct {
		seq  int64
		sent uint64
	}
	var pending []candidate
	var saved int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if cp, ok := d.minCheckpoint(); ok && cp > saved {
			pending = append(pending, candidate{cp, d.sent.Load()})
		}
		st := d.writer.Status()
		done := st.Saved + st.Rejected
		for len(pending) > 0 && pending[0].sent <= done {
			c := pending[0]
			pending = pending[1:]
			if err := d.opts.Journal.SaveCheckpoint(posOf(c.seq), time.Now().UTC().Format(time.RFC3339)); err != nil {
				d.log.Error("save checkpoint", "err", err)
				continue
			}
			saved = c.seq
			d.prune(posOf(saved))
		}
	}
}

func (d *Daemon) minCheckpoint() (int64, bool) {
	var cp int64
	found := false
	for _, p := range d.order {
		p.mu.Lock()
		c := p.checkpoint
		p.mu.Unlock()
		if c == 0 {
			continue // not noted yet
		}
		if !found || c < cp {
			cp, found = c, true
		}
	}
	if !found {
		// No engine has seen an event yet: everything journaled is done.
		return seqOf(d.opts.Journal.End()), true
	}
	return cp, true
}

// saveCheckpoint saves the final checkpoint after the writer drained.
func (d *Daemon) saveCheckpoint() error {
	for _, p := range d.order {
		p.note()
	}
	cp, _ := d.minCheckpoint()
	st := d.writer.Status()
	if st.Saved+st.Rejected < d.sent.Load() {
		// Some calls never reached the database: keep the old checkpoint
		// so the next start rebuilds them from the journal.
		d.log.Warn("calls not saved at shutdown: the next start recovers them from the journal",
			"unsaved", d.sent.Load()-st.Saved-st.Rejected)
		return d.opts.Journal.Sync()
	}
	if err := d.opts.Journal.Sync(); err != nil {
		return err
	}
	return d.opts.Journal.SaveCheckpoint(posOf(cp), time.Now().UTC().Format(time.RFC3339))
}

// prune deletes the journal segments wholly before the checkpoint that
// are older than the retention (Options.JournalRetention; zero keeps
// everything, so that a month can be rebuilt).
func (d *Daemon) prune(checkpoint journal.Position) {
	r := d.opts.JournalRetention
	if r <= 0 || d.opts.Journal == nil {
		return
	}
	cutoff := time.Now().Add(-r).UnixNano()
	n, err := d.opts.Journal.Prune(checkpoint, func(mod int64) bool { return mod < cutoff })
	if err != nil {
		d.log.Error("journal prune", "err", err)
	} else if n > 0 {
		d.log.Info("journal pruned", "segments", n, "older_than", r.String())
	}
}

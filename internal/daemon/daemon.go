// Package daemon is calltrail's long-running service: it follows one or more
// Asterisk servers over AMI, journals every event, feeds one call engine
// per server, serves FastAGI for the dialplan's tags, rates completed calls
// and writes them to the database.
//
// The parts, each owned by one goroutine:
//
//	ami.Client ─▶ pipeline (journal, engine) ─▶ store.Writer ─▶ database
//	bus.Feed ──────▲ ▲
//	FastAGI tag ─────┘
//
// A pipeline is the only owner of its engine. Every event is appended to
// the journal before the engine sees it; a checkpoint (where a restart must
// replay from) is saved only once every call completed before it is in the
// database. On SIGTERM the daemon drains the writer and saves a final
// checkpoint: calls in flight stay in the journal and are completed by the
// next start. Without a journal, calls in flight at shutdown are written
// marked incomplete, so nothing is silently lost.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/bus"
	"github.com/calltrail/calltrail/internal/journal"
	"github.com/calltrail/calltrail/internal/store"
)

// A Rater prices a completed call (package billing).
type Rater interface {
	Rate(c *callgraph.Call) []callgraph.Billing
}

// A Source is one Asterisk to follow.
type Source struct {
	ID     string // written on every call record
	Addr   string
	Config ami.Config
}

// Options configure a Daemon. Store is required; everything else may be
// left zero.
type Options struct {
	Sources []Source
	// Feeds are servers followed through NATS JetStream (package bus)
	// rather than over AMI: collectors beside them publish their events.
	Feeds []*bus.Feed
	Store store.Saver

	// Journal, when not nil, is where every event goes first.
	Journal *journal.Journal
	// JournalRetention, when positive, deletes journal segments older than
	// it once no open call needs them.
	JournalRetention time.Duration

	// AGIListener, when not nil, serves FastAGI on it (the tag handler and
	// whatever AGIHandlers adds).
	AGIListener net.Listener
	AGIAllow    []string
	AGIHandlers map[string]agi.Handler

	Rater Rater

	// CheckpointEvery is how often a checkpoint is considered; 1 s.
	CheckpointEvery time.Duration
	// WriterBatch, WriterDelay and WriterParallel tune the database
	// writer (store.Writer's MaxBatch, MaxDelay and Parallel).
	WriterBatch    int
	WriterParallel int
	WriterDelay    time.Duration

	Logger *slog.Logger
}

// A Daemon is the running service. Create it with New and start it with
// Run.
type Daemon struct {
	opts   Options
	log    *slog.Logger
	calls  chan *callgraph.Call
	writer *store.Writer

	mu    sync.Mutex // guards pipes and order, which recovery may grow
	pipes map[string]*pipeline
	order []*pipeline
	sent  atomic.Uint64 // calls handed to the writer

	journalErrs atomic.Uint64

	linkMu sync.Mutex
	linker callgraph.Linker

	agiSrv atomic.Pointer[agi.Server] // for its counters

	// hardStop ends waiting for the database at shutdown.
	hardStop   context.Context
	hardCancel context.CancelFunc
}

// DefaultWriterDelay is the longest a completed call waits for its
// database batch to fill.
const DefaultWriterDelay = 20 * time.Millisecond

// ShutdownTimeout is how long a shutdown waits for the database to take
// the calls still queued; with a journal, calls not saved by then are
// recovered at the next start.
const ShutdownTimeout = 30 * time.Second

// New checks the options and builds a Daemon.
func New(opts Options) (*Daemon, error) {
	if opts.Store == nil {
		return nil, errors.New("daemon: no store")
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = time.Second
	}
	if opts.WriterDelay <= 0 {
		// A call waits at most this long for its batch to fill: live, a
		// row lands within tens of milliseconds of the hangup; under load
		// the batches fill (WriterBatch) long before.
		opts.WriterDelay = DefaultWriterDelay
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Daemon{
		opts:  opts,
		log:   log,
		calls: make(chan *callgraph.Call, 1024),
		pipes: make(map[string]*pipeline),
	}
	d.hardStop, d.hardCancel = context.WithCancel(context.Background())
	// Prepaid (prepaid.go): serve FastAGI "authorize" when the store
	// keeps accounts.
	d.opts.AGIHandlers = d.withAuthorize(d.opts.AGIHandlers)
	d.writer = &store.Writer{
		Store:    opts.Store,
		In:       d.calls,
		MaxBatch: opts.WriterBatch,
		MaxDelay: opts.WriterDelay,
		Parallel: opts.WriterParallel,
		Logger:   log,
	}
	seen := map[string]bool{}
	for _, s := range opts.Sources {
		if s.ID == "" {
			return nil, fmt.Errorf("daemon: AMI source %s has no id", s.Addr)
		}
		if seen[s.ID] {
			return nil, fmt.Errorf("daemon: two AMI sources named %q", s.ID)
		}
		seen[s.ID] = true
		d.pipeline(s.ID)
	}
	for _, f := range opts.Feeds {
		if seen[f.Server()] {
			return nil, fmt.Errorf("daemon: server %q is both an AMI source and a bus feed, or a feed twice", f.Server())
		}
		seen[f.Server()] = true
		d.pipeline(f.Server()).feed = f
	}
	return d, nil
}

// pipeline returns the pipeline of a server id, creating it (a journal can
// hold servers no longer configured: their calls are still completed).
func (d *Daemon) pipeline(id string) *pipeline {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.pipes[id]; p != nil {
		return p
	}
	p := &pipeline{
		d:    d,
		id:   id,
		eng:  callgraph.New(callgraph.Options{Server: id}),
		tags: make(chan *ami.Message, 256),
		live: make(chan chan []*callgraph.Call),
	}
	p.note() // from here on the engine keeps the spans checkpoints need
	d.pipes[id] = p
	d.order = append(d.order, p)
	return p
}

// Run runs the daemon until ctx ends, then shuts down cleanly. It returns
// the first error that stopped a part, or nil after a clean shutdown.
func (d *Daemon) Run(ctx context.Context) error {
	// The writer outlives the pipelines: it drains what they hand it,
	// until ShutdownTimeout after the stop.
	defer d.hardCancel()
	wctx := d.hardStop
	werr := make(chan error, 1)
	go func() { werr <- d.writer.Run(wctx) }()

	if d.opts.Journal != nil {
		if err := d.recover(ctx); err != nil {
			close(d.calls)
			<-werr
			return err
		}
	}

	var wg sync.WaitGroup
	errc := make(chan error, len(d.opts.Sources)+2)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	for _, s := range d.opts.Sources {
		p := d.pipeline(s.ID)
		cfg := s.Config
		if cfg.Logger == nil {
			cfg.Logger = d.log.With("server", s.ID)
		}
		client := ami.NewClient(s.Addr, cfg)
		p.client = client
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := client.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("ami %s (%s): %w", s.ID, s.Addr, err)
			}
		}()
		go func() {
			defer wg.Done()
			p.run(runCtx, client.Events())
		}()
	}

	for _, f := range d.opts.Feeds {
		p := d.pipeline(f.Server())
		skip := p.busSeq
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := f.Run(runCtx, skip); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("bus feed %s: %w", f.Server(), err)
			}
		}()
		go func() {
			defer wg.Done()
			p.run(runCtx, f.Events())
		}()
	}

	var agiSrv *agi.Server
	if d.opts.AGIListener != nil {
		srv, err := d.agiServer()
		if err != nil {
			cancel()
			wg.Wait()
			close(d.calls)
			<-werr
			return err
		}
		agiSrv = srv
		d.agiSrv.Store(srv)
		go func() {
			if err := srv.Serve(d.opts.AGIListener); err != nil && !errors.Is(err, agi.ErrServerClosed) {
				errc <- fmt.Errorf("fastagi: %w", err)
			}
		}()
	}

	ckDone := make(chan struct{})
	go func() {
		defer close(ckDone)
		d.checkpoints(runCtx)
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		d.log.Error("stopping", "err", runErr)
	}
	cancel()
	stopTimer := time.AfterFunc(ShutdownTimeout, d.hardCancel)
	defer stopTimer.Stop()
	if agiSrv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		agiSrv.Shutdown(sctx)
		scancel()
	}
	wg.Wait()
	<-ckDone
	if d.opts.Journal == nil {
		// Nothing will complete these calls later: write what is known,
		// marked incomplete.
		for _, p := range d.order {
			for _, c := range p.eng.Flush(time.Now()) {
				d.send(d.hardStop, p, c)
			}
		}
	}
	close(d.calls)
	if err := <-werr; err != nil && runErr == nil {
		runErr = err
	}
	if d.opts.Journal != nil {
		if err := d.saveCheckpoint(); err != nil && runErr == nil {
			runErr = err
		}
	}
	return runErr
}

// send rates a completed call and hands it to the writer.
func (d *Daemon) send(ctx context.Context, p *pipeline, c *callgraph.Call) bool {
	// A call that continues one of another server (a SIP trunk between
	// them) is linked to it, and that one is stored again with the link.
	d.linkMu.Lock()
	out := d.linker.Add(c)
	d.linkMu.Unlock()
	for _, c := range out {
		if d.opts.Rater != nil {
			c.Billing = d.opts.Rater.Rate(c)
		}
		select {
		case d.calls <- c:
			d.sent.Add(1)
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// WriterStatus reports the database writer's state.
func (d *Daemon) WriterStatus() store.WriterStatus { return d.writer.Status() }

// SourceStatus is what one Asterisk's pipeline reports.
type SourceStatus struct {
	ID        string
	Connected bool
	// Reconnects counts the connections after the first (through a
	// collector, its connections to Asterisk).
	Reconnects int64
	// EventsByType counts the events handled by AMI event name (the first
	// 256 names seen; the rest under "other").
	EventsByType map[string]int64
	// CallsByDisposition counts the calls completed by disposition.
	CallsByDisposition map[string]int64
	Events             int64 // events handled
	Unplaced           int64 // events the engine could not place
	Calls              int64 // calls completed
	OpenCalls          int   // calls in progress
	OpenLegs           int
}

// Status is a snapshot of the daemon, as of each pipeline's last tick
// (CheckpointEvery).
type Status struct {
	Sources []SourceStatus
	Writer  store.WriterStatus
	// AGI is the FastAGI server's counters (zero when it is off).
	AGI agi.Stats
	// JournalBytes is the journal's size on disk (0 without one).
	JournalBytes int64
	// Sent counts the calls handed to the writer.
	Sent uint64
}

// Status reports the daemon's state. It is safe to call from any goroutine.
func (d *Daemon) Status() Status {
	st := Status{Writer: d.writer.Status(), Sent: d.sent.Load()}
	if srv := d.agiSrv.Load(); srv != nil {
		st.AGI = srv.Stats()
	}
	if j := d.opts.Journal; j != nil {
		st.JournalBytes, _ = j.Size()
	}
	d.mu.Lock()
	order := append([]*pipeline(nil), d.order...)
	d.mu.Unlock()
	for _, p := range order {
		p.mu.Lock()
		s := p.stats
		byType, byDisp := p.byTypeSnap, p.byDispSnap
		p.mu.Unlock()
		st.Sources = append(st.Sources, SourceStatus{
			ID: p.id, Connected: p.connected.Load(), Reconnects: max(p.connects.Load()-1, 0),
			EventsByType: byType, CallsByDisposition: byDisp,
			Events: s.Events, Unplaced: s.Unplaced,
			Calls: s.Calls, OpenCalls: s.OpenCalls, OpenLegs: s.OpenLegs,
		})
	}
	return st
}

// LiveTimeout bounds how long Live waits for a busy pipeline.
const LiveTimeout = 2 * time.Second

// Live returns the calls in progress on every server, as the engines see
// them now (callgraph.Engine.InProgress on Asterisk's clock): each engine
// builds them between two events, so nothing is read while it changes. A
// pipeline that does not answer within LiveTimeout is left out. It is safe
// to call from any goroutine.
func (d *Daemon) Live() []*callgraph.Call {
	d.mu.Lock()
	order := append([]*pipeline(nil), d.order...)
	d.mu.Unlock()
	timeout := time.NewTimer(LiveTimeout)
	defer timeout.Stop()
	var out []*callgraph.Call
	for _, p := range order {
		if !p.running.Load() {
			continue
		}
		reply := make(chan []*callgraph.Call, 1)
		select {
		case p.live <- reply:
		case <-timeout.C:
			return out
		}
		select {
		case calls := <-reply:
			out = append(out, calls...)
		case <-timeout.C:
			return out
		}
	}
	return out
}

// Idle reports whether every call seen has been completed and written.
func (st Status) Idle() bool {
	for _, s := range st.Sources {
		if s.OpenCalls > 0 {
			return false
		}
	}
	return st.Writer.Waiting == 0 && st.Writer.Saved+st.Writer.Rejected >= st.Sent
}

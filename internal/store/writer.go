package store

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// A Saver is what a Writer writes to: a *Store, or a fake in tests.
type Saver interface {
	SaveCalls(ctx context.Context, calls []*callgraph.Call) error
	Ping(ctx context.Context) error
}

// Defaults of a Writer's zero fields.
const (
	// DefaultMaxBatch: a batch fills this far only under load (MaxDelay
	// sends it sooner otherwise), where bigger transactions store more
	// calls a second: PostgreSQL 2,370 calls/s in batches of 100, 5,461
	// in batches of 1,000 (BenchmarkSaveCalls, docs/performance.md).
	DefaultMaxBatch   = 1000
	DefaultMaxDelay   = time.Second
	DefaultMaxQueue   = 10000
	DefaultMinBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff bounds how long the calls keep waiting once the
	// database is back: a retry finds out. One failed connection every
	// 5 s costs a database nothing; at 30 s, a 30 s outage kept its calls
	// waiting 10 to 15 s more (TestPostgresServerStopped).
	DefaultMaxBackoff     = 5 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
)

// A Writer takes completed calls from a channel and saves them in
// batches: a batch goes out when it holds MaxBatch calls or when its
// first call has waited MaxDelay.
//
// When the database does not answer, the Writer keeps the calls in
// memory, up to MaxQueue of them, and tries again with jittered
// exponential backoff; once the queue is full it stops reading In, so
// whoever sends on In waits until the database is back. Every failed
// attempt is logged with an error that says so ("store: database
// unreachable, 120 calls waiting: …"), and Status reports it.
//
// When the database answers but refuses a batch, the Writer saves its
// calls one by one and gives up on (logs and counts as rejected) only the
// ones the database refuses on their own.
//
// Set the fields before Run; do not change them after.
type Writer struct {
	Store Saver
	In    <-chan *callgraph.Call

	// Parallel is how many transactions may run at once (0 or 1: one
	// at a time). Calls are dealt out by server and call id, so that
	// the saves of one call still happen in order; each share is batched
	// and retried as described above. PostgreSQL and MySQL can then use
	// more than one server core (docs/performance.md); SQLite writes one
	// transaction at a time whatever this says.
	Parallel int

	MaxBatch       int           // calls per transaction
	MaxDelay       time.Duration // longest a call waits for its batch to fill
	MaxQueue       int           // calls held in memory while the database is away
	MinBackoff     time.Duration // first retry delay, doubled up to MaxBackoff
	MaxBackoff     time.Duration
	AttemptTimeout time.Duration // bound of one save or ping

	Logger *slog.Logger // nil: silent

	mu      sync.Mutex
	status  WriterStatus
	waiting []int // calls waiting, by share
}

// WriterStatus is a snapshot of a Writer, for health checks.
type WriterStatus struct {
	Waiting     int    // calls read from In and not yet saved
	Saved       uint64 // calls saved since Run started
	Rejected    uint64 // calls the database refused and that were dropped
	Unreachable bool   // the last attempt found the database unreachable
	LastError   error  // the last failure, nil after a success
	// Writes is how long the transactions that saved calls took.
	Writes Latency
}

// WriteBuckets are the upper bounds, in seconds, of Latency's buckets.
var WriteBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Latency is a histogram of durations, in seconds, over WriteBuckets.
type Latency struct {
	Count   uint64
	Sum     float64
	Buckets [len(WriteBuckets)]uint64 // observations ≤ each bound (cumulative)
}

func (l *Latency) observe(seconds float64) {
	l.Count++
	l.Sum += seconds
	for i, b := range WriteBuckets {
		if seconds <= b {
			l.Buckets[i]++
		}
	}
}

// Status returns the Writer's current state.
func (w *Writer) Status() WriterStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *Writer) update(f func(*WriterStatus)) {
	w.mu.Lock()
	f(&w.status)
	w.mu.Unlock()
}

func (w *Writer) log() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// ErrUnreachable is wrapped by the errors a Writer reports while the
// database does not answer.
var ErrUnreachable = errors.New("store: database unreachable")

// Run saves what arrives on In until In is closed and every call is
// saved (it returns nil), or ctx is done (it returns an error that
// counts the calls not saved, or nil when there were none).
func (w *Writer) Run(ctx context.Context) error {
	n := max(w.Parallel, 1)
	w.mu.Lock()
	w.waiting = make([]int, n)
	w.mu.Unlock()
	var lost int
	if n == 1 {
		lost = w.run(ctx, w.In, 0)
	} else {
		lost = w.deal(ctx, n)
	}
	if lost > 0 {
		return fmt.Errorf("store: writer stopped, %d calls not saved: %w", lost, ctx.Err())
	}
	return nil
}

// deal hands each call of In to one of n shares by its key, runs the
// shares, and returns how many calls were not saved when ctx ended.
func (w *Writer) deal(ctx context.Context, n int) int {
	shares := make([]chan *callgraph.Call, n)
	lost := make(chan int, n)
	for i := range shares {
		shares[i] = make(chan *callgraph.Call, 64)
		go func() { lost <- w.run(ctx, shares[i], i) }()
	}
	seed := maphash.MakeSeed()
	held := 0 // a call taken from In that no share took before ctx ended
	func() {
		defer func() {
			for _, sh := range shares {
				close(sh)
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case c, ok := <-w.In:
				if !ok {
					return
				}
				if c == nil {
					continue
				}
				select {
				case shares[share(seed, c, n)] <- c:
				case <-ctx.Done():
					held = 1
					return
				}
			}
		}
	}()
	total := held
	for range n {
		total += <-lost
	}
	for _, sh := range shares {
		for range sh { // dealt out, never taken by its share
			total++
		}
	}
	return total
}

// share is the share of n a call goes to, by its key.
func share(seed maphash.Seed, c *callgraph.Call, n int) int {
	return int(maphash.Comparable(seed, callKey{c.Server, c.ID}) % uint64(n))
}

// run is one share of Run: it saves what arrives on in, and returns how
// many calls it had not saved when ctx ended.
func (w *Writer) run(ctx context.Context, in <-chan *callgraph.Call, part int) int {
	var (
		maxBatch   = orDefault(w.MaxBatch, DefaultMaxBatch)
		maxDelay   = orDefault(w.MaxDelay, DefaultMaxDelay)
		maxQueue   = max(orDefault(w.MaxQueue, DefaultMaxQueue), maxBatch)
		minBackoff = orDefault(w.MinBackoff, DefaultMinBackoff)
		maxBackoff = max(orDefault(w.MaxBackoff, DefaultMaxBackoff), minBackoff)

		queue    []*callgraph.Call
		backoff  time.Duration // > 0 while the database is away
		full     bool          // the queue was full, logged once
		wake     = time.NewTimer(time.Hour)
		wakeSet  bool // wake is armed
		deadline time.Time
	)
	wake.Stop()
	defer wake.Stop()
	arm := func(at time.Time) {
		if wakeSet && !at.Before(deadline) {
			return
		}
		wake.Reset(time.Until(at))
		wakeSet, deadline = true, at
	}
	setWaiting := func() {
		w.update(func(s *WriterStatus) {
			s.Waiting += len(queue) - w.waiting[part]
			w.waiting[part] = len(queue)
		})
	}

	for {
		// Save while there is a full batch, or anything at all once In
		// is closed, unless we are backing off.
		for backoff == 0 && len(queue) > 0 && (len(queue) >= maxBatch || in == nil) {
			n := min(len(queue), maxBatch)
			saved, err := w.save(ctx, queue[:n], len(queue))
			queue = queue[saved:]
			setWaiting()
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				backoff = minBackoff
				arm(time.Now().Add(jitter(backoff)))
			}
		}
		if in == nil && len(queue) == 0 {
			return 0
		}
		recv := in
		if len(queue) >= maxQueue {
			recv = nil
			if !full {
				full = true
				w.log().Warn("store: call queue full, holding back new calls", "waiting", len(queue))
			}
		} else {
			full = false
		}
		select {
		case <-ctx.Done():
			return len(queue)
		case c, ok := <-recv:
			if !ok {
				in = nil
				continue
			}
			if c == nil {
				continue
			}
			if len(queue) == 0 && backoff == 0 {
				arm(time.Now().Add(maxDelay))
			}
			queue = append(queue, c)
			setWaiting()
		case <-wake.C:
			wakeSet = false
			if len(queue) == 0 {
				continue
			}
			n := min(len(queue), maxBatch)
			saved, err := w.save(ctx, queue[:n], len(queue))
			queue = queue[saved:]
			setWaiting()
			switch {
			case err != nil && ctx.Err() == nil:
				if backoff == 0 {
					backoff = minBackoff
				} else {
					backoff = min(2*backoff, maxBackoff)
				}
				arm(time.Now().Add(jitter(backoff)))
			case err == nil:
				backoff = 0
				if len(queue) > 0 {
					arm(time.Now()) // drain what piled up, batch by batch
				}
			}
		}
	}
}

// jitter spreads retries over [d/2, d).
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// save writes batch, out of waiting queued calls. It returns how many
// calls of batch are done with (saved or rejected, always a prefix of
// batch) and an error when the rest must be tried again later.
func (w *Writer) save(ctx context.Context, batch []*callgraph.Call, waiting int) (int, error) {
	timeout := orDefault(w.AttemptTimeout, DefaultAttemptTimeout)
	attempt := func(calls []*callgraph.Call) error {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		err := w.Store.SaveCalls(actx, calls)
		if err == nil {
			d := time.Since(start).Seconds()
			w.update(func(s *WriterStatus) { s.Writes.observe(d) })
		}
		return err
	}
	reachable := func() error {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return w.Store.Ping(actx)
	}
	unreachable := func(err error) error {
		err = fmt.Errorf("%w, %d calls waiting: %w", ErrUnreachable, waiting, err)
		w.update(func(s *WriterStatus) { s.Unreachable, s.LastError = true, err })
		w.log().Warn("store: save deferred", "err", err)
		return err
	}

	err := attempt(batch)
	if err == nil {
		w.saved(len(batch))
		return len(batch), nil
	}
	if ctx.Err() != nil {
		return 0, err
	}
	if perr := reachable(); perr != nil {
		return 0, unreachable(err)
	}
	// The database answers: find the calls it will not take.
	w.log().Warn("store: batch refused, saving its calls one by one", "calls", len(batch), "err", err)
	for i, c := range batch {
		err := attempt([]*callgraph.Call{c})
		if err == nil {
			w.saved(1)
			continue
		}
		if ctx.Err() != nil {
			return i, err
		}
		if perr := reachable(); perr != nil {
			return i, unreachable(err)
		}
		w.update(func(s *WriterStatus) { s.Rejected++; s.LastError = err })
		w.log().Error("store: call rejected", "server", c.Server, "call_id", c.ID, "err", err)
	}
	return len(batch), nil
}

func (w *Writer) saved(n int) {
	var back bool
	w.update(func(s *WriterStatus) {
		back = s.Unreachable
		s.Saved += uint64(n)
		s.Unreachable, s.LastError = false, nil
	})
	if back {
		w.log().Info("store: database reachable again")
	}
}

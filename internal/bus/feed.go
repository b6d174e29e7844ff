package bus

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/nats-io/nats.go/jetstream"
)

// A Feed consumes one server's events for an engine through a durable
// JetStream consumer. Events come in stream order, each with FieldSeq and
// FieldArrival added; a redelivered event at or below the last one
// delivered (or below Skip) is acknowledged and dropped. The engine calls
// Ack once it has journaled events: the consumer acknowledges all of them
// up to that sequence (AckAll), so after a crash JetStream redelivers
// exactly what the engine may not have kept.
type Feed struct {
	server  string
	subject string
	durable string
	bus     *Bus
	stream  jetstream.Stream
	log     *slog.Logger
	events  chan *ami.Message

	mu      sync.Mutex
	pending []delivered // delivered, not yet acknowledged, in order
	last    uint64      // the last sequence delivered
	ackTo   uint64      // acknowledge up to here
	ackNow  chan struct{}

	// the parser, owned by Run
	src bytes.Reader
	br  *bufio.Reader
	rd  *ami.Reader

	malformed atomic.Int64
	dropped   atomic.Int64
}

type delivered struct {
	seq uint64
	msg jetstream.Msg
}

// AckWait is how long JetStream waits for an engine's acknowledgement
// before delivering again. The engine acknowledges as soon as it has
// journaled, so only an engine that stopped leaves it to run out.
const AckWait = 2 * time.Minute

// NewFeed returns the feed of server's events from stream; durable names
// the consumer (one per engine and server: "calltrail-<server>" when
// empty).
func NewFeed(b *Bus, server, durable string, log *slog.Logger) (*Feed, error) {
	subject, err := b.Subject(server)
	if err != nil {
		return nil, err
	}
	if durable == "" {
		durable = "calltrail-" + server
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Feed{
		server: server, subject: subject, durable: durable, bus: b, stream: b.Stream, log: log,
		events: make(chan *ami.Message, 1024),
		ackNow: make(chan struct{}, 1),
	}, nil
}

// Server returns the server id the feed carries.
func (f *Feed) Server() string { return f.server }

// Events returns the events, in stream order. It is never closed.
func (f *Feed) Events() <-chan *ami.Message { return f.events }

// Stats returns how many messages were not AMI messages (acknowledged and
// logged) and how many redeliveries were dropped.
func (f *Feed) Stats() (malformed, duplicates int64) {
	return f.malformed.Load(), f.dropped.Load()
}

// Run consumes until ctx ends. Every sequence up to skip is already
// journaled by the engine (it found them there when it recovered) and is
// acknowledged without being delivered.
func (f *Feed) Run(ctx context.Context, skip uint64) error {
	// The consumer's state that matters is its acknowledgement floor: what
	// the engine journaled. Start a fresh consumer just above it (or above
	// skip), so that what a stopped engine left unacknowledged comes again
	// at once rather than after AckWait.
	if f.stream == nil {
		// NATS was away when the engine started: the other servers'
		// pipelines run meanwhile, this one waits here.
		b, err := OpenWait(ctx, f.bus.JS, f.bus.Config, f.log)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		f.stream = b.Stream
	}
	start := skip
	if old, err := f.stream.Consumer(ctx, f.durable); err == nil {
		info, err := old.Info(ctx)
		if err != nil {
			return fmt.Errorf("bus: consumer %s: %w", f.durable, err)
		}
		start = max(start, info.AckFloor.Stream)
		if err := f.stream.DeleteConsumer(ctx, f.durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("bus: consumer %s: %w", f.durable, err)
		}
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("bus: consumer %s: %w", f.durable, err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       f.durable,
		FilterSubject: f.subject,
		AckPolicy:     jetstream.AckAllPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       AckWait,
		MaxAckPending: -1,
		MaxDeliver:    -1,
	}
	if start > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start+1
	}
	cons, err := f.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", f.durable, err)
	}
	f.log.Info("bus: consuming", "server", f.server, "consumer", f.durable, "from_seq", start+1)
	f.mu.Lock()
	f.last = max(f.last, start)
	f.mu.Unlock()
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", f.durable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	ackCtx, stopAcks := context.WithCancel(context.Background())
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		f.acker(ackCtx)
	}()
	defer func() { stopAcks(); <-ackDone }()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			f.log.Warn("bus: next message", "server", f.server, "err", err)
			if !sleep(ctx, 500*time.Millisecond) {
				return nil
			}
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			f.log.Warn("bus: message without metadata", "server", f.server, "err", err)
			continue
		}
		seq := meta.Sequence.Stream
		f.mu.Lock()
		dup := seq <= f.last
		if !dup {
			f.last = seq
		}
		f.mu.Unlock()
		if dup {
			f.dropped.Add(1)
			msg.Ack()
			continue
		}
		m, err := f.parse(msg.Data())
		if err != nil {
			// Not an AMI message: nothing an engine can use. Acknowledge it
			// (it would come back for ever) and say so.
			f.malformed.Add(1)
			f.log.Error("bus: message is not AMI; dropped", "server", f.server, "seq", seq, "err", err)
			m = nil
		}
		if m != nil {
			m.Set(FieldSeq, strconv.FormatUint(seq, 10))
			if v := msg.Headers().Get(HeaderArrival); v != "" {
				m.Set(FieldArrival, v)
			}
		}
		f.mu.Lock()
		f.pending = append(f.pending, delivered{seq, msg})
		f.mu.Unlock()
		if m == nil {
			continue
		}
		select {
		case f.events <- m:
		case <-ctx.Done():
			return nil
		}
	}
}

// parse reads one AMI message from a JetStream message's data, with one
// reader kept for all of them.
func (f *Feed) parse(data []byte) (*ami.Message, error) {
	if f.rd == nil {
		f.br = bufio.NewReaderSize(nil, 16<<10)
		f.rd = ami.NewReader(f.br)
	}
	f.src.Reset(data)
	f.br.Reset(&f.src)
	m, err := f.rd.ReadMessage()
	if err != nil {
		f.rd = nil // start afresh after a bad message
	}
	return m, err
}

// Ack acknowledges every event delivered up to seq (and any dropped
// message before it). It does not wait: the acknowledgement goes out from
// the feed's own goroutine, confirmed by JetStream, and a last one when
// Run ends.
func (f *Feed) Ack(seq uint64) {
	f.mu.Lock()
	f.ackTo = max(f.ackTo, seq)
	f.mu.Unlock()
	select {
	case f.ackNow <- struct{}{}:
	default:
	}
}

// acker sends the acknowledgements Ack asked for until ctx ends, then the
// last one.
func (f *Feed) acker(ctx context.Context) {
	for {
		select {
		case <-f.ackNow:
			f.ackPending()
		case <-ctx.Done():
			f.ackPending()
			return
		}
	}
}

// ackPending acknowledges up to ackTo; the messages stay pending until
// JetStream confirmed it.
func (f *Feed) ackPending() {
	f.mu.Lock()
	var last delivered
	for _, d := range f.pending {
		if d.seq > f.ackTo {
			break
		}
		last = d
	}
	f.mu.Unlock()
	if last.msg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := last.msg.DoubleAck(ctx); err != nil {
		// Not lost: JetStream delivers again what it did not record, and
		// the engine drops what its journal holds.
		f.log.Warn("bus: ack", "server", f.server, "err", err)
		return
	}
	f.mu.Lock()
	i := 0
	for i < len(f.pending) && f.pending[i].seq <= last.seq {
		i++
	}
	f.pending = append(f.pending[:0], f.pending[i:]...)
	f.mu.Unlock()
}

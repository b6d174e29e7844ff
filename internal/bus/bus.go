// Package bus carries raw AMI events from collectors beside each Asterisk
// to calltrail engines over NATS JetStream, for deployments where one
// machine does not follow every server.
//
// A Collector follows one Asterisk, spools each event to a local journal
// and publishes it, in order, to the subject of its server
// (calltrail.ami.<server>) with a message id that makes a republish after
// a crash a duplicate JetStream drops. A Feed is the engine's side: a
// durable consumer of one server's subject that hands the events to the
// engine with the collector's arrival time and the stream sequence, and
// acknowledges them once the engine has journaled them. Together they are
// at least once; the engine drops what it has already journaled, and the
// store writes a call idempotently.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the stream.
const (
	DefaultStream = "CALLTRAIL_AMI"
	SubjectPrefix = "calltrail.ami."
	// DuplicateWindow is how long JetStream remembers message ids: a
	// collector that restarts within it republishes nothing twice.
	DuplicateWindow = 10 * time.Minute
)

// Headers and fields. A Feed adds FieldSeq and FieldArrival to every
// message it delivers; the engine journals them with the message and
// ignores them otherwise.
const (
	HeaderArrival = "Calltrail-Arrival"
	FieldSeq      = "CalltrailSeq"
	FieldArrival  = "CalltrailArrival"
)

// A Bus is a stream of every server's events: collectors publish to it,
// feeds consume from it.
type Bus struct {
	JS jetstream.JetStream
	// Stream is nil until the stream is known to exist: a Feed then waits
	// for it (OpenWait with Config) when it starts.
	Stream jetstream.Stream
	Config StreamConfig
	// Prefix starts every subject: SubjectPrefix unless configured.
	Prefix string
}

// Subject returns the subject of a server's events. A server id is made
// of letters, digits, '-' and '_' (it is one subject token).
func (b *Bus) Subject(server string) (string, error) {
	if err := checkServer(server); err != nil {
		return "", err
	}
	return b.Prefix + server, nil
}

func checkServer(id string) error {
	if id == "" {
		return errors.New("bus: empty server id")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("bus: server id %q: only letters, digits, '-' and '_' may name a subject", id)
		}
	}
	return nil
}

// Connect connects to NATS for as long as the process runs: it reconnects
// forever and logs each loss and return.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		// No buffering while reconnecting: a message published then would
		// reach the stream after the reconnect, ahead of the earlier ones
		// the collector publishes again because they were not
		// acknowledged, and the stream would hold events out of order.
		// Publishing fails instead, and the collector retries in order.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "url", url, "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	return nc, js, nil
}

// StreamConfig describes the stream every collector and engine uses.
type StreamConfig struct {
	Name string // DefaultStream when empty
	// Prefix of the subjects, ending in '.': SubjectPrefix when empty.
	// Two streams must not share subjects.
	Prefix string
	// MaxAge is how long events are kept (0: until the limits below).
	MaxAge time.Duration
	// MaxBytes bounds the stream's size (0: no bound).
	MaxBytes int64
	// Replicas is the number of copies in a JetStream cluster (1 when 0).
	Replicas int
}

// Open creates the stream, or updates it to cfg. Collectors and engines
// both call it, so either may start first.
func Open(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (*Bus, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultStream
	}
	if cfg.Prefix == "" {
		cfg.Prefix = SubjectPrefix
	}
	if !strings.HasSuffix(cfg.Prefix, ".") {
		return nil, fmt.Errorf("bus: subject prefix %q must end in '.'", cfg.Prefix)
	}
	sc := jetstream.StreamConfig{
		Name:       cfg.Name,
		Subjects:   []string{cfg.Prefix + ">"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Duplicates: DuplicateWindow,
		MaxAge:     cfg.MaxAge,
		MaxBytes:   cfg.MaxBytes,
		Replicas:   max(cfg.Replicas, 1),
	}
	if sc.MaxBytes == 0 {
		sc.MaxBytes = -1
	}
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
	}
	return &Bus{JS: js, Stream: s, Config: cfg, Prefix: cfg.Prefix}, nil
}

// Seq returns the stream sequence a Feed gave a message.
func Seq(m *ami.Message) (uint64, bool) {
	v, ok := m.Lookup(FieldSeq)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

// Arrival returns when the collector received a message, as a Feed gave
// it.
func Arrival(m *ami.Message) (time.Time, bool) {
	v, ok := m.Lookup(FieldArrival)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// OpenWait is Open retried until it succeeds or ctx ends: a collector or
// an engine started before NATS waits for it, saying so in the log.
func OpenWait(ctx context.Context, js jetstream.JetStream, cfg StreamConfig, log *slog.Logger) (*Bus, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for attempt := 1; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, 2*time.Second)
		b, err := Open(octx, js, cfg)
		cancel()
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Warn("waiting for NATS JetStream", "err", err, "attempts", attempt)
		}
		if !sleep(ctx, min(time.Duration(attempt)*500*time.Millisecond, 5*time.Second)) {
			return nil, ctx.Err()
		}
	}
}

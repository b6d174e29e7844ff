package ami

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Config configures a Conn and a Client. The zero value of every field
// but Username is usable: zero durations and sizes mean the defaults that
// DefaultConfig spells out.
type Config struct {
	// Username and Secret are a manager.conf user and its secret. The
	// secret never appears in an error, a log line or the wire tap.
	Username string
	Secret   string

	// AuthType is "plain" (the default: the secret is sent in the Login
	// action, so use TLS across a network) or "md5" (the Challenge
	// action, then Key = md5hex(challenge + secret)).
	AuthType string

	// Events is the event mask: "on" (the default: every class the user
	// may read), "off" (responses only), or a list of classes such as
	// "call,agent,dialplan".
	Events string

	// Filters are added with the Filter action after each login, before
	// events are turned on, so that no unfiltered event slips through.
	// Each is a regular expression matched against the event's text, with
	// "!" in front to exclude, as manager.conf's eventfilter.
	Filters []string

	// TLS, when not nil, makes the connection use TLS (Asterisk listens
	// on 5039 for it). Certificates are verified unless TLS says
	// otherwise (InsecureSkipVerify); ServerName defaults to the host of
	// the address.
	TLS *tls.Config

	// DialTimeout bounds connecting and logging in.
	DialTimeout time.Duration

	// PingInterval is how often a connection sends a keepalive Ping, and
	// PingTimeout how long it waits for the answer before it gives the
	// connection up. A negative PingInterval turns keepalives off.
	PingInterval time.Duration
	PingTimeout  time.Duration

	// WriteTimeout bounds writing one action.
	WriteTimeout time.Duration

	// EventBuffer is how many events a connection holds for a consumer
	// that is behind. The reader never waits for the consumer: when the
	// buffer is full it closes the connection with ErrSlowConsumer, so
	// that responses keep flowing and the loss is visible (a Client then
	// reconnects and marks the gap).
	EventBuffer int

	// MaxLineLength and MaxMessageSize bound what the connection accepts
	// from the network, see Reader.
	MaxLineLength  int
	MaxMessageSize int

	// MinBackoff and MaxBackoff bound a Client's wait between connection
	// attempts: it doubles from MinBackoff up to MaxBackoff, with jitter.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Debug, when not nil, receives every byte read from Asterisk exactly
	// as received: banner, responses and events, CRLF included. That is
	// the format of calltrail's ami.log captures, so a problem call can be
	// recorded and replayed. The bytes sent are not copied: they hold the
	// secret.
	Debug io.Writer

	// Logger receives connects, disconnects and retries. Nil means silent.
	Logger *slog.Logger
}

// Defaults of Config's zero fields.
const (
	DefaultDialTimeout  = 10 * time.Second
	DefaultPingInterval = 30 * time.Second
	DefaultPingTimeout  = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultEventBuffer  = 16384
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
)

// DefaultConfig returns a Config with every default filled in; set
// Username and Secret.
func DefaultConfig() Config {
	return Config{
		AuthType:       "plain",
		Events:         "on",
		DialTimeout:    DefaultDialTimeout,
		PingInterval:   DefaultPingInterval,
		PingTimeout:    DefaultPingTimeout,
		WriteTimeout:   DefaultWriteTimeout,
		EventBuffer:    DefaultEventBuffer,
		MaxLineLength:  DefaultMaxLineLength,
		MaxMessageSize: DefaultMaxMessageSize,
		MinBackoff:     DefaultMinBackoff,
		MaxBackoff:     DefaultMaxBackoff,
	}
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.Username == "":
		return errors.New("ami: config: no username")
	case strings.ContainsAny(c.Username, "\r\n"):
		return errors.New("ami: config: username contains a line break")
	case strings.ContainsAny(c.Secret, "\r\n"):
		return errors.New("ami: config: secret contains a line break")
	case strings.ContainsAny(c.Events, "\r\n"):
		return errors.New("ami: config: events contains a line break")
	}
	switch strings.ToLower(c.AuthType) {
	case "", "plain", "md5":
	default:
		return fmt.Errorf("ami: config: unknown auth type %q (want plain or md5)", c.AuthType)
	}
	for _, f := range c.Filters {
		if f == "" || strings.ContainsAny(f, "\r\n") {
			return fmt.Errorf("ami: config: invalid filter %q", f)
		}
	}
	switch {
	case c.DialTimeout < 0, c.PingTimeout < 0, c.WriteTimeout < 0:
		return errors.New("ami: config: negative timeout")
	case c.EventBuffer < 0, c.MaxLineLength < 0, c.MaxMessageSize < 0:
		return errors.New("ami: config: negative size")
	case c.MinBackoff < 0, c.MaxBackoff < 0:
		return errors.New("ami: config: negative backoff")
	case c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff:
		return errors.New("ami: config: min backoff above max backoff")
	}
	return nil
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.AuthType == "" {
		c.AuthType = d.AuthType
	}
	if c.Events == "" {
		c.Events = d.Events
	}
	setDuration(&c.DialTimeout, d.DialTimeout)
	setDuration(&c.PingInterval, d.PingInterval)
	setDuration(&c.PingTimeout, d.PingTimeout)
	setDuration(&c.WriteTimeout, d.WriteTimeout)
	setDuration(&c.MinBackoff, d.MinBackoff)
	setDuration(&c.MaxBackoff, d.MaxBackoff)
	if c.MinBackoff > c.MaxBackoff {
		c.MinBackoff = c.MaxBackoff
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = d.EventBuffer
	}
	return c
}

func setDuration(p *time.Duration, def time.Duration) {
	if *p == 0 {
		*p = def
	}
}

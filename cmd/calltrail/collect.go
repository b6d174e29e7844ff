package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/internal/bus"
	"github.com/calltrail/calltrail/internal/config"
	"github.com/calltrail/calltrail/internal/journal"
)

// runCollect follows one Asterisk and publishes its events to NATS
// JetStream for engines elsewhere (docs/scale.md).
func runCollect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("ami", "127.0.0.1:5038", "Asterisk manager address host:port")
	user := fs.String("user", "", "manager.conf user")
	secretFile := fs.String("secret-file", "", "file holding the manager secret (or CALLTRAIL_AMI_SECRET)")
	useTLS := fs.Bool("tls", false, "connect to the manager over TLS (port 5039)")
	id := fs.String("server-id", "", "the server's id: the subject it publishes to and the server of its calls")
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "NATS server with JetStream")
	stream := fs.String("stream", bus.DefaultStream, "JetStream stream")
	prefix := fs.String("subject-prefix", bus.SubjectPrefix, "subject prefix, ending in '.': the engines' must match")
	spool := fs.String("spool", "", "spool folder: events wait here until JetStream has them (default ./spool-ID)")
	sync := fs.String("spool-sync", "interval", "spool fsync policy: always, interval (1 s) or never")
	retention := fs.Duration("spool-retention", 0, "keep published spool segments this long; 0 deletes them once published")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	logFormat := fs.String("log-format", "", "text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail collect --ami HOST:5038 --user U --server-id ID [--nats URL] [--spool DIR]")
		fmt.Fprintln(stderr, "\nRuns beside one Asterisk: every AMI event goes to a local spool, then to the")
		fmt.Fprintln(stderr, "JetStream subject calltrail.ami.ID, where `calltrail serve --nats URL")
		fmt.Fprintln(stderr, "--nats-servers ID,...` engines consume it. See docs/scale.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("collect: unexpected argument %q", fs.Arg(0))}
	}
	secret := os.Getenv("CALLTRAIL_AMI_SECRET")
	if *secretFile != "" {
		data, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("collect: --secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(data))
	}
	switch {
	case *id == "":
		return usageError{"collect: --server-id is required (it names the server's subject and calls)"}
	case *user == "" || secret == "":
		return usageError{"collect: --user and the secret (--secret-file or CALLTRAIL_AMI_SECRET) are required"}
	}
	if _, err := (&bus.Bus{Prefix: bus.SubjectPrefix}).Subject(*id); err != nil {
		return usageError{"collect: --server-id: " + strings.TrimPrefix(err.Error(), "bus: ")}
	}
	policy, err := journal.ParseSync(*sync)
	if err != nil {
		return usageError{"collect: --spool-sync: " + err.Error()}
	}
	base := newLogger(stderr, config.Log{Level: *logLevel, Format: *logFormat})
	log := base.With("server", *id)

	dir := *spool
	if dir == "" {
		dir = "spool-" + *id
	}
	j, err := journal.Open(dir, journal.Options{Sync: policy})
	if err != nil {
		return fmt.Errorf("collect: spool: %w", err)
	}
	defer j.Close()
	if n := j.Cut(); n > 0 {
		log.Warn("spool: cut a record a crash had left half-written", "bytes", n, "dir", dir)
	}

	nc, js, err := bus.Connect(*natsURL, "calltrail-collect-"+*id, log)
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	defer nc.Close()
	// Follow Asterisk at once, NATS or not: until the stream is there,
	// events wait in the spool.
	if !strings.HasSuffix(*prefix, ".") {
		return usageError{"collect: --subject-prefix must end in '.'"}
	}
	b := &bus.Bus{JS: js, Prefix: *prefix}
	go func() {
		if _, err := bus.OpenWait(ctx, js, bus.StreamConfig{Name: *stream, Prefix: *prefix}, log); err == nil {
			log.Info("JetStream stream ready", "stream", *stream)
		}
	}()

	ac := ami.DefaultConfig()
	ac.Username, ac.Secret, ac.Logger = *user, secret, log
	if *useTLS {
		host, _, _ := net.SplitHostPort(*addr)
		ac.TLS = &tls.Config{ServerName: host}
	}
	c := &bus.Collector{Server: *id, Client: ami.NewClient(*addr, ac), Bus: b, Spool: j, Retention: *retention, Log: base} // it names the server itself
	log.Info("calltrail collecting", "ami", *addr, "nats", nc.ConnectedUrlRedacted(), "spool", dir)
	err = c.Run(ctx)
	st := c.Stats()
	log.Info("calltrail collect stopped", "spooled", st.Spooled, "published", st.Published, "at", time.Now().UTC().Format(time.RFC3339))
	if errors.Is(err, ami.ErrAuth) {
		return fmt.Errorf("%w: check the user and its secret in manager.conf", err)
	}
	return err
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/internal/bus"
	"github.com/calltrail/calltrail/internal/config"
	"github.com/calltrail/calltrail/internal/daemon"
	"github.com/calltrail/calltrail/internal/journal"
	"github.com/calltrail/calltrail/internal/store"
)

// serveFlags are the command-line settings of serve; they override the
// config file.
type serveFlags struct {
	config     string
	amiAddr    string
	amiUser    string
	amiSecret  string
	secretFile string
	amiTLS     bool
	db         string
	agiListen  string
	journalDir string
	noJournal  bool
	sync       string
	retention  time.Duration
	logLevel   string
	logFormat  string
	rates      string
	natsURL    string
	natsIDs    string
	natsStream string
	natsPrefix string
	prefix     string
	http       httpFlags // the HTTP API (http.go)
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML config file (see configs/calltrail.yaml)")
	fs.StringVar(&f.amiAddr, "ami", "", "Asterisk manager address host:port (overrides the config's single server)")
	fs.StringVar(&f.amiUser, "user", "", "manager.conf user")
	fs.StringVar(&f.amiSecret, "secret", "", "manager secret (prefer --secret-file or CALLTRAIL_AMI_SECRET)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file holding the manager secret")
	fs.BoolVar(&f.amiTLS, "tls", false, "connect to the manager over TLS (port 5039)")
	fs.StringVar(&f.db, "db", "", "database: sqlite:FILE, postgres://… or mysql://… (default sqlite:calltrail.db)")
	fs.StringVar(&f.agiListen, "agi", "", "FastAGI listen address (default 127.0.0.1:4573; \"off\" to disable)")
	fs.StringVar(&f.journalDir, "journal", "", "event journal folder (default: beside the database)")
	fs.BoolVar(&f.noJournal, "no-journal", false, "keep no journal: calls in flight at a crash are lost")
	fs.StringVar(&f.sync, "journal-sync", "interval", "journal fsync policy: always, interval (1 s) or never")
	fs.DurationVar(&f.retention, "journal-retention", 0, "delete journal segments older than this (e.g. 2160h for 90 days) once no open call needs them; 0 keeps all")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "", "text or json")
	fs.StringVar(&f.rates, "rates", "", "rate plan file (see configs/rates.yaml)")
	fs.StringVar(&f.prefix, "table-prefix", "", "prefix of calltrail's table names, when the database holds several instances")
	fs.StringVar(&f.natsURL, "nats", "", "NATS server (nats://host:4222) whose JetStream carries collectors' events (docs/scale.md)")
	fs.StringVar(&f.natsStream, "nats-stream", "", "JetStream stream (default CALLTRAIL_AMI)")
	fs.StringVar(&f.natsPrefix, "nats-prefix", "", "subject prefix, ending in '.' (default calltrail.ami.)")
	fs.StringVar(&f.natsIDs, "nats-servers", "", "comma-separated ids of the servers whose collectors publish to this engine")
	f.http.register(fs, "http", "", "web UI, HTTP API, /metrics and probes listen address, e.g. 127.0.0.1:8080 (default off; see docs/api.md)")
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail serve [--config FILE] [flags]")
		fmt.Fprintln(stderr, "\nFollows Asterisk over AMI (or, with --nats, the collectors of calltrail")
		fmt.Fprintln(stderr, "collect through NATS JetStream), serves FastAGI, and writes every completed")
		fmt.Fprintln(stderr, "call to the database. SIGTERM stops it cleanly; calls in flight are completed")
		fmt.Fprintln(stderr, "from the journal at the next start.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("serve: unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := f.load(os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log)
	return serve(ctx, cfg, f, log, nil)
}

// load reads the config file (or starts from the defaults) and applies the
// flags.
func (f *serveFlags) load(getenv func(string) string) (*config.Config, error) {
	var cfg *config.Config
	if f.config != "" {
		c, err := config.Load(f.config, getenv)
		if err != nil {
			return nil, err
		}
		cfg = c
	} else {
		c := config.DefaultConfig()
		cfg = &c
	}
	if f.amiAddr != "" {
		a := config.AMI{ID: "", Addr: f.amiAddr}
		if len(cfg.AMI) == 1 {
			a = cfg.AMI[0]
			a.Addr = f.amiAddr
		}
		cfg.AMI = []config.AMI{a}
	}
	for i := range cfg.AMI {
		a := &cfg.AMI[i]
		if f.amiUser != "" {
			a.User = f.amiUser
		}
		if f.amiSecret != "" {
			a.Secret = f.amiSecret
		}
		if f.secretFile != "" {
			data, err := os.ReadFile(f.secretFile)
			if err != nil {
				return nil, fmt.Errorf("--secret-file: %w", err)
			}
			a.Secret = strings.TrimSpace(string(data))
		}
		if a.Secret == "" {
			a.Secret = getenv("CALLTRAIL_AMI_SECRET")
		}
		if f.amiTLS {
			a.TLS = true
		}
		if a.ID == "" {
			host, _, err := net.SplitHostPort(a.Addr)
			if err != nil || host == "" {
				host = a.Addr
			}
			a.ID = host
		}
	}
	if f.db != "" {
		cfg.DB = f.db
	}
	if f.agiListen != "" {
		cfg.AGI.Listen = f.agiListen
		if f.agiListen == "off" {
			cfg.AGI.Listen = ""
		}
	}
	if f.journalDir != "" {
		cfg.Journal = f.journalDir
	}
	if f.logLevel != "" {
		cfg.Log.Level = f.logLevel
	}
	if f.logFormat != "" {
		cfg.Log.Format = f.logFormat
	}
	if f.rates != "" {
		cfg.Billing.Rates = f.rates
	}
	if f.natsURL != "" {
		cfg.NATS.URL = f.natsURL
	}
	if f.natsStream != "" {
		cfg.NATS.Stream = f.natsStream
	}
	if f.natsPrefix != "" {
		cfg.NATS.SubjectPrefix = f.natsPrefix
	}
	if f.natsIDs != "" {
		cfg.NATS.Servers = nil
		for _, id := range strings.Split(f.natsIDs, ",") {
			if id = strings.TrimSpace(id); id != "" {
				cfg.NATS.Servers = append(cfg.NATS.Servers, id)
			}
		}
	}
	if len(cfg.AMI) == 0 && len(cfg.NATS.Servers) == 0 {
		return nil, usageError{"serve: no Asterisk to follow: give --ami host:5038 --user U (and the secret), --nats URL --nats-servers IDS, or a --config file with an ami: list"}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	switch c.Level {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// journalDir places the journal beside an SQLite database, or in
// ./calltrail-journal for a server database.
func journalDir(cfg *config.Config, noJournal bool) string {
	if noJournal {
		return ""
	}
	if cfg.Journal != "" {
		return cfg.Journal
	}
	if path, ok := strings.CutPrefix(cfg.DB, "sqlite:"); ok && path != "" && !strings.HasPrefix(path, ":memory:") {
		return strings.TrimSuffix(path, filepath.Ext(path)) + ".journal"
	}
	return "calltrail.journal"
}

// serve runs the daemon. ready, when not nil, is called once it listens.
func serve(ctx context.Context, cfg *config.Config, f serveFlags, log *slog.Logger, ready func(*daemon.Daemon)) error {
	st, err := store.OpenWith(ctx, cfg.DB, store.Options{TablePrefix: f.prefix})
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer st.Close()

	opts := daemon.Options{Store: st, Logger: log, AGIAllow: cfg.AGI.Allow, WriterParallel: cfg.DBWriters}
	if dir := journalDir(cfg, f.noJournal); dir != "" {
		sync, err := journal.ParseSync(f.sync)
		if err != nil {
			return usageError{err.Error()}
		}
		j, err := journal.Open(dir, journal.Options{Sync: sync})
		if err != nil {
			return err
		}
		defer j.Close()
		if n := j.Cut(); n > 0 {
			log.Warn("journal: cut a record a crash had left half-written", "bytes", n, "dir", dir)
		}
		opts.Journal = j
		opts.JournalRetention = f.retention
	}
	rater, err := loadRater(cfg)
	if err != nil {
		return err
	}
	if rater != nil {
		opts.Rater = rater
	}
	for _, a := range cfg.AMI {
		ac := ami.DefaultConfig()
		ac.Username, ac.Secret = a.User, a.Secret
		if a.TLS {
			host, _, _ := net.SplitHostPort(a.Addr)
			ac.TLS = &tls.Config{ServerName: host, InsecureSkipVerify: a.TLSInsecure}
		}
		opts.Sources = append(opts.Sources, daemon.Source{ID: a.ID, Addr: a.Addr, Config: ac})
	}
	if len(cfg.NATS.Servers) > 0 {
		nc, js, err := bus.Connect(cfg.NATS.URL, "calltrail-engine", log)
		if err != nil {
			return err
		}
		defer nc.Close()
		// The feeds wait for the stream if NATS is away: AMI servers and
		// FastAGI start at once.
		sc := bus.StreamConfig{Name: cfg.NATS.Stream, Prefix: cfg.NATS.SubjectPrefix}
		if sc.Prefix == "" {
			sc.Prefix = bus.SubjectPrefix
		}
		b := &bus.Bus{JS: js, Config: sc, Prefix: sc.Prefix}
		prefix := cfg.NATS.Consumer
		if prefix == "" {
			prefix = "calltrail-"
		}
		for _, id := range cfg.NATS.Servers {
			feed, err := bus.NewFeed(b, id, prefix+id, log)
			if err != nil {
				return err
			}
			opts.Feeds = append(opts.Feeds, feed)
		}
	}
	if cfg.AGI.Listen != "" {
		l, err := net.Listen("tcp", cfg.AGI.Listen)
		if err != nil {
			return fmt.Errorf("fastagi: %w (set agi.listen, or --agi off)", err)
		}
		opts.AGIListener = l
		log.Info("fastagi listening", "addr", l.Addr().String())
	}
	d, err := daemon.New(opts)
	if err != nil {
		return err
	}
	stopHTTP, err := serveHTTP(f.http, st, d, billingConfig(cfg), log) // the HTTP API (http.go)
	if err != nil {
		return err
	}
	defer stopHTTP()
	if ready != nil {
		ready(d)
	}
	log.Info("calltrail serving", "servers", len(opts.Sources), "bus_servers", len(opts.Feeds), "db", st.Dialect(), "journal", opts.Journal != nil)
	err = d.Run(ctx)
	stopHTTP()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if errors.Is(err, ami.ErrAuth) {
		return fmt.Errorf("%w: check the user and its secret in manager.conf (and its permit/deny lines); give the secret with --secret-file or CALLTRAIL_AMI_SECRET", err)
	}
	if err != nil {
		return err
	}
	st.Close()
	log.Info("calltrail stopped", "at", time.Now().UTC().Format(time.RFC3339))
	return nil
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sort"
	"time"

	"github.com/calltrail/calltrail/internal/config"
	"github.com/calltrail/calltrail/internal/daemon"
	"github.com/calltrail/calltrail/internal/sim"
	"github.com/calltrail/calltrail/internal/store"
)

// demoCaptures are the shipped captures the demo plays: one of each shape.
var demoCaptures = []string{
	"testdata/asterisk20/S01/ami.log", // basic call
	"testdata/asterisk20/S02/ami.log", // no answer
	"testdata/asterisk20/S05/ami.log", // blind transfer
	"testdata/asterisk20/S06/ami.log", // attended transfer
	"testdata/asterisk20/S08/ami.log", // queue
	"testdata/asterisk20/S10/ami.log", // conference
	"testdata/asterisk20/S11/ami.log", // inbound trunk, transferred
	"testdata/asterisk20/S17/ami.log", // blonde transfer
	"testdata/asterisk20/S18/ami.log", // pickup
	"testdata/asterisk20/S19/ami.log", // parking
	"testdata/asterisk20/S23/ami.log", // outbound trunk, transferred
	"testdata/asterisk22/P03/ami.log", // PJSIP attended transfer
}

// runDemo is "calltrail demo": a fake Asterisk plays shipped captures to a
// real calltrail daemon on loopback; the calls it stored are printed.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "sqlite:calltrail.db", "where the daemon stores the calls")
	dir := fs.String("captures", ".", "the repository root, where testdata/ is")
	speed := fs.Float64("speed", 0, "play at N times the recorded pace (0: as fast as possible)")
	verbose := fs.Bool("v", false, "show the daemon's log")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail demo [--db DSN] [--speed N]")
		fmt.Fprintln(stderr, "\nStarts a fake Asterisk on a free loopback port that plays real captures")
		fmt.Fprintln(stderr, "(transfers, a queue, a conference, pickup, parking, trunk calls), runs the")
		fmt.Fprintln(stderr, "daemon against it, and prints the calls it stored. Run it from the repository root.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var caps []*sim.Capture
	for _, p := range demoCaptures {
		c, err := sim.LoadCapture(filepath.Join(*dir, p))
		if err != nil {
			return fmt.Errorf("demo: %w (run it from the repository root, or give --captures DIR)", err)
		}
		caps = append(caps, c)
	}
	secretBytes := make([]byte, 16)
	rand.Read(secretBytes)
	secret := hex.EncodeToString(secretBytes)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	asterisk := &sim.Server{User: "demo", Secret: secret, Captures: caps, Fast: *speed == 0, Speed: *speed, Gap: 200 * time.Millisecond}
	go asterisk.Serve(l)
	defer asterisk.Close()

	cfg := config.DefaultConfig()
	cfg.AMI = []config.AMI{{ID: "demo", Addr: l.Addr().String(), User: "demo", Secret: secret}}
	cfg.DB = *db
	cfg.AGI.Listen = ""
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	fmt.Fprintf(stderr, "calltrail demo: a fake Asterisk on %s plays %d captures into %s\n", l.Addr(), len(caps), *db)

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan *daemon.Daemon, 1)
	done := make(chan error, 1)
	go func() { done <- serve(sctx, &cfg, serveFlags{}, log, func(d *daemon.Daemon) { ready <- d }) }()
	var d *daemon.Daemon
	select {
	case d = <-ready:
	case err := <-done:
		return err
	}
	// Wait for the captures to be played, then for every call to be in the
	// database.
	select {
	case <-asterisk.Done():
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	deadline := time.Now().Add(30 * time.Second)
	for !d.Status().Idle() || d.Status().Sources[0].Events == 0 {
		if time.Now().After(deadline) {
			return errors.New("demo: the daemon did not finish the calls within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	calls, err := st.Calls(ctx, store.Filter{Server: "demo", Limit: 10000})
	if err != nil {
		return err
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].Start.Before(calls[j].Start.Time) })
	out := newTablePrinter(stdout)
	for _, c := range calls {
		if err := out.Print(c); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d calls stored in %s. Try: calltrail replay --format table testdata/asterisk20/S14/ami.log\n", len(calls), *db)
	return out.Close()
}

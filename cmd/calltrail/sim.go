package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/calltrail/calltrail/internal/sim"
)

// runSim is "calltrail sim": a fake Asterisk serving recorded captures.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:5038", "address to serve AMI on")
	user := fs.String("user", "", "manager user the client must log in as")
	secret := fs.String("secret", "", "its secret (or CALLTRAIL_SIM_SECRET)")
	speed := fs.Float64("speed", 1, "play the captures N times faster than recorded")
	fast := fs.Bool("fast", false, "send events as fast as the client reads them")
	gap := fs.Duration("gap", time.Second, "time between the end of one capture and the start of the next")
	verbose := fs.Bool("v", false, "log every connection")
	debug := fs.String("debug", "", "write every byte of every connection to this file (testdata/ami-actions/*.log format)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: calltrail sim --user U --secret S [--listen ADDR] [--speed N | --fast] FILE...")
		fmt.Fprintln(stderr, "\nServes AMI captures (testdata/*/S*/ami.log) like an Asterisk would: banner,")
		fmt.Fprintln(stderr, "Login (plain or MD5), then the captures' events one after another at their")
		fmt.Fprintln(stderr, "recorded pace. A client that reconnects carries on with the next event.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = os.Getenv("CALLTRAIL_SIM_SECRET")
	}
	switch {
	case fs.NArg() == 0:
		return usageError{"sim: no capture file given"}
	case *user == "" || *secret == "":
		return usageError{"sim: --user and --secret are required"}
	case *speed <= 0:
		return usageError{fmt.Sprintf("sim: --speed %v: want a positive number", *speed)}
	}
	var caps []*sim.Capture
	events := 0
	for _, path := range fs.Args() {
		c, err := sim.LoadCapture(path)
		if err != nil {
			return err
		}
		caps = append(caps, c)
		events += len(c.Events)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv := &sim.Server{User: *user, Secret: *secret, Captures: caps, Speed: *speed, Fast: *fast, Gap: *gap, Logger: log}
	if *debug != "" {
		f, err := os.OpenFile(*debug, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		defer f.Close()
		srv.Debug = f
	}

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	fmt.Fprintf(stderr, "sim: serving %d events from %d captures on %s\n", events, len(caps), l.Addr())
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	served := make(chan struct{})
	defer close(served)
	go func() {
		select {
		case <-srv.Done():
			fmt.Fprintf(stderr, "sim: all %d events sent; still answering until interrupted\n", events)
		case <-served:
		}
	}()
	err = srv.Serve(l)
	srv.Close() // wait for every connection, before the transcript file closes
	if !errors.Is(err, sim.ErrServerClosed) {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

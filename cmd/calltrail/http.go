package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/calltrail/calltrail/billing"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/calltrail/calltrail/internal/api"
	"github.com/calltrail/calltrail/internal/daemon"
	"github.com/calltrail/calltrail/internal/web"
)

// httpFlags are the settings of the HTTP API, shared by serve and web.
type httpFlags struct {
	listen         string
	tokenFile      string
	adminTokenFile string
}

func (f *httpFlags) register(fs *flag.FlagSet, listenFlag, def, usage string) {
	fs.StringVar(&f.listen, listenFlag, def, usage)
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the API's read-only bearer token (or CALLTRAIL_TOKEN)")
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the API's admin bearer token, which may top up accounts (or CALLTRAIL_ADMIN_TOKEN)")
}

// options reads the tokens: from their files, else from the environment.
func (f *httpFlags) options(getenv func(string) string) (api.Options, error) {
	var o api.Options
	var err error
	if o.ReadToken, err = readToken("--token-file", f.tokenFile, getenv("CALLTRAIL_TOKEN")); err != nil {
		return o, err
	}
	if o.AdminToken, err = readToken("--admin-token-file", f.adminTokenFile, getenv("CALLTRAIL_ADMIN_TOKEN")); err != nil {
		return o, err
	}
	if o.ReadToken != "" && o.ReadToken == o.AdminToken {
		return o, usageError{"the read-only and the admin token are the same: give them different values"}
	}
	if err := o.CheckAddr(f.listen); err != nil {
		return o, usageError{strings.TrimPrefix(err.Error(), "api: ")}
	}
	return o, nil
}

func readToken(flagName, file, env string) (string, error) {
	if file == "" {
		return strings.TrimSpace(env), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	t := strings.TrimSpace(string(data))
	if t == "" {
		return "", fmt.Errorf("%s: %s is empty", flagName, file)
	}
	return t, nil
}

// startHTTP listens on f.listen and serves the web UI and the API on it
// until stop is called, which shuts the server down gracefully. It
// returns the address it listens on.
func startHTTP(o api.Options, listen string, log *slog.Logger) (addr net.Addr, stop func(), err error) {
	o.Logger = log
	// The live streams end when the shutdown begins, or it would wait
	// for them.
	closing := make(chan struct{})
	o.Shutdown = closing
	a, err := api.New(o)
	if err != nil {
		return nil, nil, err
	}
	h, err := web.New(a)
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("http: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() { close(closing) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			log.Error("http", "err", err)
		}
	}()
	log.Info("http listening", "addr", l.Addr().String(), "auth", o.ReadToken != "" || o.AdminToken != "")
	var once sync.Once
	stop = func() { once.Do(func() { shutdown(srv, done) }) }
	return l.Addr(), stop, nil
}

// shutdown lets the requests in flight finish, for 5 s at most.
func shutdown(srv *http.Server, done <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	<-done
}

// serveHTTP starts serve's API when --http is given; stop is a no-op
// otherwise.
func serveHTTP(f httpFlags, st api.Store, d *daemon.Daemon, bc billing.Config, log *slog.Logger) (stop func(), err error) {
	if f.listen == "" {
		return func() {}, nil
	}
	o, err := f.options(os.Getenv)
	if err != nil {
		return nil, err
	}
	o.Store, o.Status, o.Live, o.Billing = st, d.Status, d.Live, bc
	_, stop, err = startHTTP(o, f.listen, log)
	return stop, err
}

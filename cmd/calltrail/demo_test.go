package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/internal/sim"
)

// The README's first command: a newcomer with no Asterisk sees the calls
// of the shipped captures stored by a real daemon.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "demo.db")
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"demo", "--captures", "../..", "--db", db}, &out, &errb); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	// 12 captures: one call each, but the conference (S10) is three calls.
	if !strings.Contains(out.String(), "14 calls stored") {
		t.Fatalf("demo output:\n%s", out.String())
	}
	for _, want := range []string{"blind_transfer", "attended_transfer", "pickup", "park", "queue support: answered", "conference_join"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

// Mistakes on the command line give one clear line and a usage exit.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"replay"}, "no capture file given"},
		{[]string{"replay", "--format", "xml", "x.log"}, `unknown --format "xml"`},
		{[]string{"serve"}, "no Asterisk to follow"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
			continue
		}
		if exitCode(err) != 2 {
			t.Errorf("%v: exit code %d, want 2", tt.args, exitCode(err))
		}
	}
}

// A wrong secret, an unreachable host and a bad DSN stop serve with one
// clear line saying what is wrong.
func TestServeErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--ami", "127.0.0.1:5038", "--user", "u", "--secret", "s", "--db", "oracle://x"}, "oracle"},
	}
	asterisk := &sim.Server{User: "lab", Secret: "right", AuthFailDelay: 10 * time.Millisecond}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go asterisk.Serve(l)
	defer asterisk.Close()
	db := "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	tests = append(tests, struct {
		args []string
		want string
	}{[]string{"serve", "--ami", l.Addr().String(), "--user", "lab", "--secret", "wrong", "--db", db, "--agi", "off"}, "check the user and its secret in manager.conf"})
	for _, tt := range tests {
		var out, errb bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := run(ctx, tt.args, &out, &errb)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

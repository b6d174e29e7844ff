package agi_test

import (
	"context"
	"crypto/rand"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

// TestAbuse holds 1,000 sessions open, keeps 100 slowloris connections
// dribbling, and throws megabyte lines and garbage at the server: good
// clients are still answered at once, every bad one is closed, and memory
// stays bounded.
func TestAbuse(t *testing.T) {
	if testing.Short() {
		t.Skip("abuse suite")
	}
	release := make(chan struct{})
	var held sync.WaitGroup
	mux := agi.NewServeMux()
	mux.HandleFunc("hold", func(ctx context.Context, s *agi.Session) error {
		held.Done()
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	mux.HandleFunc("good", func(ctx context.Context, s *agi.Session) error {
		return s.SetVariable(ctx, "ANSWERED", "yes")
	})
	srv := &agi.Server{Handler: mux, MaxConns: 1500, ReadTimeout: time.Second}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	go srv.Serve(l)
	defer srv.Close()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// 1,000 sessions held open by their handler.
	const holders = 1000
	held.Add(holders)
	var calls []*agitest.Call
	for i := 0; i < holders; i++ {
		c, err := agitest.Dial(ctx, addr)
		if err != nil {
			t.Fatalf("holder %d: %v", i, err)
		}
		if err := c.SendEnv(agitest.Env("agi://127.0.0.1/hold", nil)); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	waited := make(chan struct{})
	go func() { held.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		t.Fatal("the server did not take 1,000 sessions")
	}
	// 100 slowloris: an environment that never ends, a byte at a time.
	var bad []net.Conn
	for i := 0; i < 100; i++ {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte("agi_network_script: good\nagi_channel: SIP/1"))
		bad = append(bad, nc)
	}
	// Megabyte lines and garbage.
	junk := make([]byte, 1<<20)
	rand.Read(junk)
	for i := 0; i < 10; i++ {
		for _, payload := range [][]byte{junk, []byte("\x16\x03\x01\x02\x00garbage\r\n\r\n\xff\xfe")} {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			go nc.Write(payload)
			bad = append(bad, nc)
		}
	}
	// Good clients are answered promptly meanwhile.
	start := time.Now()
	for i := 0; i < 20; i++ {
		gctx, gcancel := context.WithTimeout(ctx, 5*time.Second)
		err := agitest.Run(gctx, addr, agitest.Env("agi://127.0.0.1/good", nil),
			agitest.Step{Command: "SET VARIABLE ANSWERED yes", Reply: "200 result=1"})
		gcancel()
		if err != nil {
			t.Fatalf("good client %d under abuse: %v", i, err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("20 good sessions took %v under abuse", d)
	}
	// Every bad client is closed by the server (read timeout, line limit,
	// protocol error).
	for i, nc := range bad {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := nc.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("bad client %d was never closed", i)
				}
				break
			}
		}
		nc.Close()
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	// Both ends of every connection live in this process: the figure
	// covers the fake Asterisks too.
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 256<<20 {
		t.Errorf("heap grew by %d MiB with 1,000 sessions held", grown>>20)
	}
	t.Logf("heap in use: %d MiB before, %d MiB with 1,000 sessions held and the bad clients gone",
		before.HeapInuse>>20, after.HeapInuse>>20)
	close(release)
	for _, c := range calls {
		c.Close()
	}
}

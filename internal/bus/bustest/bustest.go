// Package bustest gives tests a bus of their own on the NATS server the
// project's machines run (CALLTRAIL_NATS_URL, or nats://127.0.0.1:4222):
// a stream and subjects no other test uses, deleted at the end.
package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/calltrail/calltrail/internal/bus"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// URL is the NATS server tests use.
func URL() string {
	if u := os.Getenv("CALLTRAIL_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// Config returns a stream configuration no other test shares.
func Config(t testing.TB) bus.StreamConfig {
	var b [4]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	return bus.StreamConfig{Name: "CALLTRAIL_TEST_" + id, Prefix: "calltrail-test-" + id + ".ami."}
}

// Open connects to url (URL() when empty), creates the stream of cfg and
// deletes it when the test ends. A NATS server that does not answer fails
// the test: CI starts one.
func Open(t testing.TB, url string, cfg bus.StreamConfig) *bus.Bus {
	t.Helper()
	if url == "" {
		url = URL()
	}
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatalf("NATS at %s: %v (CI starts nats-server -js)", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.Open(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		js.DeleteStream(ctx, cfg.Name)
	})
	return b
}

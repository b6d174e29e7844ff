package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/journal"
)

// rebuild re-derives from a journal exactly the calls replay computes from
// the same events, and writing them twice leaves them once.
func TestRebuild(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(filepath.Join(dir, "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := callgraph.New(callgraph.Options{Server: "pbx1"})
	want := map[string]*callgraph.Call{}
	arrival := time.Unix(1795333000, 0)
	for _, name := range []string{"S05", "S06", "S14", "S22"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "asterisk20", name, "ami.log"))
		if err != nil {
			t.Fatal(err)
		}
		r := ami.NewReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			m, err := r.ReadMessage()
			if err != nil {
				break
			}
			arrival = arrival.Add(time.Millisecond)
			if _, err := j.Append(journal.Record{Server: "pbx1", Arrival: arrival, Data: []byte(m.String())}); err != nil {
				t.Fatal(err)
			}
			for _, c := range eng.Handle(m, arrival) {
				want[c.ID] = c
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "calls.db")
	for round := 0; round < 2; round++ {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"rebuild", "--journal", filepath.Join(dir, "journal"), "--db", db}, &out, &errb); err != nil {
			t.Fatalf("rebuild: %v\n%s", err, errb.String())
		}
		if !strings.HasPrefix(out.String(), "rebuilt ") {
			t.Fatalf("output %q", out.String())
		}
	}
	got := storedCalls(t, db)
	if len(got) != len(want) {
		t.Fatalf("stored %d calls, replay computes %d", len(got), len(want))
	}
	for _, c := range got {
		w := want[c.ID]
		if w == nil || legTimesOf(c) != legTimesOf(w) || c.Server != "pbx1" {
			t.Errorf("call %s differs from replay", c.ID)
		}
	}
}

// replay --db stores what it prints; replaying the same capture again
// leaves one copy.
func TestReplayIntoDatabase(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "calls.db")
	capture := filepath.Join("..", "..", "testdata", "asterisk20", "S14", "ami.log")
	var first bytes.Buffer
	for round := 0; round < 2; round++ {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"replay", "--db", db, capture}, &out, &errb); err != nil {
			t.Fatalf("replay --db: %v\n%s", err, errb.String())
		}
		if round == 0 {
			first = out
		}
	}
	printed := strings.Count(first.String(), "\n")
	if got := storedCalls(t, db); len(got) != printed || printed != 20 {
		t.Fatalf("printed %d calls, stored %d (want 20 each)", printed, len(got))
	}
}

// A capture cut inside its last message, or holding a message over the
// size limits, still replays: the damaged message is left out with a
// warning and every call is printed.
func TestReplayDamagedCapture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "asterisk20", "S05", "ami.log"))
	if err != nil {
		t.Fatal(err)
	}
	huge := "Event: UserEvent\r\nData: " + strings.Repeat("x", 2<<20) + "\r\n\r\n"
	for name, content := range map[string]string{
		"cut":  string(data) + "Event: Newstate\r\nChannel: SIP/10",
		"huge": huge + string(data),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ami.log")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if err := run(context.Background(), []string{"replay", path}, &out, &errb); err != nil {
				t.Fatalf("replay: %v", err)
			}
			if n := strings.Count(out.String(), "\n"); n != 1 {
				t.Errorf("%d calls printed, want the one call of S05", n)
			}
			if !strings.Contains(errb.String(), "left out") {
				t.Errorf("no warning: %q", errb.String())
			}
		})
	}
}

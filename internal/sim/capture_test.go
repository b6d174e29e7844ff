package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func captures(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, pat := range []string{"asterisk20/*/ami.log", "asterisk22/*/ami.log", "quality/*/ami.log", "ami-actions/*/*.ami.log"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "testdata", pat))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 30 {
		t.Fatalf("found %d captures under testdata", len(paths))
	}
	return paths
}

// TestReadCapture checks every capture: the events, concatenated, are the
// file's bytes after the login, up to the closing Logoff response.
func TestReadCapture(t *testing.T) {
	for _, path := range captures(t) {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := LoadCapture(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(c.Banner, "Asterisk Call Manager/") {
				t.Errorf("banner = %q", c.Banner)
			}
			if len(c.Events) == 0 {
				t.Fatal("no events")
			}
			var all []byte
			for _, e := range c.Events {
				if !bytes.HasSuffix(e.Raw, []byte("\r\n\r\n")) {
					t.Fatalf("event %s does not end in a blank line: %q", e.Name, e.Raw)
				}
				all = append(all, e.Raw...)
			}
			at := bytes.Index(data, all)
			if at < 0 {
				t.Fatal("the events, one after the other, are not in the file")
			}
			head, tail := string(data[:at]), string(data[at+len(all):])
			if strings.Contains(tail, "Event: ") {
				t.Errorf("events left out at the end: %q", tail)
			}
			if n := strings.Count(head, "\r\nEvent: "); n != 2 {
				t.Errorf("skipped %d events before the first one replayed, want FullyBooted and SuccessfulAuth:\n%s", n, head)
			}
			if got, want := len(c.Events), strings.Count(string(data), "\r\nEvent: ")-2; got != want {
				t.Errorf("events = %d, want every one of the file but the login's two: %d", got, want)
			}
			timed := !strings.Contains(path, "notimestamp")
			for _, e := range c.Events {
				if e.Time.IsZero() == timed && e.Name != "FullyBooted" {
					t.Fatalf("event %s: time %v, capture timed %v", e.Name, e.Time, timed)
				}
			}
		})
	}
}

func TestReadCaptureErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"cut short", "Asterisk Call Manager/9.0.0\r\nEvent: Newchannel\r\nChannel: x\r\n", "sim: cut.log:2: capture ends inside a message"},
	}
	for _, tt := range tests {
		_, err := ReadCapture("cut.log", strings.NewReader(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.want)
		}
	}
}

func TestReadCaptureKeepsBootFullyBooted(t *testing.T) {
	in := "Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nMessage: Authentication accepted\r\n\r\n" +
		"Event: FullyBooted\r\nPrivilege: system,all\r\nTimestamp: 1795335360.100000\r\nStatus: Fully Booted\r\n\r\n" +
		"Event: Newchannel\r\nChannel: SIP/1-1\r\n\r\n"
	c, err := ReadCapture("boot.log", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Events) != 2 || c.Events[0].Name != "FullyBooted" || !c.Events[1].Time.IsZero() {
		t.Errorf("events = %+v", c.Events)
	}
	if want := time.Date(2026, 11, 22, 8, 16, 0, 100_000_000, time.UTC); !c.Events[0].Time.Equal(want) {
		t.Errorf("time = %v, want %v", c.Events[0].Time, want)
	}
}

func TestWithTimestamp(t *testing.T) {
	raw := []byte("Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1795333490.837918\r\nChannel: SIP/1\r\n\r\n")
	got := withTimestamp(raw, time.Unix(1795400000, 5000))
	want := "Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1795400000.000005\r\nChannel: SIP/1\r\n\r\n"
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	none := []byte("Event: Hangup\r\n\r\n")
	if got := withTimestamp(none, time.Now()); !bytes.Equal(got, none) {
		t.Errorf("no Timestamp: got %q", got)
	}
}

func TestPlayListShifts(t *testing.T) {
	a, err := LoadCapture("../../testdata/asterisk20/S01/ami.log")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadCapture("../../testdata/asterisk20/S02/ami.log")
	if err != nil {
		t.Fatal(err)
	}
	const gap = 2 * time.Second
	events := playList([]*Capture{a, b}, gap)
	if len(events) != len(a.Events)+len(b.Events) {
		t.Fatalf("%d events, want %d", len(events), len(a.Events)+len(b.Events))
	}
	for i, e := range events[:len(a.Events)] {
		if !bytes.Equal(e.Raw, a.Events[i].Raw) {
			t.Fatalf("first capture's event %d changed", i)
		}
	}
	second := events[len(a.Events):]
	lastA := a.Events[len(a.Events)-1].Time
	if got := second[0].Time.Sub(lastA); got != gap {
		t.Errorf("second capture starts %v after the first ends, want %v", got, gap)
	}
	shift := second[0].Time.Sub(b.Events[0].Time)
	for i, e := range second {
		orig := b.Events[i]
		if e.Time.Sub(orig.Time) != shift {
			t.Fatalf("event %d shifted by %v, not %v", i, e.Time.Sub(orig.Time), shift)
		}
		if want := withTimestamp(orig.Raw, e.Time); !bytes.Equal(e.Raw, want) {
			t.Fatalf("event %d: %q, want %q", i, e.Raw, want)
		}
		if !strings.Contains(string(e.Raw), "Timestamp: "+formatTimestamp(e.Time)+"\r\n") {
			t.Fatalf("event %d lacks its shifted Timestamp: %q", i, e.Raw)
		}
	}
}

// FuzzReadCapture checks that a capture never panics the reader and that
// what it keeps of one is the input's own bytes, in order.
func FuzzReadCapture(f *testing.F) {
	f.Add("Asterisk Call Manager/9.0.0\r\nResponse: Success\r\n\r\nEvent: FullyBooted\r\n\r\nEvent: A\r\nTimestamp: 1.5\r\n\r\n")
	f.Add("Event: SuccessfulAuth\r\n\r\nEvent: SuccessfulAuth\r\nTimestamp: x\r\n\r\n\r\n\nEvent: B\n\n")
	f.Add("Response: Follows\r\nPrivilege: Command\r\n--END COMMAND--\r\n\r\nEvent: C\r\n\r\n")
	f.Add("Asterisk Call Manager/9.0.0\r\nEvent: cut")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ReadCapture("fuzz", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sim: fuzz") {
				t.Fatalf("error without the capture's name: %v", err)
			}
			return
		}
		rest := in
		for _, e := range c.Events {
			i := strings.Index(rest, string(e.Raw))
			if i < 0 {
				t.Fatalf("event %q is not in the input, in order", e.Raw)
			}
			rest = rest[i+len(e.Raw):]
			if e.Name == "" && !strings.Contains(string(e.Raw), "Event:") {
				t.Fatalf("event without an Event header: %q", e.Raw)
			}
		}
	})
}

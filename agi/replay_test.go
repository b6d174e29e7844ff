package agi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

// tagged is what the billing handler of the S13 captures learns.
type tagged struct {
	Script, Query      string
	Channel, UniqueID  string
	Start              string
	Readback           string
	State              agi.ChannelState
	WaitResult         int
	ErrAfterWait       error
	ChannelAfterHangup string
	ErrAfterHangup     error
}

// billingHandler sends the commands of the script that Asterisk 20 ran in
// the S13 and S13b captures, and reports what it read.
func billingHandler(out chan<- tagged) agi.HandlerFunc {
	return func(ctx context.Context, s *agi.Session) error {
		var t tagged
		t.Script, t.Query = s.Request.Script, s.Request.Query.Encode()
		account := s.Request.Query.Get("account")
		var err error
		get := func(name string) string {
			if err != nil {
				return ""
			}
			var v string
			v, _, err = s.GetVariable(ctx, name)
			return v
		}
		getFull := func(expr string) string {
			if err != nil {
				return ""
			}
			var v string
			v, _, err = s.GetFullVariable(ctx, expr)
			return v
		}
		set := func(name, value string) {
			if err == nil {
				err = s.SetVariable(ctx, name, value)
			}
		}
		t.Channel = get("CHANNEL")
		t.UniqueID = get("UNIQUEID")
		t.Start = getFull("${CALLERID(num)}/${CDR(start)}/${CHANNEL(linkedid)}")
		set("CDR(userfield)", "agi-userfield-x")
		set("CHANNEL(accountcode)", account)
		set("CDR(accountcode)", account+"-cdr")
		t.Readback = getFull("${CDR(accountcode)}|${CHANNEL(accountcode)}|${CDR(userfield)}")
		if err != nil {
			return err
		}
		if err := s.Verbose(ctx, "lab fastagi account="+account, 1); err != nil {
			return err
		}
		if t.State, err = s.ChannelStatus(ctx); err != nil {
			return err
		}
		if hold := s.Request.Query.Get("hold"); hold != "" {
			if t.WaitResult, err = s.Exec(ctx, "Wait", hold); err != nil {
				return err
			}
			t.ErrAfterWait = s.Err()
			t.ChannelAfterHangup = get("CHANNEL")
			t.ErrAfterHangup = s.Err()
			if err != nil {
				return err
			}
			if errors.Is(s.Err(), agi.ErrHangup) {
				if err := s.Verbose(ctx, "after-hangup", 1); err != nil {
					return err
				}
			}
		}
		out <- t
		return nil
	}
}

// TestReplayCaptures replays the exact bytes Asterisk sent in the S13 and
// S13b sessions against the billing handler, checks that the server
// sends the captured commands byte for byte, and that it read the
// replies right.
func TestReplayCaptures(t *testing.T) {
	tests := []struct {
		file string
		want tagged
	}{
		{
			file: "testdata/S13.agi.log",
			want: tagged{
				Script: "billing", Query: "account=acme",
				Channel: "SIP/1001-00000024", UniqueID: "1795333717.38",
				Start:    "1001/2026-11-22 07:48:37/1795333717.38",
				Readback: "acme-cdr|acme-cdr|agi-userfield-x",
				State:    agi.StateRing,
			},
		},
		{
			// EXEC Wait 5 gets result -1, then HANGUP comes between GET
			// VARIABLE CHANNEL and its reply, which still arrives.
			file: "testdata/S13b.agi.log",
			want: tagged{
				Script: "billing", Query: "account=acme&hold=5",
				Channel: "SIP/1001-00000026", UniqueID: "1795333733.40",
				Start:              "1001/2026-11-22 07:48:53/1795333733.40",
				Readback:           "acme-cdr|acme-cdr|agi-userfield-x",
				State:              agi.StateRing,
				WaitResult:         -1,
				ErrAfterWait:       nil,
				ChannelAfterHangup: "SIP/1001-00000026",
				ErrAfterHangup:     agi.ErrHangup,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tr := readTranscript(t, tt.file)
			out := make(chan tagged, 1)
			logger, logs := newLogger()
			addr := serve(t, &agi.Server{Handler: billingHandler(out), Logger: logger})
			if err := tr.Replay(t.Context(), addr); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-out:
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got  %+v\nwant %+v", got, tt.want)
				}
			default:
				t.Fatalf("the handler did not finish; logs: %v", logs.all())
			}
		})
	}
}

// TestReplayMismatch: a server that does not send what the capture has
// fails the replay.
func TestReplayMismatch(t *testing.T) {
	tr := readTranscript(t, "testdata/S13.agi.log")
	addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		_, _, err := s.GetVariable(ctx, "CHANNEL(name)")
		return err
	})})
	err := tr.Replay(t.Context(), addr)
	if err == nil || !strings.Contains(err.Error(), `record 25: server sent "GET VARIABLE CHANNEL("`) {
		t.Errorf("Replay: %v, want a mismatch on the first command", err)
	}
}

func readTranscript(t *testing.T, name string) *agitest.Transcript {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := agitest.ReadTranscript(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTap taps a replayed session, and replays the tap: the transcript
// the server writes is a fixture agitest plays back.
func TestTap(t *testing.T) {
	capture := readTranscript(t, "testdata/S13b.agi.log")
	taps := make(chan *closeBuffer, 1)
	out := make(chan tagged, 2)
	tap := func(remote net.Addr) io.Writer {
		b := &closeBuffer{closed: make(chan struct{})}
		taps <- b
		return b
	}
	addr := serve(t, &agi.Server{Handler: billingHandler(out), Tap: tap})
	if err := capture.Replay(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
	b := <-taps
	<-b.closed
	tapped, err := agitest.ReadTranscript(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("%v in\n%s", err, b.Bytes())
	}
	for _, dir := range []agitest.Direction{agitest.FromAsterisk, agitest.ToAsterisk} {
		if got, want := bytesOf(tapped, dir), bytesOf(capture, dir); !bytes.Equal(got, want) {
			t.Errorf("%v: tapped\n%q\nwant\n%q", dir, got, want)
		}
	}
	first, last := tapped.Records[0], tapped.Records[len(tapped.Records)-1]
	if first.Dir != agitest.Connect || !strings.HasPrefix(first.Marker, "CONNECT from 127.0.0.1:") || last.Dir != agitest.ServerClose {
		t.Errorf("first record %q, last %q", first.Marker, last.Marker)
	}

	// The tap replays like the capture.
	addr2 := serve(t, &agi.Server{Handler: billingHandler(out)})
	if err := tapped.Replay(t.Context(), addr2); err != nil {
		t.Fatal(err)
	}
	if a, b := <-out, <-out; !reflect.DeepEqual(a, b) {
		t.Errorf("replaying the tap gave %+v, the capture %+v", b, a)
	}
}

func bytesOf(tr *agitest.Transcript, dir agitest.Direction) []byte {
	var b []byte
	for _, r := range tr.Records {
		if r.Dir == dir {
			b = append(b, r.Data...)
		}
	}
	return b
}

// closeBuffer is a bytes.Buffer that says when it is closed.
type closeBuffer struct {
	bytes.Buffer
	closed chan struct{}
}

func (b *closeBuffer) Close() error {
	close(b.closed)
	return nil
}

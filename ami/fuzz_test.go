package ami_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/calltrail/calltrail/ami"
)

// Limits small enough for the fuzzer to reach.
const (
	fuzzMaxLine    = 200
	fuzzMaxMessage = 1000
)

// fuzzRead reads data to its end through a bufio buffer of the given
// size, with a reused Message, and returns copies of the messages and the
// error of every read.
func fuzzRead(data []byte, size int) (msgs [][]ami.Field, errs []error, banner string) {
	r := ami.NewReader(bufio.NewReaderSize(bytes.NewReader(data), size))
	r.MaxLineLength, r.MaxMessageSize = fuzzMaxLine, fuzzMaxMessage
	var m ami.Message
	for range len(data) + 2 { // every read consumes at least a byte
		err := r.ReadMessageInto(&m)
		errs = append(errs, err)
		if err == nil {
			msgs = append(msgs, append([]ami.Field(nil), m.Fields...))
			continue
		}
		if errors.Is(err, ami.ErrLineTooLong) || errors.Is(err, ami.ErrMessageTooLarge) {
			continue
		}
		return msgs, errs, r.Banner()
	}
	panic("the reader did not reach the end of its input")
}

// FuzzReader checks, on any input, that the reader neither panics nor
// loops, that its in-place and line-by-line paths agree, that what it
// returns respects the limits, and that what it returns survives a trip
// through WriteMessage. The seed corpus in testdata/fuzz/FuzzReader comes
// from the captures.
func FuzzReader(f *testing.F) {
	f.Add([]byte("Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\nEvent: A\r\n\r\n"))
	f.Add([]byte("Response: Follows\r\nPrivilege: Command\r\nline\r\n\r\nx--END COMMAND--\r\n\r\n"))
	f.Add([]byte("Event: Hangup\nChanVariable(IAX2/h:4569-1): a=b\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		small, smallErrs, smallBanner := fuzzRead(data, 16)
		big, bigErrs, bigBanner := fuzzRead(data, 4096)
		if !reflect.DeepEqual(small, big) || !reflect.DeepEqual(smallErrs, bigErrs) || smallBanner != bigBanner {
			t.Fatalf("buffer 16 and 4096 disagree:\n%q %v\n%q %v", small, smallErrs, big, bigErrs)
		}
		for _, fields := range big {
			if len(fields) == 0 {
				t.Fatal("a message without fields")
			}
			for _, f := range fields {
				if len(f.Value) > fuzzMaxLine {
					t.Fatalf("a value of %d bytes passed the line limit", len(f.Value))
				}
			}
			roundTrip(t, fields)
		}
	})
}

// roundTrip writes a message and reads it back, when it can be written:
// lines that are not "Key: Value", CRs inside values and colons inside
// keys (the legacy ChanVariable(IAX2/host:port)) cannot.
func roundTrip(t *testing.T, fields []ami.Field) {
	m := &ami.Message{Fields: fields}
	if m.Response() == "Follows" || equalFoldString(fields[0].Key, "Response") && equalFoldString(fields[0].Value, "Follows") {
		return // rewritten into Output fields
	}
	var b bytes.Buffer
	if err := ami.WriteMessage(&b, m); err != nil {
		return
	}
	r := ami.NewReader(bufio.NewReader(&b))
	got, err := r.ReadMessage()
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip of %q: %q, %v", fields, got, err)
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatalf("round trip of %q left bytes behind: %v", fields, err)
	}
}

func equalFoldString(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

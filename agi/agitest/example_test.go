package agitest_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

// Replay a session captured from Asterisk 20 against a handler that must
// send the same commands, byte for byte.
func ExampleTranscript_Replay() {
	f, err := os.Open("../testdata/S13.agi.log")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	tr, err := agitest.ReadTranscript(f)
	if err != nil {
		log.Fatal(err)
	}

	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		for _, name := range []string{"CHANNEL", "UNIQUEID"} {
			if _, _, err := s.GetVariable(ctx, name); err != nil {
				return err
			}
		}
		return nil // the capture goes on: the replay will say where this differs
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	fmt.Println(tr.Replay(context.Background(), l.Addr().String()))
	// Output:
	// agitest: record 29: server closed the connection, capture has "GET FULL VARIABLE ${CALLERID(num)}/${CDR(start)}/${CHANNEL(linkedid)}\n"
}

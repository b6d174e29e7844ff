package agi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

// A FastAGI server that tags calls for billing. The dialplan runs
//
//	exten => 7000,n,AGI(agi://127.0.0.1:4573/billing?account=acme)
//
// and the handler sets CDR(accountcode) from the query. A fake Asterisk
// from agitest plays the channel here: it prints each command it gets
// and answers "200 result=1".
func Example() {
	mux := agi.NewServeMux()
	mux.HandleFunc("billing", func(ctx context.Context, s *agi.Session) error {
		account := s.Request.Query.Get("account")
		if account == "" {
			return errors.New("billing: no account in " + s.Request.Request())
		}
		if err := s.SetVariable(ctx, "CDR(accountcode)", account); err != nil {
			return err
		}
		return s.Verbose(ctx, "tagged "+s.Request.Channel()+" for "+account, 3)
	})
	srv := &agi.Server{Handler: mux} // Addr "" listens on 127.0.0.1:4573
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	// Asterisk's side.
	call, err := agitest.Dial(context.Background(), l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer call.Close()
	call.SendEnv(agitest.Env("agi://127.0.0.1:4573/billing?account=acme", nil))
	for {
		cmd, err := call.ReadCommand()
		if err != nil {
			break // the handler returned and the server closed the connection
		}
		fmt.Println(cmd)
		call.Send("200 result=1\n")
	}
	// Output:
	// SET VARIABLE CDR(accountcode) acme
	// VERBOSE "tagged SIP/1001-00000024 for acme" 3
}

// After the caller hangs up, Asterisk sends HANGUP but still answers
// commands that do not need a live channel, so a handler can read the
// CDR of the call it tagged.
func ExampleSession_Hungup() {
	billsec := make(chan string, 1)
	srv := &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		if _, err := s.Exec(ctx, "Dial", "SIP/1002", "30"); err != nil {
			return err
		}
		select {
		case <-s.Hungup():
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		v, _, err := s.GetVariable(ctx, "CDR(billsec)")
		billsec <- v
		return err
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	err = agitest.Run(context.Background(), l.Addr().String(), agitest.Env("agi://127.0.0.1/dial", nil),
		agitest.Step{Command: "EXEC Dial SIP/1002,30", Reply: "200 result=-1\nHANGUP"},
		agitest.Step{Command: "GET VARIABLE CDR(billsec)", Reply: "200 result=1 (42)"},
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("billsec", <-billsec)
	// Output:
	// billsec 42
}

// A ServeMux sends each script path to its handler; the query and the
// AGI() arguments are in the Request.
func ExampleServeMux() {
	mux := agi.NewServeMux()
	mux.HandleFunc("billing", func(ctx context.Context, s *agi.Session) error {
		fmt.Println("billing for", s.Request.Query.Get("account"), "args", s.Request.Args)
		return nil
	})
	srv := &agi.Server{Handler: mux}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	// AGI(agi://127.0.0.1:4573/billing?account=acme,7000,peak)
	env := agitest.Env("agi://127.0.0.1:4573/billing?account=acme", []string{"7000", "peak"})
	if err := agitest.Run(context.Background(), l.Addr().String(), env); err != nil {
		log.Fatal(err)
	}
	// Output:
	// billing for acme args [7000 peak]
}

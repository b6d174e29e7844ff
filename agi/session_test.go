package agi_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/agi/agitest"
)

// TestCommands runs each helper against a fake Asterisk that checks the
// command line and sends a reply, and checks what the helper returns.
func TestCommands(t *testing.T) {
	type result struct {
		Value any
		Err   error
	}
	tests := []struct {
		name    string
		call    func(ctx context.Context, s *agi.Session) (any, error)
		steps   []agitest.Step
		want    any
		wantErr error // matched with errors.Is
	}{
		{
			name: "GetVariable",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				v, ok, err := s.GetVariable(ctx, "CHANNEL")
				return []any{v, ok}, err
			},
			steps: []agitest.Step{{Command: "GET VARIABLE CHANNEL", Reply: "200 result=1 (SIP/1001-00000024)"}},
			want:  []any{"SIP/1001-00000024", true},
		},
		{
			name: "GetVariable unset",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				v, ok, err := s.GetVariable(ctx, "NOPE")
				return []any{v, ok}, err
			},
			steps: []agitest.Step{{Command: "GET VARIABLE NOPE", Reply: "200 result=0"}},
			want:  []any{"", false},
		},
		{
			name: "GetFullVariable",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				v, ok, err := s.GetFullVariable(ctx, "${CDR(accountcode)}|${CHANNEL(accountcode)}|${CDR(userfield)}")
				return []any{v, ok}, err
			},
			steps: []agitest.Step{{
				Command: "GET FULL VARIABLE ${CDR(accountcode)}|${CHANNEL(accountcode)}|${CDR(userfield)}",
				Reply:   "200 result=1 (acme-cdr|acme-cdr|agi-userfield-x)",
			}},
			want: []any{"acme-cdr|acme-cdr|agi-userfield-x", true},
		},
		{
			name: "SetVariable quotes the value",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				return nil, s.SetVariable(ctx, "CDR(userfield)", `tag "a" b\c`)
			},
			steps: []agitest.Step{{Command: `SET VARIABLE CDR(userfield) "tag \"a\" b\\c"`, Reply: "200 result=1"}},
		},
		{
			name: "Verbose",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				return nil, s.Verbose(ctx, "after-hangup", 1)
			},
			steps: []agitest.Step{{Command: `VERBOSE "after-hangup" 1`, Reply: "200 result=1"}},
		},
		{
			name: "Exec",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				return s.Exec(ctx, "Dial", "SIP/1002", "30", "tT")
			},
			steps: []agitest.Step{{Command: "EXEC Dial SIP/1002,30,tT", Reply: "200 result=0"}},
			want:  0,
		},
		{
			name: "Exec returns -1 after a hangup",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				return s.Exec(ctx, "Wait", "5")
			},
			steps: []agitest.Step{{Command: "EXEC Wait 5", Reply: "200 result=-1"}},
			want:  -1,
		},
		{
			name: "Exec without arguments",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				return s.Exec(ctx, "Answer")
			},
			steps: []agitest.Step{{Command: "EXEC Answer", Reply: "200 result=0"}},
			want:  0,
		},
		{
			name: "Exec of an unknown application",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				_, err := s.Exec(ctx, "Nope")
				return nil, err
			},
			steps:   []agitest.Step{{Command: "EXEC Nope", Reply: "200 result=-2"}},
			wantErr: errAny,
		},
		{
			name:  "Answer",
			call:  func(ctx context.Context, s *agi.Session) (any, error) { return nil, s.Answer(ctx) },
			steps: []agitest.Step{{Command: "ANSWER", Reply: "200 result=0"}},
		},
		{
			name:    "Answer on a channel that has gone",
			call:    func(ctx context.Context, s *agi.Session) (any, error) { return nil, s.Answer(ctx) },
			steps:   []agitest.Step{{Command: "ANSWER", Reply: "200 result=-1"}},
			wantErr: agi.ErrHangup,
		},
		{
			name:  "Hangup",
			call:  func(ctx context.Context, s *agi.Session) (any, error) { return nil, s.Hangup(ctx) },
			steps: []agitest.Step{{Command: "HANGUP", Reply: "200 result=1\nHANGUP"}},
		},
		{
			name:  "ChannelStatus",
			call:  func(ctx context.Context, s *agi.Session) (any, error) { return s.ChannelStatus(ctx) },
			steps: []agitest.Step{{Command: "CHANNEL STATUS", Reply: "200 result=4"}},
			want:  agi.StateRing,
		},
		{
			name:    "ChannelStatus of no channel",
			call:    func(ctx context.Context, s *agi.Session) (any, error) { return s.ChannelStatus(ctx) },
			steps:   []agitest.Step{{Command: "CHANNEL STATUS", Reply: "200 result=-1"}},
			wantErr: errAny,
		},
		{
			name:    "SetVariable refused",
			call:    func(ctx context.Context, s *agi.Session) (any, error) { return nil, s.SetVariable(ctx, "X", "y") },
			steps:   []agitest.Step{{Command: "SET VARIABLE X y", Reply: "200 result=0"}},
			wantErr: errAny,
		},
		{
			name:    "Hangup of no channel",
			call:    func(ctx context.Context, s *agi.Session) (any, error) { return nil, s.Hangup(ctx) },
			steps:   []agitest.Step{{Command: "HANGUP", Reply: "200 result=-1"}},
			wantErr: errAny,
		},
		{
			name: "GOSUB waits past 100 Trying",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				r, err := s.Command(ctx, "GOSUB", "sub-tag", "s", "1", "acme")
				if err != nil {
					return nil, err
				}
				return []any{r.Code, r.Result, r.Text}, nil
			},
			steps: []agitest.Step{{Command: "GOSUB sub-tag s 1 acme", Reply: "100 result=0 Trying...\n200 result=0 Gosub complete"}},
			want:  []any{200, 0, "Gosub complete"},
		},
		{
			name: "510",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				_, err := s.Command(ctx, "FROB")
				return nil, err
			},
			steps:   []agitest.Step{{Command: "FROB", Reply: "510 Invalid or unknown command"}},
			wantErr: agi.ErrInvalidCommand,
		},
		{
			name: "511",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				return nil, s.Answer(ctx)
			},
			steps:   []agitest.Step{{Command: "ANSWER", Reply: "511 Command Not Permitted on a dead channel or intercept routine"}},
			wantErr: agi.ErrDeadChannel,
		},
		{
			name: "520 over several lines, and the session goes on",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				_, err := s.Command(ctx, "GET VARIABLE")
				var re *agi.ReplyError
				if !errors.As(err, &re) || !errors.Is(err, agi.ErrUsage) || re.Code != 520 {
					return nil, err
				}
				v, _, err := s.GetVariable(ctx, "CHANNEL")
				return []any{re.Reply.Text, v}, err
			},
			steps: []agitest.Step{
				{Command: "GET VARIABLE", Reply: "520-Invalid command syntax.  Proper usage follows:\n Usage: GET VARIABLE <variablename>\n520 End of proper usage."},
				{Command: "GET VARIABLE CHANNEL", Reply: "200 result=1 (SIP/1001-00000024)"},
			},
			want: []any{"Invalid command syntax.  Proper usage follows:\n Usage: GET VARIABLE <variablename>\nEnd of proper usage.", "SIP/1001-00000024"},
		},
		{
			name: "HANGUP between a command and its reply",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				v, _, err := s.GetVariable(ctx, "CHANNEL")
				return []any{v, s.Err()}, err
			},
			steps: []agitest.Step{{Command: "GET VARIABLE CHANNEL", Reply: "HANGUP\n200 result=1 (SIP/1001-00000026)"}},
			want:  []any{"SIP/1001-00000026", agi.ErrHangup},
		},
		{
			name: "reply with endpos",
			call: func(ctx context.Context, s *agi.Session) (any, error) {
				r, err := s.Command(ctx, "STREAM FILE", "tt-monkeys", "")
				if err != nil {
					return nil, err
				}
				n, _ := r.EndPos()
				return []any{r.Result, n}, nil
			},
			steps: []agitest.Step{{Command: `STREAM FILE tt-monkeys ""`, Reply: "200 result=0 endpos=26720"}},
			want:  []any{0, int64(26720)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := make(chan result, 1)
			addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
				v, err := tt.call(ctx, s)
				results <- result{v, err}
				return nil
			})})
			if err := agitest.Run(t.Context(), addr, agitest.Env(billingURL, nil), tt.steps...); err != nil {
				t.Fatal(err)
			}
			got := <-results
			switch {
			case tt.wantErr == errAny:
				if got.Err == nil {
					t.Fatalf("got %v, want an error", got.Value)
				}
			case tt.wantErr != nil:
				if !errors.Is(got.Err, tt.wantErr) {
					t.Fatalf("error %v, want %v", got.Err, tt.wantErr)
				}
			case got.Err != nil:
				t.Fatal(got.Err)
			}
			if tt.wantErr == nil && !reflect.DeepEqual(got.Value, tt.want) {
				t.Errorf("got %#v, want %#v", got.Value, tt.want)
			}
		})
	}
}

// errAny in a test table stands for any error.
var errAny = errors.New("any error")

// TestHangupWhileIdle: Asterisk sends HANGUP while the handler is busy
// with something else; Hungup tells it, the context stays alive, and
// Asterisk still answers VERBOSE.
func TestHangupWhileIdle(t *testing.T) {
	type seen struct {
		ctxErr, sessErr, verboseErr error
	}
	got := make(chan seen, 1)
	addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		select {
		case <-s.Hungup():
		case <-time.After(5 * time.Second):
		}
		got <- seen{ctx.Err(), s.Err(), s.Verbose(ctx, "after-hangup", 1)}
		return nil
	})})
	err := agitest.Run(t.Context(), addr, agitest.Env(billingURL, nil),
		agitest.Step{Reply: "HANGUP"},
		agitest.Step{Command: `VERBOSE "after-hangup" 1`, Reply: "200 result=1"})
	if err != nil {
		t.Fatal(err)
	}
	g := <-got
	if g.ctxErr != nil || g.sessErr != agi.ErrHangup || g.verboseErr != nil {
		t.Errorf("after HANGUP: ctx.Err() = %v, s.Err() = %v, Verbose: %v; want nil, ErrHangup, nil", g.ctxErr, g.sessErr, g.verboseErr)
	}
}

// TestDeadChannelAfterHangup follows a hangup the way Asterisk does:
// commands that need a live channel get 511, the others still work.
func TestDeadChannelAfterHangup(t *testing.T) {
	errs := make(chan error, 2)
	addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		<-s.Hungup()
		errs <- s.Answer(ctx)
		_, _, err := s.GetVariable(ctx, "CDR(billsec)")
		errs <- err
		return nil
	})})
	err := agitest.Run(t.Context(), addr, agitest.Env(billingURL, nil),
		agitest.Step{Reply: "HANGUP"},
		agitest.Step{Command: "ANSWER", Reply: "511 Command Not Permitted on a dead channel or intercept routine"},
		agitest.Step{Command: "GET VARIABLE CDR(billsec)", Reply: "200 result=1 (0)"})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, agi.ErrDeadChannel) {
		t.Errorf("ANSWER after hangup: %v, want ErrDeadChannel", err)
	}
	if err := <-errs; err != nil {
		t.Errorf("GET VARIABLE after hangup: %v", err)
	}
}

// TestConnectionLost: Asterisk closes the socket; the handler's context
// is cancelled with the cause, Hungup is closed, and commands fail.
func TestConnectionLost(t *testing.T) {
	type seen struct {
		cause, sessErr, cmdErr error
	}
	got := make(chan seen, 1)
	addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		<-ctx.Done()
		<-s.Hungup()
		_, _, err := s.GetVariable(context.Background(), "CHANNEL")
		got <- seen{context.Cause(ctx), s.Err(), err}
		return nil
	})})
	c, err := agitest.Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendEnv(agitest.Env(billingURL, nil)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	g := <-got
	for _, err := range []error{g.cause, g.sessErr, g.cmdErr} {
		if !errors.Is(err, io.EOF) {
			t.Errorf("got %v, want an error wrapping io.EOF", err)
		}
	}
}

// TestCommandContext: a command whose context ends before Asterisk
// replies returns at once; the late reply is dropped, and the next
// command gets its own.
func TestCommandContext(t *testing.T) {
	type seen struct {
		first  error
		second string
		err    error
	}
	got := make(chan seen, 1)
	addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, _, first := s.GetVariable(short, "SLOW")
		v, _, err := s.GetVariable(ctx, "CHANNEL")
		got <- seen{first, v, err}
		return nil
	})})
	err := agitest.Run(t.Context(), addr, agitest.Env(billingURL, nil),
		agitest.Step{Command: "GET VARIABLE SLOW"},
		agitest.Step{Command: "GET VARIABLE CHANNEL", Reply: "200 result=1 (slow)\n200 result=1 (SIP/1001-00000024)"})
	if err != nil {
		t.Fatal(err)
	}
	g := <-got
	if !errors.Is(g.first, context.DeadlineExceeded) {
		t.Errorf("first command: %v, want DeadlineExceeded", g.first)
	}
	if g.second != "SIP/1001-00000024" || g.err != nil {
		t.Errorf("second command: %q, %v; want its own reply", g.second, g.err)
	}
}

// TestConcurrentCommands: commands from several goroutines go one at a
// time, each with its reply.
func TestConcurrentCommands(t *testing.T) {
	const n = 8
	addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		errs := make(chan error, n)
		for range n {
			go func() {
				r, err := s.Command(ctx, "ECHO")
				if err == nil && r.Data != "echo" {
					err = errors.New("got reply " + r.Raw)
				}
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	})})
	var steps []agitest.Step
	for range n {
		steps = append(steps, agitest.Step{Command: "ECHO", Reply: "200 result=1 (echo)"})
	}
	if err := agitest.Run(t.Context(), addr, agitest.Env(billingURL, nil), steps...); err != nil {
		t.Fatal(err)
	}
}

func TestSessionClosedAfterHandler(t *testing.T) {
	sessions := make(chan *agi.Session, 1)
	addr := serve(t, &agi.Server{Handler: agi.HandlerFunc(func(ctx context.Context, s *agi.Session) error {
		sessions <- s
		return nil
	})})
	if err := agitest.Run(t.Context(), addr, agitest.Env(billingURL, nil)); err != nil {
		t.Fatal(err)
	}
	s := <-sessions
	<-s.Hungup()
	if _, err := s.Command(t.Context(), "ANSWER"); !errors.Is(err, agi.ErrSessionClosed) {
		t.Errorf("command after the handler returned: %v, want ErrSessionClosed", err)
	}
}

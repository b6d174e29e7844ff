package agi

import (
	"bufio"
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The seed corpora in testdata/fuzz come from the S13 and S13b captures:
// every reply Asterisk sent, the reply stream with its HANGUP, and each
// environment block, plus the reply forms of res_agi.c and app_stack.c
// that the captures lack.

// Small limits, so that the fuzzer reaches them.
const (
	fuzzMaxLine = 256
	fuzzMaxSize = 1024
)

func FuzzReadReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		// A small buffer sends long lines down the slow path.
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for range 64 {
			r, hangup, err := readReply(br, fuzzMaxLine, fuzzMaxSize)
			if err != nil {
				return
			}
			if hangup {
				if r != nil {
					t.Fatalf("HANGUP with a reply %+v", r)
				}
				continue
			}
			checkReply(t, r)
		}
	})
}

func checkReply(t *testing.T, r *Reply) {
	t.Helper()
	if r.Code < 100 || r.Code > 999 {
		t.Fatalf("code %d out of range", r.Code)
	}
	if !strings.HasPrefix(r.Raw, strconv.Itoa(r.Code)) {
		t.Fatalf("raw %q does not start with code %d", r.Raw, r.Code)
	}
	if len(r.Raw) > fuzzMaxSize {
		t.Fatalf("raw reply of %d bytes passed the %d-byte limit", len(r.Raw), fuzzMaxSize)
	}
	for _, l := range strings.Split(r.Raw, "\n") {
		if len(l) > fuzzMaxLine {
			t.Fatalf("line of %d bytes passed the %d-byte limit", len(l), fuzzMaxLine)
		}
	}
	if r.ResultText != "" && !strings.Contains(r.Raw, "result="+r.ResultText) {
		t.Fatalf("result %q not in %q", r.ResultText, r.Raw)
	}
	if n, err := strconv.Atoi(r.ResultText); err == nil && n != r.Result {
		t.Fatalf("Result %d, ResultText %q", r.Result, r.ResultText)
	}
	if !strings.Contains(r.Raw, r.Data) {
		t.Fatalf("data %q not in %q", r.Data, r.Raw)
	}
	if !strings.Contains(r.Raw, "\n") && !strings.Contains(r.Raw, r.Text) {
		t.Fatalf("text %q not in %q", r.Text, r.Raw)
	}
	for _, f := range r.Fields {
		if f.Key == "" || strings.ContainsAny(f.Key, " =\"") || !strings.Contains(r.Raw, f.Key+"=") {
			t.Fatalf("field %q from %q", f.Key, r.Raw)
		}
	}
	// Raw reads back as the same reply.
	again, hangup, err := readReply(bufio.NewReader(strings.NewReader(r.Raw+"\n")), fuzzMaxLine, fuzzMaxSize)
	if err != nil || hangup {
		t.Fatalf("raw %q reads back as hangup %v, err %v", r.Raw, hangup, err)
	}
	if !reflect.DeepEqual(again, r) {
		t.Fatalf("raw %q reads back as\n%+v, was\n%+v", r.Raw, again, r)
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		r, err := readRequest(br, fuzzMaxLine, fuzzMaxSize)
		if err != nil {
			return
		}
		if len(r.Env) == 0 {
			t.Fatal("a request without variables")
		}
		var b strings.Builder
		for _, v := range r.Env {
			if !strings.HasPrefix(v.Name, "agi_") || len(v.Name) <= len("agi_") || strings.ContainsAny(v.Name, ": \t\r\n") {
				t.Fatalf("variable name %q", v.Name)
			}
			if strings.Contains(v.Value, "\n") || strings.HasSuffix(v.Value, "\r") {
				t.Fatalf("variable %s value %q", v.Name, v.Value)
			}
			if got, ok := r.Lookup(v.Name); !ok || got != r.Env[firstIndex(r.Env, v.Name)].Value {
				t.Fatalf("Lookup(%s) = %q, %v; want the first value", v.Name, got, ok)
			}
			b.WriteString(v.Name + ": " + v.Value + "\n")
		}
		for i, a := range r.Args {
			if v, _ := r.Lookup("agi_arg_" + strconv.Itoa(i+1)); v != a {
				t.Fatalf("Args[%d] = %q, agi_arg_%d = %q", i, a, i+1, v)
			}
		}
		if _, ok := r.Lookup("agi_arg_" + strconv.Itoa(len(r.Args)+1)); ok {
			t.Fatalf("Args stops before agi_arg_%d", len(r.Args)+1)
		}
		if strings.HasPrefix(r.Script, "/") || strings.HasSuffix(r.Script, "/") {
			t.Fatalf("script %q keeps a slash", r.Script)
		}
		// Written the way Asterisk writes it, the environment reads back
		// the same. Asterisk's form may be a byte a line longer.
		b.WriteString("\n")
		again, err := readRequest(bufio.NewReader(strings.NewReader(b.String())), fuzzMaxLine+1, 2*fuzzMaxSize)
		if err != nil {
			t.Fatalf("%q: %v", b.String(), err)
		}
		if !reflect.DeepEqual(again.Env, r.Env) || again.Script != r.Script ||
			!reflect.DeepEqual(again.Query, r.Query) || !reflect.DeepEqual(again.Args, r.Args) {
			t.Fatalf("reads back as %+v, was %+v", again, r)
		}
	})
}

func firstIndex(env []Var, name string) int {
	for i, v := range env {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// FuzzCommandLine checks that Asterisk's parser gives back every
// argument a command line quotes.
func FuzzCommandLine(f *testing.F) {
	f.Add("CDR(userfield)", "agi-userfield-x")
	f.Add("X", `say "hi" \ there`)
	f.Add("", "\t")
	f.Fuzz(func(t *testing.T, a, b string) {
		line, err := commandLine("SET VARIABLE", []string{a, b}, false)
		if err != nil {
			if !strings.ContainsAny(a+b, "\n\x00") && len("SET VARIABLE")+2+len(a)+len(b) <= maxCommandLength {
				t.Fatalf("%q, %q: %v", a, b, err)
			}
			return
		}
		if len(line) > maxCommandLength+1 || bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("line %q", line)
		}
		got := asteriskArgs(string(line[:len(line)-1]))
		if want := []string{"SET", "VARIABLE", a, b}; !reflect.DeepEqual(got, want) {
			t.Fatalf("Asterisk reads %q as %q, want %q", line, got, want)
		}
	})
}

package agi

import (
	"bufio"
	"errors"
	"io"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestReadRequestCapture(t *testing.T) {
	// The environment of the S13 capture, as Asterisk 20 sent it.
	f, err := os.Open("testdata/S13.agi.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := envFromCapture(t, f)

	r, err := ReadRequest(bufio.NewReader(strings.NewReader(env)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(r.Env), 22; got != want {
		t.Errorf("%d variables, want %d", got, want)
	}
	if got, want := r.Env[0], (Var{"agi_network", "yes"}); got != want {
		t.Errorf("first variable %v, want %v", got, want)
	}
	if got, want := r.Env[21], (Var{"agi_threadid", "140421469640384"}); got != want {
		t.Errorf("last variable %v, want %v", got, want)
	}
	for _, tt := range []struct{ name, got, want string }{
		{"Script", r.Script, "billing"},
		{"Query", r.Query.Encode(), "account=acme"},
		{"Request", r.Request(), "agi://127.0.0.1:4573/billing?account=acme"},
		{"Channel", r.Channel(), "SIP/1001-00000024"},
		{"UniqueID", r.UniqueID(), "1795333717.38"},
		{"CallerID", r.CallerID(), "1001"},
		{"CallerIDName", r.CallerIDName(), "Ext 1001"},
		{"DNID", r.DNID(), "7000"},
		{"Context", r.Context(), "lab"},
		{"Extension", r.Extension(), "7000"},
		{"Priority", r.Priority(), "2"},
		{"AccountCode", r.AccountCode(), ""},
		{"Language", r.Language(), "en"},
		{"Type", r.Type(), "SIP"},
		{"Version", r.Version(), "20.20.1"},
		{"Get", r.Get("agi_rdnis"), "unknown"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if v, ok := r.Lookup("agi_accountcode"); !ok || v != "" {
		t.Errorf("Lookup(agi_accountcode) = %q, %v; want \"\", true", v, ok)
	}
	if _, ok := r.Lookup("agi_arg_1"); ok || len(r.Args) != 0 {
		t.Errorf("arguments %q in a request without any", r.Args)
	}
}

// envFromCapture returns the bytes Asterisk sent up to the blank line.
func envFromCapture(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var env strings.Builder
	for _, rec := range strings.Split(string(b), "##### ")[1:] {
		marker, data, _ := strings.Cut(rec, "\n")
		if strings.Contains(marker, "ASTERISK->AGI") {
			env.WriteString(data)
			if data == "\n" {
				break
			}
		}
	}
	return env.String()
}

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		script string
		query  url.Values
		args   []string
		env    []Var
	}{
		{
			name:   "network script",
			in:     "agi_network: yes\nagi_network_script: billing?account=acme&hold=5\nagi_request: agi://127.0.0.1:4573/billing?account=acme&hold=5\n\n",
			script: "billing",
			query:  url.Values{"account": {"acme"}, "hold": {"5"}},
		},
		{
			name:   "no script",
			in:     "agi_network: yes\nagi_request: agi://127.0.0.1\n\n",
			script: "",
			query:  url.Values{},
		},
		{
			name:   "script from agi_request",
			in:     "agi_request: agi://10.0.0.1:4573/tag/v2/?x=1\n\n",
			script: "tag/v2",
			query:  url.Values{"x": {"1"}},
		},
		{
			name:   "escaped path and query",
			in:     "agi_network_script: my%20script?name=a%20b&name=c\n\n",
			script: "my script",
			query:  url.Values{"name": {"a b", "c"}},
		},
		{
			name:   "bad query keeps what parses",
			in:     "agi_network_script: s?a=1&b=%zz&c=3\n\n",
			script: "s",
			query:  url.Values{"a": {"1"}, "c": {"3"}},
		},
		{
			name:   "arguments",
			in:     "agi_network_script: s\nagi_arg_1: first\nagi_arg_2: with space\nagi_arg_3: \nagi_arg_5: gap\n\n",
			script: "s",
			query:  url.Values{},
			args:   []string{"first", "with space", ""},
		},
		{
			name:   "crlf, colons and spaces in values",
			in:     "agi_request: agi://h/s\r\nagi_callerid:  \"Bob\" <100>\r\nagi_x:nospace\r\n\r\n",
			script: "s",
			query:  url.Values{},
			env:    []Var{{"agi_request", "agi://h/s"}, {"agi_callerid", " \"Bob\" <100>"}, {"agi_x", "nospace"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in + "GET VARIABLE X\n"))
			r, err := ReadRequest(br)
			if err != nil {
				t.Fatal(err)
			}
			if r.Script != tt.script {
				t.Errorf("Script = %q, want %q", r.Script, tt.script)
			}
			if !reflect.DeepEqual(r.Query, tt.query) {
				t.Errorf("Query = %v, want %v", r.Query, tt.query)
			}
			if !reflect.DeepEqual(r.Args, tt.args) {
				t.Errorf("Args = %q, want %q", r.Args, tt.args)
			}
			if tt.env != nil && !reflect.DeepEqual(r.Env, tt.env) {
				t.Errorf("Env = %q, want %q", r.Env, tt.env)
			}
			// The reader stops at the blank line: what follows is left.
			if rest, _ := br.ReadString('\n'); rest != "GET VARIABLE X\n" {
				t.Errorf("left %q after the environment", rest)
			}
		})
	}
}

func TestReadRequestErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		maxLine int
		maxSize int
		want    error
	}{
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0, ErrProtocol},
		{"not agi_", "Host: x\n\n", 0, 0, ErrProtocol},
		{"no colon", "agi_network yes\n\n", 0, 0, ErrProtocol},
		{"empty name", "agi_: x\n\n", 0, 0, ErrProtocol},
		{"space in name", "agi_a b: x\n\n", 0, 0, ErrProtocol},
		{"binary", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n", 0, 0, ErrProtocol},
		{"empty", "\n", 0, 0, ErrProtocol},
		{"no blank line", "agi_network: yes\n", 0, 0, io.ErrUnexpectedEOF},
		{"cut line", "agi_network: yes\nagi_req", 0, 0, io.ErrUnexpectedEOF},
		{"nothing", "", 0, 0, io.EOF},
		{"long line", "agi_x: " + strings.Repeat("x", 1<<20) + "\n\n", 1024, 0, ErrLineTooLong},
		{"too many lines", strings.Repeat("agi_x: y\n", 1000) + "\n", 0, 1024, ErrMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			_, err := readRequest(br, orDefault(tt.maxLine, DefaultMaxLineLength), orDefault(tt.maxSize, DefaultMaxMessageSize))
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadLineStopsEarly(t *testing.T) {
	// A megabyte line must be refused once the limit is passed, not
	// after reading it all.
	r := &countingReader{r: strings.NewReader(strings.Repeat("x", 1<<20) + "\n")}
	_, err := readLine(bufio.NewReaderSize(r, 4096), 8192)
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("got %v, want ErrLineTooLong", err)
	}
	if r.n > 16<<10 {
		t.Errorf("read %d bytes to refuse a line over 8 KiB", r.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestNewRequestDuplicates(t *testing.T) {
	r := NewRequest([]Var{{"agi_channel", "first"}, {"agi_channel", "second"}})
	if got := r.Channel(); got != "first" {
		t.Errorf("Channel() = %q, want the first value", got)
	}
	// A Request built by hand, without NewRequest, still answers.
	r = &Request{Env: []Var{{"agi_channel", "x"}}}
	if got := r.Channel(); got != "x" {
		t.Errorf("Channel() of a literal Request = %q, want x", got)
	}
}

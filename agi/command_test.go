package agi

import (
	"reflect"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		cmd  string
		args []string
		want string
	}{
		{"GET VARIABLE", []string{"CHANNEL"}, "GET VARIABLE CHANNEL\n"},
		{"GET FULL VARIABLE", []string{"${CALLERID(num)}/${CDR(start)}/${CHANNEL(linkedid)}"}, "GET FULL VARIABLE ${CALLERID(num)}/${CDR(start)}/${CHANNEL(linkedid)}\n"},
		{"SET VARIABLE", []string{"CDR(userfield)", "agi-userfield-x"}, "SET VARIABLE CDR(userfield) agi-userfield-x\n"},
		{"SET VARIABLE", []string{"CDR(userfield)", "two words"}, "SET VARIABLE CDR(userfield) \"two words\"\n"},
		{"SET VARIABLE", []string{"X", ""}, "SET VARIABLE X \"\"\n"},
		{"SET VARIABLE", []string{"X", `say "hi"`}, `SET VARIABLE X "say \"hi\""` + "\n"},
		{"SET VARIABLE", []string{"X", `C:\path`}, `SET VARIABLE X "C:\\path"` + "\n"},
		{"SET VARIABLE", []string{"X", "tab\there"}, "SET VARIABLE X \"tab\there\"\n"},
		{"CHANNEL STATUS", nil, "CHANNEL STATUS\n"},
		{"EXEC", []string{"Wait", "5"}, "EXEC Wait 5\n"},
	}
	for _, tt := range tests {
		got, err := commandLine(tt.cmd, tt.args, false)
		if err != nil {
			t.Errorf("%s %q: %v", tt.cmd, tt.args, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.cmd, tt.args, got, tt.want)
		}
		// Asterisk's parser gives back the words of the command and the
		// arguments unchanged.
		want := append(strings.Fields(tt.cmd), tt.args...)
		if parsed := asteriskArgs(strings.TrimSuffix(string(got), "\n")); !reflect.DeepEqual(parsed, want) {
			t.Errorf("%s %q: Asterisk would read %q", tt.cmd, tt.args, parsed)
		}
	}
}

func TestCommandLineRefuses(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		args []string
	}{
		{"empty command", "", nil},
		{"line break in command", "GET VARIABLE X\nHANGUP", nil},
		{"line break in argument", "SET VARIABLE", []string{"X", "a\nHANGUP"}},
		{"NUL in argument", "SET VARIABLE", []string{"X", "a\x00b"}},
		{"longer than Asterisk reads", "SET VARIABLE", []string{"X", strings.Repeat("x", maxCommandLength)}},
	}
	for _, tt := range tests {
		if line, err := commandLine(tt.cmd, tt.args, false); err == nil {
			t.Errorf("%s: got %q, want an error", tt.name, line)
		}
	}
	// The longest line Asterisk reads whole is allowed.
	arg := strings.Repeat("x", maxCommandLength-len("SET VARIABLE X "))
	if _, err := commandLine("SET VARIABLE", []string{"X", arg}, false); err != nil {
		t.Errorf("line of %d bytes: %v", maxCommandLength, err)
	}
}

// asteriskArgs splits a command line as parse_args in Asterisk's
// res/res_agi.c does: spaces and tabs separate words outside double
// quotes, a backslash makes the next byte literal.
func asteriskArgs(s string) []string {
	var (
		args                []string
		cur                 []byte
		quoted, escaped, in bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && !escaped:
			quoted = !quoted
			if quoted && !in {
				in = true
			}
		case (c == ' ' || c == '\t') && !quoted && !escaped:
			if in {
				args = append(args, string(cur))
				cur, in = cur[:0], false
			}
		case c == '\\' && !escaped:
			escaped = true
			continue
		default:
			cur = append(cur, c)
			in = true
		}
		escaped = false
	}
	if in {
		args = append(args, string(cur))
	}
	return args
}

func TestChannelStateString(t *testing.T) {
	for st, want := range map[ChannelState]string{StateDown: "Down", StateRing: "Ring", StateUp: "Up", StatePreRing: "PreRing", 42: "ChannelState(42)"} {
		if got := st.String(); got != want {
			t.Errorf("%d: got %q, want %q", int(st), got, want)
		}
	}
}

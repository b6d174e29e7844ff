package ami_test

import (
	"reflect"
	"testing"

	"github.com/calltrail/calltrail/ami"
)

func TestMessageLookups(t *testing.T) {
	m := ami.NewMessage(
		"Event", "Status",
		"ActionID", "status-9",
		"Channel", "PJSIP/1001-00000000",
		"Variable", "A=1",
		"variable", "B=2",
		"Output", "",
	)
	tests := []struct {
		key   string
		want  string
		found bool
	}{
		{"ActionID", "status-9", true},
		{"actionid", "status-9", true},
		{"ACTIONID", "status-9", true},
		{"Variable", "A=1", true},
		{"Output", "", true},
		{"Missing", "", false},
		{"Channe", "", false},
	}
	for _, tt := range tests {
		got, found := m.Lookup(tt.key)
		if got != tt.want || found != tt.found {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.key, got, found, tt.want, tt.found)
		}
		if got := m.Get(tt.key); got != tt.want {
			t.Errorf("Get(%q) = %q", tt.key, got)
		}
	}
	if got, want := m.Values("VARIABLE"), []string{"A=1", "B=2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Values = %q, want %q", got, want)
	}
	if got := m.Values("nope"); got != nil {
		t.Errorf("Values(nope) = %q", got)
	}
	if !m.IsEvent() || m.IsResponse() || m.Event() != "Status" || m.ActionID() != "status-9" {
		t.Errorf("event accessors wrong for %q", m)
	}
	r := ami.NewMessage("Response", "Success", "ActionID", "x")
	if r.IsEvent() || !r.IsResponse() || r.Response() != "Success" || r.Event() != "" {
		t.Errorf("response accessors wrong for %q", r)
	}
	if a := ami.NewMessage("Action", "Ping"); a.Action() != "Ping" {
		t.Errorf("Action() = %q", a.Action())
	}
}

func TestMessageEdits(t *testing.T) {
	m := ami.NewMessage("Action", "Originate", "Variable", "A=1", "Variable", "B=2")
	m.Set("channel", "PJSIP/1001")
	m.Set("ACTION", "Redirect")
	m.Add("Variable", "C=3")
	want := ami.NewMessage("Action", "Redirect", "Variable", "A=1", "Variable", "B=2", "channel", "PJSIP/1001", "Variable", "C=3")
	if !reflect.DeepEqual(m, want) {
		t.Errorf("after Set/Add: %q, want %q", m.Fields, want.Fields)
	}
	c := m.Clone()
	m.Del("variable")
	if got := ami.NewMessage("Action", "Redirect", "channel", "PJSIP/1001"); !reflect.DeepEqual(m, got) {
		t.Errorf("after Del: %q", m.Fields)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("the clone changed with the original: %q", c.Fields)
	}
	if got, want := m.String(), "Action: Redirect\r\nchannel: PJSIP/1001\r\n\r\n"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// AppendWire adds the same bytes after what the buffer holds.
	if got, want := string(m.AppendWire([]byte("prev|"))), "prev|"+m.String(); got != want {
		t.Errorf("AppendWire = %q, want %q", got, want)
	}
}

// A journal writer formats every event into one reused buffer: no
// allocation once the buffer has grown.
func TestAppendWireReusesBuffer(t *testing.T) {
	m := ami.NewMessage("Event", "Newchannel", "Channel", "PJSIP/1001-00000001", "Uniqueid", "1763797263.12")
	buf := m.AppendWire(nil)
	if n := testing.AllocsPerRun(100, func() { buf = m.AppendWire(buf[:0]) }); n != 0 {
		t.Errorf("%v allocations per message into a grown buffer", n)
	}
}

func TestNewMessageOdd(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewMessage with an odd count did not panic")
		}
	}()
	ami.NewMessage("Action")
}

func TestVariables(t *testing.T) {
	m := ami.NewMessage(
		"Event", "Hangup",
		"ChanVariable", "CDR(accountcode)=acme",
		"ChanVariable(PJSIP/100-0001)", "legacy=yes",
		"DestChanVariable", "other=no",
		"Variable", "a=b=c",
		"ChanVariable", "noequals",
		"ChanVariable", "CDR(accountcode)=acme-cdr",
	)
	want := map[string]string{"CDR(accountcode)": "acme-cdr", "legacy": "yes", "a": "b=c"}
	if got := m.Variables(); !reflect.DeepEqual(got, want) {
		t.Errorf("Variables() = %v, want %v", got, want)
	}
	if got := ami.NewMessage("Event", "Newchannel").Variables(); got != nil {
		t.Errorf("Variables() of a message without any = %v, want nil", got)
	}
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		in        string
		sec, usec int64
		ok        bool
	}{
		{"1795333546.437823", 1795333546, 437823, true},
		{"1795333546.4", 1795333546, 400000, true},
		{"1795333546", 1795333546, 0, true},
		{"1795333546.", 1795333546, 0, true},
		{"1795333546.1234567", 1795333546, 123456, true},
		{"1795333546.43x823", 0, 0, false},
		{"-1.5", 0, 0, false},
		{"", 0, 0, false},
		{"abc", 0, 0, false},
		{"99999999999999999999.1", 0, 0, false},
	}
	for _, tt := range tests {
		sec, usec, ok := ami.ParseTimestamp(tt.in)
		if sec != tt.sec || usec != tt.usec || ok != tt.ok {
			t.Errorf("ParseTimestamp(%q) = %d, %d, %v; want %d, %d, %v", tt.in, sec, usec, ok, tt.sec, tt.usec, tt.ok)
		}
	}
	m := ami.NewMessage("Event", "Newchannel", "timestamp", "1795333546.437823")
	if sec, usec, ok := m.Timestamp(); sec != 1795333546 || usec != 437823 || !ok {
		t.Errorf("Timestamp() = %d, %d, %v", sec, usec, ok)
	}
	if _, _, ok := ami.NewMessage("Event", "FullyBooted").Timestamp(); ok {
		t.Error("Timestamp() of a message without one reported ok")
	}
}

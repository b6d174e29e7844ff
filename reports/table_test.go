package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

func TestEndpointAndTrunk(t *testing.T) {
	tests := []struct {
		channel, party, endpoint string
		trunk                    bool
	}{
		{"SIP/1001-00000014", "1001", "SIP/1001", false},
		{"PJSIP/1021-0000000a", "1021", "PJSIP/1021", false},
		{"SIP/trunk-0000001d", "+15551234567", "SIP/trunk", true},
		{"PJSIP/my-provider-0000001d", "5557788", "PJSIP/my-provider", true},
		{"DAHDI/i1/5551234-1", "5551234", "DAHDI/i1/5551234", true}, // an ISDN line
		{"PJSIP/alice", "alice", "PJSIP/alice", false},
	}
	o := DefaultOptions()
	for _, tt := range tests {
		if got := Endpoint(tt.channel); got != tt.endpoint {
			t.Errorf("Endpoint(%q) = %q, want %q", tt.channel, got, tt.endpoint)
		}
		got := o.Trunk(&callgraph.Leg{Channel: tt.channel, Party: tt.party})
		if (got != "") != tt.trunk {
			t.Errorf("Trunk(%q, %q) = %q, want trunk %v", tt.channel, tt.party, got, tt.trunk)
		}
	}
	// Configured trunks win over the guess.
	o.Trunks = []string{"PJSIP/1021"}
	if got := o.Trunk(&callgraph.Leg{Channel: "PJSIP/1021-0000000a", Party: "1021"}); got != "PJSIP/1021" {
		t.Errorf("configured trunk = %q", got)
	}
	if got := o.Trunk(&callgraph.Leg{Channel: "SIP/trunk-0000001d", Party: "+1555"}); got != "" {
		t.Errorf("unconfigured trunk = %q", got)
	}
}

func TestWriteFormats(t *testing.T) {
	o := DefaultOptions()
	o.ServiceLevel = 6 * time.Second
	r := Queues(load(t, "S08", "S09"), o)

	var text bytes.Buffer
	if err := Write(&text, FormatTable, r); err != nil {
		t.Fatal(err)
	}
	// S08 answered in 5.008 s (in T), S09 abandoned after 4.501 s.
	lines := strings.Split(text.String(), "\n")
	if lines[0] != "Queues" || !strings.HasPrefix(strings.TrimSpace(lines[1]), "queue") ||
		!strings.Contains(lines[2], "support  2        1         1     1") {
		t.Errorf("text:\n%s", text.String())
	}

	var c bytes.Buffer
	if err := Write(&c, FormatCSV, r); err != nil {
		t.Fatal(err)
	}
	rd := csv.NewReader(&c)
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0][0] != "# Queues" || recs[1][0] != "queue" || recs[2][0] != "support" || recs[2][1] != "2" {
		t.Errorf("csv = %q", recs)
	}

	var j bytes.Buffer
	if err := Write(&j, FormatJSON, r); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Target float64 `json:"target"`
		Queues []struct {
			Queue        string   `json:"queue"`
			Offered      int      `json:"offered"`
			ServiceLevel *float64 `json:"service_level"`
			ASA          float64  `json:"asa"`
		} `json:"queues"`
	}
	if err := json.Unmarshal(j.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Target != 6 || len(back.Queues) != 1 || back.Queues[0].Offered != 2 || back.Queues[0].ASA != 5.008 ||
		back.Queues[0].ServiceLevel == nil || *back.Queues[0].ServiceLevel != 100 {
		t.Errorf("json = %s", j.String())
	}

	if err := Write(&j, "xml", r); err == nil {
		t.Error("unknown format: no error")
	}
}

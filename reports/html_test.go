package reports

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// all is every capture the reports' tests use.
var all = []string{"S05", "S06", "S06b", "S07", "S08", "S09", "S10", "S11", "S13", "S14", "S15", "S17", "S18",
	"S19", "S20", "S21", "S22", "S23", "P02", "P03", "P04", "P05", "P06", "Q01", "Q02", "Q03", "Q04", "Q05", "Q06"}

func TestWriteHTML(t *testing.T) {
	o := DefaultOptions()
	o.ServiceLevel = 6 * time.Second
	var b bytes.Buffer
	if err := WriteHTML(&b, "calltrail captures", load(t, all...), o); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"<h2>KPI</h2>", "<h2>Queues</h2>", "<h2>Agents</h2>", "<h2>Hangup causes (", "<h2>SIP statuses</h2>",
		"<h2>Call quality (", "Attempts and ASR per hour", "Calls in progress", "Queue calls and service level",
		"Lowest MOS per call",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	// Self-contained: no scripts, no links to anything outside.
	for _, bad := range []string{"<script", "src=", "href=", "<link"} {
		if strings.Contains(s, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	// Every chart is well-formed XML.
	n := 0
	for rest := s; ; {
		i := strings.Index(rest, "<svg")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>")
		checkXML(t, rest[i:i+j+6])
		rest = rest[i+j+6:]
		n++
	}
	if n != 4 {
		t.Errorf("charts = %d, want 4", n)
	}
	if os.Getenv("REPORTS_HTML") != "" {
		os.WriteFile(os.Getenv("REPORTS_HTML"), b.Bytes(), 0o644)
	}
}

func checkXML(t *testing.T, doc string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("chart is not XML: %v", err)
		}
	}
}

// Concurrency over S14, by hand: 20 calls start between 07:50:11.727 and
// 07:50:15.529; the two busy calls end at 13.934 and 14.133 before the
// last starts, so the step function tops out at 18 and comes back to 0.
func TestConcurrency(t *testing.T) {
	pts := Concurrency(load(t, "S14"))
	top := 0
	for _, p := range pts {
		top = max(top, p.Calls)
	}
	if top != 18 || pts[0].Calls != 1 || pts[len(pts)-1].Calls != 0 || len(pts) != 40 {
		t.Errorf("points = %d, first %d, last %d, top %d; want 40, 1, 0, 18", len(pts), pts[0].Calls, pts[len(pts)-1].Calls, top)
	}
}

package callflow

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/calltrail/calltrail/reports"
)

// TestDiagramSVG: the diagram alone is the full drawing's diagram part,
// with its arrows' legend and without the timeline.
func TestDiagramSVG(t *testing.T) {
	for _, s := range []string{"S05", "S06", "S08", "S10", "S15", "S17", "S23", "P03"} {
		for _, g := range Group(load(t, s)) {
			diagramAlone(t, s, Build(reports.DefaultOptions(), g...))
		}
	}
}

// diagramAlone checks the diagram of one flow of capture s.
func diagramAlone(t *testing.T, s string, f *Flow) {
	t.Helper()
	var full, diagram bytes.Buffer
	if err := f.SVG(&full); err != nil {
		t.Fatal(err)
	}
	if err := f.DiagramSVG(&diagram); err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, diagram.Bytes())
	for _, n := range f.Nodes {
		if !texts[n.Label] {
			t.Errorf("%s: the diagram lacks node %q", s, n.Label)
		}
	}
	for _, want := range []string{"answered", "not answered", "transfer, pickup"} {
		if !texts[want] {
			t.Errorf("%s: the diagram's legend lacks %q", s, want)
		}
	}
	for _, unwanted := range []string{"timeline", "ringing", "queue wait"} {
		if texts[unwanted] {
			t.Errorf("%s: the diagram alone has %q", s, unwanted)
		}
	}
	if !svgTexts(t, full.Bytes())["timeline"] {
		t.Errorf("%s: the full drawing has no timeline", s)
	}
	// Every label lies inside the drawing.
	width := svgWidth(t, diagram.Bytes())
	for _, l := range f.placeLabels(f.geometry()) {
		lw, _ := labelSize(l.e.Lines)
		if right := l.at.x + lw/2; right > width {
			t.Errorf("%s: label %q ends at x=%.0f, past the drawing's width %.0f", s, l.e.Lines[0], right, width)
		}
	}
	if diagram.Len() >= full.Len() {
		t.Errorf("%s: the diagram alone (%d bytes) is not smaller than the full drawing (%d)", s, diagram.Len(), full.Len())
	}
}

// svgTexts parses an SVG document and returns the contents of its text
// elements.
func svgTexts(t *testing.T, doc []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	d := xml.NewDecoder(bytes.NewReader(doc))
	inText := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				out[strings.TrimSpace(string(tok))] = true
			}
		}
	}
}

// svgWidth reads the width of an SVG document.
func svgWidth(t *testing.T, doc []byte) float64 {
	t.Helper()
	var root struct {
		Width float64 `xml:"width,attr"`
	}
	if err := xml.Unmarshal(doc, &root); err != nil {
		t.Fatal(err)
	}
	return root.Width
}

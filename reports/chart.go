package reports

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// A series is one set of values of a chart, one per category.
type series struct {
	name   string
	color  string
	values []float64
}

const (
	chartW = 760.0
	chartH = 240.0
	padL   = 50.0
	padR   = 50.0
	padT   = 30.0
	padB   = 46.0
)

// niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func chartHead(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(b, `<text x="%.0f" y="16" font-size="13" font-weight="bold">%s</text>`, padL, html.EscapeString(title))
}

// barChart draws stacked bars per category, and optionally a percentage
// line on a 0–100 axis at the right.
func barChart(title string, cats []string, bars []series, line *series) string {
	var b strings.Builder
	chartHead(&b, title)
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	top := 0.0
	for i := range cats {
		sum := 0.0
		for _, s := range bars {
			sum += s.values[i]
		}
		top = math.Max(top, sum)
	}
	top = niceMax(top)
	for k := 0; k <= 4; k++ {
		v := top * float64(k) / 4
		y := padT + plotH - plotH*float64(k)/4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#e0e0e0"/>`, padL, y, padL+plotW, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end" fill="#555">%g</text>`, padL-4, y+4, v)
		if line != nil {
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" fill="%s">%d%%</text>`, padL+plotW+4, y+4, line.color, 25*k)
		}
	}
	n := float64(max(len(cats), 1))
	slot := plotW / n
	bw := math.Min(slot*0.6, 60)
	var pts []string
	for i, c := range cats {
		x := padL + slot*float64(i) + (slot-bw)/2
		y := padT + plotH
		for _, s := range bars {
			h := plotH * s.values[i] / top
			y -= h
			if h > 0 {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %g</title></rect>`,
					x, y, bw, h, s.color, html.EscapeString(c), html.EscapeString(s.name), s.values[i])
			}
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" fill="#333">%s</text>`, x+bw/2, padT+plotH+14, html.EscapeString(c))
		if line != nil && !math.IsNaN(line.values[i]) {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x+bw/2, padT+plotH-plotH*line.values[i]/100))
		}
	}
	if line != nil && len(pts) > 0 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), line.color)
		for _, p := range pts {
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, strings.Split(p, ",")[0], strings.Split(p, ",")[1], line.color)
		}
	}
	legendX := padL
	all := bars
	if line != nil {
		all = append(all[:len(all):len(all)], *line)
	}
	for _, s := range all {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`,
			legendX, chartH-14, s.color, legendX+16, chartH-5, html.EscapeString(s.name))
		legendX += 30 + float64(len(s.name))*6.5
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// A ConcurrencyPoint is the number of calls in progress from At on.
type ConcurrencyPoint struct {
	At    time.Time `json:"at"`
	Calls int       `json:"calls"`
}

// Concurrency is the number of calls in progress over time, as a step
// function: one point at every start and end.
func Concurrency(calls []*callgraph.Call) []ConcurrencyPoint {
	var spans []span
	for _, c := range calls {
		spans = append(spans, callSpan(c))
	}
	type edge struct {
		t time.Time
		d int
	}
	var edges []edge
	for _, s := range spans {
		if !s.from.IsZero() && s.to.After(s.from) {
			edges = append(edges, edge{s.from, 1}, edge{s.to, -1})
		}
	}
	sortEdges := func(a, b edge) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.d - b.d
	}
	slices.SortStableFunc(edges, sortEdges)
	var out []ConcurrencyPoint
	n := 0
	for _, e := range edges {
		n += e.d
		if len(out) > 0 && out[len(out)-1].At.Equal(e.t) {
			out[len(out)-1].Calls = n
			continue
		}
		out = append(out, ConcurrencyPoint{At: e.t.UTC(), Calls: n})
	}
	return out
}

// stepChart draws the concurrency step function.
func stepChart(title string, pts []ConcurrencyPoint) string {
	var b strings.Builder
	chartHead(&b, title)
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	if len(pts) < 2 {
		b.WriteString(`<text x="60" y="120">no calls</text></svg>`)
		return b.String()
	}
	t0, t1 := pts[0].At, pts[len(pts)-1].At
	span := float64(t1.Sub(t0))
	top := 0
	for _, p := range pts {
		top = max(top, p.Calls)
	}
	topF := niceMax(float64(top))
	xAt := func(t time.Time) float64 { return padL + plotW*float64(t.Sub(t0))/span }
	yAt := func(v int) float64 { return padT + plotH - plotH*float64(v)/topF }
	for k := 0; k <= 4; k++ {
		v := topF * float64(k) / 4
		y := padT + plotH - plotH*float64(k)/4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#e0e0e0"/><text x="%.0f" y="%.1f" text-anchor="end" fill="#555">%g</text>`,
			padL, y, padL+plotW, y, padL-4, y+4, v)
	}
	var d strings.Builder
	fmt.Fprintf(&d, "M%.1f,%.1f", xAt(pts[0].At), yAt(0))
	prev := 0
	for _, p := range pts {
		x := xAt(p.At)
		fmt.Fprintf(&d, " L%.1f,%.1f L%.1f,%.1f", x, yAt(prev), x, yAt(p.Calls))
		prev = p.Calls
	}
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#1565c0" stroke-width="1.8"/>`, d.String())
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#333">%s</text><text x="%.0f" y="%.0f" text-anchor="end" fill="#333">%s UTC</text>`,
		padL, padT+plotH+14, t0.Format("2006-01-02 15:04:05"), padL+plotW, padT+plotH+14, t1.Format("2006-01-02 15:04:05"))
	b.WriteString(`</svg>`)
	return b.String()
}

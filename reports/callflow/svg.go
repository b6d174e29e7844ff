package callflow

import (
	"bufio"
	"cmp"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"time"
)

// Colours of the drawing.
const (
	colEdge     = "#333333"
	colTransfer = "#1565c0"
	colQueueBox = "#c05a00"
)

var barColors = map[string]string{
	BarRing:  "#f2c14e",
	BarQueue: "#f08c3a",
	BarTalk:  "#43a047",
	BarPark:  "#9575cd",
	BarHold:  "#bdbdbd",
}

type pt struct{ x, y float64 }

func (p pt) add(q pt) pt                 { return pt{p.x + q.x, p.y + q.y} }
func (p pt) scale(k float64) pt          { return pt{p.x * k, p.y * k} }
func (p pt) sub(q pt) pt                 { return pt{p.x - q.x, p.y - q.y} }
func (p pt) len() float64                { return math.Hypot(p.x, p.y) }
func (p pt) String() string              { return fmt.Sprintf("%.1f,%.1f", p.x, p.y) }
func center(n *Node) pt                  { return pt{n.x, n.y} }
func textW(s string, px float64) float64 { return float64(len([]rune(s))) * px * 0.58 }

// clip is where the segment from n's centre towards p leaves n's shape.
func clip(n *Node, p pt) pt {
	c := center(n)
	d := p.sub(c)
	l := d.len()
	if l == 0 {
		return c
	}
	if n.Kind == Conference {
		return c.add(d.scale(confR / l))
	}
	tx, ty := math.Inf(1), math.Inf(1)
	if d.x != 0 {
		tx = nodeW / 2 / math.Abs(d.x)
	}
	if d.y != 0 {
		ty = nodeH / 2 / math.Abs(d.y)
	}
	return c.add(d.scale(math.Min(tx, ty)))
}

const confR = 36.0

// path is an edge's geometry: a quadratic curve p0 → p2 bent through c.
type path struct{ p0, c, p2 pt }

// at is the point of the curve at parameter t.
func (p path) at(t float64) pt {
	return p.p0.scale((1 - t) * (1 - t)).add(p.c.scale(2 * t * (1 - t))).add(p.p2.scale(t * t))
}

// geometry bends parallel edges apart and curves the transfers.
func (f *Flow) geometry() map[*Edge]path {
	type pair struct{ a, b *Node }
	groups := map[pair][]*Edge{}
	var order []pair
	for _, e := range f.Edges {
		k := pair{e.From, e.To}
		if e.To.ID < e.From.ID {
			k = pair{e.To, e.From}
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	out := map[*Edge]path{}
	for _, k := range order {
		es := groups[k]
		var straight, curved []*Edge
		for _, e := range es {
			if e.Curved {
				curved = append(curved, e)
			} else {
				straight = append(straight, e)
			}
		}
		for i, e := range straight {
			off := (float64(i) - float64(len(straight)-1)/2) * 34
			out[e] = bend(e, off)
		}
		for i, e := range curved {
			off := 110 + 40*float64(i)
			if len(straight) > 1 {
				off += 17 * float64(len(straight))
			}
			out[e] = bend(e, off)
		}
	}
	return out
}

// bend makes the path of e bowed off to one side by off pixels: to the
// right of a vertical edge, above a horizontal one.
func bend(e *Edge, off float64) path {
	a, b := center(e.From), center(e.To)
	d := b.sub(a)
	l := d.len()
	if l == 0 {
		return path{a, a, a}
	}
	perp := pt{-d.y / l, d.x / l}
	if math.Abs(d.x) < 1 {
		if perp.x < 0 {
			perp = perp.scale(-1)
		}
	} else if perp.y > 0 {
		perp = perp.scale(-1)
	}
	// A pair drawn the other way round bends the same way, so parallel
	// edges keep apart whatever their direction.
	if e.To.ID < e.From.ID && off != 0 && !e.Curved {
		off = -off
	}
	c := a.add(b).scale(0.5).add(perp.scale(off))
	if off == 0 {
		return path{clip(e.From, b), c, clip(e.To, a)}
	}
	return path{clip(e.From, c), c, clip(e.To, c)}
}

// SVG writes the flow diagram and, under it, the timeline, as one
// standalone SVG document.
func (f *Flow) SVG(w io.Writer) error { return f.svg(w, true) }

// DiagramSVG writes the flow diagram alone, with the legend of its
// arrows, as one standalone SVG document: for a page that shows the
// timeline its own way.
func (f *Flow) DiagramSVG(w io.Writer) error { return f.svg(w, false) }

func (f *Flow) svg(w io.Writer, timeline bool) error {
	bw := bufio.NewWriter(w)
	gw, gh := f.size()
	geo := f.geometry()
	labels := f.placeLabels(geo)
	laneH := 30.0
	tlTop := gh + 10
	width := math.Max(gw, 980)
	height := tlTop + 60 + float64(len(f.Lanes))*laneH + 95
	if !timeline {
		// Alone, the drawing is as wide as what it holds, the labels
		// beside the transfer curves included.
		for _, l := range labels {
			lw, _ := labelSize(l.e.Lines)
			gw = math.Max(gw, l.at.x+lw/2+3+margin)
		}
		width, height = math.Max(gw, 560), gh+40
	}
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif">`+"\n", width, height, width, height)
	fmt.Fprintf(bw, `<title>%s</title>`+"\n", esc(f.Title))
	bw.WriteString(`<defs>` +
		`<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="` + colEdge + `"/></marker>` +
		`<marker id="arrow-xfer" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="` + colTransfer + `"/></marker>` +
		`<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#e0e0e0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#9e9e9e" stroke-width="2"/></pattern>` +
		"</defs>\n")
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(bw, `<text x="%.0f" y="%.0f" font-size="16" font-weight="bold">%s</text>`+"\n", margin, margin+6, esc(f.Title))
	fmt.Fprintf(bw, `<text x="%.0f" y="%.0f" font-size="11" fill="#555">%s – %s UTC</text>`+"\n", margin, margin+22,
		f.Start.UTC().Format("2006-01-02 15:04:05.000"), f.End.UTC().Format("15:04:05.000"))

	f.svgBoxes(bw)
	for _, e := range f.Edges {
		p := geo[e]
		col, marker := colEdge, "arrow"
		if e.Curved {
			col, marker = colTransfer, "arrow-xfer"
		}
		dash := ""
		if e.Dashed {
			dash = ` stroke-dasharray="7,5"`
		}
		width := 1.6
		if e.Kind == "joined" {
			width, dash = 1.2, ` stroke-dasharray="2,3"`
		}
		fmt.Fprintf(bw, `<path d="M%v Q%v %v" fill="none" stroke="%s" stroke-width="%.1f"%s marker-end="url(#%s)"><title>%s</title></path>`+"\n",
			p.p0, p.c, p.p2, col, width, dash, marker, esc(joinLines(e.Lines)))
	}
	for _, n := range f.Nodes {
		svgNode(bw, n)
	}
	for _, l := range labels {
		svgLabel(bw, l.at, l.e.Lines, l.col)
	}
	if timeline {
		f.svgTimeline(bw, width, tlTop, laneH)
	} else {
		lg := &legend{w: bw, x: margin, y: gh + 14, width: width}
		lg.edges()
	}
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

func joinLines(l []string) string {
	s := ""
	for i, x := range l {
		if i > 0 {
			s += " · "
		}
		s += x
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }

func (f *Flow) svgBoxes(w *bufio.Writer) {
	for _, name := range f.Boxes {
		minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, n := range f.Nodes {
			if n.Box != name {
				continue
			}
			minX, minY = math.Min(minX, n.x-nodeW/2), math.Min(minY, n.y-nodeH/2)
			maxX, maxY = math.Max(maxX, n.x+nodeW/2), math.Max(maxY, n.y+nodeH/2)
		}
		if math.IsInf(minX, 1) {
			continue
		}
		x, y := minX-boxPad, minY-boxPad-boxHead
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="10" fill="#fff8f2" stroke="%s" stroke-dasharray="4,3"/>`+"\n",
			x, y, maxX-minX+2*boxPad, maxY-minY+2*boxPad+boxHead, colQueueBox)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="12" font-weight="bold" fill="%s">queue %s</text>`+"\n", x+10, y+16, colQueueBox, esc(name))
	}
}

func svgNode(w *bufio.Writer, n *Node) {
	x, y := n.x-nodeW/2, n.y-nodeH/2
	switch n.Kind {
	case Phone:
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.0f" height="%.0f" rx="9" fill="#eef4ff" stroke="#3060a0" stroke-width="1.5"/>`+"\n", x, y, nodeW, nodeH)
	case Trunk:
		s := 14.0
		fmt.Fprintf(w, `<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="#fff4e0" stroke="#b07000" stroke-width="1.5"/>`+"\n",
			x+s, y, x+nodeW-s, y, x+nodeW, n.y, x+nodeW-s, y+nodeH, x+s, y+nodeH, x, n.y)
	case Queue:
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.0f" height="%.0f" rx="3" fill="#fde8d8" stroke="%s" stroke-width="1.5"/>`+"\n", x, y, nodeW, nodeH, colQueueBox)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x+8, y+14+float64(i)*8, x+22, y+14+float64(i)*8, colQueueBox)
		}
	case Conference:
		fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="%.0f" fill="#e6f5e6" stroke="#2e7d32" stroke-width="2"/>`+"\n", n.x, n.y, confR)
	case Park:
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.0f" height="%.0f" fill="#f0e8ff" stroke="#6a4fb0" stroke-width="1.5"/>`+"\n", x, y, nodeW, nodeH)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="18" font-weight="bold" fill="#6a4fb0">P</text>`+"\n", x+8, n.y+6)
	default:
		fmt.Fprintf(w, `<ellipse cx="%.1f" cy="%.1f" rx="%.0f" ry="%.0f" fill="#f2f2f2" stroke="#555" stroke-width="1.5"/>`+"\n", n.x, n.y, nodeW/2, nodeH/2)
	}
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="13" font-weight="bold" text-anchor="middle">%s</text>`+"\n", n.x, n.y-2, esc(n.Label))
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="10" fill="#555" text-anchor="middle">%s</text>`+"\n", n.x, n.y+12, esc(n.Sub))
}

func labelSize(lines []string) (w, h float64) {
	for _, l := range lines {
		w = math.Max(w, textW(l, 11))
	}
	return w, 14*float64(len(lines)) + 4
}

func svgLabel(w *bufio.Writer, at pt, lines []string, col string) {
	if len(lines) == 0 {
		return
	}
	lw, h := labelSize(lines)
	fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="3" fill="white" fill-opacity="0.9"/>`+"\n", at.x-lw/2-3, at.y-h/2, lw+6, h)
	for i, l := range lines {
		weight := ""
		if i == 0 {
			weight = ` font-weight="bold"`
		}
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="11"%s fill="%s" text-anchor="middle">%s</text>`+"\n",
			at.x, at.y-h/2+13+14*float64(i), weight, col, esc(l))
	}
}

// tickStep picks a tick spacing that gives at most about ten ticks.
func tickStep(d time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
		15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 30 * time.Minute, time.Hour} {
		if d/s <= 10 {
			return s
		}
	}
	return 2 * time.Hour
}

func (f *Flow) svgTimeline(w *bufio.Writer, width, top, laneH float64) {
	left := 230.0
	plotW := width - left - margin
	span := f.End.Sub(f.Start)
	if span <= 0 {
		span = time.Second
	}
	xAt := func(t time.Time) float64 { return left + float64(t.Sub(f.Start))/float64(span)*plotW }
	fmt.Fprintf(w, `<text x="%.0f" y="%.1f" font-size="14" font-weight="bold">timeline</text>`+"\n", margin, top+16)
	axisY := top + 34
	bottom := axisY + 8 + float64(len(f.Lanes))*laneH
	step := tickStep(span)
	for t := time.Duration(0); t <= span; t += step {
		x := left + float64(t)/float64(span)*plotW
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", x, axisY, x, bottom)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="10" fill="#555" text-anchor="middle">+%gs</text>`+"\n", x, axisY-4, t.Seconds())
	}
	for i, l := range f.Lanes {
		y := axisY + 8 + float64(i)*laneH
		if i%2 == 0 {
			fmt.Fprintf(w, `<rect x="%.0f" y="%.1f" width="%.1f" height="%.0f" fill="#f7f7f7"/>`+"\n", margin, y, width-2*margin, laneH)
		}
		fmt.Fprintf(w, `<text x="%.0f" y="%.1f" font-size="12" font-weight="bold">%s</text>`+"\n", margin+4, y+13, esc(l.Label))
		fmt.Fprintf(w, `<text x="%.0f" y="%.1f" font-size="9" fill="#666">%s</text>`+"\n", margin+4, y+25, esc(l.Sub))
		for _, b := range l.Bars {
			x0, x1 := xAt(b.From), xAt(b.To)
			bw := math.Max(x1-x0, 1.5)
			fill := barColors[b.Kind]
			if b.Kind == BarHold {
				fill = "url(#hatch)"
			}
			fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="18" rx="2" fill="%s"><title>%s %s–%s (%.3f s)</title></rect>`+"\n",
				x0, y+6, bw, fill, esc(b.Label), b.From.UTC().Format("15:04:05.000"), b.To.UTC().Format("15:04:05.000"), b.To.Sub(b.From).Seconds())
			if textW(b.Label, 10)+6 < bw {
				col := "white"
				if b.Kind == BarRing || b.Kind == BarHold {
					col = "#222"
				}
				fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="10" fill="%s" text-anchor="middle">%s</text>`+"\n", x0+bw/2, y+19, col, esc(b.Label))
			}
		}
	}
	lg := &legend{w: w, x: margin, y: bottom + 24, width: width}
	lg.edges()
	lg.bars()
}

// A legend is a row of samples with their names, wrapped to the width.
type legend struct {
	w           *bufio.Writer
	x, y, width float64
}

// add draws one sample (draw gets its place) and its name.
func (lg *legend) add(label string, draw func(x, y float64) string) {
	if lg.x+40+textW(label, 11) > lg.width-margin {
		lg.x, lg.y = margin, lg.y+22
	}
	lg.w.WriteString(draw(lg.x, lg.y))
	fmt.Fprintf(lg.w, `<text x="%.1f" y="%.1f" font-size="11">%s</text>`+"\n", lg.x+34, lg.y+4, esc(label))
	lg.x += 40 + textW(label, 11) + 18
}

// edges adds the kinds of arrows of the diagram.
func (lg *legend) edges() {
	lg.add("answered", func(x, y float64) string {
		return fmt.Sprintf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.6"/>`+"\n", x, y, x+28, y, colEdge)
	})
	lg.add("not answered", func(x, y float64) string {
		return fmt.Sprintf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.6" stroke-dasharray="7,5"/>`+"\n", x, y, x+28, y, colEdge)
	})
	lg.add("transfer, pickup", func(x, y float64) string {
		return fmt.Sprintf(`<path d="M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f" fill="none" stroke="%s" stroke-width="1.6"/>`+"\n", x, y+4, x+14, y-10, x+28, y+4, colTransfer)
	})
}

// bars adds the kinds of bars of the timeline.
func (lg *legend) bars() {
	for _, k := range []string{BarRing, BarQueue, BarTalk, BarPark, BarHold} {
		fill := barColors[k]
		if k == BarHold {
			fill = "url(#hatch)"
		}
		name := map[string]string{BarRing: "ringing", BarQueue: "queue wait", BarTalk: "talk", BarPark: "parked", BarHold: "answered, no talk (hold)"}[k]
		lg.add(name, func(x, y float64) string {
			return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="28" height="12" fill="%s"/>`+"\n", x, y-6, fill)
		})
	}
}

type rect struct{ x0, y0, x1, y1 float64 }

// cover is the area r and q share.
func (r rect) cover(q rect) float64 {
	w := math.Min(r.x1, q.x1) - math.Max(r.x0, q.x0)
	h := math.Min(r.y1, q.y1) - math.Max(r.y0, q.y0)
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

type placed struct {
	e   *Edge
	at  pt
	col string
}

// placeLabels puts every edge's label on its edge where it covers no
// node and no label placed before it: the middle if it is free, else the
// first free point sliding towards either end, else the point where it
// covers least. A transfer's label sits
// outside its curve, clear of the straight edges between the same
// end-points.
func (f *Flow) placeLabels(geo map[*Edge]path) []placed {
	var taken []rect
	for _, n := range f.Nodes {
		taken = append(taken, rect{n.x - nodeW/2, n.y - nodeH/2, n.x + nodeW/2, n.y + nodeH/2})
	}
	// The shortest edges have the least room: they choose first; the
	// transfers, whose labels sit off their curves, last.
	edges := slices.Clone(f.Edges)
	slices.SortStableFunc(edges, func(a, b *Edge) int {
		if a.Curved != b.Curved {
			if a.Curved {
				return 1
			}
			return -1
		}
		return cmp.Compare(geo[a].p2.sub(geo[a].p0).len(), geo[b].p2.sub(geo[b].p0).len())
	})
	var out []placed
	for _, e := range edges {
		p := geo[e]
		lw, lh := labelSize(e.Lines)
		var shift pt
		col := "#222"
		if e.Curved {
			col = colTransfer
			if d := p.c.sub(p.p0.add(p.p2).scale(0.5)); d.len() > 0 {
				u := d.scale(1 / d.len())
				shift = pt{u.x * (lw/2 + 6), u.y * (lh/2 + 6)}
			}
		}
		var best pt
		bestCover := math.Inf(1)
		for _, t := range []float64{0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78, 0.15, 0.85} {
			at := p.at(t).add(shift)
			r := rect{at.x - lw/2 - 3, at.y - lh/2, at.x + lw/2 + 3, at.y + lh/2}
			cover := 0.0
			for _, q := range taken {
				cover += r.cover(q)
			}
			if cover < bestCover {
				best, bestCover = at, cover
			}
			if cover == 0 {
				break
			}
		}
		taken = append(taken, rect{best.x - lw/2 - 3, best.y - lh/2, best.x + lw/2 + 3, best.y + lh/2})
		out = append(out, placed{e, best, col})
	}
	return out
}

package callflow

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// DOT writes the flow diagram in Graphviz's language: end-points as
// shaped nodes, queue boxes as clusters, transfers as bold blue edges
// that do not constrain the ranks. (The timeline has no DOT form.)
func (f *Flow) DOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "digraph call {\n")
	fmt.Fprintf(bw, "  label=%s;\n  labelloc=t;\n  rankdir=LR;\n", dotQuote(f.Title))
	fmt.Fprintf(bw, "  node [fontname=\"Helvetica\" fontsize=11];\n  edge [fontname=\"Helvetica\" fontsize=10];\n")
	boxed := map[*Node]bool{}
	for i, name := range f.Boxes {
		fmt.Fprintf(bw, "  subgraph cluster_q%d {\n    label=%s;\n    style=dashed;\n    color=\"%s\";\n", i+1, dotQuote("queue "+name), colQueueBox)
		for _, n := range f.Nodes {
			if n.Box == name {
				fmt.Fprintf(bw, "    %s;\n", dotNode(n))
				boxed[n] = true
			}
		}
		fmt.Fprintf(bw, "  }\n")
	}
	for _, n := range f.Nodes {
		if !boxed[n] {
			fmt.Fprintf(bw, "  %s;\n", dotNode(n))
		}
	}
	for _, e := range f.Edges {
		attrs := []string{"label=" + dotQuote(strings.Join(e.Lines, "\n"))}
		var style []string
		if e.Dashed {
			style = append(style, "dashed")
		}
		if e.Kind == "joined" {
			style = append(style, "dotted")
		}
		if e.Curved {
			style = append(style, "bold")
			attrs = append(attrs, `color="`+colTransfer+`"`, `fontcolor="`+colTransfer+`"`, "constraint=false")
		}
		if len(style) > 0 {
			attrs = append(attrs, "style="+dotQuote(strings.Join(style, ",")))
		}
		fmt.Fprintf(bw, "  %s -> %s [%s];\n", e.From.ID, e.To.ID, strings.Join(attrs, " "))
	}
	fmt.Fprintf(bw, "}\n")
	return bw.Flush()
}

func dotNode(n *Node) string {
	shape := map[Kind]string{
		Phone:      `shape=box style="rounded,filled" fillcolor="#eef4ff"`,
		Trunk:      `shape=hexagon style=filled fillcolor="#fff4e0"`,
		Queue:      `shape=box3d style=filled fillcolor="#fde8d8"`,
		Conference: `shape=doublecircle style=filled fillcolor="#e6f5e6"`,
		Park:       `shape=folder style=filled fillcolor="#f0e8ff"`,
		Voicemail:  `shape=cylinder`,
		IVR:        `shape=octagon`,
		Extension:  `shape=ellipse`,
	}[n.Kind]
	return fmt.Sprintf("%s [label=%s %s]", n.ID, dotQuote(n.Label+"\n"+n.Sub), shape)
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// Mermaid writes the flow diagram as a Mermaid flowchart: queue boxes as
// subgraphs, unanswered attempts as dotted links, transfers as thick
// links coloured blue.
func (f *Flow) Mermaid(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "---\ntitle: %s\n---\nflowchart LR\n", mmText(f.Title))
	boxed := map[*Node]bool{}
	for i, name := range f.Boxes {
		fmt.Fprintf(bw, "  subgraph q%d [\"queue %s\"]\n", i+1, mmText(name))
		for _, n := range f.Nodes {
			if n.Box == name {
				fmt.Fprintf(bw, "    %s\n", mmNode(n))
				boxed[n] = true
			}
		}
		fmt.Fprintf(bw, "  end\n")
	}
	for _, n := range f.Nodes {
		if !boxed[n] {
			fmt.Fprintf(bw, "  %s\n", mmNode(n))
		}
	}
	var xfer []int
	for i, e := range f.Edges {
		arrow := "-->"
		switch {
		case e.Curved && e.Dashed:
			arrow = "-.->"
		case e.Curved:
			arrow = "==>"
		case e.Dashed || e.Kind == "joined":
			arrow = "-.->"
		}
		if e.Curved {
			xfer = append(xfer, i)
		}
		fmt.Fprintf(bw, "  %s %s|\"%s\"| %s\n", e.From.ID, arrow, mmText(strings.Join(e.Lines, "<br/>")), e.To.ID)
	}
	for _, i := range xfer {
		fmt.Fprintf(bw, "  linkStyle %d stroke:%s,color:%s\n", i, colTransfer, colTransfer)
	}
	fmt.Fprintf(bw, "  classDef queue fill:#fde8d8,stroke:%s\n  classDef trunk fill:#fff4e0,stroke:#b07000\n  classDef conf fill:#e6f5e6,stroke:#2e7d32\n", colQueueBox)
	return bw.Flush()
}

func mmNode(n *Node) string {
	label := mmText(n.Label) + "<br/><small>" + mmText(n.Sub) + "</small>"
	switch n.Kind {
	case Trunk:
		return fmt.Sprintf("%s{{\"%s\"}}:::trunk", n.ID, label)
	case Queue:
		return fmt.Sprintf("%s[[\"%s\"]]:::queue", n.ID, label)
	case Conference:
		return fmt.Sprintf("%s((\"%s\")):::conf", n.ID, label)
	case Park:
		return fmt.Sprintf("%s[(\"%s\")]", n.ID, label)
	case Voicemail, IVR, Extension:
		return fmt.Sprintf("%s([\"%s\"])", n.ID, label)
	}
	return fmt.Sprintf("%s(\"%s\")", n.ID, label)
}

// mmText makes s safe inside a quoted Mermaid label.
func mmText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s)
}

// Gantt writes the timeline as a Mermaid gantt chart: one section per
// leg, one task per bar, times as Unix milliseconds.
func (f *Flow) Gantt(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "gantt\n  title %s timeline\n  dateFormat x\n  axisFormat %%H:%%M:%%S\n", ganttText(f.Title))
	for _, l := range f.Lanes {
		fmt.Fprintf(bw, "  section %s\n", ganttText(l.Label))
		for _, b := range l.Bars {
			if !b.To.After(b.From) {
				continue
			}
			tag := map[string]string{BarRing: "active, ", BarQueue: "crit, ", BarPark: "crit, ", BarHold: "done, "}[b.Kind]
			fmt.Fprintf(bw, "  %s :%s%d, %d\n", ganttText(b.Label), tag, b.From.UnixMilli(), b.To.UnixMilli())
		}
	}
	return bw.Flush()
}

// ganttText drops the characters that end a gantt task's name.
func ganttText(s string) string {
	return strings.NewReplacer(":", " ", ";", " ", "#", " ", "\n", " ").Replace(s)
}

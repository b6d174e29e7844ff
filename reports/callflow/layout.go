package callflow

import (
	"cmp"
	"slices"
)

// Layout constants of the SVG, in pixels.
const (
	nodeW   = 150.0
	nodeH   = 48.0
	colW    = 340.0 // node plus room for edge labels
	rowH    = 120.0
	margin  = 30.0
	titleH  = 64.0
	boxPad  = 18.0
	boxHead = 22.0
)

// layout places the nodes in layers, left to right: a call's first
// caller in the first layer, every other end-point one layer right of the
// first end-point that reached it (breadth first). A transfer places its
// target beside the party transferred, not the transferer. Within a
// layer, nodes keep the order they were reached in.
func layout(f *Flow) {
	next := map[*Node][]*Node{}
	hasIn := map[*Node]bool{}
	for _, e := range f.Edges {
		from := e.From
		if e.Curved {
			continue // the transfer's own result edges place the target
		}
		next[from] = append(next[from], e.To)
		hasIn[e.To] = true
	}
	// A transfer's target with no other edge in: beside the transferer.
	for _, e := range f.Edges {
		if e.Curved && !hasIn[e.To] && e.To != e.From {
			next[e.From] = append(next[e.From], e.To)
			hasIn[e.To] = true
		}
	}
	placed := map[*Node]bool{}
	var queue []*Node
	for _, n := range f.Nodes {
		if !hasIn[n] {
			n.layer = 0
			placed[n] = true
			queue = append(queue, n)
		}
	}
	for len(placed) < len(f.Nodes) || len(queue) > 0 {
		if len(queue) == 0 {
			// A cycle with no root: start it from its first node.
			for _, n := range f.Nodes {
				if !placed[n] {
					placed[n] = true
					queue = append(queue, n)
					break
				}
			}
		}
		n := queue[0]
		queue = queue[1:]
		for _, m := range next[n] {
			if !placed[m] {
				m.layer = n.layer + 1
				placed[m] = true
				queue = append(queue, m)
			}
		}
	}
	// Order within layers: the first layer in the order it was reached
	// (the callers by start time); each next layer by the mean position
	// of the nodes that lead to it (the barycentre heuristic, which
	// uncrosses most edges), ties in the order reached.
	layers := map[int][]*Node{}
	maxLayer := 0
	for _, n := range bfsOrder(f, next, hasIn) {
		layers[n.layer] = append(layers[n.layer], n)
		maxLayer = max(maxLayer, n.layer)
	}
	prev := map[*Node][]*Node{}
	for from, tos := range next {
		for _, to := range tos {
			prev[to] = append(prev[to], from)
		}
	}
	maxRows := 0
	counts := map[int]int{}
	for l := 0; l <= maxLayer; l++ {
		nodes := layers[l]
		if l > 0 {
			bary := map[*Node]float64{}
			for i, n := range nodes {
				sum, k := 0.0, 0
				for _, p := range prev[n] {
					if p.layer < l {
						sum += float64(p.order)
						k++
					}
				}
				bary[n] = float64(i) / 1000 // keeps ties in order
				if k > 0 {
					bary[n] += sum / float64(k)
				}
			}
			slices.SortStableFunc(nodes, func(a, b *Node) int { return cmp.Compare(bary[a], bary[b]) })
		}
		for i, n := range nodes {
			n.order = i
		}
		counts[l] = len(nodes)
		maxRows = max(maxRows, len(nodes))
	}
	for _, n := range f.Nodes {
		rows := counts[n.layer]
		n.x = margin + float64(n.layer)*colW + nodeW/2
		n.y = margin + titleH + boxHead + float64(n.order)*rowH + float64(maxRows-rows)*rowH/2 + nodeH/2
	}
}

// bfsOrder returns the nodes in the order the breadth-first walk reached
// them.
func bfsOrder(f *Flow, next map[*Node][]*Node, hasIn map[*Node]bool) []*Node {
	seen := map[*Node]bool{}
	var out, queue []*Node
	for _, n := range f.Nodes {
		if !hasIn[n] {
			seen[n] = true
			queue = append(queue, n)
		}
	}
	for len(out) < len(f.Nodes) {
		if len(queue) == 0 {
			for _, n := range f.Nodes {
				if !seen[n] {
					seen[n] = true
					queue = append(queue, n)
					break
				}
			}
		}
		n := queue[0]
		queue = queue[1:]
		out = append(out, n)
		for _, m := range next[n] {
			if !seen[m] {
				seen[m] = true
				queue = append(queue, m)
			}
		}
	}
	return out
}

// size is the extent of the laid-out graph.
func (f *Flow) size() (w, h float64) {
	for _, n := range f.Nodes {
		w = max(w, n.x+nodeW/2+margin)
		h = max(h, n.y+nodeH/2+margin)
	}
	return w + 120, h + 40 // room for curves bowing out
}

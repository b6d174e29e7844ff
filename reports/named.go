package reports

import (
	"fmt"
	"slices"

	"github.com/calltrail/calltrail/callgraph"
)

// Names are the reports that can be asked for by name, as the command
// line and the HTTP API do.
var Names = []string{"queues", "agents", "causes", "kpi", "quality"}

// Needs reports whether the named report reads call c: a caller that
// streams a month of calls from a database keeps only those.
func Needs(name string, c *callgraph.Call) bool {
	switch name {
	case "queues":
		return len(c.Queues) > 0
	case "agents":
		return len(c.Queues) > 0 || slices.ContainsFunc(c.Connections, func(x callgraph.Connection) bool {
			return x.Kind == callgraph.KindQueueAttempt
		})
	case "quality":
		return slices.ContainsFunc(c.Legs, func(l *callgraph.Leg) bool { return l.Quality != nil })
	}
	return true
}

// ByName computes the named report.
func ByName(name string, calls []*callgraph.Call, o Options) (Report, error) {
	switch name {
	case "queues":
		return Queues(calls, o), nil
	case "agents":
		return Agents(calls), nil
	case "causes":
		return Causes(calls, o), nil
	case "kpi":
		return KPI(calls, o), nil
	case "quality":
		return Quality(calls, o), nil
	}
	return nil, fmt.Errorf("reports: no report named %q", name)
}

// Package reports computes the operator's reports from calltrail's call
// records ([]*callgraph.Call): queue service levels, agents, hangup
// causes with explanations, the telecom KPI (ASR, NER, ACD, PDD,
// concurrent calls), call quality (MOS per leg and direction), and
// renders them as aligned text tables, CSV, JSON or one self-contained
// HTML file with SVG charts.
//
// Everything is a pure function of the records and an Options value: no
// clock, no I/O but the io.Writer a renderer is given. The definition and
// formula of every figure is in docs/reports.md. Per-call diagrams
// (transfer flow, timeline) are in the callflow subpackage; the Q.850 and
// SIP tables and their explanations in the causes subpackage.
package reports

package reports

import (
	"html/template"
	"io"
	"math"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// WriteHTML writes one self-contained HTML file (no scripts, no external
// files) with every report over the calls and SVG charts over time:
// attempts and ASR per interval, calls in progress, queue service level
// per interval, and the MOS of the calls that carried RTCP. Charts use
// o.Interval, or hours when it is unset.
func WriteHTML(w io.Writer, title string, calls []*callgraph.Call, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	co := o
	if co.Interval == NoInterval {
		co.Interval = Hour
	}
	kpi := KPI(calls, co)
	queues := Queues(calls, co)
	quality := Quality(calls, o)
	page := htmlPage{Title: title, Calls: len(calls)}
	var from, to time.Time
	for _, c := range calls {
		s := callSpan(c)
		if from.IsZero() || s.from.Before(from) {
			from = s.from
		}
		if s.to.After(to) {
			to = s.to
		}
	}
	if !from.IsZero() {
		page.Period = fmtTime(from, o.loc()) + " – " + fmtTime(to, o.loc()) + " " + o.loc().String()
	}

	var cats []string
	var answered, other, asr []float64
	for _, s := range kpi.ByInterval {
		cats = append(cats, s.Key)
		answered = append(answered, float64(s.Answered))
		other = append(other, float64(s.Attempts-s.Answered))
		if s.ASR != nil {
			asr = append(asr, *s.ASR)
		} else {
			asr = append(asr, math.NaN())
		}
	}
	page.Charts = append(page.Charts, template.HTML(barChart("Attempts and ASR per "+string(co.Interval), cats,
		[]series{{"answered", "#43a047", answered}, {"not answered", "#e57373", other}},
		&series{"ASR", "#1565c0", asr})))
	page.Charts = append(page.Charts, template.HTML(stepChart("Calls in progress", Concurrency(calls))))
	if len(queues.Intervals) > 0 {
		var qc []string
		var ok, late, ab, sl []float64
		for _, s := range queues.Intervals {
			qc = append(qc, s.Queue+" "+s.Interval)
			ok = append(ok, float64(s.AnsweredInTarget))
			late = append(late, float64(s.Answered-s.AnsweredInTarget))
			ab = append(ab, float64(s.Abandoned))
			if s.ServiceLevel != nil {
				sl = append(sl, *s.ServiceLevel)
			} else {
				sl = append(sl, math.NaN())
			}
		}
		page.Charts = append(page.Charts, template.HTML(barChart("Queue calls and service level per "+string(co.Interval), qc,
			[]series{{"answered in T", "#43a047", ok}, {"answered late", "#fbc02d", late}, {"abandoned", "#e57373", ab}},
			&series{"service level", "#1565c0", sl})))
	}
	if len(quality.Calls) > 0 {
		var qc []string
		var good, poor, bad []float64
		for _, c := range quality.Calls {
			qc = append(qc, c.Start.In(o.loc()).Format("15:04:05"))
			worst := 5.0
			for _, l := range c.Legs {
				for _, d := range l.Directions {
					worst = math.Min(worst, d.MOS)
				}
			}
			g, p, b := 0.0, 0.0, 0.0
			switch c.Verdict {
			case Good:
				g = worst
			case Poor:
				p = worst
			default:
				b = worst
			}
			good, poor, bad = append(good, g), append(poor, p), append(bad, b)
		}
		page.Charts = append(page.Charts, template.HTML(barChart("Lowest MOS per call, by start time", qc,
			[]series{{"good", "#43a047", good}, {"poor", "#fbc02d", poor}, {"bad", "#e53935", bad}}, nil)))
	}

	for _, r := range []Report{kpi, queues, Agents(calls), Causes(calls, o), quality} {
		page.Tables = append(page.Tables, r.Tables()...)
	}
	return htmlTemplate.Execute(w, page)
}

type htmlPage struct {
	Title  string
	Period string
	Calls  int
	Charts []template.HTML
	Tables []Table
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; }
.meta { color: #555; margin-bottom: 1.5em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.charts svg { border: 1px solid #ddd; border-radius: 4px; background: white; }
table { border-collapse: collapse; margin: 0.5em 0 0.3em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f0f4fa; }
tr:nth-child(even) td { background: #fafafa; }
td { max-width: 28em; }
.note { color: #555; font-size: 12px; margin: 0; }
h2 { margin-top: 1.6em; font-size: 18px; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div class="meta">{{.Calls}} calls{{if .Period}}, {{.Period}}{{end}}</div>
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
{{range .Tables}}<h2>{{.Title}}</h2>
<table><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{else}}<tr><td colspan="{{len .Columns}}">none</td></tr>
{{end}}</table>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{end}}</body>
</html>
`))

package reports

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the generated examples in docs/reports.md")

// The examples of docs/reports.md sit between <!-- example NAME --> and
// <!-- end --> markers and are generated here from the captures, so the
// document always shows what the code does.
func docExamples(t *testing.T) map[string]string {
	o := DefaultOptions()
	o.ServiceLevel = 6 * time.Second
	o.Interval = Hour
	queueCalls := load(t, "S08", "S09", "S20", "P04", "S14")
	render := func(r Report) string {
		var b bytes.Buffer
		if err := Write(&b, FormatMarkdown, r); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	text := func(r Report) string {
		var b bytes.Buffer
		if err := Write(&b, FormatTable, r); err != nil {
			t.Fatal(err)
		}
		return "```\n" + b.String() + "```\n"
	}
	kpiOpts := DefaultOptions()
	return map[string]string{
		"queues":  render(Queues(queueCalls, o)),
		"agents":  render(Agents(queueCalls)),
		"causes":  render(Causes(load(t, "S21", "P06"), DefaultOptions())),
		"kpi":     render(KPI(load(t, "S14", "S11", "S23"), kpiOpts)),
		"quality": render(Quality(load(t, "Q01", "Q02", "Q03", "Q04", "Q05", "Q06"), DefaultOptions())),
		"text":    text(Queues(load(t, "S08", "S09"), o)),
	}
}

var exampleRE = regexp.MustCompile(`(?s)(<!-- example (\w+) -->\n).*?(<!-- end -->)`)

func TestDocExamples(t *testing.T) {
	path := "../docs/reports.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ex := docExamples(t)
	seen := map[string]bool{}
	out := exampleRE.ReplaceAllStringFunc(string(doc), func(m string) string {
		p := exampleRE.FindStringSubmatch(m)
		body, ok := ex[p[2]]
		if !ok {
			t.Errorf("docs/reports.md: unknown example %q", p[2])
			return m
		}
		seen[p[2]] = true
		return p[1] + "\n" + strings.TrimRight(body, "\n") + "\n\n" + p[3]
	})
	for name := range ex {
		if !seen[name] {
			t.Errorf("docs/reports.md has no example %q", name)
		}
	}
	if *updateDoc {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out != string(doc) {
		t.Error("docs/reports.md examples are stale; run go test ./reports -run TestDocExamples -update-doc")
	}
}

package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the command-line examples in docs/reports.md")

// A command-line example of docs/reports.md sits between <!-- cli --> and
// <!-- end -->: the command lines, each after "$ ", then what they
// print. "<!-- cli markdown -->" shows the output rendered, "<!-- cli
// mermaid -->" as a Mermaid block.
var (
	cliBlockRE   = regexp.MustCompile(`(?s)<!-- cli( \w+)? -->\n(.*?)<!-- end -->`)
	cliCommandRE = regexp.MustCompile(`(?m)^\$ (.+)$`)
)

// TestDocCommandLine runs the examples of docs/reports.md on a database
// of every golden record and checks that the document shows what they
// print.
func TestDocCommandLine(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "reports.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "callgraph", "testdata", "golden", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden records: %v", err)
	}
	var scenarios []string
	for _, f := range files {
		scenarios = append(scenarios, strings.TrimSuffix(filepath.Base(f), ".jsonl"))
	}
	dsn := testDB(t, scenarios...)
	tmp := t.TempDir()
	// The document's names for the database, the files the commands write
	// and the captures, and what they are here.
	arg := func(a string) string {
		switch {
		case a == "sqlite:calls.db":
			return dsn
		case a == "diagrams" || a == "report.html":
			return filepath.Join(tmp, a)
		case strings.HasPrefix(a, "testdata/"):
			return filepath.Join("..", "..", a)
		}
		return a
	}
	runLine := func(line string) string {
		argv := shellFields(t, line)
		for i := range argv {
			argv[i] = arg(argv[i])
		}
		switch argv[0] {
		case "calltrail":
			stdout, stderr, err := calltrail(t, argv[1:]...)
			if err != nil || stderr != "" {
				t.Fatalf("%s: %v\n%s", line, err, stderr)
			}
			return stdout
		case "ls":
			entries, err := os.ReadDir(argv[1])
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, e := range entries {
				b.WriteString(e.Name() + "\n")
			}
			return b.String()
		}
		t.Fatalf("%s: only calltrail and ls run here", line)
		return ""
	}

	n := 0
	out := cliBlockRE.ReplaceAllStringFunc(string(doc), func(m string) string {
		p := cliBlockRE.FindStringSubmatch(m)
		mode, lines := strings.TrimSpace(p[1]), cliCommandRE.FindAllStringSubmatch(p[2], -1)
		if len(lines) == 0 {
			t.Errorf("docs/reports.md: an example without a command: %q", m)
			return m
		}
		n++
		var b strings.Builder
		b.WriteString("<!-- cli" + p[1] + " -->\n```\n")
		switch mode {
		case "":
			for _, l := range lines {
				b.WriteString("$ " + l[1] + "\n" + runLine(l[1]))
			}
			b.WriteString("```\n")
		case "markdown", "mermaid":
			if len(lines) != 1 {
				t.Errorf("docs/reports.md: a %s example runs one command, not %d", mode, len(lines))
			}
			b.WriteString("$ " + lines[0][1] + "\n```\n\n")
			if mode == "mermaid" {
				b.WriteString("```mermaid\n" + runLine(lines[0][1]) + "```\n")
			} else {
				b.WriteString(runLine(lines[0][1]) + "\n")
			}
		default:
			t.Errorf("docs/reports.md: unknown example kind %q", mode)
			return m
		}
		return b.String() + "<!-- end -->"
	})
	if n == 0 {
		t.Fatal("docs/reports.md has no command-line examples")
	}
	if *updateDoc {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if out != string(doc) {
		t.Error("docs/reports.md command-line examples are stale; run go test ./cmd/calltrail -run TestDocCommandLine -update-doc")
	}
}

// shellFields splits a command line as a shell would for the examples:
// on spaces, with '…' and "…" quoting.
func shellFields(t *testing.T, line string) []string {
	var fields []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ':
			if in {
				fields = append(fields, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", line)
	}
	if in {
		fields = append(fields, cur.String())
	}
	return fields
}

package api

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The shipped Grafana dashboard plots only metrics /metrics exports: a
// renamed metric must not leave an empty panel behind.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile("../../configs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("configs/grafana-dashboard.json: %v", err)
	}
	f := newFixture(t, fakeStatus)
	r := f.do(t, "GET", "/metrics", readToken, "")
	exported := map[string]bool{}
	for _, line := range strings.Split(r.body, "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			exported[strings.Fields(line)[2]] = true
		}
	}
	name := regexp.MustCompile(`calltrail_[a-z_]+`)
	if len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					base = strings.TrimSuffix(base, suffix) // a histogram's series
				}
				if !exported[m] && !exported[base] {
					t.Errorf("panel %q plots %s, which /metrics does not export", p.Title, m)
				}
			}
		}
	}
}

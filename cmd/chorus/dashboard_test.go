package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorushq/chorus/jobs"
)

// Every metric deploy/grafana/chorus.json queries is one a Chorus process
// registers: the API's (the test app's registry, with the process's
// metrics of processMetrics) and the worker's.
func TestDashboardQueriesRegisteredMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/chorus.json")
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
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q has a target without a query", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			s, _ := q["query"].(string)
			exprs = append(exprs, s)
		}
	}

	a := newTestApp(t, nil)
	if _, err := jobs.NewWorker(jobs.Config{Store: a.store, Metrics: a.metrics}); err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	descs := make(chan *prometheus.Desc)
	go func() { a.metrics.Describe(descs); close(descs) }()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			registered[m[1]] = true
		}
	}
	name := regexp.MustCompile(`\bchorus_[a-z0-9_]+`)
	queried := 0
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			queried++
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && registered[b] {
					base = b
				}
			}
			if !registered[base] {
				t.Errorf("the dashboard queries %s, which no Chorus process registers (query %s)", n, e)
			}
		}
	}
	for _, must := range []string{jobs.MetricQueueTasks, jobs.MetricQueueLatency, jobs.MetricTaskFailures, jobs.MetricPublishOutcomes} {
		if !slices.ContainsFunc(exprs, func(e string) bool { return strings.Contains(e, must) }) {
			t.Errorf("the dashboard does not show %s", must)
		}
	}
	if queried < 20 {
		t.Errorf("found only %d metric references in the dashboard: is the test reading it right?", queried)
	}
}

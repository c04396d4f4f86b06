package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// nonAPIRoutes are served but not part of the API document.
var nonAPIRoutes = []string{"GET /", "GET /assets/*file"}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	a := newTestApp(t, map[string]string{"CHORUS_OPERATOR_TOKEN": "t"})
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`)
	seen := map[string]bool{}
	for _, r := range a.engine.Routes() {
		key := r.Method + " " + r.Path
		if slices.Contains(nonAPIRoutes, key) {
			continue
		}
		path := param.ReplaceAllString(r.Path, "{$1}")
		seen[r.Method+" "+path] = true
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s is not in openapi.yaml", key)
		}
	}
	// And the document promises nothing that is not served.
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !seen[strings.ToUpper(method)+" "+path] {
				t.Errorf("openapi.yaml documents %s %s, which is not served", method, path)
			}
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// openAPIRouter finds requests' operations in openapi.yaml, loaded once.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		return nil, err
	}
	// The one server is "/": paths are matched from the root of any host.
	doc.Servers = nil
	return legacy.NewRouter(doc)
})

// operationOf finds req's operation in openapi.yaml: nil for a request
// the document has no operation for (the web app's pages, unknown paths
// and methods).
func operationOf(req *http.Request) (*routers.Route, map[string]string, error) {
	router, err := openAPIRouter()
	if err != nil {
		return nil, nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return nil, nil, nil
	}
	return route, params, nil
}

// validateResponse fails t unless openapi.yaml describes the answer to req
// (responseMismatch).
func validateResponse(t *testing.T, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := responseMismatch(req, status, header, body); err != nil {
		t.Errorf("openapi.yaml does not describe %s %s → %d %s: %v\nbody: %.500s", req.Method, req.URL.Path, status, header.Get("Content-Type"), err, body)
	}
}

// responseMismatch says how the answer to req differs from what
// openapi.yaml documents for req's operation: a status it lists (or its
// default, a problem document), a content type it lists for that status,
// a body that matches the schema, and no body where it describes none.
// A nil body was not seen: only status and content type are checked.
// Requests the document has no operation for (the web app's pages,
// unknown paths) are not checked.
func responseMismatch(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := operationOf(req)
	if route == nil {
		return err
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: body == nil,
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.WithoutCancel(req.Context()), in); err != nil {
		return err
	}
	// A redirect's body is a courtesy link (Gin writes one), not content.
	redirect := status >= 300 && status < 400
	if resp := route.Operation.Responses.Status(status); resp != nil && resp.Value != nil && len(resp.Value.Content) == 0 &&
		len(body) > 0 && req.Method != http.MethodHead && !redirect {
		return fmt.Errorf("it describes no body for %s, and the answer has one", route.Path)
	}
	return nil
}

// checkRequest fails t unless openapi.yaml describes req with body
// (requestMismatch). A request the test breaks on purpose, to see it
// refused (malformed), is not checked.
func checkRequest(t *testing.T, req *http.Request, body []byte, malformed bool) {
	t.Helper()
	if malformed {
		return
	}
	if err := requestMismatch(req, body); err != nil {
		t.Errorf("openapi.yaml does not describe the request %s %s: %v\nbody: %.500s", req.Method, req.URL.Path, err, body)
	}
}

// requestMismatch says how req with body (req's own body is not read)
// differs from what openapi.yaml documents for its operation: path and
// query parameters, headers, and the body against the request body's
// schema. Requests the document has no operation for are not checked
// (TestOpenAPIDocumentsEveryRoute keeps every route of the engine in it).
func requestMismatch(req *http.Request, body []byte) error {
	route, params, err := operationOf(req)
	if route == nil {
		return err
	}
	r := req.Clone(context.WithoutCancel(req.Context()))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}})
}

// The check itself: it passes what the document describes and catches a
// body, status or content type it does not.
func TestResponseMismatch(t *testing.T) {
	problem := `{"type":"urn:chorus:problem:unauthenticated","title":"Unauthorized","status":401,"detail":"sign in first","code":"unauthenticated"}`
	pj := http.Header{"Content-Type": {"application/problem+json"}}
	js := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"problem", 401, pj, problem, true},
		{"problem with an unknown code", 401, pj, strings.Replace(problem, `"unauthenticated"}`, `"no_such_code"}`, 1), false},
		{"problem as JSON", 401, js, problem, false},
		{"me without member", 200, js, `{"instance":{}}`, false},
		{"undocumented success", 201, js, `{}`, false},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "http://127.0.0.1:1/api/v1/me", nil)
		err := responseMismatch(req, tt.status, tt.header, []byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	if err := responseMismatch(httptest.NewRequest("GET", "http://127.0.0.1:1/feed", nil), 200, nil, []byte("<html>")); err != nil {
		t.Errorf("a web app page: %v", err)
	}
}

// The request check passes what the document describes and catches a
// body or a parameter it does not.
func TestRequestMismatch(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		ok                       bool
	}{
		{"sign-in", "POST", "/api/v1/auth/email", `{"email":"a@acme.example"}`, true},
		{"unknown field", "POST", "/api/v1/auth/email", `{"email":"a@acme.example","admin":true}`, false},
		{"wrong type", "PATCH", "/api/v1/members/me", `{"title":42}`, false},
		{"not JSON", "POST", "/api/v1/auth/email", `email=a@acme.example`, false},
		{"missing required field", "PUT", "/api/v1/me/consents/tracking", `{}`, false},
		{"a draft", "POST", "/api/v1/content", `{"url":"https://news.example/","draft":true}`, true},
		{"publishing a draft", "PATCH", "/api/v1/content/abc", `{"state":"published"}`, true},
		{"a limit too large", "GET", "/api/v1/members?limit=1000", ``, false},
		{"no operation", "GET", "/feed", ``, true},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "http://127.0.0.1:1"+tt.path, nil)
		if tt.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		err := requestMismatch(req, []byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// recordedResponse is one answer the browser test saw (frontend/e2e/run.mjs
// writes them, one JSON object a line).
type recordedResponse struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	// Body is absent when the browser could not read it (redirects).
	Body *string `json:"body"`
}

// The answers the browser test saw are described by openapi.yaml too:
// npm run e2e records them and runs this test on the file
// (CHORUS_RECORDED_RESPONSES).
func TestRecordedResponses(t *testing.T) {
	path := os.Getenv("CHORUS_RECORDED_RESPONSES")
	if path == "" {
		t.Skip("CHORUS_RECORDED_RESPONSES names the answers the browser test recorded (npm run e2e sets it)")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	checked := 0
	for sc.Scan() {
		var r recordedResponse
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		req := httptest.NewRequest(r.Method, r.URL, nil)
		var body []byte
		if r.Body != nil {
			body = []byte(*r.Body)
		}
		header := http.Header{}
		if r.ContentType != "" {
			header.Set("Content-Type", r.ContentType)
		}
		if err := responseMismatch(req, r.Status, header, body); err != nil {
			t.Errorf("openapi.yaml does not describe %s %s → %d %s: %v\nbody: %.500s", r.Method, req.URL.Path, r.Status, r.ContentType, err, body)
		}
		checked++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Errorf("%s holds no answers: the browser test recorded nothing", path)
	}
	t.Logf("%d answers checked", checked)
}

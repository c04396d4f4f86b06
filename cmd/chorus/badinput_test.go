package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestBadBodies(t *testing.T) {
	a := newTestApp(t, map[string]string{"CHORUS_MAX_BODY_BYTES": "4096"})
	c := a.client(t)
	c.signIn("alice@acme.example")
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		headers    []string
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"oversized", "POST", "/api/v1/auth/email", `{"email":"` + strings.Repeat("a", 5000) + `@acme.example"}`, nil, 413, "body_too_large", ""},
		{"oversized without length", "PATCH", "/api/v1/members/me", `{"name":"` + strings.Repeat("a", 5000) + `"}`, nil, 413, "body_too_large", ""},
		{"malformed", "POST", "/api/v1/auth/email", `{"email":`, nil, 400, "malformed_json", ""},
		{"not JSON", "POST", "/api/v1/auth/email", `email=a@acme.example`, nil, 400, "malformed_json", ""},
		{"empty", "POST", "/api/v1/auth/email", ``, []string{"Content-Type", "application/json"}, 400, "malformed_json", ""},
		{"two values", "POST", "/api/v1/auth/email", `{"email":"a@acme.example"}{"email":"b@acme.example"}`, nil, 400, "malformed_json", ""},
		{"array", "POST", "/api/v1/auth/email", `[{"email":"a@acme.example"}]`, nil, 400, "malformed_json", ""},
		{"unknown field", "POST", "/api/v1/auth/email", `{"email":"a@acme.example","admin":true}`, nil, 400, "validation_failed", "admin"},
		{"mongo operator", "POST", "/api/v1/auth/email", `{"email":{"$ne":""}}`, nil, 400, "validation_failed", "email"},
		{"mongo operator in profile", "PATCH", "/api/v1/members/me", `{"name":{"$set":{"role":"admin"}}}`, nil, 400, "validation_failed", "name"},
		{"wrong type", "PATCH", "/api/v1/members/me", `{"title":42}`, nil, 400, "validation_failed", "title"},
		{"empty name", "PATCH", "/api/v1/members/me", `{"name":"  "}`, nil, 400, "validation_failed", "name"},
		{"form media type", "POST", "/api/v1/auth/email", `{"email":"a@acme.example"}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"bad limit", "GET", "/api/v1/members?limit=1000", ``, nil, 400, "validation_failed", "limit"},
		{"query that does not parse", "GET", "/api/v1/members?limit=%zz", ``, nil, 400, "malformed_query", ""},
		{"another charset", "POST", "/api/v1/auth/email", `{"email":"a@acme.example"}`, []string{"Content-Type", "application/json; charset=utf-16"}, 415, "unsupported_media_type", ""},
		{"compressed body", "POST", "/api/v1/auth/email", `{"email":"a@acme.example"}`, []string{"Content-Encoding", "gzip"}, 415, "unsupported_content_encoding", ""},
		{"forged cursor", "GET", "/api/v1/members?cursor=eyIkbmUiOiIifQ", ``, nil, 400, "validation_failed", "cursor"},
		{"unknown route", "GET", "/api/v1/nothing-here", ``, nil, 404, "not_found", ""},
		{"api root", "GET", "/api", ``, nil, 404, "not_found", ""},
		{"api root with slash", "GET", "/api/", ``, nil, 404, "not_found", ""},
		{"ops root", "GET", "/ops", ``, nil, 404, "not_found", ""},
		{"unknown ops route", "GET", "/ops/nothing-here", ``, nil, 404, "not_found", ""},
		{"null body", "PATCH", "/api/v1/members/me", `null`, nil, 400, "malformed_json", ""},
		{"null body of a creating POST", "POST", "/api/v1/auth/email", `null`, nil, 400, "malformed_json", ""},
		{"null body among spaces", "PATCH", "/api/v1/members/me", " \n null" + strings.Repeat(" ", 600), nil, 400, "malformed_json", ""},
		{"wrong method", "PUT", "/api/v1/me", ``, nil, 405, "method_not_allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			res := c.sendingMalformed().do(tt.method, tt.path, body, tt.headers...)
			p := res.problem(t)
			if res.status != tt.wantStatus || p.Code != tt.wantCode || p.Status != tt.wantStatus {
				t.Fatalf("got %d %s (%s), want %d %s", res.status, p.Code, p.Detail, tt.wantStatus, tt.wantCode)
			}
			if tt.wantField != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.wantField) {
				t.Errorf("errors = %+v, want one naming %q", p.Errors, tt.wantField)
			}
			if p.Detail == "" || p.Type == "" || p.Title == "" {
				t.Errorf("incomplete problem: %+v", p)
			}
		})
	}
	// Nothing was half-written: the profile is unchanged.
	var m me
	c.do("GET", "/api/v1/me", nil).json(t, &m)
	if m.Member.Name != "alice" || m.Member.Role != "admin" {
		t.Errorf("after bad requests, me = %+v", m.Member)
	}
}

func TestCrossSiteRequestsRefused(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	c.signIn("alice@acme.example")
	tests := []struct {
		name    string
		headers []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign Origin", []string{"Origin", "https://evil.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.do("PATCH", "/api/v1/members/me", map[string]string{"name": "pwned"}, tt.headers...)
			if res.status != http.StatusForbidden || res.problem(t).Code != "cross_origin_request" {
				t.Errorf("got %d %s, want 403 cross_origin_request", res.status, res.body)
			}
			res = c.do("POST", "/api/v1/auth/logout", nil, tt.headers...)
			if res.status != http.StatusForbidden {
				t.Errorf("cross-site logout: %d, want 403", res.status)
			}
		})
	}
	var m me
	c.do("GET", "/api/v1/me", nil).json(t, &m)
	if m.Member.Name != "alice" {
		t.Errorf("a cross-site request changed the name to %q", m.Member.Name)
	}
	// The same request from the app's own origin works.
	res := c.do("PATCH", "/api/v1/members/me", map[string]string{"name": "Alice A."}, "Origin", a.srv.URL, "Sec-Fetch-Site", "same-origin")
	if res.status != http.StatusOK {
		t.Errorf("same-origin PATCH: %d %s", res.status, res.body)
	}
}

func TestUnauthenticatedAndRoles(t *testing.T) {
	a := newTestApp(t, nil)
	anon := a.client(t)
	for _, path := range []string{"/api/v1/me", "/api/v1/members", "/api/v1/instance"} {
		res := anon.do("GET", path, nil)
		if res.status != http.StatusUnauthorized || res.problem(t).Code != "unauthenticated" {
			t.Errorf("anonymous GET %s: %d %s, want 401", path, res.status, res.body)
		}
	}
	alice := a.client(t)
	alice.signIn("alice@acme.example")
	carol := a.client(t)
	carol.signIn("carol@acme.example")
	res := carol.do("PATCH", "/api/v1/instance/settings", map[string]any{"name": "Carol Corp"})
	if res.status != http.StatusForbidden || res.problem(t).Code != "forbidden" {
		t.Errorf("employee PATCH settings: %d %s, want 403", res.status, res.body)
	}
	res = alice.do("PATCH", "/api/v1/instance/settings", map[string]any{"name": "Acme Corp", "retention_days": 90})
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"Acme Corp"`) {
		t.Errorf("admin PATCH settings: %d %s", res.status, res.body)
	}
	res = alice.sendingMalformed().do("PATCH", "/api/v1/instance/settings", map[string]any{"retention_days": 0, "join_policy": "anyone"})
	if p := res.problem(t); res.status != 400 || len(p.Errors) != 2 {
		t.Errorf("bad settings: %d %s, want 400 naming 2 fields", res.status, res.body)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := c.do("GET", path, nil); res.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, res.status, res.body)
		}
	}
	c.do("GET", "/healthz", nil)
	res := c.do("GET", "/metrics", nil)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `chorus_http_requests_total{method="GET",route="/healthz",status="200"}`) {
		t.Errorf("metrics: %d, missing the request counter:\n%.2000s", res.status, res.body)
	}
	if res := c.do("GET", "/", nil); res.status != http.StatusOK || !strings.Contains(res.header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("GET /: %d, CSP %q", res.status, res.header.Get("Content-Security-Policy"))
	}
}

// Paths outside the API, the operator routes and tracked links are the web
// app's own URLs: they get its page, also when they merely start like one.
func TestWebAppURLsGetTheApp(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	for _, p := range []string{"/feed", "/admin/settings", "/apiary", "/opsroom"} {
		res := c.do("GET", p, nil)
		if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s, want the web app", p, res.status, res.header.Get("Content-Type"))
		}
	}
}

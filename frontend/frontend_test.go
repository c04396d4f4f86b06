package frontend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	if got := rec.Header().Get("Content-Security-Policy"); got != csp {
		t.Errorf("%s %s: CSP %q", method, target, got)
	}
	return rec
}

func TestHandler(t *testing.T) {
	root := fstest.MapFS{
		"index.html":             {Data: []byte(`<!doctype html><title>app</title>`)},
		"assets/index-abc123.js": {Data: []byte(`console.log(1)`)},
		"favicon.svg":            {Data: []byte(`<svg/>`)},
		".gitkeep":               {Data: nil},
		"sw.js":                  {Data: []byte(`self.addEventListener("fetch", () => {})`)},
		"manifest.webmanifest":   {Data: []byte(`{"name":"Chorus"}`)},
		"icons/icon-192.png":     {Data: []byte("\x89PNG\r\n\x1a\n")},
	}
	h := handler(root)
	for _, p := range []string{"/", "/feed", "/admin/members", "/index.html", "/.gitkeep", "/a/../feed"} {
		rec := serve(t, h, http.MethodGet, p)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<title>app</title>") {
			t.Errorf("GET %s: %d %q, want index.html", p, rec.Code, rec.Body.String())
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
	}
	rec := serve(t, h, http.MethodGet, "/assets/index-abc123.js")
	if rec.Code != http.StatusOK || rec.Body.String() != "console.log(1)" {
		t.Errorf("asset: %d %q", rec.Code, rec.Body.String())
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("asset Cache-Control %q", cc)
	}
	rec = serve(t, h, http.MethodGet, "/favicon.svg")
	if rec.Code != http.StatusOK || rec.Body.String() != "<svg/>" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("favicon: %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Cache-Control"))
	}
	// The installable app: a service worker at the root (its scope is the
	// whole app) with a JavaScript type, the manifest with its own.
	for _, f := range []struct{ path, ctype string }{
		{"/sw.js", "text/javascript; charset=utf-8"},
		{"/manifest.webmanifest", "application/manifest+json"},
		{"/icons/icon-192.png", "image/png"},
	} {
		rec := serve(t, h, http.MethodGet, f.path)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != f.ctype || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d, Content-Type %q, Cache-Control %q", f.path, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
		}
	}
	for _, p := range []string{"/assets/gone-123.js", "/assets/", "/api/v1/nothing", "/api", "/ops/v1/x"} {
		if rec := serve(t, h, http.MethodGet, p); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	if rec := serve(t, h, http.MethodPost, "/feed"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /feed: %d", rec.Code)
	}
	if rec := serve(t, h, http.MethodHead, "/feed"); rec.Code != http.StatusOK {
		t.Errorf("HEAD /feed: %d", rec.Code)
	}
}

func TestHandlerNotBuilt(t *testing.T) {
	h := handler(fstest.MapFS{".gitkeep": {}})
	rec := serve(t, h, http.MethodGet, "/feed")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "make build") {
		t.Errorf("not built: %d %q", rec.Code, rec.Body.String())
	}
}

// The embedded tree always has index.html or the placeholder: Handler
// must not panic on a fresh clone.
func TestEmbedded(t *testing.T) {
	rec := serve(t, Handler(), http.MethodGet, "/")
	if rec.Code != http.StatusOK {
		t.Errorf("GET /: %d", rec.Code)
	}
}

// Package frontend serves the web app: the files under dist/, built from
// this folder's TypeScript sources by `npm run build` (the Makefile runs it
// when the sources changed) and embedded in the binary. It imports nothing
// of Chorus; the app talks to the JSON API only.
//
// A fresh clone has no dist/ build (it is not committed, only
// dist/.gitkeep), so the Go code compiles before npm ever ran; the handler
// then serves a short page saying how to build the app.
package frontend

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// csp allows scripts, styles and fonts from the app's own origin only: the
// build emits no inline script or style (scripts/check-dist.mjs checks).
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// notBuilt is served for every app URL when dist/ holds no build.
const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chorus</title></head>
<body><main><h1>Chorus</h1>
<p>The web app is not built into this binary. Run <code>make build</code>
(or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>, then
<code>go build</code> again). The API answers under <code>/api/v1</code>.</p>
</main></body></html>
`

// Handler serves the web app:
//   - /assets/…: the bundler's content-hashed files, cached for a year as
//     immutable; a missing one is a plain 404 (never index.html, so a stale
//     page does not load HTML as script);
//   - other files of dist/ (/favicon.svg, /manifest.webmanifest, /icons/…,
//     the service worker /sw.js): served, revalidated;
//   - /api/… and /ops/…: 404, they are never the app;
//   - any other GET or HEAD path (/, /feed, /admin …): index.html, never
//     cached so a new release shows at once; the app routes on the client.
//
// The caller mounts it for GET / and GET /assets/*, and for the paths no
// other route matches (the app's own URLs).
func Handler() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return handler(root)
}

func handler(root fs.FS) http.Handler {
	index, err := fs.ReadFile(root, "index.html")
	if err != nil {
		index = []byte(notBuilt)
	}
	files := http.FileServerFS(root)
	modtime := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		p := path.Clean("/" + r.URL.Path)
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		case p == "/api" || p == "/ops" || strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/ops/"):
			http.NotFound(w, r)
		case p == "/assets" || strings.HasPrefix(p, "/assets/"):
			if !isFile(root, p) {
				h.Set("Cache-Control", "no-store")
				http.NotFound(w, r)
				return
			}
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			files.ServeHTTP(w, r)
		case p != "/" && p != "/index.html" && isFile(root, p):
			// Revalidated, so that a new release's service worker
			// (/sw.js, scope /) and manifest are seen at once.
			h.Set("Cache-Control", "no-cache")
			if path.Ext(p) == ".webmanifest" {
				h.Set("Content-Type", "application/manifest+json")
			}
			files.ServeHTTP(w, r)
		default:
			h.Set("Cache-Control", "no-cache")
			h.Set("Content-Type", "text/html; charset=utf-8")
			http.ServeContent(w, r, "index.html", modtime, bytes.NewReader(index))
		}
	})
}

// isFile reports whether the clean URL path p names a regular file of root.
func isFile(root fs.FS, p string) bool {
	name := strings.TrimPrefix(p, "/")
	if !fs.ValidPath(name) || name == "" || strings.HasPrefix(path.Base(name), ".") {
		return false
	}
	st, err := fs.Stat(root, name)
	return err == nil && st.Mode().IsRegular()
}

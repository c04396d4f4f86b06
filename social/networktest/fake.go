// Package networktest holds what the contract fakes of the social networks
// (xtest, linkedintest, facebooktest, mastodontest) and their connectors'
// tests have in common: the fake's HTTP server with its call counts, the
// switches tests flip on it, OAuth redirects and JSON answers, and the
// member's side of the authorisation flow. What a network's published API
// says (error bodies, rate-limit headers, paging parameters) stays in its
// own fake. It is for tests only: production code never imports it.
package networktest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Server is the HTTP side every fake shares: it listens on 127.0.0.1 until
// the test ends and counts the requests it receives.
type Server struct {
	*httptest.Server
	grantPath string

	mu    sync.Mutex
	calls map[string]int
	stop  chan struct{}
}

// Start serves h on 127.0.0.1 until the test ends. Each request is counted
// under its method and path ("POST /2/tweets"); at a path ending in
// grantPath (the network's token endpoint, "" for none) the key ends in the
// grant type ("POST /2/oauth2/token refresh_token"), and the request
// reaches h with its form parsed.
func Start(t testing.TB, h http.Handler, grantPath string) *Server {
	t.Helper()
	s := &Server{grantPath: grantPath, calls: map[string]int{}, stop: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(r)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(s.stop)
		s.Close()
	})
	return s
}

func (s *Server) count(r *http.Request) {
	key := r.Method + " " + r.URL.Path
	if s.grantPath != "" && strings.HasSuffix(r.URL.Path, s.grantPath) {
		r.ParseForm()
		key += " " + r.Form.Get("grant_type")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[key]++
}

// Calls counts the requests received under key: method and path, and for
// the token endpoint the grant type after them (see Start).
func (s *Server) Calls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

// Hang holds the answer to r until the client gives up or the test ends,
// as when the connection stalls after the network acted.
func (s *Server) Hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.stop:
	}
}

// Switch is a test's switch on a fake that applies to the next requests it
// guards, n of them: a rate limit, a stall. The zero Switch is off. It is
// safe for concurrent use.
type Switch struct {
	mu     sync.Mutex
	n      int
	header http.Header
}

// Set applies the switch to the next n requests, with header (nil for
// none) added to their answers.
func (s *Switch) Set(n int, header http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.header = n, header
}

// Take reports whether the switch applies to the request answered by w,
// using up one request when it does; its header is then added to w, and
// the caller writes the rest of the answer.
func (s *Switch) Take(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n <= 0 {
		return false
	}
	s.n--
	for k, vs := range s.header {
		w.Header()[k] = vs
	}
	return true
}

// Random returns a fresh unguessable string (URL-safe) for codes, tokens
// and secrets.
func Random() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Redirect sends the member's browser back to the client at to, with
// params added to its query, as an authorisation page does when it is done.
func Redirect(w http.ResponseWriter, r *http.Request, to *url.URL, params url.Values) {
	u := *to
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// JSON is the Content-Type a network labels its JSON answers with; each
// network spells it its own way.
type JSON string

// Write answers status with v encoded as JSON.
func (ct JSON) Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", string(ct))
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// OAuthError answers status with an OAuth 2.0 error body (RFC 6749,
// section 5.2): {"error": code, "error_description": desc}.
func (ct JSON) OAuthError(w http.ResponseWriter, status int, code, desc string) {
	ct.Write(w, status, map[string]string{"error": code, "error_description": desc})
}

package oidctest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Discovery is a loopback http server that serves only an OpenID Connect
// discovery document: enough to configure a provider, not to sign in. The
// document's endpoints are on the issuer unless Set changes them.
type Discovery struct {
	Issuer string

	mu   sync.Mutex
	edit func(doc map[string]any)
}

// ServeDiscovery starts a Discovery until the test ends; edit, if not nil,
// changes the document before each answer.
func ServeDiscovery(t testing.TB, edit func(doc map[string]any)) *Discovery {
	t.Helper()
	d := &Discovery{edit: edit}
	srv := httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(srv.Close)
	d.Issuer = srv.URL
	return d
}

// Set replaces the edit applied to the document from the next request on,
// as a provider that changes what it announces.
func (d *Discovery) Set(edit func(doc map[string]any)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.edit = edit
}

func (d *Discovery) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/.well-known/openid-configuration" {
		http.NotFound(w, r)
		return
	}
	doc := map[string]any{
		"issuer": d.Issuer, "authorization_endpoint": d.Issuer + "/auth", "token_endpoint": d.Issuer + "/token",
		"jwks_uri": d.Issuer + "/keys", "code_challenge_methods_supported": []string{"S256"},
	}
	d.mu.Lock()
	if d.edit != nil {
		d.edit(doc)
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}
